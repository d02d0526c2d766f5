"""The training run's configuration: one dataclass, every field with a default, a TOML round-trip.

``config.toml`` in a run folder is the fully resolved :class:`TrainConfig` (``device="auto"`` resolved to the
device actually used), so ``--resume`` and ``--config`` reproduce the run from that file alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from optlab.errors import ConfigError

# Flag names of the fields, so a bad value names what the user typed (``--batch-size``, not ``batch_size``).
FLAGS: dict[str, str] = {
    "batch_size": "--batch-size",
    "max_steps": "--max-steps",
    "warmup_steps": "--warmup-steps",
    "checkpoint_every": "--checkpoint-every",
    "data_dir": "--data-dir",
    "log_steps": "--log-steps",
    "hparams": "--hp",
    "eval_batch_size": "--eval-batch-size",
    "batch_schedule_kwargs": "--batch-schedule-arg",
}

# Fields added after runs and sweep studies were first recorded: to_dict (config.toml) writes them only when
# they differ from these defaults, so a config without them keeps its file, study hash and index entry.
LATER_FIELDS: dict[str, Any] = {
    "flip": False,
    "translate": 0,
    "label_smoothing": 0.0,
    "tta": False,
    "channels_last": False,
    "precision": "fp32",
    "batch_schedule": None,
    "batch_schedule_kwargs": {},
    "batch_lr_rule": "none",
    "batch_beta2_rule": "none",
}
PRECISIONS = ("fp32", "bf16")
BATCH_LR_RULES = ("none", "linear", "sqrt")  # = optlab.schedules.LR_RULES (kept here: no torch import)
BATCH_BETA2_RULES = ("none", "half-life")  # = optlab.schedules.BETA2_RULES


DEFAULT_EPOCHS = 10  # without --epochs and --max-steps


def default_lr(optimizer: Any) -> Any:
    """The optimizer's registry learning rate (what ``optlab list optimizers`` shows); an unknown name is left
    for :func:`check_registries` (or ``validate``) to report."""
    from optlab import optim

    if isinstance(optimizer, str) and optimizer in optim.names():
        return float(optim.info(optimizer).defaults["lr"])
    if isinstance(optimizer, str) and optimizer:
        raise ConfigError(
            f"invalid value for --optimizer: unknown name {optimizer!r}; choose one of: "
            f"{', '.join(optim.names())} (see `optlab list optimizers`)"
        )
    return None


def flag(name: str) -> str:
    """The command-line flag that sets field ``name``."""
    return FLAGS.get(name, "--" + name.replace("_", "-"))


@dataclass
class TrainConfig:
    """Everything that determines a training run (given the seed, two runs with equal configs are equal on
    CPU).

    ``lr=None`` (the default) takes the optimizer's registry default (``optlab list optimizers``: SGD 0.1,
    Adam 1e-3, LARS 1.0, ...), resolved when the config is made. ``batch_size=None`` trains full batch.
    ``epochs`` and ``max_steps`` bound the run; the first reached stops it (the schedule's horizon is
    ``min(epochs * batches_per_epoch, max_steps)``). ``epochs=None`` means :data:`DEFAULT_EPOCHS` without
    ``max_steps`` and no epoch bound with it, so ``max_steps=N`` alone trains N updates (as in Lightning and
    the HF Trainer); ``hparams`` are the optimizer's hyperparameters beyond
    ``lr`` (e.g. ``{"momentum": 0.9}`` or ``{"betas": (0.9, 0.99)}``); ``validation`` is a count or fraction
    of the training set held out (0: evaluate on the test split); ``checkpoint_every`` writes a checkpoint
    every N updates in addition to one per epoch (0: per epoch only); ``log_steps`` writes ``steps.csv``
    (loss, lr per update). Data parallel: ``batch_size`` is per rank (the global batch is ranks × batch_size);
    ``sync_bn`` uses SyncBatchNorm (batch statistics over all ranks; CUDA only). ``no_decay_bias_norm``
    exempts biases and norm-layer parameters from weight decay (:func:`optlab.optim.param_groups`);
    ``tensorboard`` also logs each epoch's metrics as TensorBoard scalars (``RUN_DIR/tensorboard``).

    For speed runs (:mod:`optlab.speedrun`), all off by default: ``flip`` mirrors each training example along
    its last axis with probability 1/2 and ``translate`` shifts it by up to that many positions per spatial
    axis (:mod:`optlab.data.augment`, drawn from the seeded global RNG); ``label_smoothing`` is the training
    loss's ε (cross-entropy against (1 − ε)·one-hot + ε/classes; evaluation losses stay plain); ``tta``
    evaluates on the mean logits of each example and its flip; ``channels_last`` stores the model's 4-D
    weights channels-last (NHWC: oneDNN's fast convolution layout on CPU); ``precision="bf16"`` runs the
    training forward pass and loss under ``torch.autocast`` in bfloat16 (weights, optimizer and evaluation
    stay float32).

    Batch-size schedules, off by default: ``batch_schedule`` names one (:mod:`optlab.schedules.batch`:
    piecewise, ramp, cbs_driven; ``batch_schedule_kwargs`` its options) that replaces ``batch_size``: each
    batch has the global size the schedule gives at the examples seen so far. At each change of B from the
    first size B₀, ``batch_lr_rule`` scales the lr (``linear`` η·B/B₀, ``sqrt`` η·√(B/B₀)) and
    ``batch_beta2_rule="half-life"`` sets Adam's β₂ to β₂^(B/B₀) (:mod:`optlab.train.batch_schedule`)."""

    dataset: str = "mnist1d"
    model: str = "mlp"
    optimizer: str = "adam"
    lr: float | None = None
    batch_size: int | None = 128
    epochs: int | None = None
    max_steps: int | None = None
    schedule: str = "constant"
    warmup_steps: int = 0
    schedule_kwargs: dict[str, Any] = field(default_factory=dict)
    hparams: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    validation: float = 0
    data_dir: str | None = None
    device: str = "auto"
    checkpoint_every: int = 0
    log_steps: bool = False
    shuffle: bool | str = True
    drop_last: bool = False
    eval_batch_size: int = 2048
    sync_bn: bool = False
    no_decay_bias_norm: bool = False
    tensorboard: bool = False
    description: str = ""
    flip: bool = False
    translate: int = 0
    label_smoothing: float = 0.0
    tta: bool = False
    channels_last: bool = False
    precision: str = "fp32"
    batch_schedule: str | None = None
    batch_schedule_kwargs: dict[str, Any] = field(default_factory=dict)
    batch_lr_rule: str = "none"
    batch_beta2_rule: str = "none"

    def __post_init__(self) -> None:
        if self.lr is None:
            self.lr = default_lr(self.optimizer)
        self.validate()

    def epoch_limit(self, batches_per_epoch: int) -> int:
        """Epochs the run may take: ``epochs``, else :data:`DEFAULT_EPOCHS`, else (``max_steps`` alone) as
        many as ``max_steps`` updates need."""
        if self.epochs is not None:
            return self.epochs
        if self.max_steps is None:
            return DEFAULT_EPOCHS
        return -(-self.max_steps // max(batches_per_epoch, 1))

    def total_steps(self, batches_per_epoch: int) -> int:
        """Updates the run takes unless stopped early: the first reached of its epochs and ``max_steps``."""
        total = self.epoch_limit(batches_per_epoch) * batches_per_epoch
        return total if self.max_steps is None else min(total, self.max_steps)

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the flag of the first invalid value."""

        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"invalid value for {flag(name)}: {getattr(self, name)!r} ({why})")

        if not (isinstance(self.lr, int | float) and self.lr > 0):
            raise bad("lr", "must be a number > 0")
        if self.batch_size is not None and not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise bad("batch_size", "must be an integer >= 1, or omitted for full batch")
        if self.epochs is not None and not (
            isinstance(self.epochs, int) and not isinstance(self.epochs, bool) and self.epochs >= 1
        ):
            raise bad("epochs", "must be an integer >= 1")
        if self.max_steps is not None and not (isinstance(self.max_steps, int) and self.max_steps >= 1):
            raise bad("max_steps", "must be an integer >= 1")
        for name in ("warmup_steps", "checkpoint_every", "seed"):
            value = getattr(self, name)
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
                raise bad(name, "must be an integer >= 0")
        if not (isinstance(self.validation, int | float) and self.validation >= 0):
            raise bad("validation", "must be a count >= 1 or a fraction between 0 and 1")
        if self.shuffle not in (True, False, "once"):
            raise bad("shuffle", "must be true, false or 'once'")
        for name in ("sync_bn", "no_decay_bias_norm"):
            if not isinstance(getattr(self, name), bool):
                raise bad(name, "must be true or false")
        if not (isinstance(self.eval_batch_size, int) and self.eval_batch_size >= 1):
            raise bad("eval_batch_size", "must be an integer >= 1")
        for name in ("dataset", "model", "optimizer", "schedule", "device"):
            if not (isinstance(getattr(self, name), str) and getattr(self, name)):
                raise bad(name, "must be a non-empty name")
        for name in ("flip", "tta", "channels_last"):
            if not isinstance(getattr(self, name), bool):
                raise bad(name, "must be true or false")
        if isinstance(self.translate, bool) or not (isinstance(self.translate, int) and self.translate >= 0):
            raise bad("translate", "must be an integer >= 0 (positions)")
        smoothing = self.label_smoothing
        if isinstance(smoothing, bool) or not (isinstance(smoothing, int | float) and 0 <= smoothing < 1):
            raise bad("label_smoothing", "must be a number in [0, 1)")
        if self.precision not in PRECISIONS:
            raise bad("precision", f"must be one of {', '.join(PRECISIONS)}")
        self._validate_batch_schedule(bad)

    def _validate_batch_schedule(self, bad: Any) -> None:
        """The batch-size schedule's fields (its name and options are checked by ``check_registries``)."""
        given = self.batch_schedule
        if given is not None and not (isinstance(given, str) and given):
            raise bad("batch_schedule", "must be a non-empty name")
        if not isinstance(self.batch_schedule_kwargs, dict):
            raise bad("batch_schedule_kwargs", "must be a table of KEY=VALUE options")
        for name, valid in (("batch_lr_rule", BATCH_LR_RULES), ("batch_beta2_rule", BATCH_BETA2_RULES)):
            if getattr(self, name) not in valid:
                raise bad(name, f"must be one of {', '.join(valid)}")
        if self.batch_schedule is None:
            for name in ("batch_schedule_kwargs", "batch_lr_rule", "batch_beta2_rule"):
                if getattr(self, name) != LATER_FIELDS[name]:
                    raise bad(name, "needs --batch-schedule")

    # -- dict / TOML -----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain dict for TOML, which has no null: ``None`` values are left out (``batch_size=None``, full
        batch, is written ``"full"``) and ``from_dict`` restores them; so are :data:`LATER_FIELDS` at their
        defaults."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "batch_size" and value is None:
                value = "full"
            if value is None or (f.name in LATER_FIELDS and value == LATER_FIELDS[f.name]):
                continue
            if isinstance(value, dict):
                value = {k: _plain(v) for k, v in value.items() if v is not None}
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown config key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(known))}"
            )
        data = dict(data)
        if data.get("batch_size") == "full":
            data["batch_size"] = None
        for key in ("hparams", "schedule_kwargs", "batch_schedule_kwargs"):
            if key in data:
                if not isinstance(data[key], dict):
                    raise ConfigError(f"config key {key} must be a table, got {data[key]!r}")
                # TOML has arrays, optimizers take tuples (betas=(0.9, 0.999)).
                data[key] = {k: tuple(v) if isinstance(v, list) else v for k, v in data[key].items()}
        for key in ("lr", "label_smoothing"):
            if isinstance(data.get(key), int) and not isinstance(data.get(key), bool):
                data[key] = float(data[key])
        return cls(**data)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_toml(cls, text: str) -> TrainConfig:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"config is not valid TOML: {error}") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read a config file (``--config run.toml``); a missing or unreadable file is a
        :class:`ConfigError`."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as error:
            raise ConfigError(f"cannot read config file {path}: {error.strerror or error}") from None
        try:
            return cls.from_toml(text)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None

    @classmethod
    def file_settings(cls, path: str | Path) -> dict[str, Any]:
        """The settings a config file gives, checked (as :meth:`load`) but not filled in: a file without
        ``lr`` leaves the learning rate to the optimizer that the flags may still change."""
        config = cls.load(path)
        given = tomllib.loads(Path(path).read_text())
        return {key: value for key, value in config.to_dict().items() if key in given}

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def _plain(value: Any) -> Any:
    """TOML-friendly value: tuples become lists."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def parse_hparam(text: str) -> tuple[str, Any]:
    """Parse ``--hp key=value``: ``momentum=0.9`` → 0.9, ``betas=0.9,0.99`` → (0.9, 0.99), ``nesterov=true`` →
    True."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or not raw.strip():
        raise ConfigError(f"invalid value for --hp: {text!r} (expected key=value, e.g. momentum=0.9)")
    if "," in raw:
        return key, tuple(_scalar(part) for part in raw.split(","))
    return key, _scalar(raw)


