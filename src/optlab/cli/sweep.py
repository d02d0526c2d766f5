"""``optlab sweep``: a grid or TPE search over training settings on Optuna; ``optlab sweep report STUDY``."""

from __future__ import annotations

import sys

import typer

from optlab.cli._device import DEFAULT_DEVICE, DEVICE_HELP
from optlab.errors import ConfigError, OptlabError
from optlab.train.config import DEFAULT_EPOCHS

sweep_app = typer.Typer(
    help="Sweep training settings (grid or TPE search) on Optuna, with any number of workers on one study. "
    "Output: the study in --storage (default RUNS/sweeps.sqlite; RUNS: $OPTLAB_RUNS, else ./runs); trial "
    "folders beside an SQLite storage, in sweeps/STUDY-ID/trial-NNNN, indexed in index.sqlite there (with a "
    "server storage, under RUNS); `sweep report` writes sweeps/STUDY-ID/report/.",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# The options that set the trials' TrainConfig when not swept, in the order a misuse is reported.
BASE_OPTIONS = ("dataset", "model", "optimizer", "lr", "batch_size", "epochs", "max_steps", "schedule")
BASE_OPTIONS += ("warmup_steps", "seed", "device", "data_dir")

_EPILOG = """Examples:

  optlab sweep --grid batch_size=32,256,2048 --grid lr=1e-3,1e-2 --epochs 3 --workers 2

  optlab sweep --grid batch_size=32,128,512 --grid lr=1e-4:1e-1 --search tpe --trials 30 --prune

  optlab sweep --study NAME                       (continue a study, or join it as another worker)

  optlab sweep report NAME

Workers on other machines join with the same --storage URL and --study NAME."""


def register(app: typer.Typer) -> None:
    from optlab.cli import sweep_report  # noqa: F401  (adds `sweep report` to sweep_app)

    app.add_typer(sweep_app, name="sweep")


@sweep_app.callback(invoke_without_command=True, epilog=_EPILOG)
def sweep(
    ctx: typer.Context,
    grid: list[str] = typer.Option(
        None,
        "--grid",
        help="NAME=V1,V2,... (a list) or NAME=LO:HI (a range, --search tpe; log scale if LO > 0). "
        "NAME: lr, batch_size, seed, epochs, optimizer, ... or hp.NAME. Repeat for each parameter.",
        show_default="none: --study NAME continues a study",
    ),
    search: str = typer.Option(
        "grid", "--search", help="grid (every point once) or tpe (Optuna's TPE sampler)."
    ),
    trials: int = typer.Option(
        None, "--trials", help="Number of trials of a --search tpe.", show_default="none"
    ),
    prune: bool = typer.Option(
        False, "--prune/--no-prune", help="Stop trials below the median accuracy after an epoch."
    ),
    storage: str = typer.Option(
        None,
        "--storage",
        help="SQLAlchemy URL of the study storage; trial folders go beside an SQLite file.",
        show_default="sqlite:///RUNS/sweeps.sqlite",
    ),
    study: str = typer.Option(
        None, "--study", help="Study name.", show_default="dataset-model-optimizer-search-<hash of settings>"
    ),
    workers: int = typer.Option(1, "--workers", help="Worker processes to start on this machine."),
    lr_scaling: str = typer.Option(
        "none", "--lr-scaling", help="Rescale lr with batch size: none, linear, sqrt."
    ),
    reference_batch: int = typer.Option(
        256, "--reference-batch", help="Batch size (examples) at which lr is the given lr."
    ),
    dataset: str = typer.Option(
        None, "--dataset", help="Dataset (`optlab list datasets`).", show_default="mnist1d"
    ),
    model: str = typer.Option(None, "--model", help="Model (`optlab list models`).", show_default="mlp"),
    optimizer: str = typer.Option(
        None, "--optimizer", help="Optimizer (`optlab list optimizers`).", show_default="adam"
    ),
    lr: float = typer.Option(
        None,
        "--lr",
        help="Learning rate when not swept.",
        show_default="each optimizer's, as `optlab list optimizers` shows",
    ),
    batch_size: int = typer.Option(
        None, "--batch-size", help="Examples per update when not swept.", show_default="128"
    ),
    epochs: int = typer.Option(
        None,
        "--epochs",
        help="Passes over the training set per trial; with --max-steps the first reached stops.",
        show_default=f"{DEFAULT_EPOCHS}, or as many as --max-steps needs",
    ),
    max_steps: int = typer.Option(
        None, "--max-steps", help="Updates per trial (overrides the default epochs).", show_default="none"
    ),
    schedule: str = typer.Option(
        None, "--schedule", help="Learning-rate schedule (`optlab list schedules`).", show_default="constant"
    ),
    warmup_steps: int = typer.Option(
        None, "--warmup-steps", help="Linear warm-up, in updates.", show_default="0"
    ),
    hp: list[str] = typer.Option(
        None,
        "--hp",
        help="Optimizer hyperparameter KEY=VALUE (repeatable).",
        show_default="the optimizer's defaults",
    ),
    validation: float = typer.Option(
        None,
        "--validation",
        help="Validation split carved from train, the objective: a count of examples or a fraction "
        "(0 = use test).",
        show_default="0.1",
    ),
    seed: int = typer.Option(None, "--seed", help="Seed when not swept.", show_default="0"),
    device: str = typer.Option(None, "--device", help=DEVICE_HELP, show_default=DEFAULT_DEVICE),
    data_dir: str = typer.Option(
        None, "--data-dir", help="Where datasets are looked for first.", show_default="~/.cache/optlab"
    ),
    heartbeat_interval: int = typer.Option(
        10, "--heartbeat-interval", help="Seconds between a trial's heartbeats."
    ),
    grace_period: int = typer.Option(
        30, "--grace-period", help="Seconds without a heartbeat before a trial counts as dead and is retried."
    ),
    threads: int = typer.Option(
        None,
        "--threads",
        help="torch threads per worker.",
        show_default="all cores for one worker, cores // K for K",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or per-trial lines."),
) -> None:
    """Run a sweep: each trial is an optlab training run; the study lives in Optuna storage, so re-running the
    command continues it and workers anywhere can join it."""
    if ctx.invoked_subcommand is not None:
        return
    from optlab.sweep import SweepSpec, parse_param, run_sweep
    from optlab.sweep.space import check_spec
    from optlab.train import TrainConfig, parse_hparam

    given = {key: ctx.params[key] for key in BASE_OPTIONS if ctx.params[key] is not None}
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
        params = tuple(parse_param(text) for text in grid)
        spec = SweepSpec(
            base=base,
            params=params,
            search=search,
            trials=trials,
            prune=prune,
            lr_scaling=lr_scaling,
            reference_batch=reference_batch,
            seed=base.seed,
            lr_from_optimizer=lr is None and any(p.name == "optimizer" for p in params),
        )
        check_spec(spec)  # names, data, model fit, hyperparameters: before any storage is made

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
    _print_summary(result, storage)


def _print_summary(result, storage: str | None) -> None:
    """The best settings, where the study and its trials are, and an exit code that says whether trials
    failed (a sweep whose trials all failed is not a success)."""
    from optlab.cli._tables import print_table
    from optlab.sweep import build_report
    from optlab.sweep.study import join, open_storage, sqlite_path, sweep_dir

    report = build_report(result.study_name, result.storage_url, write=False)
    if report.rows:
        print_table(list(report.rows[0]), report.rows[:10])
    else:
        print("no results")
    status = report.status
    print(f"{status.line()}; {result.wall_time:.1f} s")
    storage_flag = f" --storage {result.storage_url}" if storage else ""
    study, _ = join(open_storage(result.storage_url), result.study_name)
    path = sqlite_path(result.storage_url)
    url = f"sqlite:///{path.resolve()}" if path is not None else result.storage_url
    print(f"study {result.study_name!r} in {url}")
    print(f"trial folders: {sweep_dir(study, result.storage_url)}")
    print(f"another machine joins with: optlab sweep --study {result.study_name} --storage URL-it-can-reach")
    print(f"figures and CSVs: optlab sweep report {result.study_name}{storage_flag}")
    failed = status.counts.get("error", 0) + len(status.given_up)
    if failed:
        raise OptlabError(
            f"{failed} of {status.total} trials failed ({status.counts.get('error', 0)} error, "
            f"{len(status.given_up)} given up); their messages are above and in "
            f"`optlab sweep report {result.study_name}{storage_flag}`"
        )
