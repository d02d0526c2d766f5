"""TrainConfig: defaults, validation naming the flag, TOML round-trip, --hp parsing."""

import pytest

from optlab.errors import ConfigError
from optlab.train import TrainConfig, parse_hparam


def test_toml_round_trip_keeps_every_field():
    config = TrainConfig(
        dataset="ordered-abc",
        model="logreg",
        optimizer="adam",
        lr=3e-4,
        batch_size=None,
        max_steps=17,
        hparams={"betas": (0.9, 0.99), "weight_decay": 0.01},
        schedule="cosine",
        schedule_kwargs={"final_lr": 1e-5},
        validation=0.1,
        description="round trip",
    )
    again = TrainConfig.from_toml(config.to_toml())
    assert again == config
    assert again.batch_size is None and again.max_steps == 17
    assert again.hparams["betas"] == (0.9, 0.99)


def test_integer_lr_in_toml_becomes_float():
    assert TrainConfig.from_toml("lr = 1\n").lr == 1.0


@pytest.mark.parametrize(
    ("field", "value", "flag"),
    [
        ("lr", -1.0, "--lr"),
        ("lr", 0.0, "--lr"),
        ("batch_size", 0, "--batch-size"),
        ("epochs", 0, "--epochs"),
        ("max_steps", 0, "--max-steps"),
        ("warmup_steps", -3, "--warmup-steps"),
        ("checkpoint_every", -1, "--checkpoint-every"),
        ("shuffle", "sometimes", "--shuffle"),
    ],
)
def test_invalid_values_name_the_flag(field, value, flag):
    with pytest.raises(ConfigError, match=f"invalid value for {flag}"):
        TrainConfig(**{field: value})


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"unknown config key\(s\) learning_rate; valid keys: .*\blr\b"):
        TrainConfig.from_dict({"learning_rate": 0.1})


def test_bad_toml_and_missing_file_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        TrainConfig.from_toml("lr = = 3")
    with pytest.raises(ConfigError, match="cannot read config file"):
        TrainConfig.load(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("momentum=0.9", ("momentum", 0.9)),
        ("betas=0.9,0.99", ("betas", (0.9, 0.99))),
        ("nesterov=true", ("nesterov", True)),
        ("mode=lecture", ("mode", "lecture")),
        ("steps=3", ("steps", 3)),
    ],
)
def test_parse_hparam(text, expected):
    assert parse_hparam(text) == expected


@pytest.mark.parametrize("text", ["momentum", "=0.9", "momentum="])
def test_parse_hparam_rejects_malformed(text):
    with pytest.raises(ConfigError, match="invalid value for --hp"):
        parse_hparam(text)


def test_registry_names_and_hyperparameters_checked_up_front():
    from optlab.train.config import check_registries

    with pytest.raises(
        ConfigError, match=r"invalid value for --model: unknown name 'resnet'; choose one of: .*f1"
    ):
        check_registries(TrainConfig(model="resnet"))
    with pytest.raises(ConfigError, match="invalid value for --schedule: unknown name 'wavy'"):
        check_registries(TrainConfig(schedule="wavy"))
    # an unknown key: the error lists the optimizer's valid hyperparameters with their defaults
    with pytest.raises(
        ConfigError, match=r"adam has no hyperparameter 'foo'; valid .*betas=0.9,0.999.*eps=1e-08"
    ):
        check_registries(TrainConfig(optimizer="adam", hparams={"foo": 1}))
    with pytest.raises(
        ConfigError, match=r"invalid value for --hp \(momentum=-1\) of momentum: .*momentum=0.9"
    ):
        check_registries(TrainConfig(optimizer="momentum", hparams={"momentum": -1}))
    check_registries(TrainConfig(dataset="my-own", model="mlp"), check_dataset=False)  # custom data is fine


def test_lr_defaults_to_the_optimizers_registry_value():
    from optlab import optim

    for name in optim.names():
        assert TrainConfig(optimizer=name).lr == optim.info(name).defaults["lr"]
    assert TrainConfig(optimizer="sgd").lr == 0.1  # not Adam's 1e-3, with which SGD learns nothing
    assert TrainConfig(optimizer="sgd", lr=0.02).lr == 0.02
    # a config file without lr takes the default of the optimizer it names
    assert TrainConfig.from_toml('optimizer = "lars"\n').lr == 1.0
    with pytest.raises(ConfigError, match="invalid value for --optimizer: unknown name 'sgdd'"):
        TrainConfig(optimizer="sgdd")


@pytest.mark.parametrize(
    ("epochs", "max_steps", "limit", "total"),
    [
        (None, None, 10, 10 * 32),  # the default: 10 epochs
        (None, 6000, 188, 6000),  # --max-steps alone trains its updates (ceil(6000/32) epochs)
        (3, 6000, 3, 96),  # both: the first reached stops
        (300, 6000, 300, 6000),
        (2, None, 2, 64),
    ],
)
def test_max_steps_overrides_the_default_epochs(epochs, max_steps, limit, total):
    config = TrainConfig(epochs=epochs, max_steps=max_steps)
    assert config.epoch_limit(32) == limit
    assert config.total_steps(32) == total


def test_config_file_without_lr_leaves_it_to_the_final_optimizer(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('optimizer = "adam"\nepochs = 2\n')
    settings = TrainConfig.file_settings(path)
    assert settings == {"optimizer": "adam", "epochs": 2}  # no lr filled in from Adam
    assert TrainConfig.from_dict({**settings, "optimizer": "sgd"}).lr == 0.1  # --optimizer sgd on top
    path.write_text('optimizer = "adam"\nlr = 0.5\n')
    assert TrainConfig.from_dict({**TrainConfig.file_settings(path), "optimizer": "sgd"}).lr == 0.5
