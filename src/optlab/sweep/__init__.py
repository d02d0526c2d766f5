"""optlab.sweep: hyperparameter sweeps on Optuna, many workers on one study, each trial an optlab run.

* :class:`SweepSpec` / :func:`parse_param` — what is swept (``batch_size=32,256``; ``lr=1e-4:1e-1`` for a
  search), the base :class:`~optlab.train.TrainConfig`, grid or TPE, pruning, the lr rule for batch size.
* :func:`run_sweep` — create or join the study in Optuna storage (SQLite under ``runs/`` by default, any
  SQLAlchemy URL) and serve it with one in-process worker or K worker processes until every point is settled.
* :func:`run_worker` / ``python -m optlab.sweep`` — one worker, the unit that scales out.
* :func:`build_report` — table, spread over seeds, curves and heat map from the study.

Sits beside ``measure`` and ``experiments``: imports ``train`` and below only.
"""

from optlab.sweep.launch import SweepRun, run_sweep, start_study
from optlab.sweep.report import SweepReport, build_report
from optlab.sweep.results import METRICS, Setting, TrialResult, load_results, settings
from optlab.sweep.space import LR_SCALINGS, SEARCHES, Param, SweepSpec, parse_param, point_key
from optlab.sweep.study import (
    SweepStatus,
    create_or_join,
    default_storage_url,
    join,
    open_storage,
    outcome,
    sweep_status,
)
from optlab.sweep.worker import Worker, run_worker, trial_run_dir

__all__ = [
    "LR_SCALINGS",
    "METRICS",
    "SEARCHES",
    "Param",
    "Setting",
    "SweepReport",
    "SweepRun",
    "SweepSpec",
    "SweepStatus",
    "TrialResult",
    "Worker",
    "build_report",
    "create_or_join",
    "default_storage_url",
    "join",
    "load_results",
    "open_storage",
    "outcome",
    "parse_param",
    "point_key",
    "run_sweep",
    "run_worker",
    "settings",
    "start_study",
    "sweep_status",
    "trial_run_dir",
]
