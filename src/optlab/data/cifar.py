"""CIFAR-10 from the user's "python version" folder (`data_batch_1..5`, `test_batch`, `batches.meta`).

Those files are Python pickles. `pickle.load` on a file from the internet can run arbitrary code (a pickle may
name any importable callable, e.g. `os.system`, and call it), so we never use it here: `SafeUnpickler`
resolves only the handful of globals that a pickled numpy array needs (`numpy.core.multiarray._reconstruct`,
`numpy.ndarray`, `numpy.dtype`, and `_codecs.encode` which protocol-2 pickles use for bytes). Dicts, lists,
strings, bytes and ints are built by pickle opcodes, not by globals, so they need no permission. Anything else
is refused with a DataError.

Preprocessing: float32 in [0, 1], then standardised per channel with the training set's mean and std.
Shape (N, 3, 32, 32) (the rows are stored as 1024 red, 1024 green, 1024 blue values, row-major); labels int64.
The batch sizes are not fixed to 10 000 so that tests can write small files in the same format.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from optlab.errors import DataError

from . import _common
from ._common import Dataset, Split, cache_root, user_data_roots

TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
FOLDER = "cifar-10-batches-py"  # the folder inside the official cifar-10-python.tar.gz
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
HOW_TO_GET = (
    "Download 'CIFAR-10 python version' from https://www.cs.toronto.edu/~kriz/cifar.html, unpack it and pass "
    f"--data-dir DIR (or set OPTLAB_DATA) to the {FOLDER} folder or its parent"
)

try:  # numpy >= 2 moved the module; old pickles still name numpy.core.multiarray
    from numpy._core.multiarray import _reconstruct as _np_reconstruct
except ImportError:  # pragma: no cover (numpy 1.x)
    from numpy.core.multiarray import _reconstruct as _np_reconstruct

# The only globals a pickle may name: what numpy arrays need. Resolved here directly (not by importing the
# module the pickle names), so a numpy 1 pickle loads under numpy 2 without the deprecated numpy.core alias.
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class SafeUnpickler(pickle.Unpickler):
    """An Unpickler that can rebuild builtin containers and numpy arrays and nothing else (see module doc)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[module, name]
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def safe_unpickle(data: bytes) -> Any:
    """Unpickle `data` allowing only containers, str/bytes/numbers and numpy arrays."""
    # encoding="bytes" reads the Python 2 `str` objects of the official files as bytes (keys like b"data").
    return SafeUnpickler(io.BytesIO(data), encoding="bytes").load()


def _key(d: dict, name: str) -> Any:
    """d[name], whether the pickle stored str keys (Python 3) or bytes keys (the official Python 2 files)."""
    return d[name] if name in d else d[name.encode()]


def _read_pickle(path: Path) -> dict:
    try:
        obj = safe_unpickle(path.read_bytes())
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise DataError(f"{path}: not a valid CIFAR-10 batch file ({e}). {HOW_TO_GET}") from e
    if not isinstance(obj, dict):
        raise DataError(f"{path}: not a valid CIFAR-10 batch file (a {type(obj).__name__}, not a dict)")
    return obj


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _read_pickle(path)
    try:
        data, labels = _key(batch, "data"), _key(batch, "labels")
    except KeyError as e:
        raise DataError(f"{path}: not a valid CIFAR-10 batch file (no key {e})") from e
    data = np.asarray(data)
    labels = np.asarray(labels, dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: data has dtype {data.dtype}, shape {data.shape}; expected uint8 (N, 3072)")
    if labels.shape != (data.shape[0],):
        raise DataError(f"{path}: {labels.shape[0]} labels for {data.shape[0]} images")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise DataError(f"{path}: labels outside 0..{len(CLASS_NAMES) - 1}")
    return data, labels


def candidate_dirs(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """data_dir / $OPTLAB_DATA (the folder itself, <root>/[cifar10/]cifar-10-batches-py or <root>/cifar10),
    then <cache>/cifar10[/cifar-10-batches-py] and /usr/share/datasets/cifar10[/cifar-10-batches-py]."""
    dirs: list[Path] = []
    for root in user_data_roots(data_dir):
        dirs += [root, root / FOLDER, root / "cifar10", root / "cifar10" / FOLDER]
    for base in [cache_root(), *_common.SYSTEM_DATA_DIRS]:
        dirs += [base / "cifar10", base / "cifar10" / FOLDER]
    return list(dict.fromkeys(dirs))


def locate(data_dir: str | os.PathLike[str] | None = None) -> Path:
    needed = (*TRAIN_FILES, TEST_FILE, META_FILE)
    looked = []
    for folder in candidate_dirs(data_dir):
        present = [n for n in needed if (folder / n).is_file()]
        if len(present) == len(needed):
            return folder
        looked.append(f"{folder} (has only {', '.join(present)})" if present else str(folder))
    raise DataError(f"cifar10 not found; looked in: {'; '.join(looked)}. {HOW_TO_GET}")


def load_cifar10(data_dir: str | os.PathLike[str] | None = None) -> Dataset:
    folder = locate(data_dir)
    meta = _read_pickle(folder / META_FILE)
    try:
        names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in _key(meta, "label_names"))
    except KeyError:
        names = CLASS_NAMES
    if len(names) != len(CLASS_NAMES):
        raise DataError(f"{folder / META_FILE}: {len(names)} class names, expected {len(CLASS_NAMES)}")
    train = [_read_batch(folder / f) for f in TRAIN_FILES]
    test_data, test_labels = _read_batch(folder / TEST_FILE)

    def images(data: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(data).reshape(-1, 3, 32, 32).to(torch.float32).div_(255.0)

    train_x = images(np.concatenate([d for d, _ in train]))
    test_x = images(test_data)
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)  # per-channel training statistics
    std = train_x.std(dim=(0, 2, 3), keepdim=True)
    train_x.sub_(mean).div_(std)
    test_x.sub_(mean).div_(std)
    train_y = torch.from_numpy(np.concatenate([lab for _, lab in train]))
    test = Split(test_x, torch.from_numpy(test_labels))
    return Dataset.from_splits("cifar10", Split(train_x, train_y), test, names)
