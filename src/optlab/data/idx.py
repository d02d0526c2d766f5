"""MNIST and Fashion-MNIST from the standard IDX files (`.gz` or raw), validated, and their download.

IDX format (LeCun et al., http://yann.lecun.com/exdb/mnist/): a big-endian header of two zero bytes, a type
code (0x08 = unsigned byte, ...), the number of dimensions, then one uint32 per dimension, then the values
row-major.

Checksums. Each known file has the md5 of the official `.gz` archive (as published by Zalando and used by
torchvision) and, for Fashion-MNIST, the sha256 of the decompressed payload. Debian's `dataset-fashion-mnist`
ships re-compressed archives (their md5 differs from the official one) with the same payload, so a file is
accepted when either its archive md5 or its payload sha256 matches. For MNIST only the archive md5s are
published, so raw (uncompressed) MNIST files are checked by structure (magic, counts, shapes, label range)
alone.

Preprocessing: images become float32 in [0, 1] (divide by 255) and are then standardised with the mean and
standard deviation of all training pixels (one scalar each, as the usual `Normalize((0.2860,), (0.3530,))` for
Fashion-MNIST), so both splits see the same affine map. Shape (N, 1, 28, 28); labels int64. No decoded cache
is written: loading Fashion-MNIST from the `.gz` files takes about a second, dominated by gzip, and re-reading
a 188 MB float32 cache would save little."""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from optlab._io import atomic_write_bytes
from optlab.errors import ConfigError, DataError

from . import _common
from ._common import Dataset, Split, cache_root, user_data_roots

# IDX type code -> numpy big-endian dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


@dataclass(frozen=True)
class IdxFile:
    """One official file: its name, expected shape, and known checksums."""

    name: str  # e.g. "train-images-idx3-ubyte" (without .gz)
    shape: tuple[int, ...]
    archive_md5: str  # md5 of the official .gz
    payload_sha256: str | None = None  # sha256 of the decompressed bytes, where known


@dataclass(frozen=True)
class IdxDataset:
    """An MNIST-like dataset: four IDX files, class names, where to download them, how to get them offline."""

    name: str
    torchvision_name: str  # torchvision's folder name: <root>/<torchvision_name>/raw
    train_images: IdxFile
    train_labels: IdxFile
    test_images: IdxFile
    test_labels: IdxFile
    class_names: tuple[str, ...]
    mirror: str  # HTTPS base URL of the official files
    offline_hint: str  # how to get it without the network, or "" if there is no package

    @property
    def files(self) -> tuple[IdxFile, ...]:
        return (self.train_images, self.train_labels, self.test_images, self.test_labels)


