"""``optlab runs list|show|compare`` and ``optlab plot``: recorded runs, read from the runs index and their
folders. Learning curves are drawn from ``metrics.csv`` files only (:func:`optlab.train.plots.plot_runs`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from optlab.errors import ConfigError

ROOT_OPTION = typer.Option(help="Runs folder holding index.sqlite.", show_default="$OPTLAB_RUNS, else ./runs")
EXIT_CODES = "Exit codes: 0 ok, 1 the run failed (NaN loss, missing data, corrupt checkpoint), 2 bad usage."
Root = Annotated[Path | None, ROOT_OPTION]


def register(app: typer.Typer) -> None:
    runs_app = typer.Typer(
        help="List, show and compare recorded runs. Reads RUNS/index.sqlite (RUNS: --root, $OPTLAB_RUNS, "
        "else ./runs); writes nothing.",
        no_args_is_help=True,
    )
    app.add_typer(runs_app, name="runs")
    runs_app.command("list")(runs_list)
    runs_app.command("show")(runs_show)
    runs_app.command("compare")(runs_compare)
    app.command(epilog=EXIT_CODES)(plot)


def runs_list(root: Root = None) -> None:
    """One line per recorded run: id, status, study (for sweep trials), settings, final accuracies.
    val_acc is on the held-out validation split (sweep trials, --validation), test_acc on the test
    split."""
    from optlab.cli._tables import print_table

    rows = [_flat(row) for row in _index(root).list()]
    if not rows:
        print(f"no runs recorded in {_index(root).path}")
        return
    columns = ["id", "status", "name", "study", "dataset", "model", "optimizer", "lr", "batch_size"]
    print_table([*columns, "epochs", "steps", "val_acc", "test_acc", "wall_time"], rows)


def runs_show(
    run: Annotated[str, typer.Argument(help="Run id, folder name or path (as `optlab runs list` shows).")],
    root: Root = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print everything recorded, as JSON (for programs).")
    ] = False,
) -> None:
    """One run: folder, status, settings and results, readable (or --json: everything recorded)."""
    row = _index(root).get(run)
    if as_json:
        print(json.dumps(row, indent=2, sort_keys=True, default=str))
        return
    print(describe(row))


def runs_compare(
    runs: Annotated[list[str], typer.Argument(help="Two or more run ids, names or paths.")],
    root: Root = None,
) -> None:
    """Side by side: the settings that differ between the runs and their final metrics."""
    from optlab.cli._tables import print_table

    if len(runs) < 2:
        raise ConfigError("runs compare needs at least two runs")
    index = _index(root)
    rows = [index.get(key) for key in runs]
    keys = sorted({k for row in rows for k in row["config"]})
    differing = [k for k in keys if len({json.dumps(row["config"].get(k)) for row in rows}) > 1]
    flat = [{**_flat(row), **{k: row["config"].get(k) for k in differing}} for row in rows]
    columns = ["id", "name", "study", "status", *differing, "steps", "val_acc", "test_acc", "wall_time"]
    print_table(list(dict.fromkeys(columns)), flat)


def plot(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run folders (their metrics.csv are overlaid).")],
    out: Annotated[
        Path | None,
        typer.Option(help="PNG to write.", show_default="RUN_DIR/curves.png for one run, else ./curves.png"),
    ] = None,
    x: Annotated[str, typer.Option(help="Horizontal axis: epoch or step (updates).")] = "epoch",
) -> None:
    """Learning curves (loss, accuracy, lr, gradient norm per epoch) of one or more runs, to a PNG.
    Output: --out, else RUN_DIR/curves.png for one run, ./curves.png for several. Legends name the
    settings in which the runs differ."""
    from optlab.train.plots import plot_runs

    if out is None:
        out = run_dirs[0] / "curves.png" if len(run_dirs) == 1 else Path("curves.png")
    plot_runs(run_dirs, out, x_axis=x)
    print(f"wrote {out}")


def _index(root: Path | None) -> Any:
    from optlab.train.runs import INDEX_NAME, RunIndex

    return RunIndex(root / INDEX_NAME if root is not None else None)


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """An index row for a table: one column per meaning (val_acc, test_acc), never one name for both."""
    summary = row.get("summary", {}) or {}
    final = summary.get("final", {}) or {}
    return {
        **{k: v for k, v in row.items() if k not in ("config", "summary")},
        "epochs": row.get("epochs") if row.get("epochs") is not None else summary.get("epochs"),
        "steps": summary.get("steps"),
        "val_acc": final.get("val_acc"),
        "test_acc": final.get("test_acc", summary.get("test_acc")),
        "wall_time": summary.get("wall_time"),
    }


def _default_config() -> dict[str, Any]:
    import dataclasses

    from optlab.train.config import TrainConfig

    return {
        f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING
    }


_SHOWN = ("dataset", "model", "optimizer", "lr", "batch_size", "epochs", "max_steps", "schedule", "seed")


def describe(row: dict[str, Any]) -> str:
    """``optlab runs show``: an index row (:meth:`~optlab.train.runs.RunIndex.get`) as a person reads it."""
    summary = row.get("summary", {}) or {}
    config = row.get("config", {}) or {}
    final = summary.get("final", {}) or {}
    lines = [
        f"run {row['id']}: {row['name']}" + (f"  (sweep study {row['study']})" if row.get("study") else "")
    ]
    lines.append(f"  folder    {row['path']}")
    lines.append(f"  status    {row['status']}" + (f": {summary['error']}" if summary.get("error") else ""))
    lines.append(f"  started   {row['created']}   updated {row['updated']}")
    shown = "  ".join(f"{k}={config[k]}" for k in _SHOWN if k in config)
    lines.append(f"  settings  {shown}")
    defaults = _default_config()
    extra = {
        k: v
        for k, v in config.items()
        if k not in _SHOWN and k != "device" and defaults.get(k) != v and v not in ({}, None, "")
    }
    for key in ("hparams", "schedule_kwargs"):
        if config.get(key):
            lines.append(f"  {key:<9} " + ", ".join(f"{k}={v}" for k, v in config[key].items()))
            extra.pop(key, None)
    if extra:
        lines.append("  other     " + "  ".join(f"{k}={v}" for k, v in sorted(extra.items())))
    if summary.get("steps") is not None:
        stop = f", stopped by {summary['stopped_by']}" if summary.get("stopped_by") else ""
        wall = summary.get("wall_time") or 0.0
        steps, epochs = summary.get("steps"), summary.get("epochs")
        lines.append(
            f"  trained   {steps} updates, {epochs} epochs in {wall:.1f} s{stop} on {summary.get('device')}"
        )
    for split in ("train", "val", "test"):
        if final.get(f"{split}_acc") is not None:
            acc, loss = final[f"{split}_acc"], final.get(f"{split}_loss", float("nan"))
            note = "   (training mode, over the last epoch)" if split == "train" else ""
            lines.append(f"  {split + '_acc':<9} {acc:.4f}   {split}_loss {loss:.4f}{note}")
    lines.append("  files     metrics.csv, summary.json, config.toml in the folder; all fields: --json")
    return "\n".join(lines)
