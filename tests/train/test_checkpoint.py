"""Checkpoints: atomic writes, weights_only loading, clear errors for corrupt and foreign files, RNG
round-trip."""

import random

import numpy as np
import pytest
import torch

from optlab.errors import OptlabError
from optlab.train.checkpoint import (
    atomic_write_bytes,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)


def test_round_trip_with_weights_only(tmp_path):
    path = tmp_path / "last.pt"
    state = {
        "model": {"w": torch.arange(6.0).reshape(2, 3)},
        "step": 7,
        "history": [{"epoch": 1, "loss": 0.5}],
    }
    save_checkpoint(path, state)
    # loadable by plain torch with weights_only=True: nothing but tensors and containers
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "optlab-checkpoint-v1"
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], state["model"]["w"])
    assert loaded["step"] == 7 and loaded["history"] == state["history"]
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp files left behind


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.randn(100)}})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OptlabError, match="is corrupt or not a checkpoint"):
        load_checkpoint(path)
    assert path.read_bytes() == data[: len(data) // 2]  # left as it was


def test_foreign_checkpoint_is_rejected(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    with pytest.raises(OptlabError, match="not an optlab checkpoint"):
        load_checkpoint(path)


def test_pickled_object_is_refused_by_weights_only(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "optlab-checkpoint-v1", "obj": object()}, path)
    with pytest.raises(OptlabError, match="corrupt or not a checkpoint torch can read safely"):
        load_checkpoint(path)


def test_failed_write_leaves_old_file(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_rng_state_round_trip_through_a_checkpoint(tmp_path):
    torch.manual_seed(1)
    random.seed(2)
    np.random.seed(3)
    save_checkpoint(tmp_path / "c.pt", {"rng": rng_state()})
    expected = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(99)
    random.seed(99)
    np.random.seed(99)
    set_rng_state(load_checkpoint(tmp_path / "c.pt")["rng"])
    again = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(expected[0], again[0]) and expected[1:] == again[1:]
