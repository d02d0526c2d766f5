"""`optlab train --batch-schedule …` and `optlab list schedules` as a user runs them: real subprocesses, the
run's config and updates, one-line errors with exit 2 and nothing created."""

import math

import pytest

from optlab import schedules
from optlab.train import TrainConfig, read_csv

ABC = ["--dataset", "ordered-abc", "--optimizer", "adam", "--lr", "1e-2", "--epochs", "3", "-q"]
RAMP = [
    "--batch-schedule",
    "ramp",
    "--batch-schedule-arg",
    "start=16",
    "--batch-schedule-arg",
    "end=64",
    "--batch-schedule-arg",
    "examples=600",
]
CBS = [
    "--batch-schedule",
    "cbs_driven",
    "--batch-schedule-arg",
    "min_batch=1",
    "--batch-schedule-arg",
    "max_batch=8",
]


COLUMNS = "250"  # the width the help and error checks below were written for


def test_train_follows_the_batch_schedule_with_its_rules(optlab, tmp_path):
    proc = optlab("train", *ABC, *RAMP, "--batch-lr-rule", "sqrt", "--batch-beta2-rule", "half-life",
                  "--run-dir", "run", "--log-steps")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    config = TrainConfig.load(tmp_path / "run" / "config.toml")
    assert config.batch_schedule == "ramp"
    assert config.batch_schedule_kwargs == {"start": 16, "end": 64, "examples": 600}
    assert (config.batch_lr_rule, config.batch_beta2_rule) == ("sqrt", "half-life")
    # ordered-abc's 300 training examples: 16 until 300 examples (18 full + a partial 12), 32 until 600
    # (9 + a partial 12), then 64 (4 + a partial 44)
    assert [row["step"] for row in read_csv(tmp_path / "run" / "metrics.csv")] == [19, 29, 34]
    lrs = [row["lr"] for row in read_csv(tmp_path / "run" / "steps.csv")]
    assert lrs == [1e-2] * 19 + [1e-2 * math.sqrt(2)] * 10 + [1e-2 * 2.0] * 5  # η·√(B/B₀)
    assert "34 updates" in proc.stdout


def test_list_schedules_shows_the_batch_size_schedules(optlab):
    proc = optlab("list", "schedules")
    assert proc.returncode == 0, proc.stderr
    assert "optlab batch-size schedules" in proc.stdout
    for name in schedules.batch_schedule_names():
        assert name in proc.stdout
    assert "Merrill et al. 2025" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-schedule", "rampe"], "--batch-schedule: unknown name 'rampe'; choose one of: piecewise"),
        (["--batch-schedule", "ramp", "--batch-schedule-arg", "start=16"], "missing option 'end'"),
        ([*RAMP, "--batch-schedule-arg", "start"], "--batch-schedule-arg: 'start' (expected key=value"),
        ([*RAMP, "--batch-lr-rule", "cubic"], "--batch-lr-rule: 'cubic' (must be one of none, linear, sqrt)"),
        (["--batch-lr-rule", "linear"], "--batch-lr-rule: 'linear' (needs --batch-schedule)"),
        ([*RAMP, "--optimizer", "sgd", "--batch-beta2-rule", "half-life"], "sgd has none"),
    ],
)
def test_bad_values_are_one_line_exit_2_and_create_nothing(optlab, tmp_path, args, message):
    # (each value's message is checked in-process in tests/train/test_batch_schedule.py and
    # tests/schedules/test_schedule_batch.py; here: the command's exit code, one line, no folder)
    proc = optlab("train", *ABC, *args, "--run-dir", "run")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: invalid value for --"), proc.stderr
    assert message in lines[0]
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()
