"""``optlab measure critical-batch --three-ways`` on real runs: the three estimates side by side, the figure,
and the flags checked before any training."""

from __future__ import annotations

import json
import math

import pytest
import typer
from typer.testing import CliRunner

from optlab.cli import measure as measure_cli
from optlab.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BATCHES = (16, 32, 64)


@pytest.fixture(scope="module")
def small():
    from optlab import data

    return data.subset(data.load("mnist1d"), 512, 128, seed=0)


@pytest.fixture
def app(small, monkeypatch):
    """The measure commands; loading MNIST-1D by name gives the same 512-example subset the runs used."""
    from optlab import data

    monkeypatch.setattr(data, "load", lambda name, **kwargs: small)
    application = typer.Typer()
    measure_cli.register(application)
    return lambda *args: CliRunner().invoke(application, list(args))


@pytest.fixture
def runs(small, tmp_path):
    from optlab.train import TrainConfig, train

    folders = []
    for batch in BATCHES:
        config = TrainConfig(dataset="mnist1d", model="mlp1d", optimizer="sgd", lr=0.05 * batch / 16,
                             batch_size=batch, epochs=12, device="cpu", seed=0)  # fmt: skip
        train(config, tmp_path / f"b{batch}", dataset=small, quiet=True, index=False)
        folders.append(str(tmp_path / f"b{batch}"))
    return folders


def test_three_ways_reports_the_three_estimates_with_a_figure(app, runs, tmp_path):
    out = tmp_path / "out"
    args = ("measure", "critical-batch", *runs, "--target", "2.0", "--out", str(out))
    plain = app(*args)
    assert plain.exit_code == 0, plain.output
    assert "B_crit" in plain.output and "three ways" not in plain.output  # unchanged without the flag
    result = app(*args, "--three-ways", "--ks", "1,2,4")
    assert result.exit_code == 0, result.output
    for line in ("(a) B_simple at train_loss <= 2", "(b) B_crit = E_min/S_min", "(c) CBS(t), branched"):
        assert line in result.output
    three = json.loads((out / "three_ways.json").read_text())
    assert three["base"]["batch_size"] == BATCHES[0]
    assert math.isfinite(three["b_simple"]) and three["b_simple"] > 0
    assert len(three["cbs"]) >= 3 and all(c["batch_sizes"] == [16, 32, 64] for c in three["cbs"])
    assert all(c["cbs"] in (16, 32, 64) for c in three["cbs"])
    assert (out / "three_ways.png").is_file() and (out / "critical_batch.png").is_file()
    assert all(c["cooldown"] == 0 for c in three["cbs"])
    cooled = app(*args, "--three-ways", "--ks", "1,2,4", "--cooldown", "0.5")
    assert cooled.exit_code == 0 and "ε = 0.02, cool-down 0.5" in cooled.output, cooled.output
    branched = json.loads((out / "three_ways.json").read_text())["cbs"]
    assert all(c["cooldown"] == 0.5 for c in branched)
    # the same branches (same data order), but each ends in a cool-down: every loss moves
    for hot, cool in zip(three["cbs"], branched, strict=True):
        assert hot["batch_sizes"] == cool["batch_sizes"] and hot["steps"] == cool["steps"]
        assert all(a != b for a, b in zip(hot["losses"], cool["losses"], strict=True))


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (("--ks", "2,4"), "--ks"),
        (("--ks", "1,x"), "--ks"),
        (("--window", "-1"), "--window"),
        (("--cooldown", "1.5"), "--cooldown"),
        (("--cooldown", "nan"), "--cooldown"),
        (("--metric", "val_loss"), "--metric train_loss"),
    ],
)
def test_three_ways_flags_are_checked_first(app, tmp_path, flags, named):
    result = app(
        "measure", "critical-batch", str(tmp_path / "nowhere"), "--target", "1", "--three-ways", *flags
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError) and named in str(result.exception)
