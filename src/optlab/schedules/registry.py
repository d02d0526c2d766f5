"""Schedules by name, for the CLI, the trainer and the docs: ``names()``, ``info(name)``, ``create(...)``.

``create(name, lr, total_steps, warmup_steps=0, **options)`` builds a schedule for a run of ``total_steps``
updates that starts at ``lr`` (its largest value); ``warmup_steps > 0`` wraps it in :func:`linear_warmup` from
0. The wrapped schedule is not shifted: the warm-up replaces its first ``warmup_steps`` values and climbs to
``schedule(warmup_steps)`` (slightly below ``lr`` for a decaying schedule), and the run still ends on time.
``transformer`` has its own warm-up, so there ``warmup_steps`` (>= 1) sets where its lr peaks, and ``lr`` is
that peak.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from optlab.errors import ConfigError
from optlab.schedules.core import (
    Schedule,
    _check_float,
    _check_int,
    constant,
    cosine,
    exponential,
    inverse_time,
    linear_warmup,
    multistep,
    one_cycle,
    step_decay,
    transformer,
    wsd,
)

__all__ = ["ScheduleInfo", "create", "info", "names"]


@dataclass(frozen=True)
class ScheduleInfo:
    """One registry entry. ``build(lr, total_steps, **options)`` returns the schedule (before any warm-up)."""

    name: str
    build: Callable[..., Schedule]
    description: str
    paper: str

    @property
    def options(self) -> tuple[str, ...]:
        """Keyword options ``create`` accepts for this schedule (besides lr, total_steps, warmup_steps)."""
        parameters = list(inspect.signature(self.build).parameters)
        return tuple(p for p in parameters if p not in ("lr", "total_steps", "warmup_steps"))


# ---- builders: (lr, total_steps, **options) -> Schedule, with defaults that suit a run of that length
# (cosine and one_cycle take those arguments already and are registered as they are)
def _constant(lr: float, total_steps: int) -> Schedule:
    return constant(lr)


def _step(lr: float, total_steps: int, step_size: int | None = None, gamma: float = 0.1) -> Schedule:
    # default: decay every third of the run
    return step_decay(lr, step_size if step_size is not None else max(1, total_steps // 3), gamma)


def _multistep(lr: float, total_steps: int, milestones: Any = None, gamma: float = 0.1) -> Schedule:
    # default: decay at 50 % and 75 % of the run (the ResNet / Keskar-style two drops)
    if milestones is None:
        milestones = sorted({m for m in (total_steps // 2, 3 * total_steps // 4) if m >= 1})
    return multistep(lr, milestones, gamma)


def _exponential(lr: float, total_steps: int, gamma: float | None = None) -> Schedule:
    # default: the lr falls 100-fold over the run
    return exponential(lr, gamma if gamma is not None else 0.01 ** (1.0 / total_steps))


def _inverse_time(lr: float, total_steps: int, power: float = 0.5) -> Schedule:
    return inverse_time(lr, power)


def _transformer(lr: float, total_steps: int, warmup_steps: int, d_model: int = 512) -> Schedule:
    # lr is the peak: the peak of scale·d^-0.5·min(s^-0.5, s·W^-1.5) is scale/√(d·W), so scale = lr·√(d·W)
    d_model = _check_int("transformer", "d_model", d_model, 1)
    return transformer(d_model, warmup_steps, scale=lr * math.sqrt(d_model * warmup_steps))


def _wsd(
    lr: float, total_steps: int, decay_fraction: float = 0.2, final_lr: float = 0.0, shape: str = "linear"
) -> Schedule:
    # default: cool down over the last 20 % of the run (Hägele et al. 2024 found 10–20 % enough)
    fraction = _check_float("wsd", "decay_fraction", decay_fraction, minimum=0.0, strict=True)
    if fraction > 1.0:
        raise ConfigError(f"wsd: decay_fraction must be <= 1, got {decay_fraction!r}")
    return wsd(lr, total_steps, max(1, round(fraction * total_steps)), final_lr, shape)


_REGISTRY: dict[str, ScheduleInfo] = {
    info.name: info
    for info in (
        ScheduleInfo("constant", _constant, "the same lr for every update", "—"),
        ScheduleInfo(
            "step",
            _step,
            "multiply the lr by gamma (0.1) every step_size updates (default: a third of the run)",
            "Krizhevsky et al. 2012, ImageNet classification with deep CNNs",
        ),
        ScheduleInfo(
            "multistep",
            _multistep,
            "multiply the lr by gamma (0.1) at each milestone (default: 50 % and 75 % of the run)",
            "He et al. 2016, Deep residual learning for image recognition",
        ),
        ScheduleInfo(
            "exponential",
            _exponential,
            "multiply the lr by gamma every update (default: 100-fold decay over the run)",
            "—",
        ),
        ScheduleInfo(
            "inverse_time",
            _inverse_time,
            "lr / (t+1)^power (power 0.5): the decay of the convergence proofs",
            "Robbins & Monro 1951; Duchi et al. 2011 (Adagrad)",
        ),
        ScheduleInfo(
            "cosine",
            cosine,
            "half a cosine from lr to final_lr (0) over the run",
            "Loshchilov & Hutter 2017, SGDR: stochastic gradient descent with warm restarts",
        ),
        ScheduleInfo(
            "transformer",
            _transformer,
            "linear warm-up to lr over warmup_steps, then lr·√(warmup/s) (inverse square root)",
            "Vaswani et al. 2017, Attention is all you need, eq. 3",
        ),
        ScheduleInfo(
            "wsd",
            _wsd,
            "warmup-stable-decay: lr, then a linear or 1-sqrt (shape) cool-down to final_lr over the last "
            "decay_fraction (0.2) of the run",
            "Hu et al. 2024 (MiniCPM); Hägele et al. 2024, Scaling laws and compute-optimal training beyond "
            "fixed training durations",
        ),
        ScheduleInfo(
            "one_cycle",
            one_cycle,
            "1cycle: up from lr/div_factor (25) to lr over pct_start (0.3) of the run, then down to "
            "lr/(div_factor·final_div_factor); anneal cos or linear",
            "Smith & Topin 2019, Super-convergence: very fast training of neural networks using large "
            "learning rates",
        ),
    )
}


def names() -> list[str]:
    """The schedule names ``create`` accepts, in the lecture's order."""
    return list(_REGISTRY)


