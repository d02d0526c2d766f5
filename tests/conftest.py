"""Fixtures shared by several test folders (each folder's conftest or module turns on what it needs)."""

from pathlib import Path

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: the tensors are small and the test machine's few cores are shared; a 2-thread
    backward of a tiny net can be ~100x slower under load from OpenMP spin-waits. Restored afterwards so the
    setting does not leak into other tests."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs, index, sweep storage and dataset cache under tmp_path, also for subprocesses (environment), which
    run on one thread and draw no progress bars."""
    monkeypatch.setenv("OPTLAB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("OPTLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # worker processes on a shared 2-core machine
    monkeypatch.setenv("OPTLAB_NO_PROGRESS", "1")
    return tmp_path