FASHION_MNIST = IdxDataset(
    name="fashion-mnist",
    torchvision_name="FashionMNIST",
    # md5s: github.com/zalandoresearch/fashion-mnist (README) and torchvision.datasets.FashionMNIST.
    # sha256 of the payloads: computed from Debian's dataset-fashion-mnist (in /usr/share/datasets).
    train_images=IdxFile(
        "train-images-idx3-ubyte",
        (60000, 28, 28),
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    train_labels=IdxFile(
        "train-labels-idx1-ubyte",
        (60000,),
        "25c81989df183df01b3e8a0aad5dffbe",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    test_images=IdxFile(
        "t10k-images-idx3-ubyte",
        (10000, 28, 28),
        "bef4ecab320f06d8554ea6380940ec79",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    test_labels=IdxFile(
        "t10k-labels-idx1-ubyte",
        (10000,),
        "bb300cfdad3c16e7a12a480ee83cd310",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
    class_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    mirror="https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    offline_hint="apt-get install dataset-fashion-mnist",
)

MNIST = IdxDataset(
    name="mnist",
    torchvision_name="MNIST",
    # md5s of the official archives, as in torchvision.datasets.MNIST.resources.
    train_images=IdxFile("train-images-idx3-ubyte", (60000, 28, 28), "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    train_labels=IdxFile("train-labels-idx1-ubyte", (60000,), "d53e105ee54ea40749a09fcbcd1e9432"),
    test_images=IdxFile("t10k-images-idx3-ubyte", (10000, 28, 28), "9fb629c4189551a2d022fa330f9573f3"),
    test_labels=IdxFile("t10k-labels-idx1-ubyte", (10000,), "ec29112dd5afa0611ce80d1b7f02629c"),
    class_names=tuple(str(d) for d in range(10)),
    mirror="https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision's mirror of LeCun's files
    offline_hint="",
)

IDX_DATASETS = {spec.name: spec for spec in (FASHION_MNIST, MNIST)}


# --------------------------------------------------------------------------------------------------- parsing


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of one (decompressed) IDX file into a numpy array; DataError if malformed."""
    if len(data) < 4:
        raise DataError(f"{source}: not an IDX file (only {len(data)} bytes)")
    zero, type_code, ndim = int.from_bytes(data[0:2], "big"), data[2], data[3]
    if zero != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise DataError(
            f"{source}: not an IDX file (bad magic number 0x{int.from_bytes(data[0:4], 'big'):08x})"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{source}: truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[type_code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        size = len(data)
        raise DataError(f"{source}: {what} (header says shape {shape}, {expected} bytes; file has {size})")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _read_payload(path: Path) -> tuple[bytes, bytes | None]:
    """The file's decompressed bytes, and its raw bytes if it is a .gz (for the archive checksum)."""
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw, None
    try:
        return gzip.decompress(raw), raw
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError; a cut-off stream is EOFError
        raise DataError(f"{path}: damaged gzip file ({e})") from e


def _check_file(path: Path, spec: IdxFile, payload: bytes, archive: bytes | None) -> None:
    """Accept the file if its archive md5 or its payload sha256 matches a known value."""
    if archive is not None and _md5(archive) == spec.archive_md5:
        return
    if spec.payload_sha256 is not None:
        actual = hashlib.sha256(payload).hexdigest()
        if actual != spec.payload_sha256:
            raise DataError(
                f"{path}: checksum mismatch (sha256 of contents {actual}, expected {spec.payload_sha256})"
            )
    elif archive is not None:
        actual = _md5(archive)
        raise DataError(f"{path}: checksum mismatch (md5 {actual}, expected {spec.archive_md5})")
    # A raw file with no published payload checksum: structure checks in read_idx_file are all we have.


def read_idx_file(path: Path, spec: IdxFile | None = None, verify: bool = True) -> np.ndarray:
    """Read one IDX file (`.gz` or raw); with `spec`, also check its shape and (if `verify`) its checksum."""
    payload, archive = _read_payload(path)
    array = parse_idx(payload, str(path))
    if spec is not None:
        if array.shape != spec.shape:
            raise DataError(f"{path}: shape {array.shape}, expected {spec.shape}")
        if verify:
            _check_file(path, spec, payload, archive)
    return array


# --------------------------------------------------------------------------------------------------- look-up


def candidate_dirs(spec: IdxDataset, data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Where we look, in order: data_dir / $OPTLAB_DATA (the folder itself or <root>/<name>), the optlab
    cache, /usr/share/datasets/<name> (Debian), then torchvision's <root>/<Name>/raw under those roots."""
    roots = user_data_roots(data_dir)
    dirs: list[Path] = []
    for root in roots:
        dirs += [root, root / spec.name]
    dirs.append(cache_root() / spec.name)
    dirs += [system / spec.name for system in _common.SYSTEM_DATA_DIRS]
    for root in [*roots, cache_root()]:
        dirs.append(root / spec.torchvision_name / "raw")
    return list(dict.fromkeys(dirs))  # drop duplicates, keep order


def _find_file(folder: Path, name: str) -> Path | None:
    return next((path for path in (folder / name, folder / f"{name}.gz") if path.is_file()), None)


def how_to_get(name: str) -> str:
    """The sentence telling the user how to obtain dataset `name`."""
    spec = IDX_DATASETS[name]
    ways = [f"`{spec.offline_hint}`"] if spec.offline_hint else []
    ways.append(f"`optlab data download {name}` (needs the network)")
    ways.append(
        f"or put the four IDX files ({', '.join(f.name + '[.gz]' for f in spec.files)}) in a folder "
        "and pass --data-dir / set OPTLAB_DATA"
    )
    return "Get it with " + "; ".join(ways)


def locate(spec: IdxDataset, data_dir: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """The first folder holding all four files, as {file name: path}; DataError naming every place looked."""
    looked = []
    for folder in candidate_dirs(spec, data_dir):
        found = {f.name: _find_file(folder, f.name) for f in spec.files}
        if all(found.values()):
            return found  # type: ignore[return-value]
        present = [n for n, p in found.items() if p is not None]
        looked.append(f"{folder} (has only {', '.join(present)})" if present else str(folder))
    raise DataError(f"{spec.name} not found; looked in: {'; '.join(looked)}. {how_to_get(spec.name)}")


# --------------------------------------------------------------------------------------------------- loading


def load_idx_dataset(
    name: str, data_dir: str | os.PathLike[str] | None = None, verify: bool = True
) -> Dataset:
    """Load `fashion-mnist` or `mnist` as normalised float32 images (N, 1, 28, 28) and int64 labels."""
    spec = IDX_DATASETS[name]
    paths = locate(spec, data_dir)
    try:
        arrays = {f.name: read_idx_file(paths[f.name], f, verify) for f in spec.files}
    except DataError as e:
        raise DataError(f"{e}. Replace the file: {how_to_get(name)}") from e
    for f in (spec.train_labels, spec.test_labels):
        labels = arrays[f.name]
        if labels.size and int(labels.max()) >= len(spec.class_names):
            top = len(spec.class_names) - 1
            raise DataError(f"{paths[f.name]}: label {int(labels.max())} out of range 0..{top}")

    def images(f: IdxFile) -> torch.Tensor:
        # astype makes the one copy we need (the parsed array is a read-only view of the file bytes).
        arr = arrays[f.name]
        return torch.from_numpy(arr.astype(np.float32)).div_(255.0).unsqueeze(1)

    def labels(f: IdxFile) -> torch.Tensor:
        return torch.from_numpy(arrays[f.name].astype(np.int64))

    train_x, test_x = images(spec.train_images), images(spec.test_images)
    mean, std = train_x.mean(), train_x.std()  # training-set statistics, applied to both splits
    train_x.sub_(mean).div_(std)
    test_x.sub_(mean).div_(std)
    train, test = Split(train_x, labels(spec.train_labels)), Split(test_x, labels(spec.test_labels))
    return Dataset.from_splits(name, train, test, spec.class_names)


# --------------------------------------------------------------------------------------------------- download


def _https_fetch(url: str) -> bytes:
    if not url.startswith("https://"):
        raise ValueError(f"refusing to download over plain HTTP: {url}")
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def download(
    name: str, dest: str | os.PathLike[str] | None = None, fetch: Callable[[str], bytes] = _https_fetch
) -> Path:
    """Fetch the official `.gz` files of `name` over HTTPS into `dest` (default: the optlab cache), checking
    each against its published md5 before it is written (atomically). Valid files already there are kept.
    `fetch(url) -> bytes` is replaceable (tests pass local bytes). Returns the folder."""
    if name not in IDX_DATASETS:
        raise ConfigError(f"cannot download {name!r}; downloadable datasets: {', '.join(IDX_DATASETS)}")
    spec = IDX_DATASETS[name]
    folder = Path(dest).expanduser() if dest is not None else cache_root() / name
    for f in spec.files:
        target = folder / f"{f.name}.gz"
        if target.is_file() and _md5(target.read_bytes()) == f.archive_md5:
            continue
        url = spec.mirror + f"{f.name}.gz"
        try:
            data = fetch(url)
        except OSError as e:
            raise DataError(f"download of {url} failed: {e}") from e
        actual = _md5(data)
        if actual != f.archive_md5:
            raise DataError(f"download of {url}: checksum mismatch (md5 {actual}, expected {f.archive_md5})")
        atomic_write_bytes(target, data)
    return folder
