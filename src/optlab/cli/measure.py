"""``optlab measure timing|noise|critical-batch|sharpness|hessian|landscape`` and ``optlab advise``.

Thin: checks every argument (before anything is created), resolves runs given by folder, id or name, calls
:mod:`optlab.measure`, prints a short summary, and writes every figure with its data (JSON, CSV where tabular)
by the one rule of :mod:`optlab.measure.outputs` (``--out DIR`` or ``./measurements/NAME/``), printing the
paths. Progress bars go to stderr and are off when stderr is not a terminal or with ``--quiet``. The commands
live in this module (timing), :mod:`~optlab.cli.measure_noise` (noise, critical-batch),
:mod:`~optlab.cli.measure_curvature` (sharpness, hessian, landscape) and :mod:`~optlab.cli.advise`; what
they share in :mod:`~optlab.cli._measure`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from optlab.cli import _measure
from optlab.cli._device import DEFAULT_DEVICE
from optlab.measure.outputs import OUTPUT_RULE


def register(app: typer.Typer) -> None:
    """``optlab measure ...`` (a group) and ``optlab advise`` on ``app``."""
    from optlab.cli.advise import advise
    from optlab.cli.measure_curvature import hessian, landscape, sharpness
    from optlab.cli.measure_noise import critical_batch, noise

    measure_app = typer.Typer(
        help="What decides batch size and optimizer: timing, noise scale, sharpness, Hessian, landscape. "
        + OUTPUT_RULE,
        no_args_is_help=True,
    )
    app.add_typer(measure_app, name="measure")
    for command in (timing, noise, critical_batch, sharpness, hessian, landscape):
        measure_app.command(epilog=_measure.EPILOG)(command)  # typer's name: critical_batch → critical-batch
    app.command(epilog=_measure.EPILOG)(advise)


def timing(
    model: _measure.ModelName,
    dataset: _measure.DatasetName,
    batch_sizes: Annotated[
        str | None,
        typer.Option(
            metavar="B1,B2,...",
            help="Comma-separated batch sizes (default: powers of two up to min(N, 4096)).",
        ),
    ] = None,
    optimizer: _measure.OptimizerName = "sgd",
    device: _measure.Device = DEFAULT_DEVICE,
    threads: _measure.Threads = None,
    statistic: _measure.Statistic = "median",
    repeats: _measure.Repeats = 30,
    max_seconds: _measure.MaxSeconds = 3.0,
    data_dir: _measure.DataDir = None,
    out: _measure.OutDir = None,
    quiet: _measure.Quiet = False,
) -> None:
    """Time per update and per epoch against batch size, and where it stops being flat."""
    from optlab import models, optim
    from optlab.cli._device import resolve
    from optlab.cli._tables import print_table
    from optlab.measure._common import for_task
    from optlab.measure.advise import default_batch_sizes
    from optlab.measure.timing import NOISY_SPREAD, plot_timing, time_per_update, timing_spread

    _measure.check_name("--model", model, models.names())
    _measure.check_name("--optimizer", optimizer, optim.names())
    sizes = _measure.parse_batch_sizes(batch_sizes)
    _measure.at_least("--threads", threads, 1)
    _measure.at_least("--repeats", repeats, 3)  # quartiles need three
    _measure.positive("--max-seconds", max_seconds)
    _measure.check_statistic(statistic)
    _measure.check_out(out)
    torch_device = resolve(device)  # fail before loading data
    ds = _measure.load_dataset(dataset, data_dir)
    with _measure.progress_bars(quiet) as update:
        result = time_per_update(
            lambda: models.create(model, ds.input_shape, ds.num_classes),
            ds,
            sizes or default_batch_sizes(len(ds.train)),
            optimizer,
            str(torch_device),
            repeats=repeats,
            max_seconds=max_seconds,
            threads=threads,
            statistic=statistic,
            progress=for_task(update, "timing rounds"),
        )
    print_table(
        ["B", "ms/update", "s/epoch", "examples/s"],
        [
            (r.batch_size, f"{1e3 * r.update_s:.4g}", f"{r.epoch_s:.4g}", f"{r.examples_per_s:.0f}")
            for r in result.rows
        ],
        justify=dict.fromkeys(["ms/update", "s/epoch", "examples/s"], "right"),
        title=f"time per update ({statistic}), {model} on {dataset}, {optimizer}, {result.device}",
    )
    for size, why in result.skipped.items():
        print(f"  skipped B={size}: {why}")
    knee = f"exceeds 2× from B = {result.knee_batch_size}" if result.knee_batch_size else "never exceeds 2×"
    print(f"time per update is flat up to B = {result.flat_up_to} and {knee} (on {result.device})")
    if timing_spread(result) > NOISY_SPREAD:
        print(
            f"caution: update times vary {timing_spread(result):.2g}× between quartiles "
            "(other load on this machine?); re-run on an idle machine, or with --threads 1 on CPU"
        )
    files = _measure.Writer(out, "timing", dataset, model, optimizer, torch_device.type)
    plot_timing(result, files.path("timing.png"), title=f"{model} on {dataset}, {optimizer}, {result.device}")
    files.json("timing.json", {"model": model, "dataset": dataset, **result.to_dict()})
    files.csv("timing.csv", [vars(row) for row in result.rows])
    files.report()
