"""The record protocol: a history of speed-run records per (dataset, target), and the rule that claims a new
one (after modded-nanogpt's and airbench's practice: a fixed target, n seeds, means, a significance test).

A speed run claims a new record when all of these hold:

1. its mean test accuracy over its seeds is at least the target;
2. it has at least :data:`MIN_SEEDS` seeds (a t-test on fewer has next to no power);
3. against the last record for the same dataset and target (if there is one), its mean training time is lower
   and Welch's t-test (``scipy.stats.ttest_ind(equal_var=False, alternative="less")``: unequal variances, one
   sided, H1 "the new times are smaller") gives p < :data:`ALPHA`.

The first run that meets 1 and 2 sets the first record (p-value "—"). The history is ``speedruns.json``
(every record with its per-seed numbers, which the t-test needs) and ``SPEEDRUNS.md``, the same history as a
table, rewritten from the JSON on every new record.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optlab._io import atomic_write_text, write_json
from optlab.errors import ConfigError

__all__ = ["ALPHA", "MIN_SEEDS", "Verdict", "judge", "last_record", "load_history", "record", "render"]

ALPHA = 0.05
MIN_SEEDS = 3
JSON_NAME, MD_NAME = "speedruns.json", "SPEEDRUNS.md"


@dataclass(frozen=True)
class Verdict:
    """Whether a run is a new record, the p-value of the test (None without a previous record), and why."""

    claimed: bool
    p_value: float | None
    reason: str


def judge(
    train_seconds: list[float], accuracy: list[float], target: float, previous: dict[str, Any] | None
) -> Verdict:
    """Apply the protocol (module docstring) to a run's per-seed ``train_seconds`` and ``accuracy``
    against the ``previous`` record (a history entry, or None)."""
    from scipy import stats

    n, mean_acc = len(accuracy), statistics.fmean(accuracy)
    if mean_acc < target:
        return Verdict(False, None, f"mean accuracy {mean_acc:.4f} is below the target {target:.4f}")
    if n < MIN_SEEDS:
        return Verdict(False, None, f"{n} seed(s): a record needs at least {MIN_SEEDS}")
    if previous is None:
        return Verdict(True, None, "first record for this dataset and target")
    old = previous["train_seconds"]
    mean_new, mean_old = statistics.fmean(train_seconds), statistics.fmean(old)
    test = stats.ttest_ind(train_seconds, old, equal_var=False, alternative="less")
    p_value = float(test.pvalue)
    if not mean_new < mean_old:
        return Verdict(False, p_value, f"mean {mean_new:.2f} s is not below the record's {mean_old:.2f} s")
    if not p_value < ALPHA:
        return Verdict(
            False,
            p_value,
            f"{mean_new:.2f} s vs the record's {mean_old:.2f} s is not significant (Welch p = {p_value:.3g} "
            f">= {ALPHA})",
        )
    return Verdict(True, p_value, f"{mean_new:.2f} s beats {mean_old:.2f} s (Welch p = {p_value:.3g})")


def load_history(folder: str | Path) -> list[dict[str, Any]]:
    """The records in ``folder/speedruns.json`` (oldest first); none when the file does not exist."""
    path = Path(folder) / JSON_NAME
    if not path.exists():
        return []
    try:
        history = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"cannot read the records {path}: {error}") from None
    if not isinstance(history, list):
        raise ConfigError(f"the records {path} are not a list of records")
    return history


def last_record(history: list[dict[str, Any]], dataset: str, target: float) -> dict[str, Any] | None:
    matching = [r for r in history if r["dataset"] == dataset and r["target"] == target]
    return matching[-1] if matching else None


def record(folder: str | Path, run: dict[str, Any], change: str) -> Verdict:
    """Judge ``run`` (a ``speedrun.json`` dict) against the last record in ``folder`` and, if it is a new
    record, append it (with ``change``, what changed in the recipe) and rewrite both files."""
    history = load_history(folder)
    previous = last_record(history, run["dataset"], run["target"])
    verdict = judge(run["train_seconds"], run["accuracy"], run["target"], previous)
    if verdict.claimed:
        kept = ("dataset", "recipe", "target", "seeds", "accuracy", "train_seconds", "threads", "device")
        entry = {key: run[key] for key in kept}
        entry.update(date=run["date"][:10], change=change, p_value=verdict.p_value, config=run["config"])
        entry["versions"] = run.get("versions", {})
        history.append(entry)
        write_json(Path(folder) / JSON_NAME, history)
        atomic_write_text(Path(folder) / MD_NAME, render(history))
    return verdict


def _mean_std(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    mean = statistics.fmean(values) * scale
    std = statistics.stdev(values) * scale if len(values) > 1 else 0.0
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def render(history: list[dict[str, Any]]) -> str:
    """``SPEEDRUNS.md``: the protocol, then one table per dataset and target, oldest record first."""
    lines = [
        "# Speed-run records",
        "",
        "Written by `optlab speedrun DATASET --record` (from `speedruns.json`, which keeps every seed's",
        "numbers); do not edit by hand. A run is a new record when its mean test accuracy over at least",
        f"{MIN_SEEDS} seeds reaches the target and, against the last record for the same dataset and",
        "target, its mean training time is lower with Welch's t-test (one-sided,",
        f'`scipy.stats.ttest_ind(equal_var=False, alternative="less")`) at p < {ALPHA}. Training time: the',
        "updates, from the first to the last (evaluations, data loading and the one-off warm-up excluded).",
        "Accuracy in %, time in seconds, mean ± std over the seeds.",
    ]
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for entry in history:
        groups.setdefault((entry["dataset"], entry["target"]), []).append(entry)
    for (dataset, target), entries in groups.items():
        lines += [
            "",
            f"## {dataset}, target {100 * target:.1f} %",
            "",
            "| date | recipe change | test accuracy (%) | training time (s) | n | p | threads | device |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for e in entries:
            p = "—" if e["p_value"] is None else f"{e['p_value']:.2g}"
            accuracy, seconds = _mean_std(e["accuracy"], 100), _mean_std(e["train_seconds"])
            lines.append(
                f"| {e['date']} | {e['change']} | {accuracy} | {seconds} | {len(e['seeds'])} | {p} | "
                f"{e['threads']} | {e['device']} |"
            )
    return "\n".join(lines) + "\n"
