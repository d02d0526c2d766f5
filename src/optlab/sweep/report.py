"""``optlab sweep report STUDY``: read a study back from storage; write a table, curves and a heat map.

Writes into ``out_dir`` (default ``<storage root>/sweeps/<study>-<uid>/report``, beside the trial folders):
``trials.csv`` (one row per trial that trained), ``settings.csv`` (one row per setting, best first, with the
spread over seeds), ``curves.png`` and ``heatmap.png``. Reading never creates a storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from optlab._io import write_csv
from optlab.sweep import figures
from optlab.sweep import study as study_mod
from optlab.sweep.results import Setting, TrialResult, load_results, ranked, settings, table
from optlab.sweep.space import SweepSpec


@dataclass
class SweepReport:
    study_name: str
    spec: SweepSpec
    status: study_mod.SweepStatus
    results: list[TrialResult]
    settings: list[Setting]  # best first
    rows: list[dict[str, str]]  # the table, best first
    files: list[Path]
    metric: str
    target: float | None

    @property
    def best(self) -> Setting | None:
        return self.settings[0] if self.settings and self.settings[0].mean is not None else None


def lr_note(spec: SweepSpec) -> str:
    if spec.lr_scaling == "none":
        return ""
    return f"lr = value at batch {spec.reference_batch}, scaled by the {spec.lr_scaling} rule"


def build_report(
    study_name: str,
    storage_url: str | None = None,
    out_dir: str | Path | None = None,
    *,
    metric: str = "accuracy",
    target: float | None = None,
    write: bool = True,
) -> SweepReport:
    """Read study ``study_name`` and (with ``write``) write the CSVs and figures into ``out_dir``."""
    storage = study_mod.open_storage(storage_url, create=False)  # a reader: never makes a storage
    study, spec = study_mod.join(storage, study_name)
    trials = study.get_trials(deepcopy=False)
    status = study_mod.sweep_status(trials, spec)
    results = load_results(study)
    groups = ranked(settings(results, metric, target), metric)
    rows = table(groups, metric, spec, target)
    out = Path(out_dir) if out_dir is not None else study_mod.sweep_dir(study, storage_url) / "report"
    files: list[Path] = []
    if write:
        files.append(_write_trials(out / "trials.csv", results, spec))
        if rows:
            write_csv(out / "settings.csv", rows)
            files.append(out / "settings.csv")
        name = spec.objective_name()
        for draw, filename in ((figures.curves, "curves.png"), (figures.heatmap, "heatmap.png")):
            path = draw(groups, metric, target, out / filename, name, lr_note(spec))
            if path is not None:
                files.append(path)
    return SweepReport(study_name, spec, status, results, groups, rows, files, metric, target)


def _write_trials(path: Path, results: list[TrialResult], spec: SweepSpec) -> Path:
    names = [p.name for p in spec.params]
    objective = spec.objective_name()
    rows = [
        {
            "trial": r.number,
            "outcome": r.outcome,
            **{name: r.point.get(name) for name in names},
            "trained_lr": r.effective_lr,
            objective: r.accuracy,
            "test_acc": r.test_acc if objective == "val_acc" else r.accuracy,
            "epochs_run": len(r.curve),
            "steps": int(r.curve[-1][1]) if r.curve else None,
            "train_seconds": r.curve[-1][3] if r.curve else None,
            "wall_time": r.wall_time,
            "retry_of": r.retry_of,
            "run_dir": r.run_dir,
            "error": r.error,
        }
        for r in results
    ]
    columns = ["trial", "outcome", *names, "trained_lr", objective, "test_acc", "epochs_run", "steps"]
    columns += ["train_seconds", "wall_time", "retry_of", "run_dir", "error"]
    write_csv(path, rows, columns=list(dict.fromkeys(columns)))
    return path
