"""``optlab train``: train a model and record the run.

Thin: the flags become a :class:`~optlab.train.TrainConfig` (defaults < ``--config`` file < flags, in
:mod:`optlab.cli._train`), checked against the registries, and :func:`optlab.train.train` runs it; with
``--nproc N`` the command is relaunched through torchrun."""

from pathlib import Path
from typing import Annotated, Any

import typer

from optlab.cli._device import DEFAULT_DEVICE, DEVICE_HELP
from optlab.errors import ConfigError
from optlab.train.config import DEFAULT_EPOCHS

EXIT_CODES = "Exit codes: 0 ok, 1 the run failed (NaN loss, missing data, corrupt checkpoint), 2 bad usage."
WHERE = (
    "Writes: a run folder RUNS/<UTC time>-<description>/ (or --run-dir) indexed in RUNS/index.sqlite, "
    "where RUNS is $OPTLAB_RUNS, else ./runs; nothing is created when a setting is invalid."
)
SPEED = "Speed run"  # the --help panel of the speed-run options (TrainConfig's flip ... precision)


def _switch(name: str, help: str, panel: str | None = None) -> Any:
    """``--NAME/--no-NAME``, unset (None) unless given, so that a --config file's value stands."""
    return typer.Option(f"--{name}/--no-{name}", help=help, show_default="no", rich_help_panel=panel)


def _speed(help: str, default: str) -> Any:
    """A speed-run option with a value, unset (None) unless given, so that a --config file's value stands."""
    return typer.Option(help=help, show_default=default, rich_help_panel=SPEED)


def register(app: typer.Typer) -> None:
    app.command(epilog=EXIT_CODES + " " + WHERE)(train)