def info(name: str) -> ScheduleInfo:
    """The registry entry for ``name``; an unknown name raises ConfigError listing the valid ones."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown schedule {name!r}; valid: {', '.join(_REGISTRY)}") from None


def create(name: str, lr: float, total_steps: int, warmup_steps: int = 0, **options: Any) -> Schedule:
    """Build the schedule ``name`` for a run of ``total_steps`` updates with (peak) learning rate ``lr``.

    ``warmup_steps > 0`` adds a linear warm-up from 0 to the schedule's value at ``warmup_steps`` (for
    ``transformer`` it is the schedule's own warm-up). ``options`` are the schedule's own arguments
    (``info(name).options``), e.g. ``gamma=0.5``. Bad values raise ConfigError naming the argument.
    """
    entry = info(name)
    lr = _check_float("schedule", "lr", lr, minimum=0.0, strict=True)
    total_steps = _check_int("schedule", "total_steps", total_steps, 1)
    warmup_steps = _check_int("schedule", "warmup_steps", warmup_steps, 0)
    if warmup_steps > total_steps:
        raise ConfigError(
            f"schedule: warmup_steps must be <= total_steps ({total_steps}), got {warmup_steps}"
        )
    unknown = sorted(set(options) - set(entry.options))
    if unknown:
        valid = ", ".join(entry.options) or "none"
        raise ConfigError(f"schedule {name!r}: unknown option {unknown[0]!r}; valid options: {valid}")
    if name == "transformer":
        if warmup_steps < 1:
            raise ConfigError(
                "schedule 'transformer': warmup_steps must be >= 1 (it sets where the lr peaks)"
            )
        return entry.build(lr, total_steps, warmup_steps=warmup_steps, **options)
    schedule = entry.build(lr, total_steps, **options)
    return linear_warmup(schedule, warmup_steps) if warmup_steps > 0 else schedule
