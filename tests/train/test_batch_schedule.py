"""Training with a batch-size schedule: the batch sizes, learning rates and β₂ each update used against a hand
computation; kill/resume at a batch-size change gives bit-identical parameters; the config's new fields."""

import itertools
import json
import math

import pytest
import torch

from optlab.errors import ConfigError
from optlab.schedules import cosine, create_batch_schedule
from optlab.train import TrainConfig, fit_config, load_checkpoint, read_csv, train

# MNIST-1D cut to 400 examples. B = 25 until 150 examples, 40 until 500, then 64 (B₀ = 25):
#   epoch 1: 6 × 25, 6 × 40, a partial 10 (13 updates);  epoch 2: 3 × 40, 4 × 64, a partial 24 (8 updates);
#   epoch 3: 6 × 64, a partial 16 (7 updates): 28 updates in all.
SIZES = {"sizes": (25, 40, 64), "boundaries": (150, 500)}


def small(**changes):
    base = dict(
        dataset="mnist1d",
        model="mlp",
        optimizer="adam",
        lr=1e-2,
        epochs=3,
        seed=0,
        batch_schedule="piecewise",
        batch_schedule_kwargs=SIZES,
    )
    return TrainConfig(**{**base, **changes})


class Recorder:
    """Per update: its batch's size, the lr and betas the optimizer stepped with."""

    def __init__(self):
        self.rows = []

    def on_step(self, state):
        group = state.optimizer.param_groups[0]
        self.rows.append((state.step, len(state.y), state.lr, group["lr"], tuple(group["betas"])))


def hand_computed(rows, lr_of_step, lr_rule, beta2_rule, beta1=0.9, beta2=0.999):
    """The lr and betas of each update from the batch sizes alone: B = the schedule at the examples seen
    before the batch, B₀ its first value."""
    schedule = create_batch_schedule("piecewise", **SIZES)
    b0, seen, expected = schedule(0), 0, []
    for step, size, *_ in rows:
        b = schedule(seen)
        factor = {"none": 1.0, "linear": b / b0, "sqrt": math.sqrt(b / b0)}[lr_rule]
        betas = (beta1, beta2 ** (b / b0) if beta2_rule == "half-life" else beta2)
        expected.append((step, size, lr_of_step(step - 1) * factor, lr_of_step(step - 1) * factor, betas))
        seen += size
    return expected


@pytest.mark.parametrize(
    ("lr_rule", "beta2_rule"),
    [("linear", "half-life"), ("sqrt", "none"), ("none", "half-life"), ("none", "none")],
)
def test_lr_and_beta2_of_every_update_match_a_hand_computation(mnist1d_small, lr_rule, beta2_rule):
    recorder = Recorder()
    config = small(schedule="cosine", batch_lr_rule=lr_rule, batch_beta2_rule=beta2_rule)
    result = fit_config(config, dataset=mnist1d_small, callbacks=[recorder])
    sizes = [size for _, size, *_ in recorder.rows]
    assert sizes == [25] * 6 + [40] * 6 + [10] + [40] * 3 + [64] * 4 + [24] + [64] * 6 + [16]
    assert result.summary["steps"] == 28 and [row["step"] for row in result.metrics] == [13, 21, 28]
    # the lr schedule's horizon is the run's 28 updates
    assert recorder.rows == hand_computed(recorder.rows, cosine(1e-2, 28), lr_rule, beta2_rule)
    # the partial batch at the end of the first epoch keeps the scheduled B = 40, not its 10 samples
    if lr_rule == "linear":
        assert recorder.rows[12][2] == cosine(1e-2, 28)(12) * (40 / 25)


def test_without_rules_the_lr_is_the_schedules(mnist1d_small):
    recorder = Recorder()
    fit_config(small(), dataset=mnist1d_small, callbacks=[recorder])
    assert {row[2] for row in recorder.rows} == {1e-2}
    assert {row[4] for row in recorder.rows} == {(0.9, 0.999)}


def test_run_length_with_max_steps(mnist1d_small):
    # --max-steps alone: as many epochs as 20 updates take (13 + 8), stopping at 20
    result = fit_config(small(epochs=None, max_steps=20), dataset=mnist1d_small)
    assert result.summary["steps"] == 20 and result.summary["epochs"] == 2
    # both bounds: the first reached stops the run
    assert fit_config(small(epochs=1, max_steps=20), dataset=mnist1d_small).summary["steps"] == 13


