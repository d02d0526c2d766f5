"""mnist1d generation and cache, ordered-abc, validation splits, the registry."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from optlab.data import Split, info, load, names
from optlab.data.mnist1d_data import cache_path, default_args, load_mnist1d
from optlab.data.registry import split_validation
from optlab.errors import ConfigError


def test_names_and_descriptions() -> None:
    assert names() == ["fashion-mnist", "mnist", "mnist1d", "mnist1d-50k", "cifar10", "ordered-abc"]
    for name in names():
        assert info(name).description and "\n" not in info(name).description


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(ConfigError, match="unknown dataset 'fmnist'; choose one of: fashion-mnist, mnist, "):
        load("fmnist")


# -------------------------------------------------------------------------------------------------- mnist1d


def test_mnist1d_generated_once_then_cached() -> None:
    np.random.seed(123)
    random.seed(123)
    np_before, py_before = np.random.get_state()[1].copy(), random.getstate()
    ds = load("mnist1d")  # the paper's arguments: ~3-6 s to generate, the only full generation in the tests
    np.testing.assert_array_equal(np.random.get_state()[1], np_before)  # global RNGs left alone
    assert random.getstate() == py_before
    assert ds.train.x.shape == (4000, 40) and ds.test.x.shape == (1000, 40) and ds.input_shape == (40,)
    assert ds.train.x.dtype == torch.float32 and ds.train.y.dtype == torch.int64
    assert set(ds.train.y.unique().tolist()) == set(range(10)) and ds.num_classes == 10
    path = cache_path(default_args())
    assert path.is_file() and path.is_relative_to(os.environ["OPTLAB_CACHE"])
    assert not any(p.name.endswith(".tmp") for p in path.parent.iterdir())
    again = load("mnist1d")  # from the cache
    assert torch.equal(again.train.x, ds.train.x) and torch.equal(again.test.y, ds.test.y)


def test_mnist1d_matches_the_package_and_regenerates_a_damaged_cache() -> None:
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    args = {**default_args(), "num_samples": 200}  # small, to keep the test fast
    ds = load_mnist1d(args)
    reference = make_dataset(ObjectView(dict(args)))
    assert ds.train.x.shape == (160, 40)
    np.testing.assert_allclose(ds.train.x.numpy(), reference["x"], rtol=1e-6)
    np.testing.assert_array_equal(ds.test.y.numpy(), reference["y_test"])
    cache_path(args).write_bytes(b"garbage")
    regenerated = load_mnist1d(args)
    assert torch.equal(regenerated.train.x, ds.train.x) and torch.equal(regenerated.train.y, ds.train.y)


def test_mnist1d_cache_key_depends_on_args() -> None:
    args = default_args()
    assert cache_path(args) != cache_path({**args, "seed": 43})
    assert cache_path(args) == cache_path(dict(args))


# ---------------------------------------------------------------------------------------------- ordered-abc


def test_ordered_abc_layout_and_signal() -> None:
    ds = load("ordered-abc")
    assert ds.class_names == ("A", "B", "C") and ds.input_shape == (2,)
    assert ds.train.y.tolist() == [0] * 100 + [1] * 100 + [2] * 100  # blocks, kept in order
    assert len(ds.test) == 300 and ds.test.y.bincount().tolist() == [100, 100, 100]
    assert not torch.equal(ds.test.y, ds.test.y.sort().values)  # the test set is shuffled
    # The features carry the class: nearest class mean (fitted on train) classifies the test set well.
    means = torch.stack([ds.train.x[ds.train.y == k].mean(0) for k in range(3)])
    predicted = torch.cdist(ds.test.x, means).argmin(1)
    accuracy = (predicted == ds.test.y).float().mean().item()
    assert 0.75 < accuracy < 1.0
    assert torch.equal(load("ordered-abc").train.x, ds.train.x)


# ----------------------------------------------------------------------------------------------- validation


def _numbered(n: int) -> Split:
    return Split(torch.arange(n, dtype=torch.float32).unsqueeze(1), torch.arange(n))


def test_validation_count_fraction_and_seed() -> None:
    train = _numbered(100)
    rest, val = split_validation(train, 10, seed=0)
    assert len(val) == 10 and len(rest) == 90
    assert sorted(rest.y.tolist() + val.y.tolist()) == list(range(100))  # disjoint, nothing lost
    assert rest.y.tolist() == sorted(rest.y.tolist())  # remaining training data keep their order
    assert torch.equal(rest.x[:, 0].long(), rest.y)  # inputs stay paired with labels
    assert torch.equal(split_validation(train, 10, seed=0)[1].y, val.y)
    assert not torch.equal(split_validation(train, 10, seed=1)[1].y, val.y)
    assert len(split_validation(train, 0.25, seed=0)[1]) == 25
    assert split_validation(train, 0, seed=0) == (train, None)


@pytest.mark.parametrize("bad", [100, 1.0, 1.5, -3, -0.1, True, "10"])
def test_validation_rejects_bad_values(bad: object) -> None:
    with pytest.raises(ConfigError, match="validation"):
        split_validation(_numbered(100), bad, seed=0)  # type: ignore[arg-type]


def test_load_with_validation() -> None:
    ds = load("ordered-abc", validation=30, seed=5)
    assert len(ds.train) == 270 and ds.val is not None and len(ds.val) == 30
    assert ds.train.y.tolist() == sorted(ds.train.y.tolist())


def test_dataset_to_device() -> None:
    ds = load("ordered-abc", validation=0.1).to("cpu")
    assert ds.train.x.device.type == "cpu" and ds.val is not None and ds.val.x.device.type == "cpu"


def test_cache_root_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from optlab.data import cache_root

    monkeypatch.setenv("OPTLAB_CACHE", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"
    monkeypatch.delenv("OPTLAB_CACHE")
    assert cache_root() == Path.home() / ".cache" / "optlab"


def test_mnist1d_args_draw_more_examples_from_the_same_generator() -> None:
    from optlab.data.mnist1d_data import default_args, load_mnist1d, mnist1d_args

    args = mnist1d_args(num_samples=600)
    assert args == {**default_args(), "num_samples": 600}
    small = load_mnist1d(args, name="mnist1d-600")
    assert small.name == "mnist1d-600"
    assert small.train.x.shape == (480, 40) and small.test.x.shape == (120, 40)
    with pytest.raises(ValueError, match=r"unknown MNIST-1D argument.*num_sample.*valid: "):
        mnist1d_args(num_sample=10)
