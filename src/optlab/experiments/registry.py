"""The lecture's experiments in the lecture's order: batch → momentum → adaptive lr → schedules → large batch.

The table below names each experiment's module and claim ids, so ``--only`` can be checked (and a typo
reported) without importing torch; a test checks that it matches the modules.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from optlab.errors import ConfigError

__all__ = ["claim_ids", "experiment_ids", "load", "modules", "resolve"]

# (experiment id, module under optlab.experiments, claim ids), in the lecture's order.
# Part 2 (B1–B7, issue 6) adds its rows: batch-size experiments first, large-batch ones last.
_EXPERIMENTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("B1", "batch_timing", ("B1", "B2")),
    ("B3", "batch_optimisation", ("B3",)),
    ("B4", "generalisation_gap", ("B4", "B4-sharp")),
    ("B5", "shuffling", ("B5a", "B5b")),
    ("S4", "momentum", ("S4",)),
    ("S1", "stuck", ("S1",)),
    ("S2", "tiny_lr", ("S2",)),
    ("S3", "adagrad_eruptions", ("S3",)),
    ("S5", "adam_parts", ("S5",)),
    ("S6", "lr_schedules", ("S6a", "S6b")),
    ("B7", "warmup", ("B7-variance", "B7-warmup")),
    ("B6", "large_batch", ("B6", "B6-goyal")),
    ("A1", "edge_of_stability", ("A1", "A2")),
    ("A3", "critical_batch", ("A3", "A3-cbs")),
    ("A4", "batch_warmup", ("A4",)),
    ("A5", "lr_transfer", ("A5-sgd", "A5-adam")),
    ("R1", "speedrun", ("R1", "R2")),
)


def experiment_ids() -> list[str]:
    return [experiment_id for experiment_id, _, _ in _EXPERIMENTS]


def claim_ids() -> list[str]:
    return [claim for _, _, claims in _EXPERIMENTS for claim in claims]


def load(experiment_id: str) -> ModuleType:
    """The experiment module with this id."""
    for known, module, _ in _EXPERIMENTS:
        if known == experiment_id:
            return importlib.import_module(f"optlab.experiments.{module}")
    raise ConfigError(f"unknown experiment {experiment_id!r}; valid: {', '.join(experiment_ids())}")


def modules() -> list[ModuleType]:
    """All experiment modules in the lecture's order."""
    return [load(experiment_id) for experiment_id in experiment_ids()]


def resolve(ids: str | None) -> list[str]:
    """Experiment ids (lecture order) for ``--only``: experiment or claim ids, comma-separated, any case."""
    if ids is None or not ids.strip():
        return experiment_ids()
    by_name: dict[str, str] = {}
    for experiment_id, _, claims in _EXPERIMENTS:
        by_name[experiment_id.lower()] = experiment_id
        for claim in claims:
            by_name[claim.lower()] = experiment_id
    wanted = set()
    for raw in ids.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if name not in by_name:
            valid = ", ".join(sorted(set(experiment_ids()) | set(claim_ids())))
            raise ConfigError(f"unknown experiment or claim id {raw.strip()!r} in --only; valid: {valid}")
        wanted.add(by_name[name])
    return [i for i in experiment_ids() if i in wanted]
