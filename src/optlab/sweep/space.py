"""What a sweep varies and how a point of it becomes a :class:`~optlab.train.TrainConfig`.

A sweep is a base training config plus parameters: ``--grid batch_size=32,256,2048`` (a list of values) or,
for a search only, ``--grid lr=1e-4:1e-1`` (a range, sampled on a log scale when its low end is > 0). A
parameter is a field of ``TrainConfig`` (``lr``, ``batch_size``, ``seed``, ``optimizer``, ...) or an optimizer
hyperparameter written ``hp.NAME`` (``hp.momentum=0.9,0.99``).

The swept ``lr`` is the learning rate *at the reference batch size*: with ``lr_scaling="linear"`` a point with
batch size B trains at ``lr · B / reference_batch`` (Goyal et al. 2017, §2.1), with ``"sqrt"`` at
``lr · √(B / reference_batch)`` (Krizhevsky 2014; Hoffer et al. 2017); see :mod:`optlab.schedules.scaling`.
The :class:`SweepSpec` is stored in the study itself, so a worker that joins knows the whole sweep from the
storage URL and the study name alone.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

from optlab.errors import ConfigError
from optlab.train import TrainConfig

SEARCHES = ("grid", "tpe")
LR_SCALINGS = ("none", "linear", "sqrt")
# TrainConfig fields a sweep may vary (the dict-valued ones are reached through ``hp.NAME``).
SWEEPABLE = (
    "lr",
    "batch_size",
    "seed",
    "epochs",
    "max_steps",
    "optimizer",
    "model",
    "schedule",
    "warmup_steps",
    "validation",
    "shuffle",
    "drop_last",
)
HP_PREFIX = "hp."
SPEC_VERSION = 1
# SweepSpec fields stored as they are, and the flags stored only when set (see SweepSpec.to_dict)
_STORED = ("search", "trials", "prune", "lr_scaling", "reference_batch", "seed")
_FLAGS = ("evaluate_train", "lr_from_optimizer")

Value = int | float | str | bool


@dataclass(frozen=True)
class Param:
    """One swept parameter: a list of ``values`` (grid or search) or a ``low``..``high`` range (search)."""

    name: str
    values: tuple[Value, ...] | None = None
    low: float | None = None
    high: float | None = None

    @property
    def is_range(self) -> bool:
        return self.values is None

    @property
    def log(self) -> bool:
        return self.low is not None and self.low > 0

    def to_dict(self) -> dict[str, Any]:
        if self.values is not None:
            return {"name": self.name, "values": list(self.values)}
        return {"name": self.name, "low": self.low, "high": self.high}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Param:
        values = data.get("values")
        return cls(
            data["name"], tuple(values) if values is not None else None, data.get("low"), data.get("high")
        )


def parse_param(text: str) -> Param:
    """Parse ``NAME=V1,V2,...`` or ``NAME=LO:HI``; a bad name or value is a one-line :class:`ConfigError`."""
    name, sep, raw = text.partition("=")
    name, raw = name.strip(), raw.strip()
    if not sep or not name or not raw:
        raise ConfigError(f"invalid value for --grid: {text!r} (expected NAME=V1,V2,... or NAME=LO:HI)")
    _check_name(name)
    if ":" in raw and "," not in raw:
        low_text, _, high_text = raw.partition(":")
        low, high = _number(low_text, text), _number(high_text, text)
        if not low < high:
            raise ConfigError(f"invalid value for --grid: {text!r} (a range LO:HI needs LO < HI)")
        if isinstance(low, int) and isinstance(high, int):
            return Param(name, None, low, high)
        return Param(name, None, float(low), float(high))
    values = tuple(_coerce(name, _scalar(part), text) for part in raw.split(","))
    if any(part.strip() == "" for part in raw.split(",")):
        raise ConfigError(f"invalid value for --grid: {text!r} (empty value in the list)")
    if len(set(map(_key_value, values))) != len(values):
        raise ConfigError(f"invalid value for --grid: {text!r} (a value is listed twice)")
    return Param(name, values)


def _check_name(name: str) -> None:
    if name.startswith(HP_PREFIX) and len(name) > len(HP_PREFIX):
        return
    if name not in SWEEPABLE:
        raise ConfigError(
            f"invalid value for --grid: cannot sweep {name!r}; sweepable: {', '.join(SWEEPABLE)}, or hp.NAME "
            "for an optimizer hyperparameter (e.g. hp.momentum)"
        )


def _scalar(raw: str) -> Value:
    raw = raw.strip()
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def _number(raw: str, text: str) -> int | float:
    value = _scalar(raw)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"invalid value for --grid: {text!r} ({raw.strip()!r} is not a number)")
    return value


def _coerce(name: str, value: Value, text: str) -> Value:
    """Give the value the type the field has, so that 1 and 1.0 are the same grid point."""
    if name in ("lr", "validation") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if name in ("batch_size", "seed", "epochs", "max_steps", "warmup_steps") and not (
        isinstance(value, int) and not isinstance(value, bool)
    ):
        raise ConfigError(f"invalid value for --grid: {text!r} ({name} takes integers, got {value!r})")
    return value


def _key_value(value: Any) -> Any:
    return repr(value) if isinstance(value, float) else value


def point_key(params: dict[str, Any]) -> str:
    """A canonical text for a point (its swept parameters), equal for equal points in every process."""
    return json.dumps({k: _key_value(v) for k, v in params.items()}, sort_keys=True)


@dataclass
class SweepSpec:
    """The whole sweep: base config, swept parameters, the search and the lr rule. Stored in the study."""

    base: TrainConfig
    params: tuple[Param, ...]
    search: str = "grid"
    trials: int | None = None
    prune: bool = False
    lr_scaling: str = "none"
    reference_batch: int = 256
    seed: int = 0
    # Also evaluate each trial's final model on its whole training split (eval mode): what "optimises
    # better" is judged by (lecture B3). Costs one forward pass over the training set per trial.
    evaluate_train: bool = False
    # No --lr given and the optimizer swept: each point trains at its own optimizer's registry lr (SGD 0.1,
    # Adam 1e-3), not at the base optimizer's.
    lr_from_optimizer: bool = False

    def __post_init__(self) -> None:
        self.validate()

    # -- checks -----------------------------------------------------------------------------------------
    def validate(self) -> None:
        if self.search not in SEARCHES:
            raise ConfigError(f"invalid value for --search: {self.search!r} (use {' or '.join(SEARCHES)})")
        if self.lr_scaling not in LR_SCALINGS:
            raise ConfigError(
                f"invalid value for --lr-scaling: {self.lr_scaling!r} (use {', '.join(LR_SCALINGS)})"
            )
        if not (isinstance(self.reference_batch, int) and self.reference_batch >= 1):
            raise ConfigError(
                f"invalid value for --reference-batch: {self.reference_batch!r} (an integer >= 1)"
            )
        if not self.params:
            raise ConfigError(
                "a sweep needs at least one --grid NAME=V1,V2,... (e.g. --grid batch_size=32,256)"
            )
        names = [p.name for p in self.params]
        for name in names:
            if names.count(name) > 1:
                raise ConfigError(f"invalid value for --grid: {name} is given twice (list all values in one)")
        if self.search == "grid":
            ranges = [p.name for p in self.params if p.is_range]
            if ranges:
                raise ConfigError(
                    f"invalid value for --grid: {ranges[0]} is a range; a grid needs a list of values "
                    "(ranges need --search tpe)"
                )
            if self.trials is not None:
                raise ConfigError("--trials is for --search tpe; a grid runs each of its points once")
        else:
            if not (isinstance(self.trials, int) and self.trials >= 1):
                raise ConfigError(
                    f"invalid value for --trials: {self.trials!r} (--search tpe needs --trials N >= 1)"
                )
            if all(not p.is_range for p in self.params) and self.trials > self.grid_size():
                raise ConfigError(
                    f"invalid value for --trials: {self.trials} (the space has only {self.grid_size()} "
                    "distinct "
                    "points and none is run twice; use a range NAME=LO:HI or --search grid)"
                )
        if self.lr_scaling != "none" and self.base.batch_size is None and "batch_size" not in names:
            raise ConfigError("--lr-scaling needs an integer batch size (full batch has no scaling rule)")
        # every grid point (a search: its corner) must be a valid run before anything starts
        for point in self.points() if self.search == "grid" else [self._corner()]:
            self.config_for(point)

    def grid_size(self) -> int:
        return math.prod(len(p.values or ()) for p in self.params)

    def points(self) -> list[dict[str, Value]]:
        """Every grid point, in the order the values were given (first parameter slowest)."""
        lists = [p.values or () for p in self.params]
        return [
            dict(zip([p.name for p in self.params], combo, strict=True))
            for combo in itertools.product(*lists)
        ]

    def _corner(self) -> dict[str, Value]:
        return {p.name: p.values[0] if p.values is not None else p.low for p in self.params}

    # -- a point → a training config ------------------------------------------------------------------
    def config_for(self, point: dict[str, Any], description: str = "") -> TrainConfig:
        """The training config of ``point``; with an lr rule, ``lr`` is rescaled to the point's batch size."""
        fields: dict[str, Any] = {}
        hparams = dict(self.base.hparams)
        for name, value in point.items():
            if name.startswith(HP_PREFIX):
                hparams[name[len(HP_PREFIX) :]] = value
            else:
                fields[name] = value
        if self.lr_from_optimizer and "optimizer" in fields and "lr" not in fields:
            from optlab.train.config import default_lr

            fields["lr"] = default_lr(fields["optimizer"])
        config = self.base.replace(
            **fields, hparams=hparams, description=description or self.base.description
        )
        if self.lr_scaling != "none":
            config = config.replace(lr=self.scaled_lr(config.lr, config.batch_size))
        config.validate()
        return config

    def scaled_lr(self, lr: float, batch_size: int | None) -> float:
        from optlab.schedules import linear_scaling, sqrt_scaling

        if self.lr_scaling == "none":
            return lr
        if batch_size is None:
            raise ConfigError("--lr-scaling needs an integer batch size (full batch has no scaling rule)")
        rule = linear_scaling if self.lr_scaling == "linear" else sqrt_scaling
        return rule(lr, batch_size, self.reference_batch)

    def objective_name(self) -> str:
        """The metric a trial returns: the final accuracy on the validation split, or on test without one."""
        return "val_acc" if self.base.validation else "test_acc"

    # -- storage ----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        # a flag only when set, so older studies keep their fingerprint and stay joinable
        flags = {name: True for name in _FLAGS if getattr(self, name)}
        return flags | {
            "version": SPEC_VERSION,
            "base": self.base.to_dict(),
            "params": [p.to_dict() for p in self.params],
            **{name: getattr(self, name) for name in _STORED},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepSpec:
        if data.get("version") != SPEC_VERSION:
            raise ConfigError(
                f"the study was made by another optlab version (sweep spec {data.get('version')})"
            )
        return cls(
            base=TrainConfig.from_dict(data["base"]),
            params=tuple(Param.from_dict(p) for p in data["params"]),
            **{name: data[name] for name in _STORED},
            **{name: bool(data.get(name, False)) for name in _FLAGS},
        )

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:8]

    def default_study_name(self) -> str:
        """Derived from the settings, so re-running the same command continues the same study."""
        return (
            f"{self.base.dataset}-{self.base.model}-{self.base.optimizer}-{self.search}-{self.fingerprint()}"
        )

    def differences(self, other: SweepSpec) -> list[str]:
        """Human-readable keys where two specs differ (to say why a study cannot be joined)."""
        mine, theirs = _flatten(self.to_dict()), _flatten(other.to_dict())
        return sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))


