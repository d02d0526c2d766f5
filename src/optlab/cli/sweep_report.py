"""``optlab sweep report STUDY``: the study's results as a table, figures and CSVs."""

from __future__ import annotations

from pathlib import Path

import typer

from optlab.cli.sweep import sweep_app
from optlab.errors import ConfigError


@sweep_app.command("report")
def report(
    study: str = typer.Argument(..., help="Study name (as printed by optlab sweep)."),
    storage: str = typer.Option(
        None, "--storage", help="SQLAlchemy URL of the study.", show_default="sqlite:///RUNS/sweeps.sqlite"
    ),
    out: Path = typer.Option(
        None, "--out", help="Output folder.", show_default="<the study's trial folder>/report"
    ),
    metric: str = typer.Option("accuracy", "--metric", help="accuracy, steps-to-target or time-to-target."),
    target: float = typer.Option(
        None, "--target", help="Accuracy to reach (0..1), for the *-to-target metrics.", show_default="none"
    ),
    top: int = typer.Option(20, "--top", help="Rows of the table to print."),
) -> None:
    """Accuracy (or updates/training seconds to a target accuracy) against batch size and learning rate: a
    table of the settings (mean ± std over seeds, best first), curves.png, heatmap.png, trials.csv and
    settings.csv. Reads the storage only; writes nothing but the report folder."""
    from optlab.cli._tables import print_table
    from optlab.sweep import METRICS, build_report
    from optlab.sweep.results import format_value

    if metric not in METRICS:
        raise ConfigError(f"invalid value for --metric: {metric!r} (use {', '.join(METRICS)})")
    if metric != "accuracy" and target is None:
        raise ConfigError(f"--metric {metric} needs --target ACCURACY, e.g. --target 0.6")
    if target is not None and not 0 < target <= 1:
        raise ConfigError(f"invalid value for --target: {target} (an accuracy in (0, 1])")
    if top < 1:
        raise ConfigError(f"invalid value for --top: {top} (an integer >= 1)")
    result = build_report(study, storage, out, metric=metric, target=target)
    if not result.rows:
        print(f"study {study!r} has no finished trials yet ({result.status.line()})")
        return
    print_table(list(result.rows[0]), result.rows[:top])
    if len(result.rows) > top:
        print(f"... {len(result.rows) - top} more settings in settings.csv")
    best = result.best
    if best is not None:
        setting = " ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in best.point.items()
        )
        value = format_value(best.mean, result.metric)
        spread = (
            f" ± {format_value(best.std, result.metric)} (std over {best.n} seeds)"
            if best.std is not None
            else ""
        )
        print(f"best: {setting} → {result.metric} {value}{spread}")
    elif result.metric != "accuracy":
        print(f"no trial reached the target accuracy {target:g}")
    print(result.status.line())
    for path in result.files:
        print(f"wrote {path}")
