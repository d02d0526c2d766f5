"""MNIST-1D (Greydanus & Kobak, "Scaling down deep learning with MNIST-1D", ICML 2024), generated offline.

We call the `mnist1d` package's `make_dataset` with the paper's default arguments (`get_dataset_args()`: 5000
samples, 80 % train -> 4000 train / 1000 test, sequences of length 40, seed 42). Never `get_dataset`, which
downloads. The package already centres the whole dataset and scales it to unit standard deviation, so no
further normalisation is applied. Generation takes ~3 s, so the arrays are cached as an .npz under
`<cache>/mnist1d/` (`$OPTLAB_CACHE` or ~/.cache/optlab), written atomically, named by a hash of the arguments.
`make_dataset` reseeds numpy's and Python's global RNGs; we restore both afterwards so loading has no side
effects."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import random
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from optlab._io import atomic_write_bytes
from optlab.errors import DataError

from ._common import Dataset, Split, cache_root

CLASS_NAMES = tuple(str(d) for d in range(10))


def default_args() -> dict:
    """The paper's dataset arguments, as a plain dict (without the download URL, which plays no part)."""
    try:
        from mnist1d.data import get_dataset_args
    except ImportError as e:  # pragma: no cover (a declared dependency)
        raise DataError("mnist1d needs the `mnist1d` package: pip install mnist1d") from e
    args = get_dataset_args(as_dict=True)
    args.pop("url", None)
    return args


def mnist1d_args(**overrides: int | float) -> dict:
    """The paper's dataset arguments with some replaced, e.g. ``mnist1d_args(num_samples=50_000)``: more
    examples drawn by the same generator (templates, noise and transforms unchanged). Unknown names raise
    ValueError."""
    args = default_args()
    unknown = sorted(set(overrides) - set(args))
    if unknown:
        raise ValueError(
            f"unknown MNIST-1D argument(s) {', '.join(unknown)}; valid: {', '.join(sorted(args))}"
        )
    return {**args, **overrides}


def cache_path(args: dict) -> Path:
    try:
        version = metadata.version("mnist1d")
    except metadata.PackageNotFoundError:  # pragma: no cover
        version = "unknown"
    key = hashlib.sha256(json.dumps({"args": args, "mnist1d": version}, sort_keys=True).encode()).hexdigest()
    return cache_root() / "mnist1d" / f"mnist1d-{key[:16]}.npz"


def _generate(args: dict) -> dict[str, np.ndarray]:
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(ObjectView(dict(args)))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {
        "x": data["x"].astype(np.float32),
        "y": data["y"].astype(np.int64),
        "x_test": data["x_test"].astype(np.float32),
        "y_test": data["y_test"].astype(np.int64),
    }


def _read_cache(path: Path, args: dict) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None if the file is missing or unreadable (then we regenerate and replace it)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("x", "y", "x_test", "y_test")}
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    length = args["final_seq_length"]
    n_train = int(args["num_samples"] * args["train_split"])
    if arrays["x"].shape != (n_train, length) or arrays["y"].shape != (n_train,):
        return None
    return arrays


def load_mnist1d(args: dict | None = None, name: str = "mnist1d") -> Dataset:
    """MNIST-1D with `args` (default: the paper's), from the cache or generated and cached."""
    args = default_args() if args is None else args
    path = cache_path(args)
    arrays = _read_cache(path, args)
    if arrays is None:
        arrays = _generate(args)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        with contextlib.suppress(OSError):  # a read-only cache only costs the regeneration next time
            atomic_write_bytes(path, buffer.getvalue())
    train = Split(torch.from_numpy(arrays["x"]), torch.from_numpy(arrays["y"]))
    test = Split(torch.from_numpy(arrays["x_test"]), torch.from_numpy(arrays["y_test"]))
    return Dataset.from_splits(name, train, test, CLASS_NAMES)
