"""optlab.speedrun: the recipes, a smoke speed run through the engine (seconds), the record protocol on
numbers where it must refuse, and the command's output and bad input (one line, exit 2, nothing created)."""

from __future__ import annotations

import json
import statistics
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from scipy import stats

from optlab import data
from optlab.cli import main
from optlab.errors import ConfigError
from optlab.speedrun import judge, load_recipe, recipe_names, record, run
from optlab.speedrun.records import load_history
from optlab.train import TrainConfig, fit_config

TINY = """
description = "smoke: cnn1d_bn, one short epoch"
target = 0.2
seeds = 2
threads = 1

[train]
dataset = "mnist1d"
model = "cnn1d_bn"
optimizer = "nesterov"
lr = 0.1
batch_size = 100
epochs = 2
schedule = "one_cycle"
schedule_kwargs = { pct_start = 0.25, anneal = "linear" }
label_smoothing = 0.1
translate = 2
device = "cpu"
"""


@pytest.fixture(autouse=True)
def _isolated_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTLAB_RUNS", str(tmp_path / "runs"))


@pytest.fixture(scope="module")
def mnist1d_small():
    full = data.load("mnist1d")
    return replace(
        full,
        train=data.Split(full.train.x[:400], full.train.y[:400]),
        test=data.Split(full.test.x[:200], full.test.y[:200]),
    )


@pytest.fixture
def tiny_recipe(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def test_shipped_recipes_parse_and_build():
    assert {"fashion-mnist", "mnist1d"} <= set(recipe_names())
    fashion = load_recipe("fashion-mnist")
    assert fashion.target == 0.91 and fashion.seeds == 5 and fashion.config.dataset == "fashion-mnist"
    assert load_recipe("mnist1d").target == 0.94
    for name in recipe_names():
        config = load_recipe(name).config
        assert TrainConfig.from_toml(config.to_toml()) == config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("target = 0.9\n", "needs a [train] table"),
        ("target = 0.9\nspeed = 1\n[train]\n", "unknown key"),
        ("target = 1.5\n[train]\n", "target"),
        ("seeds = 0\n[train]\n", "seeds"),
        ("threads = 0\n[train]\n", "threads"),
        ("[train]\nvalidation = 0.1\n", "validation must be 0"),
        ("[train]\nepochs = 0\n", "--epochs"),
        ("[train\n", "not valid TOML"),
    ],
)
def test_bad_recipes_are_one_line_config_errors(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")) as caught:
        load_recipe(path)
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match=r"no speed-run recipe 'imagenet'; choose one of: .*fashion-mnist"):
        load_recipe("imagenet")


def test_smoke_speed_run_through_the_engine(tmp_path, tiny_recipe, mnist1d_small):
    recipe = load_recipe(tiny_recipe)
    seen = []
    threads = torch.get_num_threads()
    result = run(recipe, tmp_path / "out", dataset=mnist1d_small, index=False, on_seed=seen.append)
    assert torch.get_num_threads() == threads  # the recipe's thread count is restored afterwards
    assert [s.seed for s in seen] == [0, 1] and result.threads == 1
    saved = json.loads((tmp_path / "out" / "speedrun.json").read_text())
    for key in (
        "dataset",
        "target",
        "seeds",
        "accuracy",
        "train_seconds",
        "mean_accuracy",
        "threads",
        "device",
    ):
        assert key in saved
    assert saved["mean_train_seconds"] == pytest.approx(statistics.fmean(saved["train_seconds"]))
    assert saved["versions"]["torch"] == torch.__version__ and saved["load_seconds"] >= 0
    assert saved["warmup_seconds"] > 0 and all(t > 0 for t in saved["train_seconds"])
    # the speed run is optlab's own engine: each seed equals fit_config of the recipe with that seed
    again = fit_config(recipe.config.replace(seed=1), dataset=mnist1d_small)
    assert saved["accuracy"][1] == again.metrics[-1]["test_acc"]
    assert (tmp_path / "out" / "seed-1" / "summary.json").is_file()
    assert (tmp_path / "out" / "speedrun.png").stat().st_size > 0
    assert len(saved["curves"][0]) == 2 and saved["curves"][0][-1][1] == saved["accuracy"][0]  # per epoch
    with pytest.raises(ConfigError, match="already holds a speed run"):
        run(recipe, tmp_path / "out", dataset=mnist1d_small, index=False)


