"""IDX parsing, validation, look-up order, download, and the real Fashion-MNIST (optlab.data.idx)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from optlab.data import _common, download, idx, load
from optlab.errors import ConfigError, DataError

REAL_FASHION = Path("/usr/share/datasets/fashion-mnist")
N_TRAIN, N_TEST, SIDE = 12, 5, 28


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode `array` as an IDX file, written independently of the parser under test."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}
    header = struct.pack(">HBB", 0, codes[array.dtype], array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + array.tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool) -> Path:
    data = idx_bytes(array)
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def tiny_arrays(label: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N_TRAIN, SIDE, SIDE), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.full(N_TRAIN, label, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_TEST, SIDE, SIDE), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.full(N_TEST, label, dtype=np.uint8),
    }


def write_tiny(folder: Path, gz: bool, label: int = 3) -> dict[str, np.ndarray]:
    arrays = tiny_arrays(label)
    for name, array in arrays.items():
        write_idx(folder / name, array, gz)
    return arrays


@pytest.fixture
def tiny_fashion(monkeypatch: pytest.MonkeyPatch) -> idx.IdxDataset:
    """fashion-mnist's spec shrunk to the tiny files the tests write, with the checksums of tiny_arrays()."""
    arrays = tiny_arrays()
    real = idx.FASHION_MNIST

    def shrink(f: idx.IdxFile) -> idx.IdxFile:
        payload = idx_bytes(arrays[f.name])
        return dataclasses.replace(
            f,
            shape=arrays[f.name].shape,
            archive_md5=hashlib.md5(gzip.compress(payload, mtime=0)).hexdigest(),
            payload_sha256=hashlib.sha256(payload).hexdigest(),
        )

    spec = dataclasses.replace(
        real,
        train_images=shrink(real.train_images),
        train_labels=shrink(real.train_labels),
        test_images=shrink(real.test_images),
        test_labels=shrink(real.test_labels),
    )
    monkeypatch.setitem(idx.IDX_DATASETS, "fashion-mnist", spec)
    return spec


# -------------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, ">i4", ">f4"])
def test_read_idx_round_trips_gz_and_raw(tmp_path: Path, gz: bool, dtype: str) -> None:
    array = (np.arange(2 * 3 * 4) - 7).astype(dtype).reshape(2, 3, 4)
    path = write_idx(tmp_path / "a-idx3", array, gz)
    decoded = idx.read_idx_file(path)
    assert decoded.shape == (2, 3, 4)
    np.testing.assert_array_equal(decoded, array)


def test_bad_magic_number(tmp_path: Path) -> None:
    path = tmp_path / "bad"
    path.write_bytes(b"\x12\x34\x08\x01" + struct.pack(">I", 2) + b"\x00\x01")
    with pytest.raises(DataError, match="bad magic number 0x12340801"):
        idx.read_idx_file(path)


def test_unknown_type_code(tmp_path: Path) -> None:
    path = tmp_path / "bad"
    path.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">I", 2) + b"\x00\x01")
    with pytest.raises(DataError, match="magic"):
        idx.read_idx_file(path)


def test_truncated_raw_file(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "x", np.zeros((4, 28, 28), np.uint8), gz=False)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"truncated .*shape \(4, 28, 28\)"):
        idx.read_idx_file(path)


def test_trailing_bytes(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "x", np.zeros((4,), np.uint8), gz=False)
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(DataError, match="trailing bytes"):
        idx.read_idx_file(path)


def test_truncated_gz(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = write_idx(tmp_path / "x", rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), gz=True)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match=r"x\.gz: damaged gzip file"):
        idx.read_idx_file(path)


def test_corrupt_gz(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "x", np.zeros((50, 28, 28), np.uint8), gz=True)
    data = bytearray(path.read_bytes())
    data[15:25] = b"\xff" * 10  # inside the deflate stream
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="damaged gzip file"):
        idx.read_idx_file(path)


def test_count_and_shape_checked_against_spec(tmp_path: Path) -> None:
    spec = idx.IdxFile("t", (5, 28, 28), archive_md5="0" * 32)
    path = write_idx(tmp_path / "t", np.zeros((4, 28, 28), np.uint8), gz=False)
    with pytest.raises(DataError, match=r"shape \(4, 28, 28\), expected \(5, 28, 28\)"):
        idx.read_idx_file(path, spec)


# -------------------------------------------------------------------------------------------------- loading