def train(
    ctx: typer.Context,
    dataset: Annotated[
        str | None, typer.Option(help="Dataset (`optlab list datasets`).", show_default="mnist1d")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model (`optlab list models`).", show_default="mlp")
    ] = None,
    optimizer: Annotated[
        str | None, typer.Option(help="Optimizer (`optlab list optimizers`).", show_default="adam")
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option(
            help="Base learning rate.",
            show_default="the optimizer's, as `optlab list optimizers` shows: sgd 0.1, adam 0.001, ...",
        ),
    ] = None,
    batch_size: Annotated[
        str | None,
        typer.Option(
            help="Examples per update, or 'full' for full batch. Per process with --nproc/torchrun.",
            show_default="128",
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option(
            help="Passes over the training set; with --max-steps the first reached stops the run.",
            show_default=f"{DEFAULT_EPOCHS}, or as many as --max-steps needs",
        ),
    ] = None,
    max_steps: Annotated[
        int | None,
        typer.Option(
            help="Train this many updates (overrides the default epochs, as in Lightning/HF Trainer).",
            show_default="none",
        ),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(help="Learning-rate schedule (`optlab list schedules`).", show_default="constant"),
    ] = None,
    warmup_steps: Annotated[
        int | None, typer.Option(help="Linear warm-up, in updates.", show_default="0")
    ] = None,
    hp: Annotated[
        list[str] | None,
        typer.Option(
            help="Optimizer hyperparameter KEY=VALUE (repeatable), e.g. momentum=0.9; "
            "a bad key lists the valid ones with their defaults.",
            show_default="the optimizer's defaults (`optlab list optimizers`)",
        ),
    ] = None,
    schedule_arg: Annotated[
        list[str] | None,
        typer.Option(help="Schedule option KEY=VALUE (repeatable), e.g. gamma=0.5.", show_default="none"),
    ] = None,
    batch_schedule: Annotated[
        str | None,
        typer.Option(
            help="Batch-size schedule, examples seen -> global batch size (`optlab list schedules`); "
            "replaces --batch-size.",
            show_default="none: --batch-size throughout",
        ),
    ] = None,
    batch_schedule_arg: Annotated[
        list[str] | None,
        typer.Option(
            help="Batch-size schedule option KEY=VALUE (repeatable), e.g. start=32, sizes=32,64, "
            "points=0:32,20000:128.",
            show_default="none",
        ),
    ] = None,
    batch_lr_rule: Annotated[
        str | None,
        typer.Option(
            help="lr at batch size B, B0 the first: none, linear (lr·B/B0) or sqrt (lr·√(B/B0)).",
            show_default="none",
        ),
    ] = None,
    batch_beta2_rule: Annotated[
        str | None,
        typer.Option(help="Adam's β₂ at batch size B: none or half-life (β₂^(B/B0)).", show_default="none"),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed (init, shuffling, dropout).", show_default="0")
    ] = None,
    validation: Annotated[
        str | None,
        typer.Option(
            help="Hold out this many training examples (count) or this fraction of them for validation.",
            show_default="0: evaluate on the test split",
        ),
    ] = None,
    data_dir: Annotated[
        str | None,
        typer.Option(help="Folder to look for dataset files first.", show_default="~/.cache/optlab"),
    ] = None,
    device: Annotated[str | None, typer.Option(help=DEVICE_HELP, show_default=DEFAULT_DEVICE)] = None,
    checkpoint_every: Annotated[
        int | None,
        typer.Option(help="Also checkpoint every N updates (0: once per epoch only).", show_default="0"),
    ] = None,
    log_steps: Annotated[
        bool | None, _switch("log-steps", "Write steps.csv (loss and lr per update).")
    ] = None,
    description: Annotated[
        str | None,
        typer.Option(
            help="Short description (names the run folder).", show_default="dataset-model-optimizer"
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="TOML file with any of these settings (flags override it).", show_default="none"),
    ] = None,
    run_dir: Annotated[
        Path | None,
        typer.Option(help="Run folder.", show_default="RUNS/<UTC time>-<description>"),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(help="Continue the run in this folder with its saved config.", show_default="none"),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or epoch lines.")] = False,
    nproc: Annotated[
        int | None,
        typer.Option(
            help="Data parallel: run on N local processes through torchrun (DDP, gloo/nccl).",
            show_default="1, no torchrun",
        ),
    ] = None,
    max_restarts: Annotated[
        int | None,
        typer.Option(help="With --nproc: restarts torchrun may make after a worker dies.", show_default="0"),
    ] = None,
    sync_bn: Annotated[
        bool | None, _switch("sync-bn", "Data parallel: BatchNorm over the global batch (CUDA only).")
    ] = None,
    no_decay_bias_norm: Annotated[
        bool | None,
        typer.Option(
            "--no-decay-bias-norm",
            help="No weight decay on biases and norm-layer parameters (optlab.optim.param_groups).",
            show_default="no",
        ),
    ] = None,
    tensorboard: Annotated[
        bool | None,
        _switch(
            "tensorboard",
            "Also log each epoch's metrics for TensorBoard (RUN_DIR/tensorboard; "
            "`tensorboard --logdir RUNS`).",
        ),
    ] = None,
    flip: Annotated[
        bool | None, _switch("flip", "Mirror each training example along its last axis, p = 1/2.", SPEED)
    ] = None,
    translate: Annotated[
        int | None, _speed("Shift each training example by up to N positions per spatial axis.", "0")
    ] = None,
    label_smoothing: Annotated[
        float | None, _speed("Label smoothing ε, in [0, 1), of the training loss (not evaluation).", "0")
    ] = None,
    tta: Annotated[
        bool | None, _switch("tta", "Evaluate on the mean logits of each example and its flip.", SPEED)
    ] = None,
    channels_last: Annotated[
        bool | None, _switch("channels-last", "Store 4-D weights channels-last (NHWC: fast on CPU).", SPEED)
    ] = None,
    precision: Annotated[
        str | None, _speed("fp32, or bf16: the training forward pass and loss under autocast.", "fp32")
    ] = None,
) -> None:
    """Train a model and record the run. Output: RUNS/<UTC time>-<description>/ (or --run-dir) with
    config.toml, metrics.csv, summary.json, checkpoints, final.pt, indexed in RUNS/index.sqlite (RUNS:
    $OPTLAB_RUNS, else ./runs).

    Under torchrun (or with --nproc N) it trains data-parallel: --batch-size per process."""
    from optlab.cli import _train
    from optlab.train import TrainConfig, distributed, resolve_device
    from optlab.train import train as run_training

    if max_restarts is not None and nproc is None:
        raise ConfigError(
            "--max-restarts needs --nproc N (under torchrun, use torchrun's own --max-restarts)"
        )
    rank0 = distributed.env_rank() == 0
    callbacks = () if quiet or not rank0 else (_train.EpochPrinter(),)
    train_config = None
    if resume is None:
        train_config = _train.config_from_flags(ctx.params)
        if run_dir is not None and distributed.restart_count() > 0 and _train.same_run(run_dir, train_config):
            resume = run_dir  # torchrun restarted the workers: continue this run from its checkpoint
            if rank0:
                print(f"restart {distributed.restart_count()}: {_train.resume_point(run_dir)}", flush=True)
    if nproc is not None:
        _train.launch(ctx.params, train_config, nproc, max_restarts or 0)
        return
    saved = (
        TrainConfig.load(resume / "config.toml") if resume and (resume / "config.toml").is_file() else None
    )
    device = resolve_device((saved or train_config).device if saved or train_config else "auto")
    with distributed.process_group(device):
        if resume is not None:
            result = run_training(None, resume, resume=True, quiet=quiet, callbacks=callbacks)
        else:
            result = run_training(train_config, run_dir, quiet=quiet, callbacks=callbacks)
    if rank0:
        print(_train.done_line(result))
