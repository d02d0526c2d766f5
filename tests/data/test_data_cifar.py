"""CIFAR-10 from python-version batch files written here, and the restricted unpickler."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from optlab.data import load
from optlab.data.cifar import FOLDER, safe_unpickle
from optlab.errors import DataError

PER_BATCH = 4


def write_cifar(folder: Path, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Write the six batches and the meta file the way the official Python 2 pickles are laid out: dicts with
    bytes keys, uint8 `data` of shape (N, 3072), a list of int `labels`."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    train_x, train_y = [], []
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        data = rng.integers(0, 256, (PER_BATCH, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, PER_BATCH)]
        batch = {
            b"batch_label": name.encode(),
            b"labels": labels,
            b"data": data,
            b"filenames": [b"a.png"] * 4,
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        if name != "test_batch":
            train_x.append(data)
            train_y += labels
    names = [
        b"airplane",
        b"automobile",
        b"bird",
        b"cat",
        b"deer",
        b"dog",
        b"frog",
        b"horse",
        b"ship",
        b"truck",
    ]
    meta = {b"num_cases_per_batch": PER_BATCH, b"label_names": names, b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return np.concatenate(train_x), np.array(train_y), data, np.array(labels)


def test_load_cifar10_from_written_batches(tmp_path: Path) -> None:
    train_x, train_y, test_x, test_y = write_cifar(tmp_path / FOLDER)
    ds = load("cifar10", data_dir=tmp_path)  # the parent of cifar-10-batches-py is enough
    assert ds.train.x.shape == (5 * PER_BATCH, 3, 32, 32) and ds.test.x.shape == (PER_BATCH, 3, 32, 32)
    assert ds.input_shape == (3, 32, 32) and ds.class_names[1] == "automobile" and ds.num_classes == 10
    assert ds.train.y.dtype == torch.int64 and ds.train.y.tolist() == train_y.tolist()
    assert ds.test.y.tolist() == test_y.tolist()
    # Reference: rows are 1024 R, 1024 G, 1024 B values; per-channel standardisation with training statistics.
    images = train_x.reshape(-1, 3, 32, 32) / 255.0
    mean = images.mean(axis=(0, 2, 3), keepdims=True)
    std = images.std(axis=(0, 2, 3), keepdims=True, ddof=1)
    np.testing.assert_allclose(ds.train.x.numpy(), (images - mean) / std, rtol=1e-5, atol=1e-5)
    expected_test = (test_x.reshape(-1, 3, 32, 32) / 255.0 - mean) / std
    np.testing.assert_allclose(ds.test.x.numpy(), expected_test, rtol=1e-5, atol=1e-5)


def test_python3_pickles_with_str_keys_also_load(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    write_cifar(folder)
    for path in folder.iterdir():
        obj = pickle.loads(path.read_bytes())
        path.write_bytes(pickle.dumps({k.decode(): v for k, v in obj.items()}, protocol=4))
    assert len(load("cifar10", data_dir=folder).train) == 5 * PER_BATCH


class _Exploit:
    def __reduce__(self):  # what a malicious "batch" file would contain
        return (os.system, (f"touch {self.marker}",))

    def __init__(self, marker: Path) -> None:
        self.marker = marker


def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    marker = tmp_path / "pwned"
    (tmp_path / "data_batch_3").write_bytes(pickle.dumps({b"data": _Exploit(marker)}, protocol=2))
    with pytest.raises(
        DataError, match=r"data_batch_3: not a valid CIFAR-10 batch file \(refusing to load global"
    ):
        load("cifar10", data_dir=tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("payload", [pickle.dumps(print), pickle.dumps(object), pickle.dumps(np.load)])
def test_safe_unpickle_allows_only_arrays(payload: bytes) -> None:
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global"):
        safe_unpickle(payload)


def test_safe_unpickle_round_trips_arrays_and_containers() -> None:
    value = {"a": [1, 2.5, "x", b"y"], "arr": np.arange(6, dtype=np.uint8).reshape(2, 3)}
    for protocol in (2, 4):
        out = safe_unpickle(pickle.dumps(value, protocol=protocol))
        assert out["a"] == value["a"]
        np.testing.assert_array_equal(out["arr"], value["arr"])


def test_wrong_shape_and_truncated_files(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    bad = {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}
    (tmp_path / "test_batch").write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(DataError, match=r"test_batch: .*expected uint8 \(N, 3072\)"):
        load("cifar10", data_dir=tmp_path)
    write_cifar(tmp_path)
    path = tmp_path / "data_batch_1"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataError, match="data_batch_1: not a valid CIFAR-10 batch file"):
        load("cifar10", data_dir=tmp_path)


def test_missing_cifar_lists_places_and_where_to_get_it(tmp_path: Path) -> None:
    (tmp_path / "data_batch_1").write_bytes(b"")
    with pytest.raises(DataError) as err:
        load("cifar10", data_dir=tmp_path)
    message = str(err.value)
    assert f"{tmp_path} (has only data_batch_1)" in message and f"{tmp_path / FOLDER}" in message
    assert "https://www.cs.toronto.edu/~kriz/cifar.html" in message and "\n" not in message