@pytest.mark.parametrize("gz", [True, False])
def test_load_tiny_dataset(tmp_path: Path, tiny_fashion: idx.IdxDataset, gz: bool) -> None:
    arrays = write_tiny(tmp_path / "d", gz)
    ds = load("fashion-mnist", data_dir=tmp_path / "d")
    assert ds.train.x.shape == (N_TRAIN, 1, 28, 28) and ds.test.x.shape == (N_TEST, 1, 28, 28)
    assert ds.train.x.dtype == torch.float32 and ds.train.y.dtype == torch.int64
    assert ds.input_shape == (1, 28, 28) and ds.num_classes == 10 and ds.class_names[9] == "Ankle boot"
    # Reference: [0, 1] scaling, then the training set's pixel mean and std, computed here in float64.
    train = arrays["train-images-idx3-ubyte"] / 255.0
    mean, std = train.mean(), train.std(ddof=1)
    expected_test = (arrays["t10k-images-idx3-ubyte"] / 255.0 - mean) / std
    np.testing.assert_allclose(ds.test.x[:, 0].numpy(), expected_test, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ds.train.x[:, 0].numpy(), (train - mean) / std, rtol=1e-5, atol=1e-5)
    assert ds.train.y.tolist() == [3] * N_TRAIN


def test_checksum_mismatch_names_file_and_fix(tmp_path: Path, tiny_fashion: idx.IdxDataset) -> None:
    arrays = write_tiny(tmp_path / "d", gz=False)
    images = arrays["train-images-idx3-ubyte"].copy()
    images[0, 0, 0] ^= 1  # one flipped bit: structurally valid, wrong contents
    write_idx(tmp_path / "d" / "train-images-idx3-ubyte", images, gz=False)
    with pytest.raises(DataError) as err:
        load("fashion-mnist", data_dir=tmp_path / "d")
    message = str(err.value)
    assert "train-images-idx3-ubyte: checksum mismatch" in message
    assert tiny_fashion.train_images.payload_sha256 in message
    assert "apt-get install dataset-fashion-mnist" in message and "\n" not in message


def test_label_out_of_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_fashion: idx.IdxDataset
) -> None:
    write_tiny(tmp_path / "d", gz=False, label=10)
    # Labels of 10 have other checksums; drop the payload checksums to reach the range check.
    no_sums = dataclasses.replace(
        tiny_fashion,
        **{
            k: dataclasses.replace(getattr(tiny_fashion, k), payload_sha256=None)
            for k in ("train_images", "train_labels", "test_images", "test_labels")
        },
    )
    monkeypatch.setitem(idx.IDX_DATASETS, "fashion-mnist", no_sums)
    with pytest.raises(DataError, match=r"label 10 out of range 0\.\.9"):
        load("fashion-mnist", data_dir=tmp_path / "d")


def test_missing_dataset_lists_every_place_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_data_env: Path
) -> None:
    monkeypatch.setenv("OPTLAB_DATA", str(tmp_path / "env"))
    (tmp_path / "arg").mkdir()
    write_idx(tmp_path / "arg" / "train-images-idx3-ubyte", np.zeros((1, 28, 28), np.uint8), gz=True)
    with pytest.raises(DataError) as err:
        load("fashion-mnist", data_dir=tmp_path / "arg")
    message = str(err.value)
    assert "\n" not in message
    places = [
        tmp_path / "arg",
        tmp_path / "env",
        tmp_path / "env" / "fashion-mnist",
        isolated_data_env / "optlab-cache" / "fashion-mnist",
        _common.SYSTEM_DATA_DIRS[0] / "fashion-mnist",
        tmp_path / "arg" / "FashionMNIST" / "raw",
        tmp_path / "env" / "FashionMNIST" / "raw",
    ]
    positions = [message.index(f"{p} ") if f"{p} " in message else message.index(f"{p};") for p in places]
    assert positions == sorted(positions)
    assert f"{tmp_path / 'arg'} (has only train-images-idx3-ubyte)" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "optlab data download fashion-mnist" in message


def test_mnist_missing_message_has_download_hint() -> None:
    with pytest.raises(DataError, match="optlab data download mnist") as err:
        load("mnist")
    assert "apt-get" not in str(err.value)  # Debian has no MNIST package; don't send users looking for one


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_fashion: idx.IdxDataset) -> None:
    """data_dir beats $OPTLAB_DATA beats the cache beats /usr/share/datasets beats torchvision's layout."""
    places = {
        "arg": tmp_path / "arg",
        "env": tmp_path / "env" / "fashion-mnist",
        "cache": Path(os.environ["OPTLAB_CACHE"]) / "fashion-mnist",
        "system": _common.SYSTEM_DATA_DIRS[0] / "fashion-mnist",
        "torchvision": tmp_path / "tv" / "FashionMNIST" / "raw",
    }
    # Each place holds the files with a different label, so the loaded labels say which place won.
    no_sums = dataclasses.replace(
        tiny_fashion,
        **{
            k: dataclasses.replace(getattr(tiny_fashion, k), payload_sha256=None)
            for k in ("train_images", "train_labels", "test_images", "test_labels")
        },
    )
    monkeypatch.setitem(idx.IDX_DATASETS, "fashion-mnist", no_sums)
    for label, folder in enumerate(places.values()):
        write_tiny(folder, gz=False, label=label)
    monkeypatch.setenv("OPTLAB_DATA", str(tmp_path / "env"))
    winners = []
    for name, folder in places.items():
        data_dir = places["arg"] if name == "arg" else (tmp_path / "tv" if name == "torchvision" else None)
        winners.append(int(load("fashion-mnist", data_dir=data_dir).train.y[0]))
        for f in folder.iterdir():
            f.unlink()
    assert winners == [0, 1, 2, 3, 4]


