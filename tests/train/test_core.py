"""The core loop (optlab.train.fit) on its own: the same updates as the run shell, its stopping rules, its
non-finite policies, and the TensorBoard logger read back with TensorBoard's own event reader."""

import math

import pytest
import torch
from torch import nn

from optlab import data, models, optim, schedules
from optlab.data import Batcher, Dataset, Split
from optlab.errors import ConfigError
from optlab.train import Diverged, OnUpdate, Plateau, TrainConfig, evaluator, fit, train
from optlab.train.loggers import read_scalars


def toy() -> Dataset:
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    return Dataset("toy", Split(x, y), Split(x, y), None, 2, ("a", "b"))


def test_core_gives_the_run_shells_parameters_bit_for_bit(tmp_path, mnist1d_small):
    """train() is the core plus files: built by hand from the same seed, the core ends on equal parameters."""
    config = TrainConfig(
        dataset="mnist1d", model="mlp", optimizer="adam", lr=3e-3, batch_size=32, epochs=2, seed=5,
        schedule="cosine", warmup_steps=7,
    )  # fmt: skip
    shell = train(config, tmp_path / "run", dataset=mnist1d_small, quiet=True, index=False)

    torch.manual_seed(config.seed)
    model = models.create("mlp", mnist1d_small.input_shape, mnist1d_small.num_classes)
    optimizer = optim.create("adam", model.parameters(), lr=config.lr)
    batcher = Batcher(mnist1d_small.train, 32, shuffle=True, seed=config.seed)
    schedule = schedules.create("cosine", config.lr, 2 * len(batcher), warmup_steps=7)
    result = fit(model, optimizer, batcher, schedule, epochs=2, evaluate=evaluator(test=mnist1d_small.test))
    for key, value in shell.model.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key
    assert result.steps == shell.summary["steps"] == 2 * len(batcher)
    assert [r["test_acc"] for r in result.history] == pytest.approx([r["test_acc"] for r in shell.metrics])
    assert result.train_times == pytest.approx(
        [sum(r["epoch_time"] for r in result.history[: i + 1]) for i in (0, 1)]
    )


def test_plateau_stops_when_the_training_loss_stops_improving_and_max_steps_caps():
    dataset, model = toy(), nn.Linear(3, 2)
    # lr 0: the loss never improves, so the run stops after `patience` epochs past the first.
    stalled = fit(
        model, torch.optim.SGD(model.parameters(), lr=0.0), Batcher(dataset.train, 16, seed=0), lambda t: 0.0,
        epochs=50, evaluate=evaluator(train=dataset.train), callbacks=[Plateau(3)],
    )  # fmt: skip
    assert stalled.stopped == "plateau" and len(stalled.history) == 4
    steps = []
    capped = fit(
        model, torch.optim.SGD(model.parameters(), lr=0.1), Batcher(dataset.train, 16, seed=0), lambda t: 0.1,
        epochs=50, max_steps=6, callbacks=[OnUpdate(lambda step, opt: steps.append(step))],
    )  # fmt: skip
    assert capped.steps == 6 and steps == [1, 2, 3, 4, 5, 6] and capped.stopped == "budget"
    assert [r["step"] for r in capped.history] == [4, 6] and [r["updates"] for r in capped.history] == [4, 2]


def test_plateau_min_loss_says_fitted():
    dataset, model = toy(), nn.Linear(3, 2)
    run = fit(
        model, torch.optim.SGD(model.parameters(), lr=1.0), Batcher(dataset.train, 16, seed=0), lambda t: 1.0,
        epochs=200, evaluate=evaluator(train=dataset.train), callbacks=[Plateau(None, min_loss=0.2)],
    )  # fmt: skip
    assert run.stopped == "fitted" and run.final["train_loss"] < 0.2 < run.history[-2]["train_loss"]


def test_a_non_finite_loss_raises_or_stops_with_its_epoch_recorded():
    dataset = toy()

    def blow_up(on_nonfinite):
        model = nn.Linear(3, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        batches = Batcher(dataset.train, 4, seed=0)
        return fit(model, opt, batches, lambda t: math.nan, epochs=3, on_nonfinite=on_nonfinite)

    with pytest.raises(Diverged, match="nan/inf by update"):
        blow_up("raise")
    stopped = blow_up("stop")
    assert stopped.diverged and len(stopped.history) == 1 and not math.isfinite(stopped.final["train_loss"])


def test_tensorboard_logger_writes_what_tensorboard_reads(tmp_path, abc):
    config = TrainConfig(
        dataset="ordered-abc", model="mlp", lr=1e-2, batch_size=32, epochs=3, tensorboard=True
    )
    result = train(config, tmp_path / "run", dataset=abc, quiet=True, index=False)
    scalars = read_scalars(tmp_path / "run" / "tensorboard")
    assert {"train_loss", "test_acc", "lr", "grad_norm"} <= set(scalars)
    assert [step for step, _ in scalars["test_acc"]] == [r["step"] for r in result.metrics]
    assert [v for _, v in scalars["test_acc"]] == pytest.approx([r["test_acc"] for r in result.metrics])


def test_tensorboard_missing_is_one_line_and_no_folder(tmp_path, abc, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name == "tensorboard" or name.startswith("tensorboard."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    config = TrainConfig(dataset="ordered-abc", model="mlp", epochs=1, tensorboard=True)
    with pytest.raises(ConfigError, match="needs the tensorboard package: pip install"):
        train(config, tmp_path / "run", dataset=abc, quiet=True, index=False)
    assert not (tmp_path / "run").exists()


def test_subset_takes_a_fixed_random_part_of_each_split(abc):
    small = data.subset(abc, 50, 20, seed=1)
    again = data.subset(abc, 50, 20, seed=1)
    assert len(small.train) == 50 and len(small.test) == 20 and small.val is None
    assert torch.equal(small.train.x, again.train.x) and not torch.equal(small.train.x, abc.train.x[:50])
    assert data.subset(abc, None, None).train is abc.train


def test_fit_config_is_train_without_the_folder(tmp_path, abc):
    from optlab.train import fit_config

    config = TrainConfig(
        dataset="ordered-abc", model="mlp", optimizer="momentum", lr=0.05, batch_size=16, epochs=3, seed=4,
        validation=0.2, schedule="step", schedule_kwargs={"step_size": 20},
    )  # fmt: skip
    on_disk = train(config, tmp_path / "run", quiet=True, index=False)
    in_memory = fit_config(config)
    assert in_memory.run_dir is None and not (tmp_path / "runs").exists()
    for key, value in on_disk.model.state_dict().items():
        assert torch.equal(value, in_memory.model.state_dict()[key]), key
    assert [r["val_acc"] for r in in_memory.metrics] == [r["val_acc"] for r in on_disk.metrics]
    assert in_memory.summary["steps"] == on_disk.summary["steps"]
