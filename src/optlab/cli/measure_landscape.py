"""``optlab measure landscape``: 1-D and 2-D loss landscapes of one or two runs
(:func:`optlab.measure.landscape.run_landscape`). Registered by :mod:`optlab.cli.measure`."""

from __future__ import annotations

from typing import Annotated

import typer

from optlab.cli._measure import (
    RUN_HELP,
    Examples,
    OutDir,
    Quiet,
    Seed,
    Writer,
    at_least,
    check_out,
    positive,
    progress_bars,
    resolve_run,
)
from optlab.errors import ConfigError


def landscape(
    run_a: Annotated[
        str,
        typer.Argument(
            metavar="RUN_A", help=f"The centre of the 2-D plot and α = 0 of the 1-D one: {RUN_HELP}."
        ),
    ],
    run_b: Annotated[
        str | None,
        typer.Argument(metavar="RUN_B", help="A second run of the same model and data: α = 1."),
    ] = None,
    points: Annotated[int, typer.Option(help="Points of the 1-D plot over α ∈ [−1, 2].")] = 31,
    steps: Annotated[int, typer.Option(help="Grid points per side of the 2-D plot (0: skip it).")] = 21,
    span: Annotated[
        float, typer.Option(help="The 2-D grid covers [−span, span]² in filter-normalised units.")
    ] = 1.0,
    bn: Annotated[
        str | None,
        typer.Option(
            help="BatchNorm statistics: recompute, interpolate, keep (default: 1-D recompute, 2-D keep)."
        ),
    ] = None,
    examples: Examples = 2048,
    seed: Seed = 0,
    out: OutDir = None,
    quiet: Quiet = False,
) -> None:
    """1-D interpolation between runs (Keskar et al.), 2-D filter-normalised contours (Li et al.).

    The files go to landscape-RUN_A-vs-RUN_B (or landscape-RUN_A with one run), so comparing A with B
    and A with C keeps both.
    """
    from optlab._io import write_csv, write_json
    from optlab.measure.landscape import BN_MODES, plot_interpolation, plot_surface, run_landscape
    from optlab.measure.outputs import output_name
    from optlab.measure.runs import load_run

    if bn is not None and bn not in BN_MODES:
        raise ConfigError(f"invalid value for --bn: {bn!r} (valid: {', '.join(BN_MODES)})")
    at_least("--points", points, 2)
    at_least("--steps", steps, 0)
    if steps == 1:
        raise ConfigError("invalid value for --steps: 1 (0 to skip the 2-D plot, or an integer >= 2)")
    positive("--span", span)
    at_least("--examples", examples, 0)
    check_out(out)
    a = load_run(resolve_run(run_a))
    b = load_run(resolve_run(run_b), dataset=a.dataset) if run_b is not None else None
    with progress_bars(quiet) as update:
        result = run_landscape(
            a, b, points=points, steps=steps, span=span, bn=bn, examples=examples, seed=seed, progress=update
        )
    for line in result.lines():
        print(line)
    files = Writer(out, output_name("landscape", *result.labels))
    name = result.name
    plot_interpolation(result.line, files.path(f"{name}.png"), title=result.title, xlabel=result.xlabel)
    write_json(files.path(f"{name}.json"), result.line)
    write_csv(files.path(f"{name}.csv"), result.rows())
    if result.surface is not None:
        plot_surface(result.surface, files.path("surface.png"), title=result.surface_title)
        write_json(files.path("surface.json"), result.surface)
    files.report()
