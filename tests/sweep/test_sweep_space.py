"""Parsing --grid, validating a sweep, turning a point into a TrainConfig (with the lr scaling rules)."""

from __future__ import annotations

import math

import pytest

from optlab.errors import ConfigError
from optlab.sweep import SweepSpec, parse_param, point_key
from optlab.train import TrainConfig


def spec_of(*grid: str, **options) -> SweepSpec:
    base = options.pop("base", TrainConfig(dataset="ordered-abc", model="mlp", epochs=1))
    return SweepSpec(base=base, params=tuple(parse_param(text) for text in grid), **options)


def test_parse_lists_and_ranges():
    assert parse_param("batch_size=32,256,2048").values == (32, 256, 2048)
    lr = parse_param("lr=1e-3,1,0.1")
    assert lr.values == (0.001, 1.0, 0.1) and all(
        isinstance(v, float) for v in lr.values
    )  # 1 and 1.0: one point
    assert parse_param("optimizer=adam,sgd").values == ("adam", "sgd")
    assert parse_param("hp.nesterov=true,false").values == (True, False)
    ranged = parse_param("lr=1e-4:1e-1")
    assert ranged.is_range and ranged.log and (ranged.low, ranged.high) == (1e-4, 1e-1)
    ints = parse_param("batch_size=16:512")
    assert (ints.low, ints.high) == (16, 512) and isinstance(ints.low, int)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bogus=1,2", "cannot sweep 'bogus'"),
        ("lr", "expected NAME=V1,V2"),
        ("batch_size=32,abc", "batch_size takes integers"),
        ("batch_size=32,32", "listed twice"),
        ("lr=1e-1:1e-4", "LO < HI"),
        ("lr=a:b", "is not a number"),
        ("lr=0.1,", "empty value"),
    ],
)
def test_bad_grid_values_name_the_problem(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_param(text)


def test_spec_checks():
    with pytest.raises(ConfigError, match="a grid needs a list"):
        spec_of("lr=1e-4:1e-1")
    with pytest.raises(ConfigError, match="--trials is for --search tpe"):
        spec_of("lr=0.1,0.2", trials=3)
    with pytest.raises(ConfigError, match="needs --trials"):
        spec_of("lr=0.1,0.2", search="tpe")
    with pytest.raises(ConfigError, match="only 2 distinct points"):
        spec_of("lr=0.1,0.2", search="tpe", trials=3)
    with pytest.raises(ConfigError, match="--lr-scaling"):
        spec_of("lr=0.1,0.2", lr_scaling="cubic")
    with pytest.raises(ConfigError, match="--search"):
        spec_of("lr=0.1", search="random")
    with pytest.raises(ConfigError, match="given twice"):
        spec_of("lr=0.1", "lr=0.2")
    with pytest.raises(ConfigError, match="--batch-size"):  # every grid point is validated up front
        spec_of("batch_size=32,0")


def test_points_and_configs():
    spec = spec_of("batch_size=32,64", "lr=0.1,0.01", "hp.momentum=0.9", base=TrainConfig(optimizer="sgd"))
    points = spec.points()
    assert len(points) == spec.grid_size() == 4
    assert points[0] == {"batch_size": 32, "lr": 0.1, "hp.momentum": 0.9}
    config = spec.config_for(points[3], description="sweep s trial 3")
    assert (config.batch_size, config.lr, config.hparams, config.description) == (
        64,
        0.01,
        {"momentum": 0.9},
        "sweep s trial 3",
    )
    assert point_key({"lr": 0.1, "batch_size": 32}) == point_key({"batch_size": 32, "lr": 0.1})


def test_lr_scaling_rules():
    # Goyal et al.: lr 0.1 at batch 256 → 0.4 at batch 1024 (linear), 0.2 with the square-root rule.
    linear = spec_of("batch_size=64,1024", "lr=0.1", lr_scaling="linear", reference_batch=256)
    assert [linear.config_for(p).lr for p in linear.points()] == pytest.approx([0.025, 0.4])
    sqrt = spec_of("batch_size=64,1024", "lr=0.1", lr_scaling="sqrt", reference_batch=256)
    assert [sqrt.config_for(p).lr for p in sqrt.points()] == pytest.approx([0.05, 0.2])
    fixed_lr = spec_of("batch_size=512", lr_scaling="linear", reference_batch=128, base=TrainConfig(lr=0.01))
    assert math.isclose(fixed_lr.config_for({"batch_size": 512}).lr, 0.04)


def test_spec_round_trip_and_default_name():
    spec = spec_of("batch_size=32,64", "lr=1e-4:1e-1", search="tpe", trials=5, prune=True, seed=3)
    again = SweepSpec.from_dict(spec.to_dict())
    assert again.to_dict() == spec.to_dict()
    assert again.default_study_name() == spec.default_study_name()
    other = spec_of("batch_size=32,64", "lr=1e-4:1e-1", search="tpe", trials=6, prune=True, seed=3)
    assert other.default_study_name() != spec.default_study_name()
    assert spec.differences(other) == ["trials"]


def test_evaluate_train_round_trips_and_older_specs_stay_joinable():
    spec = spec_of("batch_size=32,64", evaluate_train=True)
    assert SweepSpec.from_dict(spec.to_dict()).evaluate_train is True
    plain = spec_of("batch_size=32,64")
    assert "evaluate_train" not in plain.to_dict()  # a study made before the option compares equal
    assert SweepSpec.from_dict(plain.to_dict()).evaluate_train is False
    assert spec.fingerprint() != plain.fingerprint()


def test_swept_optimizers_train_at_their_own_registry_lr_without_lr():
    """No --lr and the optimizer swept: each point takes its optimizer's registry lr (SGD 0.1, Adam 1e-3)."""
    base = TrainConfig(dataset="ordered-abc", model="mlp", epochs=1)
    spec = SweepSpec(base=base, params=(parse_param("optimizer=sgd,adam,lars"),), lr_from_optimizer=True)
    assert [spec.config_for(p).lr for p in spec.points()] == [0.1, 1e-3, 1.0]
    # with an lr given (lr_from_optimizer off) every point keeps it
    fixed = SweepSpec(base=base.replace(lr=0.05), params=(parse_param("optimizer=sgd,adam"),))
    assert [fixed.config_for(p).lr for p in fixed.points()] == [0.05, 0.05]
    # the flag is part of the stored spec (a joining worker computes the same lrs)
    assert SweepSpec.from_dict(spec.to_dict()).lr_from_optimizer is True
    assert "lr_from_optimizer" not in fixed.to_dict()  # older studies keep their fingerprint
