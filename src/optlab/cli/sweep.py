"""``optlab sweep``: a grid or TPE search over training settings on Optuna; ``optlab sweep report STUDY``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from optlab.errors import ConfigError

sweep_app = typer.Typer(
    help="Sweep training settings (grid or TPE search) on Optuna, with any number of workers on one study.",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_EPILOG = """Examples:

  optlab sweep --grid batch_size=32,256,2048 --grid lr=1e-3,1e-2 --epochs 3 --workers 2

  optlab sweep --grid batch_size=32,128,512 --grid lr=1e-4:1e-1 --search tpe --trials 30 --prune

  optlab sweep --study NAME                       (continue a study, or join it as another worker)

  optlab sweep report NAME

Workers on other machines join with the same --storage URL and --study NAME."""


def register(app: typer.Typer) -> None:
    app.add_typer(sweep_app, name="sweep")


@sweep_app.callback(invoke_without_command=True, epilog=_EPILOG)
def sweep(
    ctx: typer.Context,
    grid: list[str] = typer.Option(
        None,
        "--grid",
        help="NAME=V1,V2,... (a list) or NAME=LO:HI (a range, --search tpe; log scale if LO > 0). "
        "NAME: lr, batch_size, seed, epochs, optimizer, ... or hp.NAME. Repeat for each parameter.",
    ),
    search: str = typer.Option(
        "grid", "--search", help="grid (every point once) or tpe (Optuna's TPE sampler)."
    ),
    trials: int = typer.Option(None, "--trials", help="Number of trials of a --search tpe."),
    prune: bool = typer.Option(
        False, "--prune", help="Stop trials below the median accuracy after an epoch."
    ),
    storage: str = typer.Option(
        None,
        "--storage",
        help="SQLAlchemy URL of the study storage (default: sqlite:///<runs root>/sweeps.sqlite).",
    ),
    study: str = typer.Option(None, "--study", help="Study name (default: derived from the settings)."),
    workers: int = typer.Option(1, "--workers", help="Worker processes to start on this machine."),
    lr_scaling: str = typer.Option(
        "none", "--lr-scaling", help="Rescale lr with batch size: none, linear, sqrt."
    ),
    reference_batch: int = typer.Option(
        256, "--reference-batch", help="Batch size at which lr is the given lr."
    ),
    dataset: str = typer.Option(None, "--dataset", help="Dataset (default: mnist1d)."),
    model: str = typer.Option(None, "--model", help="Model (default: mlp)."),
    optimizer: str = typer.Option(None, "--optimizer", help="Optimizer (default: adam)."),
    lr: float = typer.Option(None, "--lr", help="Learning rate when not swept (default: 1e-3)."),
    batch_size: int = typer.Option(None, "--batch-size", help="Batch size when not swept (default: 128)."),
    epochs: int = typer.Option(None, "--epochs", help="Epochs per trial (default: 10)."),
    max_steps: int = typer.Option(None, "--max-steps", help="Cap on updates per trial."),
    schedule: str = typer.Option(None, "--schedule", help="Learning-rate schedule (default: constant)."),
    warmup_steps: int = typer.Option(None, "--warmup-steps", help="Linear warm-up updates."),
    hp: list[str] = typer.Option(None, "--hp", help="Optimizer hyperparameter KEY=VALUE (repeatable)."),
    validation: float = typer.Option(
        None,
        "--validation",
        help="Validation split carved from train, the "
        "objective (count or fraction; 0 = use test) (default: 0.1).",
    ),
    seed: int = typer.Option(None, "--seed", help="Seed when not swept (default: 0)."),
    device: str = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N (default: auto)."),
    data_dir: str = typer.Option(None, "--data-dir", help="Where datasets are looked for."),
    heartbeat_interval: int = typer.Option(
        10, "--heartbeat-interval", help="Seconds between a trial's heartbeats."
    ),
    grace_period: int = typer.Option(
        30, "--grace-period", help="Seconds without a heartbeat before a trial counts as dead and is retried."
    ),
    threads: int = typer.Option(
        None,
        "--threads",
        help="torch threads per worker (default: all cores for one worker, cores // K for K).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or per-trial lines."),
) -> None:
    """Run a sweep: each trial is an optlab training run; the study lives in Optuna storage, so re-running the
    command continues it and workers anywhere can join it."""
    if ctx.invoked_subcommand is not None:
        return
    from optlab.sweep import SweepSpec, parse_param, run_sweep
    from optlab.train import TrainConfig, parse_hparam

    base_options = {
        "dataset": dataset,
        "model": model,
        "optimizer": optimizer,
        "lr": lr,
        "batch_size": batch_size,
        "epochs": epochs,
        "max_steps": max_steps,
        "schedule": schedule,
        "warmup_steps": warmup_steps,
        "seed": seed,
        "device": device,
        "data_dir": data_dir,
    }
    given = {k: v for k, v in base_options.items() if v is not None}
    if not grid:
        settings = [f"--{k.replace('_', '-')}" for k in given] + (["--hp"] if hp else [])
        settings += ["--validation"] if validation is not None else []
        if search != "grid" or trials is not None or prune or lr_scaling != "none":
            settings.append("--search/--trials/--prune/--lr-scaling")
        if not study:
            raise ConfigError(
                "nothing to sweep: give --grid NAME=V1,V2,... (see --help), or --study NAME to continue"
            )
        if settings:
            raise ConfigError(
                f"{settings[0]} needs --grid: a study's settings are fixed; continue it with --study alone"
            )
        spec = None
    else:
        hparams = dict(parse_hparam(text) for text in hp or [])
        base = TrainConfig(**given, hparams=hparams, validation=0.1 if validation is None else validation)
        spec = SweepSpec(
            base=base,
            params=tuple(parse_param(text) for text in grid),
            search=search,
            trials=trials,
            prune=prune,
            lr_scaling=lr_scaling,
            reference_batch=reference_batch,
            seed=base.seed,
        )
        _check_names(spec)

    def announce(name, url, spec) -> None:
        if not quiet:
            size = f"{spec.grid_size()} grid points" if spec.search == "grid" else f"{spec.trials} TPE trials"
            print(f"sweep {name!r}: {size}, {workers} worker(s), storage {url}", file=sys.stderr)

    result = run_sweep(
        spec,
        study,
        storage,
        workers=workers,
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period,
        quiet=quiet,
        threads=threads,
        announce=announce,
    )
    _print_summary(result.study_name, result.storage_url, result.wall_time, storage)


def _check_names(spec) -> None:
    """Unknown dataset/model/optimizer/schedule names fail here, not in every worker."""
    from optlab import data, models, optim, schedules

    if spec.search == "grid":
        points = spec.points()
    else:  # a search: each listed value once, the other parameters at their first value or low end
        corner = {p.name: p.values[0] if p.values is not None else p.low for p in spec.params}
        points = [{**corner, p.name: v} for p in spec.params for v in p.values or ()] or [corner]
    for point in points:
        config = spec.config_for(point)
        if config.dataset not in data.names():
            raise ConfigError(
                f"invalid value for --dataset: {config.dataset!r} (use {', '.join(data.names())})"
            )
        if config.model not in models.names():
            raise ConfigError(
                f"invalid value for --model: {config.model!r} (use {', '.join(models.names())})"
            )
        if config.schedule not in schedules.names():
            raise ConfigError(
                f"invalid value for --schedule: {config.schedule!r} (use {', '.join(schedules.names())})"
            )
        optim.info(config.optimizer)  # ConfigError naming the valid optimizers


def _print_summary(study_name: str, url: str, wall: float, storage: str | None) -> None:
    from optlab.sweep import build_report
    from optlab.train.runs import table

    report = build_report(study_name, url, write=False)
    print(
        table(report.rows[:10], list(report.rows[0]) if report.rows else []) if report.rows else "no results"
    )
    print(f"{report.status.line()}; {wall:.1f} s")
    storage_flag = f" --storage {storage}" if storage else ""
    print(f"figures and CSVs: optlab sweep report {study_name}{storage_flag}")


@sweep_app.command("report")
def report(
    study: str = typer.Argument(..., help="Study name (as printed by optlab sweep)."),
    storage: str = typer.Option(
        None, "--storage", help="SQLAlchemy URL (default: sqlite:///<runs root>/sweeps.sqlite)."
    ),
    out: Path = typer.Option(None, "--out", help="Output folder (default: <runs root>/sweeps/STUDY/report)."),
    metric: str = typer.Option("accuracy", "--metric", help="accuracy, steps-to-target or time-to-target."),
    target: float = typer.Option(None, "--target", help="Accuracy to reach, for the *-to-target metrics."),
    top: int = typer.Option(20, "--top", help="Rows of the table to print."),
) -> None:
    """Accuracy (or steps/time to a target accuracy) against batch size and learning rate: a table of the
    settings (mean ± std over seeds, best first), curves.png, heatmap.png, trials.csv and settings.csv."""
    from optlab.sweep import build_report
    from optlab.sweep.results import format_value
    from optlab.train.runs import table

    result = build_report(study, storage, out, metric=metric, target=target)
    if not result.rows:
        print(f"study {study!r} has no finished trials yet ({result.status.line()})")
        return
    print(table(result.rows[:top], list(result.rows[0])))
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
    print(result.status.line())
    for path in result.files:
        print(f"wrote {path}")
