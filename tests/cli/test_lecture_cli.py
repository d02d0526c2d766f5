"""``optlab lecture`` and ``optlab demo`` as a user runs them: exit codes, one-line errors, nothing created on
bad usage, the plan printed by --dry-run, the report written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from optlab.experiments.demo import METHODS


def optlab(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optlab", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_cli_unknown_only_id_is_one_line_and_exit_2(tmp_path):
    done = optlab("lecture", "--only", "S1,S99", "--out", str(tmp_path / "r"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "S99" in lines[0] and "S1" in lines[0] and "S6b" in lines[0]
    assert not (tmp_path / "r").exists()


def test_cli_bad_profile_exit_2(tmp_path):
    done = optlab("lecture", "--profile", "huge", "--out", str(tmp_path / "r"))
    assert done.returncode == 2
    assert "huge" in done.stderr and "smoke" in done.stderr


def test_cli_runs_smoke_and_writes_the_report(tmp_path, capsys):
    """In this process (the subprocess tests above cover exit codes; this one the work)."""
    from optlab.cli import main

    out = tmp_path / "report"
    with pytest.raises(SystemExit) as exited:
        main(
            ["lecture", "--profile", "smoke", "--only", "S1", "--out", str(out), "--quiet", "--workers", "1"]
        )
    assert exited.value.code in (0, None)
    stdout = capsys.readouterr().out
    assert "S1" in stdout and "reproduced" in stdout and "index.html" in stdout
    results = json.loads((out / "results.json").read_text())
    assert [c["id"] for c in results["claims"]] == ["S1"]
    assert (out / "index.html").read_text().startswith("<!DOCTYPE html>")


def test_cli_storage_needs_sweep_and_a_valid_url(tmp_path):
    done = optlab("lecture", "--only", "B3", "--storage", "sqlite:///x.db", "--out", str(tmp_path / "r"))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "--sweep" in done.stderr
    out = str(tmp_path / "r")
    done = optlab("lecture", "--only", "B3", "--sweep", "--storage", "nosuch://db", "--out", out)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "nosuch://db" in done.stderr
    assert not (tmp_path / "r").exists()


def test_cli_dry_run_prints_the_plan_and_runs_nothing(tmp_path):
    done = optlab("lecture", "--profile", "full", "--dry-run", "--out", str(tmp_path / "r"))
    assert done.returncode == 0, done.stderr
    assert "expected ≈" in done.stdout and "B4" in done.stdout and " h " in done.stdout
    assert not (tmp_path / "r").exists()


def test_cli_first_seed_in_the_plan_and_a_negative_one_refused(tmp_path):
    done = optlab("lecture", "--only", "B4", "--first-seed", "10", "--dry-run", "--out", str(tmp_path / "r"))
    assert done.returncode == 0, done.stderr
    assert "B4" in done.stdout and "× 3" in done.stdout
    done = optlab("lecture", "--only", "B4", "--first-seed", "-1", "--out", str(tmp_path / "r"))
    assert done.returncode == 2
    assert "first-seed" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "r").exists()


def test_demo_command(tmp_path, capsys):
    from optlab.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["demo", "--out", str(tmp_path), "--steps", "30"])
    assert exited.value.code in (0, None)
    stdout = capsys.readouterr().out
    for name in METHODS:
        assert name in stdout
    assert "distance to min" in stdout
    assert str((tmp_path / "demo_trajectories.png").resolve()) in stdout
    assert (tmp_path / "demo_trajectories.png").exists()


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # field 4 of /proc/PID/stat: the parent's pid
            found.append(int(stat.parent.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_killed_lecture_takes_its_workers_with_it(tmp_path):
    """SIGKILL of the lecture process: its worker processes stop too, rather than training on orphaned."""
    import signal
    import time

    lecture = subprocess.Popen(
        [sys.executable, "-m", "optlab", "lecture", "--profile", "smoke", "--only", "B4,B6", "--workers", "2",
         "--quiet", "--out", str(tmp_path / "r")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:
            workers = [
                p for p in _children(lecture.pid) if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()
            ]
            time.sleep(0.2)
        assert len(workers) >= 2, "the worker processes did not start"
        lecture.send_signal(signal.SIGKILL)
        lecture.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in workers):
            time.sleep(0.2)
        alive = [p for p in workers if Path(f"/proc/{p}").exists()]
        for p in alive:
            os.kill(p, signal.SIGKILL)
        assert alive == []
    finally:
        if lecture.poll() is None:
            lecture.kill()