def _scalar(raw: str) -> Any:
    raw = raw.strip()
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(raw)
    return raw


def check_registries(config: TrainConfig, check_dataset: bool = True) -> None:
    """Look the config's names up in the registries and build its optimizer once on a dummy parameter, so an
    unknown name or a bad ``--hp`` fails with one line naming the flag before any folder is made or data read.
    """
    import torch

    from optlab import data, models, optim, schedules

    registries = [
        ("model", config.model, models.names()),
        ("optimizer", config.optimizer, optim.names()),
        ("schedule", config.schedule, schedules.names()),
    ]
    if check_dataset:
        registries.insert(0, ("dataset", config.dataset, data.names()))
    for name, value, valid in registries:
        if value not in valid:
            raise ConfigError(
                f"invalid value for {flag(name)}: unknown name {value!r}; choose one of: {', '.join(valid)}"
            )
    valid = optimizer_hparams(config.optimizer)
    listing = ", ".join(f"{k}={_show(v)}" for k, v in valid.items())
    unknown = [key for key in config.hparams if key not in valid]
    if "lr" in config.hparams:
        raise ConfigError("invalid value for --hp: lr=... (the learning rate is --lr)")
    if unknown:
        raise ConfigError(
            f"invalid value for --hp: {config.optimizer} has no hyperparameter {unknown[0]!r}; "
            f"valid (with defaults): {listing}"
        )
    try:
        optim.create(config.optimizer, [torch.nn.Parameter(torch.zeros(1))], lr=config.lr, **config.hparams)
    except (TypeError, ValueError) as error:
        hparams = ", ".join(f"{k}={v!r}" for k, v in config.hparams.items()) or "none"
        raise ConfigError(
            f"invalid value for --hp ({hparams}) of {config.optimizer}: {error}; valid (with defaults): "
            f"{listing}"
        ) from None
    from optlab.train import batch_schedule

    batch_schedule.check(config)


def optimizer_hparams(name: str) -> dict[str, Any]:
    """The hyperparameters ``--hp`` may set for optimizer ``name`` (all but ``lr``), with the values it uses
    when they are not given: the class's keyword defaults overridden by the registry's."""
    import inspect

    from optlab import optim

    entry = optim.info(name)
    signature = inspect.signature(entry.cls.__init__)
    skip = ("self", "params", "lr")
    defaults = {
        p.name: p.default
        for p in signature.parameters.values()
        if p.name not in skip and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    defaults.update({k: v for k, v in entry.defaults.items() if k != "lr"})
    return defaults


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(_show(v) for v in value)
    return "none" if value is None else str(value)