# -- the record protocol: numbers on which it must refuse, and one on which it must claim -------------------
RECORD = {"train_seconds": [20.0, 20.4, 19.7, 20.2, 19.9], "accuracy": [0.912] * 5}


@pytest.mark.parametrize(
    ("seconds", "accuracy", "why"),
    [
        ([15.0] * 5, [0.905, 0.915, 0.908, 0.911, 0.909], "below the target"),  # faster but 90.96 % < 91 %
        ([15.0, 15.1], [0.92, 0.92], "at least 3"),  # too few seeds for a test
        ([20.5, 20.9, 20.3, 20.6, 20.8], [0.92] * 5, "not below"),  # slower
        ([19.6, 20.5, 19.2, 20.6, 19.8], [0.92] * 5, "not significant"),  # faster mean, p ≈ 0.3
    ],
)
def test_judge_refuses(seconds, accuracy, why):
    verdict = judge(seconds, accuracy, 0.91, RECORD)
    assert not verdict.claimed and why in verdict.reason


def test_judge_claims_a_significantly_faster_run_with_welchs_p():
    faster = [18.9, 19.1, 18.8, 19.2, 19.0]
    verdict = judge(faster, [0.912] * 5, 0.91, RECORD)
    expected = stats.ttest_ind(faster, RECORD["train_seconds"], equal_var=False, alternative="less").pvalue
    assert verdict.claimed and verdict.p_value == pytest.approx(expected) and verdict.p_value < 0.05
    assert judge(faster, [0.912] * 5, 0.91, None).claimed  # the first record needs no test


def test_record_keeps_the_history_and_refuses_without_writing(tmp_path):
    def speedrun_json(seconds, accuracy):
        return {
            "dataset": "fashion-mnist", "recipe": "fashion-mnist", "target": 0.91, "seeds": list(range(5)),
            "accuracy": accuracy, "train_seconds": seconds, "threads": 2, "device": "CPU", "config": {},
            "date": "2025-01-01T00:00:00Z",
        }  # fmt: skip

    first = record(tmp_path, speedrun_json(RECORD["train_seconds"], RECORD["accuracy"]), "first recipe")
    assert first.claimed and first.p_value is None
    md = (tmp_path / "SPEEDRUNS.md").read_text()
    assert "| 2025-01-01 | first recipe | 91.20 ± 0.00 | 20.04 ± 0.27 | 5 | — | 2 | CPU |" in md
    refused = record(tmp_path, speedrun_json([19.6, 20.5, 19.2, 20.6, 19.8], [0.92] * 5), "noise")
    assert not refused.claimed and (tmp_path / "SPEEDRUNS.md").read_text() == md
    claimed = record(tmp_path, speedrun_json([18.9, 19.1, 18.8, 19.2, 19.0], [0.915] * 5), "faster")
    assert claimed.claimed and [r["change"] for r in load_history(tmp_path)] == ["first recipe", "faster"]
    assert "| faster |" in (tmp_path / "SPEEDRUNS.md").read_text()


# -- the command ---------------------------------------------------------------------------------------------
def cli(args, capsys):
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_command_prints_seeds_means_and_writes_speedrun_json(tmp_path, tiny_recipe, capsys):
    code, out, err = cli(["speedrun", str(tiny_recipe), "--seeds", "1", "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    assert "seed 0: test accuracy" in out and "mean of 1: test accuracy" in out
    assert "data loading" in out and "one-off warm-up" in out and "target 20.0 %: reached" in out
    assert json.loads((tmp_path / "o" / "speedrun.json").read_text())["seeds"] == [0]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["imagenet"], "no speed-run recipe 'imagenet'"),
        (["mnist1d", "--seeds", "0"], "--seeds"),
        (["mnist1d", "--target", "91"], "--target"),
        (["mnist1d", "--threads", "0"], "--threads"),
        (["mnist1d", "--first-seed", "-1"], "--first-seed"),
        (["nope.toml"], "cannot read recipe nope.toml"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_creates_nothing(tmp_path, monkeypatch, capsys, args, fragment):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(["speedrun", *args], capsys)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_an_existing_speed_run_folder_is_refused(tmp_path, tiny_recipe, capsys):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "speedrun.json").write_text("{}")
    code, _, err = cli(["speedrun", str(tiny_recipe), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "already holds a speed run" in err
