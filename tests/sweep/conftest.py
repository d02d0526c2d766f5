"""Sweep tests: runs root, cache and study storage in a temporary folder; small, fast training settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from optlab.sweep import SweepSpec, parse_param
from optlab.train import TrainConfig


@pytest.fixture(autouse=True)
def isolated_runs(isolated_env: Path) -> Path:
    """Runs, index, sweep storage and dataset cache under tmp_path, also for worker subprocesses (env)."""
    return isolated_env


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    """In-process training on one torch thread: the test machine's few cores are shared."""
    yield


@pytest.fixture
def storage_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runs' / 'sweeps.sqlite'}"


@pytest.fixture
def grid_spec():
    """``grid_spec("batch_size=16,32", "lr=0.001,0.01", epochs=1)``: a sweep on ordered-abc (300 2-D points,
    instant to load) with a small MLP and a 20 % validation split."""

    def make(*grid: str, epochs: int = 1, **options) -> SweepSpec:
        base = TrainConfig(dataset="ordered-abc", model="mlp", epochs=epochs, validation=0.2, device="cpu")
        return SweepSpec(base=base, params=tuple(parse_param(text) for text in grid), **options)

    return make
