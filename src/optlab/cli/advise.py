"""``optlab advise``: batch sizes, learning rate and warm-up from timing and the gradient noise scale
(:func:`optlab.measure.advise.advise`). Registered by :mod:`optlab.cli.measure`."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from optlab.cli import _measure
from optlab.cli._device import DEFAULT_DEVICE
from optlab.errors import ConfigError
from optlab.measure.noise_scale import DEFAULT_BIG_BATCH, DEFAULT_PAIRS, DEFAULT_SMALL_BATCH, NoiseScale
from optlab.measure.runs import resolve_run, run_label


def advise(
    model: _measure.ModelName,
    dataset: _measure.DatasetName,
    optimizer: _measure.OptimizerName = "sgd",
    reference_lr: Annotated[
        float | None,
        typer.Option(
            help="A learning rate known to work (default: the optimizer's, `optlab list optimizers`)."
        ),
    ] = None,
    reference_batch: Annotated[
        int, typer.Option(help="The batch size that learning rate was found at, examples.")
    ] = 128,
    batch_sizes: Annotated[
        str | None,
        typer.Option(
            metavar="B1,B2,...",
            help="Comma-separated batch sizes to time (default: powers of two up to min(N, 4096)).",
        ),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(
            metavar="RUN", help=f"Measure B_noise at this run's final weights: {_measure.RUN_HELP}."
        ),
    ] = None,
    warm_epochs: Annotated[
        int, typer.Option(help="Without --run: epochs trained at the reference before measuring B_noise.")
    ] = 1,
    small_batch: _measure.SmallBatch = DEFAULT_SMALL_BATCH,
    big_batch: _measure.BigBatch = DEFAULT_BIG_BATCH,
    pairs: _measure.Pairs = DEFAULT_PAIRS,
    repeats: _measure.Repeats = 30,
    max_seconds: _measure.MaxSeconds = 3.0,
    device: _measure.Device = DEFAULT_DEVICE,
    threads: _measure.Threads = None,
    statistic: _measure.Statistic = "median",
    data_dir: _measure.DataDir = None,
    seed: Annotated[int, typer.Option(help="Seed of the init, the warm-up run and the batch sampling.")] = 0,
    check_steps: Annotated[
        int,
        typer.Option(help="Updates per lr of the √2-grid lr sweep that checks the recommended lr (0: none)."),
    ] = 200,
    three_ways: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="three_ways.json of `optlab measure critical-batch --three-ways`: add its estimates and a "
            "batch-size warm-up that follows CBS(t).",
        ),
    ] = None,
    out: _measure.OutDir = None,
    quiet: _measure.Quiet = False,
) -> None:
    """Recommend batch sizes, learning rate and warm-up from timing and the gradient noise scale.

    B_noise is measured at initialisation and after training, with the estimator, batch sizes, pairs and
    seed of `optlab measure noise`; the warm-up run is kept in the output folder (warm-up-run/) and the
    commands that reproduce both values are printed. The lr is moved to the recommended batch by the
    noise-aware rule of the optimizer (SGD: McCandlish et al. 2018; Adam: Li et al. 2024's surge), β₂ by its
    half-life, AdamW's weight decay by its timescale, each printed with its source, and a short lr sweep on
    the model checks it.
    """
    from optlab import data, models, optim
    from optlab.cli._device import resolve
    from optlab.measure.advise import advise as run_advise
    from optlab.measure.advise import plot_advice, reproduce_commands, scaling_rule
    from optlab.measure.noise_scale import noise_batches

    _measure.check_name("--model", model, models.names())
    _measure.check_name("--dataset", dataset, data.names())
    _measure.check_name("--optimizer", optimizer, optim.names())
    try:
        scaling_rule(optimizer)
    except ConfigError:
        raise ConfigError(
            f"invalid value for --optimizer: advise has no lr scaling rule for {optimizer!r}"
        ) from None
    if reference_lr is not None:
        _measure.positive("--reference-lr", reference_lr)
    _measure.at_least("--reference-batch", reference_batch, 1)
    _measure.at_least("--warm-epochs", warm_epochs, 1)
    _measure.at_least("--check-steps", check_steps, 0)
    if three_ways is not None:
        from optlab.measure.advise import read_three_ways

        read_three_ways(three_ways)
    _measure.at_least("--small-batch", small_batch, 1)
    _measure.at_least("--big-batch", big_batch, 1)
    _measure.at_least("--pairs", pairs, 1)
    noise_batches(small_batch, big_batch, big_batch)
    _measure.at_least("--repeats", repeats, 3)  # quartiles need three
    _measure.positive("--max-seconds", max_seconds)
    _measure.at_least("--threads", threads, 1)
    _measure.check_statistic(statistic)
    sizes = _measure.parse_batch_sizes(batch_sizes)
    _measure.check_out(out)
    torch_device = resolve(device)
    run_dir = resolve_run(run) if run is not None else None
    parts = [dataset, model, optimizer, torch_device.type]
    if run_dir is not None:
        parts.append(f"at-{run_label(run_dir)}")
    with _measure.progress_bars(quiet) as update, tempfile.TemporaryDirectory(prefix="optlab-advise-") as tmp:
        warm = None if run_dir is not None else Path(tmp) / "warm-up-run"
        result = run_advise(
            model,
            dataset,
            optimizer,
            reference_lr=reference_lr,
            reference_batch=reference_batch,
            batch_sizes=sizes,
            device=str(torch_device),
            threads=threads,
            statistic=statistic,
            repeats=repeats,
            max_seconds=max_seconds,
            run_dir=run_dir,
            warm_epochs=warm_epochs,
            small_batch=small_batch,
            big_batch=big_batch,
            n_pairs=pairs,
            data_dir=data_dir,
            seed=seed,
            keep_warmup=warm,
            progress=update,
            check_steps=check_steps,
            three_ways=three_ways,
        )
        files = _measure.Writer(out, "advise", *parts)
        if warm is not None:
            kept = files.path("warm-up-run")  # a folder: the run advise trained, to measure again
            if kept.exists():
                shutil.rmtree(kept)
            shutil.move(str(warm), str(kept))
    _print_advice(result)
    at_init, trained = NoiseScale(**result.noise_at_init), NoiseScale(**result.noise)
    trained_at = run_dir if run_dir is not None else files.folder / "warm-up-run"
    print("reproduce B_noise (at init, after training) with:")
    for command in reproduce_commands(model, dataset, trained_at, at_init, trained, data_dir):
        print(f"  {command}")
    plot_advice(result, files.path("advice.png"))
    files.json("advice.json", result.to_dict())
    files.report()


def _print_advice(advice: Any) -> None:
    """The options table (never cut: plain full-width text in a pipe), the recommendation and its reasons."""
    from optlab.cli._tables import print_table

    (low, high), best = advice.batch_range, advice.recommended_batch
    rows = []
    for o in advice.options:
        choice = "best" if o.batch_size == best else ("range" if low <= o.batch_size <= high else "")
        numbers = [f"{v:.4g}" for v in (1e3 * o.update_s, o.epoch_s, o.steps_factor, o.examples_factor)]
        rows.append(
            (o.batch_size, choice, *numbers, f"{o.relative_time:.3f}×", f"{o.lr:.4g}", o.warmup_steps)
        )
    columns = ["B", "", "ms/update", "s/epoch", "steps/S_min", "examples/E_min", "time to target"]
    columns += ["lr", "warm-up"]  # the settings at that batch size
    print_table(
        columns,
        rows,
        title=f"optlab advise: {advice.model} on {advice.dataset}, {advice.optimizer}, {advice.device} "
        "(best: recommended, range: within the tolerance)",
        justify={**dict.fromkeys(columns, "right"), "": "left"},
    )
    print(
        f"recommendation: batch size {best} "
        + (f"(range {low}–{high}), " if low != high else "(no other size within the tolerance), ")
        + f"lr {advice.recommended_lr:.4g}, warm-up {advice.recommended_warmup_steps} updates"
    )
    for line in advice.reasoning:
        print(f"  - {line}")
