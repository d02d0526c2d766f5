"""Fixtures shared by the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.fixture
def optlab(tmp_path, request):
    """``optlab(*args, check_rc=None)``: run ``python -m optlab ARGS`` in ``tmp_path`` with its own runs
    folder, one thread and a wide terminal (the test module's ``COLUMNS``, default 200); ``check_rc`` asserts
    the exit code. ``.env`` is the environment it runs in."""
    columns = getattr(request.module, "COLUMNS", "200")
    env = {**os.environ, "OPTLAB_RUNS": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1", "COLUMNS": columns}
    env.pop("OPTLAB_DEBUG", None)

    def run(*args, check_rc=None):
        proc = subprocess.run(
            [sys.executable, "-m", "optlab", *map(str, args)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if check_rc is not None:
            assert proc.returncode == check_rc, proc.stdout + proc.stderr
        return proc

    run.env = env
    return run
