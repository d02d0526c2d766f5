"""A sweep's results as rows, grouped over seeds: the numbers behind ``optlab sweep report``.

One :class:`TrialResult` per trial that trained (duplicates left out). A *setting* is a point without its
seed; :func:`settings` groups the trials of a setting and gives the mean, standard deviation (n − 1), min and
max of the metric over its seeds. Metrics: ``accuracy`` (the objective: final accuracy on the validation
split, or on test without one; higher is better), and ``steps-to-target`` / ``time-to-target`` (updates or
training seconds until the accuracy after an epoch first reaches ``target``; lower is better; a setting whose
every seed missed the target ranks last, and one that missed with some seeds is marked).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from optlab.errors import ConfigError
from optlab.sweep import study as study_mod
from optlab.sweep.space import SweepSpec, point_key

METRICS = ("accuracy", "steps-to-target", "time-to-target")


@dataclass
class TrialResult:
    number: int
    outcome: str  # complete | pruned | error | crashed | running | waiting
    point: dict[str, Any]
    accuracy: float | None
    test_acc: float | None
    effective_lr: float | None
    curve: list[list[float]]  # [epoch, step, accuracy, training seconds so far]
    run_dir: str | None
    wall_time: float | None
    retry_of: int | None
    error: str | None
    final: dict[str, float] = field(default_factory=dict)  # the final model's val/test (and train) metrics

    def to_target(self, target: float) -> tuple[int, float] | None:
        """(updates, training seconds) at the end of the first epoch whose accuracy reaches ``target``."""
        for _, step, accuracy, seconds in self.curve:
            if accuracy >= target:
                return int(step), float(seconds)
        return None

    def metric(self, name: str, target: float | None) -> float | None:
        if name == "accuracy":
            return self.accuracy if self.outcome == "complete" else None
        reached = self.to_target(target) if target is not None else None
        if reached is None:
            return None
        return float(reached[0]) if name == "steps-to-target" else reached[1]


def load_results(study: Any) -> list[TrialResult]:
    """Every trial of the study except duplicates (they trained nothing), in trial-number order."""
    out = []
    for trial in study.get_trials(deepcopy=False):
        kind = study_mod.outcome(trial)
        point = study_mod.trial_point(trial)
        if kind == "duplicate" or point is None:
            continue
        attrs = trial.user_attrs
        value = trial.value if kind == "complete" else None
        curve = [list(row) for row in attrs.get("curve") or []]
        out.append(
            TrialResult(
                number=trial.number,
                outcome=kind,
                point=point,
                accuracy=value,
                test_acc=attrs.get("test_acc"),
                effective_lr=attrs.get("effective_lr"),
                curve=curve,
                run_dir=attrs.get("run_dir"),
                wall_time=attrs.get("wall_time"),
                retry_of=trial.system_attrs.get("failed_trial"),
                error=attrs.get("error"),
                final=dict(attrs.get("final") or {}),
            )
        )
    return out


@dataclass
class Setting:
    """The trials of one point without its seed, and the metric's spread over them."""

    point: dict[str, Any]  # swept parameters except seed
    trials: list[TrialResult] = field(default_factory=list)
    values: list[float] = field(default_factory=list)  # the metric of each trial that has one
    missed: int = 0  # trials without the metric (did not reach the target, pruned, failed)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        return statistics.stdev(self.values) if len(self.values) > 1 else None

    @property
    def seeds(self) -> list[Any]:
        return [t.point.get("seed") for t in self.trials if "seed" in t.point]


def settings(
    results: list[TrialResult], metric: str = "accuracy", target: float | None = None
) -> list[Setting]:
    """Group the results by setting (point minus seed), in first-seen order."""
    if metric not in METRICS:
        raise ConfigError(f"invalid value for --metric: {metric!r} (use {', '.join(METRICS)})")
    if metric != "accuracy" and target is None:
        raise ConfigError(f"--metric {metric} needs --target ACCURACY (e.g. --target 0.9)")
    groups: dict[str, Setting] = {}
    for result in results:
        if result.outcome in ("running", "waiting", "crashed"):
            continue  # no result yet (crashed ones are retried as new trials)
        point = {k: v for k, v in result.point.items() if k != "seed"}
        group = groups.setdefault(point_key(point), Setting(point))
        group.trials.append(result)
        value = result.metric(metric, target)
        if value is None or not math.isfinite(value):
            group.missed += 1
        else:
            group.values.append(value)
    return list(groups.values())


def higher_is_better(metric: str) -> bool:
    return metric == "accuracy"


def ranked(groups: list[Setting], metric: str) -> list[Setting]:
    """Best first: by mean metric over the seeds that have one; settings with none last."""

    def key(group: Setting) -> tuple:
        if group.mean is None:
            return (1, 0.0)
        sign = -1.0 if higher_is_better(metric) else 1.0
        return (0, group.missed, sign * group.mean) if metric != "accuracy" else (0, sign * group.mean)

    return sorted(groups, key=key)


def format_value(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    if metric == "accuracy":
        return f"{value:.4f}"
    if metric == "steps-to-target":
        return f"{value:.0f}"
    return f"{value:.2f}s"


def table(
    groups: list[Setting], metric: str, spec: SweepSpec, target: float | None = None
) -> list[dict[str, str]]:
    """Rows for the terminal table, best first."""
    rows = []
    for group in ranked(groups, metric):
        row = {name: _fmt(value) for name, value in group.point.items()}
        if spec.lr_scaling != "none" and "lr" in group.point:
            lrs = sorted({t.effective_lr for t in group.trials if t.effective_lr is not None})
            row["trained lr"] = ", ".join(_fmt(v) for v in lrs) or "-"
        row["n"] = str(group.n)
        row[metric] = format_value(group.mean, metric)
        row["± std"] = format_value(group.std, metric)  # "-" without a spread
        row["range"] = "-"
        if group.n > 1:
            row["range"] = (
                f"{format_value(min(group.values), metric)}..{format_value(max(group.values), metric)}"
            )
        outcomes = [t.outcome for t in group.trials]
        notes = [f"{outcomes.count(kind)} {kind}" for kind in ("pruned", "error") if outcomes.count(kind)]
        if metric != "accuracy":
            missed_target = sum(
                1 for t in group.trials if t.to_target(target) is None and t.outcome != "error"
            )
            if missed_target:
                notes.append(f"{missed_target} missed target")
        row["note"] = ", ".join(notes)
        rows.append(row)
    return rows


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def format_point(point: dict[str, Any]) -> str:
    """``lr=0.1 batch_size=32``: a point's parameters, floats in ``%g``."""
    return " ".join(f"{k}={_fmt(v)}" for k, v in point.items())
