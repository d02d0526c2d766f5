"""The engine's speed-run features (TrainConfig flip, translate, label_smoothing, tta, channels_last,
precision): off by default and absent from config files then, applied where they belong, exact on resume."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from optlab import models
from optlab.data import Batcher, Dataset, Split
from optlab.errors import ConfigError
from optlab.train import TrainConfig, evaluate, fit_config, train
from optlab.train.config import LATER_FIELDS

SPEED = dict(flip=True, translate=2, label_smoothing=0.1, tta=True)


def small(**changes):
    base = dict(dataset="mnist1d", model="mlp", optimizer="adam", lr=1e-2, batch_size=50, epochs=2, seed=0)
    return TrainConfig(**{**base, **changes})


def tiny_images(n=64, size=12, channels=1):
    generator = torch.Generator().manual_seed(0)
    x, y = (
        torch.rand(n, channels, size, size, generator=generator),
        torch.randint(0, 3, (n,), generator=generator),
    )
    return Dataset("tiny", Split(x, y), Split(x[:32], y[:32]), None, 3, ("a", "b", "c"))


def test_defaults_leave_config_files_as_they_were():
    plain = small()
    assert not set(LATER_FIELDS) & set(plain.to_dict())  # same config.toml, sweep hash, index entry as before
    assert TrainConfig.from_toml(plain.to_toml()) == plain
    speed = small(**SPEED, channels_last=True, precision="bf16")
    assert {"flip", "translate", "label_smoothing", "tta", "channels_last", "precision"} <= set(
        speed.to_dict()
    )
    assert TrainConfig.from_toml(speed.to_toml()) == speed
    assert TrainConfig.from_dict({**plain.to_dict(), "label_smoothing": 0}).label_smoothing == 0.0


@pytest.mark.parametrize(
    ("changes", "flag"),
    [
        ({"flip": 1}, "--flip"),
        ({"translate": -1}, "--translate"),
        ({"translate": 1.5}, "--translate"),
        ({"label_smoothing": 1.0}, "--label-smoothing"),
        ({"label_smoothing": -0.1}, "--label-smoothing"),
        ({"tta": "yes"}, "--tta"),
        ({"channels_last": None}, "--channels-last"),
        ({"precision": "fp16"}, "--precision"),
    ],
)
def test_bad_values_name_the_flag(changes, flag):
    with pytest.raises(ConfigError, match=f"invalid value for {flag}:"):
        small(**changes)


def test_the_first_update_trains_on_the_augmented_batch_with_the_smoothed_loss(tmp_path, mnist1d_small):
    config = small(**SPEED)
    seen = {}

    class First:
        def on_step(self, state):
            if state.step == 1:
                seen["x"], seen["y"], seen["loss"] = state.x.clone(), state.y.clone(), state.loss

    torch.manual_seed(config.seed)
    initial = models.create("mlp", mnist1d_small.input_shape, mnist1d_small.num_classes)
    train(config, tmp_path / "run", dataset=mnist1d_small, quiet=True, index=False, callbacks=[First()])
    raw_x, raw_y = next(iter(Batcher(mnist1d_small.train, 50, seed=config.seed)))
    assert torch.equal(seen["y"], raw_y) and not torch.equal(seen["x"], raw_x)  # augmented inputs
    with torch.no_grad():
        smoothed = F.cross_entropy(initial(seen["x"]), seen["y"], label_smoothing=0.1)
        plain = F.cross_entropy(initial(seen["x"]), seen["y"])
    assert float(seen["loss"]) == pytest.approx(float(smoothed), rel=1e-6)
    assert float(seen["loss"]) != pytest.approx(float(plain))


class Crash:
    def __init__(self, at):
        self.at = at

    def on_step(self, state):
        if state.step == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("crash_at", [11, 16])  # mid-epoch, and at an epoch's end (8 updates per epoch)
def test_augmented_run_resumes_bit_for_bit(tmp_path, mnist1d_small, crash_at):
    config = small(**SPEED, epochs=3, checkpoint_every=5)
    whole = train(config, tmp_path / "whole", dataset=mnist1d_small, quiet=True, index=False)
    with pytest.raises(KeyboardInterrupt):
        train(
            config,
            tmp_path / "cut",
            dataset=mnist1d_small,
            quiet=True,
            index=False,
            callbacks=[Crash(crash_at)],
        )
    torch.manual_seed(999)  # the resumed run must not depend on the global RNG it starts with
    resumed = train(None, tmp_path / "cut", dataset=mnist1d_small, quiet=True, resume=True, index=False)
    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert [r["test_acc"] for r in whole.metrics] == [r["test_acc"] for r in resumed.metrics]
    # and the augmentation is part of the run: without it the parameters differ
    plain = fit_config(small(epochs=3, label_smoothing=0.1), dataset=mnist1d_small)
    first_layer = "1.weight"  # mlp: Flatten, Linear, ...
    assert not torch.equal(plain.model.state_dict()[first_layer], whole.model.state_dict()[first_layer])


def test_tta_evaluates_the_mean_logits_of_each_example_and_its_mirror_image(mnist1d_small):
    torch.manual_seed(0)
    model = models.create("mlp", mnist1d_small.input_shape, mnist1d_small.num_classes)
    split = mnist1d_small.test
    loss, acc = evaluate(model, split, batch_size=64, tta=True)
    with torch.no_grad():
        logits = (model(split.x) + model(split.x.flip(-1))) / 2
    assert loss == pytest.approx(float(F.cross_entropy(logits, split.y)), rel=1e-5)
    assert acc == pytest.approx(float((logits.argmax(1) == split.y).float().mean()))
    assert evaluate(model, split, batch_size=64) != (loss, acc)
    history = fit_config(small(tta=True, epochs=1), dataset=mnist1d_small).metrics
    assert math.isfinite(history[-1]["test_acc"])


def test_channels_last_model_trains_like_the_contiguous_one(tmp_path):
    tiny = tiny_images(channels=3)  # a (64, 1, 5, 5) weight would be channels-last and contiguous at once
    # A small lr: at lr 0.05 this random-label problem is chaotic (rounding differences grow 1e-7 → 1 in 8
    # updates, both ways round); at 1e-3 the two layouts stay within rounding of each other.
    config = TrainConfig(
        dataset="tiny", model="c1", optimizer="nesterov", lr=1e-3, batch_size=16, epochs=2, seed=3
    )
    contiguous = train(config, tmp_path / "a", dataset=tiny, quiet=True, index=False)
    nhwc = train(config.replace(channels_last=True), tmp_path / "b", dataset=tiny, quiet=True, index=False)
    conv = nhwc.model[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    for key, value in contiguous.model.state_dict().items():
        assert torch.allclose(value, nhwc.model.state_dict()[key], rtol=1e-5, atol=1e-5), key


def test_bf16_autocast_trains_in_float32_weights(tmp_path):
    tiny = tiny_images(n=96)
    config = TrainConfig(
        dataset="tiny", model="c1", optimizer="nesterov", lr=0.05, batch_size=32, epochs=3, seed=0,
        precision="bf16", channels_last=True,
    )  # fmt: skip
    before = copy.deepcopy(fit_config(config.replace(epochs=1, max_steps=1), dataset=tiny).model)
    result = train(config, tmp_path / "run", dataset=tiny, quiet=True, index=False)
    assert all(p.dtype == torch.float32 for p in result.model.parameters())
    assert all(math.isfinite(r["train_loss"]) for r in result.metrics)
    assert not torch.equal(before[0].weight, result.model[0].weight)
    assert (tmp_path / "run" / "final.pt").is_file()


def test_optlab_train_reads_the_fields_from_a_config_file(tmp_path, capsys):
    from optlab.cli import main

    (tmp_path / "speed.toml").write_text(
        'dataset = "mnist1d"\nmodel = "cnn1d_bn64"\noptimizer = "nesterov"\nschedule = "one_cycle"\n'
        "epochs = 1\nmax_steps = 3\nlabel_smoothing = 0.1\ntranslate = 2\nflip = true\ntta = true\n"
        'precision = "bf16"\n'
    )
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as exited:
        main(["train", "--config", str(tmp_path / "speed.toml"), "--run-dir", str(run), "--quiet"])
    assert exited.value.code == 0, capsys.readouterr().err
    saved = TrainConfig.load(run / "config.toml")
    assert (saved.label_smoothing, saved.translate, saved.flip, saved.tta, saved.precision) == (
        0.1, 2, True, True, "bf16"
    )  # fmt: skip