def check_spec(spec: SweepSpec) -> None:
    """Fail now, before any storage or folder exists, on what would fail in every trial: an unknown dataset,
    model, optimizer or schedule name (:class:`ConfigError` naming the valid ones), missing data, a model
    that does not fit the data, an invalid optimizer hyperparameter."""
    from optlab import data, models, optim, schedules
    from optlab.train import check_fits
    from optlab.train.config import check_registries

    corner = spec._corner()
    if spec.search == "grid":
        named = runs = spec.points()
    else:  # names: each listed value once, the other parameters at their first value or low end
        named = [{**corner, p.name: v} for p in spec.params for v in p.values or ()] or [corner]
        runs = [corner]
    for point in named:
        config = spec.config_for(point)
        for name, registry in (("dataset", data), ("model", models), ("schedule", schedules)):
            value = getattr(config, name)
            if value not in registry.names():
                raise ConfigError(
                    f"invalid value for --{name}: {value!r} (use {', '.join(registry.names())})"
                )
        optim.info(config.optimizer)  # ConfigError naming the valid optimizers
    # every point's optimizer settings, and each distinct dataset/model pair's data and fit, checked once
    configs = [spec.config_for(point) for point in runs]
    for config in configs:
        check_registries(config)
    loaded: dict[tuple, object] = {}
    for config in configs:
        key = (config.dataset, config.data_dir)
        if key not in loaded:
            loaded[key] = data.load(config.dataset, data_dir=config.data_dir)
        dataset = loaded[key]
        check_fits(models.create(config.model, dataset.input_shape, dataset.num_classes), dataset, config)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = json.dumps(value, sort_keys=True)
    return out