class Crash:
    """Simulates a crash after `at` updates (the run dies without finishing, like kill -9 would)."""

    def __init__(self, at):
        self.at = at

    def on_step(self, state):
        if state.step == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("crash_at", "checkpoint_every"),
    [
        (7, 1),  # resumes from update 6: its first batch is the first of B = 40 (the change at resume)
        (8, 1),  # resumes right after the change
        (13, 1),  # resumes before the partial last batch of epoch 1
        (14, 0),  # resumes from the epoch-end checkpoint (B = 40 carries into epoch 2)
        (17, 1),  # resumes from update 16: the next batch is the first of B = 64, mid-epoch
        (21, 5),  # resumes from update 20, before the partial batch of epoch 2
    ],
)
def test_kill_and_resume_at_a_batch_size_change_is_bit_identical(
    tmp_path, mnist1d_small, crash_at, checkpoint_every
):
    config = small(
        schedule="cosine",
        batch_lr_rule="linear",
        batch_beta2_rule="half-life",
        checkpoint_every=checkpoint_every,
        log_steps=True,
    )
    whole = train(config, tmp_path / "whole", dataset=mnist1d_small, quiet=True, index=False)
    with pytest.raises(KeyboardInterrupt):
        train(
            config,
            tmp_path / "cut",
            dataset=mnist1d_small,
            quiet=True,
            callbacks=[Crash(crash_at)],
            index=False,
        )
    checkpoint = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")
    assert checkpoint["step"] == (crash_at - 1 if checkpoint_every == 1 else {14: 13, 21: 20}[crash_at])
    torch.manual_seed(1234)  # the resumed run must not depend on the global RNG it starts with
    resumed = train(None, tmp_path / "cut", dataset=mnist1d_small, quiet=True, resume=True, index=False)
    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    timeless = lambda rows: [{k: v for k, v in r.items() if "time" not in k} for r in rows]  # noqa: E731
    assert timeless(read_csv(tmp_path / "whole" / "metrics.csv")) == timeless(
        read_csv(tmp_path / "cut" / "metrics.csv")
    )
    steps = read_csv(tmp_path / "whole" / "steps.csv")
    assert steps == read_csv(tmp_path / "cut" / "steps.csv")
    # steps.csv holds the lr each update took: the cosine times B/B₀
    sizes = [25] * 6 + [40] * 10 + [64] * 12
    assert [row["lr"] for row in steps] == [cosine(1e-2, 28)(t) * (b / 25) for t, b in enumerate(sizes)]
    summary = json.loads((tmp_path / "cut" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 28


def test_config_fields_default_off_and_round_trip(tmp_path):
    new = {"batch_schedule", "batch_schedule_kwargs", "batch_lr_rule", "batch_beta2_rule"}
    assert not new & set(TrainConfig().to_dict())  # left out of config.toml when unset
    config = small(
        batch_schedule="cbs_driven",
        batch_schedule_kwargs={"points": ("0:25", "300:100"), "min_batch": 16, "max_batch": 64},
        batch_lr_rule="sqrt",
        batch_beta2_rule="half-life",
    )
    (tmp_path / "c.toml").write_text(config.to_toml())
    assert TrainConfig.load(tmp_path / "c.toml") == config
    assert new <= set(config.to_dict())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"batch_lr_rule": "cubic"},
            r"invalid value for --batch-lr-rule: 'cubic' \(must be one of none, linear",
        ),
        (
            {"batch_beta2_rule": "halflife"},
            "invalid value for --batch-beta2-rule: 'halflife' .must be one of",
        ),
        (
            {"batch_schedule": None, "batch_schedule_kwargs": {}, "batch_lr_rule": "linear"},
            r"--batch-lr-rule: 'linear' \(needs --batch-schedule\)",
        ),
        ({"batch_schedule": None}, r"--batch-schedule-arg: .* \(needs --batch-schedule\)"),
        ({"batch_schedule": ""}, "--batch-schedule: '' .must be a non-empty name"),
    ],
)
def test_bad_config_values(changes, message):
    with pytest.raises(ConfigError, match=message):
        small(**changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"batch_schedule": "rampe"},
            "--batch-schedule: unknown name 'rampe'; choose one of: piecewise, ramp",
        ),
        ({"batch_schedule_kwargs": {"sizes": (25, 0)}}, "--batch-schedule-arg: piecewise: sizes must be"),
        ({"optimizer": "sgd", "lr": 0.1, "batch_beta2_rule": "half-life"}, "sgd has none; use one of: adam"),
    ],
)
def test_bad_schedules_fail_before_a_folder_is_made(tmp_path, mnist1d_small, changes, message):
    with pytest.raises(ConfigError, match=message):
        train(small(**changes), tmp_path / "run", dataset=mnist1d_small, quiet=True, index=False)
    assert not (tmp_path / "run").exists()


def test_a_schedule_larger_than_the_data_with_drop_last_leaves_nothing(tmp_path, mnist1d_small):
    config = small(batch_schedule_kwargs={"sizes": (25, 500), "boundaries": (400,)}, drop_last=True)
    with pytest.raises(ConfigError, match="gives 500 at 400 examples seen, more than the 400 samples"):
        train(config, tmp_path / "run", dataset=mnist1d_small, quiet=True, index=False)
    assert not (tmp_path / "run").exists()


def test_examples_seen_is_a_whole_number_of_passes_at_epoch_ends(mnist1d_small):
    class Seen:
        def __init__(self):
            self.sizes, self.at_epochs = [], []

        def on_step(self, state):
            self.sizes.append(len(state.y))

        def on_epoch(self, state):
            self.at_epochs.append(sum(self.sizes))

    seen = Seen()
    fit_config(small(), dataset=mnist1d_small, callbacks=[seen])
    assert seen.at_epochs == [400, 800, 1200]
    assert list(itertools.accumulate(seen.sizes))[-1] == 1200
