"""Shared fixtures: every test gets its own runs root, and small datasets are loaded once per session."""

import pytest
import torch

from optlab import data


@pytest.fixture(autouse=True)
def _one_thread():
    """The test machine is small and shared: one intra-op thread avoids OpenMP spin-waits that make a 2-thread
    backward of a tiny net ~100x slower under load (measured: 170 ms vs 0.5 ms). Results are compared within a
    process, so the thread count does not change what the tests check."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _isolated_runs_root(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTLAB_RUNS", str(tmp_path / "runs"))


@pytest.fixture(scope="session")
def abc():
    """ordered-abc: 300 samples in class blocks; trains in milliseconds."""
    return data.load("ordered-abc")


@pytest.fixture(scope="session")
def mnist1d_small():
    """MNIST-1D cut to 400 train / 200 test examples: real data, fast steps."""
    from dataclasses import replace

    full = data.load("mnist1d")
    return replace(
        full,
        train=data.Split(full.train.x[:400], full.train.y[:400]),
        test=data.Split(full.test.x[:200], full.test.y[:200]),
    )
