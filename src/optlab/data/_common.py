"""Shared pieces of the dataset loaders: the in-memory containers, where data lives on disk, atomic writes."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import torch

# Debian's dataset packages (e.g. `dataset-fashion-mnist`) install here. A tuple so tests can monkeypatch it.
SYSTEM_DATA_DIRS: tuple[Path, ...] = (Path("/usr/share/datasets"),)


@dataclass(frozen=True)
class Split:
    """One split of a dataset held in memory: inputs `x` (N, ...) and integer labels `y` (N,)."""

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if self.x.shape[0] != self.y.shape[0]:
            raise ValueError(f"Split has {self.x.shape[0]} inputs but {self.y.shape[0]} labels")

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def to(self, device: torch.device | str | None) -> Split:
        return Split(self.x.to(device), self.y.to(device))


@dataclass(frozen=True)
class Dataset:
    """A classification dataset: train/test splits (and an optional validation split carved from train)."""

    name: str
    train: Split
    test: Split
    val: Split | None
    num_classes: int
    class_names: tuple[str, ...]

    @classmethod
    def from_splits(cls, name: str, train: Split, test: Split, class_names: tuple[str, ...]) -> Dataset:
        """A dataset as a loader returns it: no validation split (yet), one class per name."""
        return cls(name, train, test, None, len(class_names), class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example, e.g. (1, 28, 28) for Fashion-MNIST or (40,) for MNIST-1D."""
        return tuple(self.train.x.shape[1:])

    def to(self, device: torch.device | str | None) -> Dataset:
        """The same dataset with every split moved to `device` (one copy per split, done once)."""
        val = None if self.val is None else self.val.to(device)
        return replace(self, train=self.train.to(device), test=self.test.to(device), val=val)


def subset(dataset: Dataset, train_size: int | None, test_size: int | None, seed: int = 0) -> Dataset:
    """The first ``train_size`` / ``test_size`` examples of a fixed random permutation of each split (all of
    a split when its size is None or not smaller); the validation split is dropped."""

    def take(split: Split, size: int | None) -> Split:
        if size is None or size >= len(split.y):
            return split
        perm = torch.randperm(len(split.y), generator=torch.Generator().manual_seed(seed))[:size]
        return Split(split.x[perm], split.y[perm])

    train, test = take(dataset.train, train_size), take(dataset.test, test_size)
    return replace(dataset, train=train, test=test, val=None)


def cache_root() -> Path:
    """optlab's cache folder: `$OPTLAB_CACHE` if set (tests point it at a temporary folder), else
    ~/.cache/optlab."""
    env = os.environ.get("OPTLAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "optlab"


def user_data_roots(data_dir: str | os.PathLike[str] | None) -> list[Path]:
    """The folders the user pointed us at, strongest first: the `data_dir` argument, then `$OPTLAB_DATA`."""
    roots = []
    if data_dir is not None:
        roots.append(Path(data_dir).expanduser())
    env = os.environ.get("OPTLAB_DATA")
    if env:
        roots.append(Path(env).expanduser())
    return roots