def test_torchvision_layout_under_cache(tmp_path: Path, tiny_fashion: idx.IdxDataset) -> None:
    write_tiny(Path(os.environ["OPTLAB_CACHE"]) / "FashionMNIST" / "raw", gz=True)
    assert len(load("fashion-mnist").train) == N_TRAIN


# ------------------------------------------------------------------------------------------------- download


def test_download_checks_and_writes_files(tmp_path: Path, tiny_fashion: idx.IdxDataset) -> None:
    served = {
        tiny_fashion.mirror + f"{name}.gz": gzip.compress(idx_bytes(array), mtime=0)
        for name, array in tiny_arrays().items()
    }
    fetched: list[str] = []

    def fake_fetch(url: str) -> bytes:
        fetched.append(url)
        return served[url]

    folder = download("fashion-mnist", tmp_path / "dl", fetch=fake_fetch)
    assert sorted(fetched) == sorted(served) and all(u.startswith("https://") for u in fetched)
    assert len(load("fashion-mnist", data_dir=folder).test) == N_TEST
    fetched.clear()
    download("fashion-mnist", tmp_path / "dl", fetch=fake_fetch)
    assert fetched == []  # valid files are kept, not fetched again


def test_download_rejects_wrong_bytes(tmp_path: Path, tiny_fashion: idx.IdxDataset) -> None:
    with pytest.raises(
        DataError, match=r"download of https://\S+train-images-idx3-ubyte\.gz: checksum mismatch"
    ):
        download("fashion-mnist", tmp_path / "dl", fetch=lambda url: b"<html>not found</html>")
    assert not (tmp_path / "dl").exists() or not any((tmp_path / "dl").iterdir())


def test_download_network_error_is_data_error(tmp_path: Path) -> None:
    def offline(url: str) -> bytes:
        raise OSError("no route to host")

    with pytest.raises(DataError, match="no route to host"):
        download("mnist", tmp_path, fetch=offline)


def test_download_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fashion-mnist, mnist"):
        download("cifar10", tmp_path, fetch=lambda url: b"")


def test_real_https_fetch_refuses_http() -> None:
    with pytest.raises(ValueError, match="plain HTTP"):
        idx._https_fetch("http://example.com/x")


# ------------------------------------------------------------------------------------------------ real data


@pytest.mark.skipif(not REAL_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_from_usr_share(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common, "SYSTEM_DATA_DIRS", (REAL_FASHION.parent,))
    ds = load("fashion-mnist")
    assert ds.train.x.shape == (60000, 1, 28, 28) and ds.test.x.shape == (10000, 1, 28, 28)
    assert ds.train.y.dtype == torch.int64 and ds.train.x.dtype == torch.float32
    assert torch.equal(ds.train.y.bincount(), torch.full((10,), 6000))
    assert torch.equal(ds.test.y.bincount(), torch.full((10,), 1000))
    assert abs(ds.train.x.mean().item()) < 1e-4 and abs(ds.train.x.std().item() - 1) < 1e-4
    assert ds.class_names[0] == "T-shirt/top"


@pytest.mark.skipif(not REAL_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_raw_file_checked_by_payload_checksum(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    for f in idx.FASHION_MNIST.files:
        (folder / f"{f.name}.gz").symlink_to(REAL_FASHION / f"{f.name}.gz")
    labels = gzip.decompress((REAL_FASHION / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    (folder / "t10k-labels-idx1-ubyte").write_bytes(labels)
    spec = idx.FASHION_MNIST.test_labels
    assert idx.read_idx_file(folder / "t10k-labels-idx1-ubyte", spec).shape == (10000,)
    damaged = bytearray(labels)
    damaged[-1] = (damaged[-1] + 1) % 10
    (folder / "t10k-labels-idx1-ubyte").write_bytes(bytes(damaged))
    with pytest.raises(DataError, match="checksum mismatch"):
        load("fashion-mnist", data_dir=folder)
