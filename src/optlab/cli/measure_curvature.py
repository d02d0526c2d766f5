"""``optlab measure sharpness``, ``hessian`` and ``landscape``: the shape of the loss around a run's final
weights (:mod:`optlab.measure.sharpness`, :mod:`optlab.measure.hessian`) and the 1-D and 2-D landscapes of
one or two runs (:func:`optlab.measure.landscape.run_landscape`). Registered by :mod:`optlab.cli.measure`."""

from __future__ import annotations

from typing import Annotated

import typer

from optlab.cli import _measure
from optlab.errors import ConfigError
from optlab.measure.runs import load_run, resolve_run, run_label


def sharpness(
    run: _measure.Run,
    epsilon: Annotated[
        list[float],
        typer.Option(help="Box size ε, relative to each weight (repeatable; Keskar et al. use 1e-3, 5e-4)."),
    ] = [1e-3, 5e-4],  # noqa: B006
    subspace_dim: Annotated[
        int,
        typer.Option(metavar="P", help="Also measure in a random P-dimensional subspace (0: no)."),
    ] = 100,
    iterations: Annotated[int, typer.Option(help="L-BFGS-B iterations of the inner maximisation.")] = 10,
    examples: _measure.Examples = 0,
    seed: _measure.Seed = 0,
    out: _measure.OutDir = None,
    quiet: _measure.Quiet = False,
) -> None:
    """Keskar et al.'s sharpness (Metric 2.1) of a run's final weights, full space and random subspace.

    φ is the largest rise of the training loss in a box around the weights, in % of 1 + loss.
    """
    from torch import nn

    from optlab.measure.runs import subset
    from optlab.measure.sharpness import SPACES_NOTE, compare_spaces, plot_sharpness, sharpness_grid

    for eps in epsilon:
        _measure.positive("--epsilon", eps)
    _measure.at_least("--subspace-dim", subspace_dim, 0)
    _measure.at_least("--iterations", iterations, 1)
    _measure.at_least("--examples", examples, 0)
    _measure.check_out(out)
    loaded = load_run(resolve_run(run))
    x, y = subset(loaded.dataset.train, examples)
    results = []
    with _measure.progress_bars(quiet) as update:
        grid = sharpness_grid(
            loaded.model,
            nn.CrossEntropyLoss(),
            x,
            y,
            epsilon,
            subspace_dim,
            iterations,
            seed,
            progress=update,
        )
        for where, result in grid:
            results.append(result)
            print(
                f"ε = {result.epsilon:g}, {where}: φ = {result.value:.4g} "
                f"(loss {result.loss:.4g} → {result.max_loss:.4g})"
            )
    comparison = compare_spaces(results)
    if comparison:
        print("  " + "; ".join(comparison) + ".")
        print(f"  Why they differ: {SPACES_NOTE}")
    files = _measure.Writer(out, "sharpness", run_label(loaded.run_dir))
    config = loaded.config
    plot_sharpness(
        results,
        files.path("sharpness.png"),
        title=f"{config.model} on {config.dataset}, {config.optimizer}, batch {config.batch_size} "
        f"({len(x)} examples)",
    )
    files.json(
        "sharpness.json",
        {
            "run": str(loaded.run_dir),
            "examples": len(x),
            "results": [r.to_dict() for r in results],
            "comparison": comparison,
            "spaces_note": SPACES_NOTE,
        },
    )
    files.report()


def hessian(
    run: _measure.Run,
    k: Annotated[int, typer.Option("--k", "-k", help="How many of the largest eigenvalues.")] = 5,
    trace_samples: Annotated[
        int, typer.Option(help="Hutchinson samples for the trace (0: skip the trace).")
    ] = 50,
    max_iterations: Annotated[
        int, typer.Option(help="Lanczos steps (Hessian-vector products) at most.")
    ] = 100,
    examples: _measure.Examples = 2048,
    seed: _measure.Seed = 0,
    out: _measure.OutDir = None,
    quiet: _measure.Quiet = False,
) -> None:
    """Top-k Hessian eigenvalues (Lanczos) and trace (Hutchinson) at a run's final weights.

    With the optimizer's stability limit, labelled by its rule: 2/η for gradient descent, (2+2β)/η for
    heavy-ball momentum β, (2+2β)/((1+2β)η) for Nesterov; none for adaptive methods (Adam, RMSProp, ...)
    and LARS, whose step is preconditioned. η is the lr of the run's last update. For Adam and AdamW also
    the preconditioned sharpness λ_max(P⁻¹H) at the run's final P, against (2+2β₁)/((1−β₁)η).
    """
    from optlab.measure.hessian import run_curvature

    _measure.at_least("--k", k, 1)
    _measure.at_least("--trace-samples", trace_samples, 0)
    _measure.at_least("--max-iterations", max_iterations, 1)
    _measure.at_least("--examples", examples, 0)
    _measure.check_out(out)
    loaded = load_run(resolve_run(run))
    with _measure.progress_bars(quiet) as update:
        result = run_curvature(
            loaded,
            k,
            trace_samples=trace_samples,
            max_iterations=max_iterations,
            examples=examples,
            seed=seed,
            progress=update,
        )
    for line in result.lines():
        print(line)
    files = _measure.Writer(out, "hessian", run_label(loaded.run_dir))
    result.plot(files.path("hessian.png"))
    files.json("hessian.json", result.to_dict())
    files.report()


def landscape(
    run_a: Annotated[
        str,
        typer.Argument(
            metavar="RUN_A", help=f"The centre of the 2-D plot and α = 0 of the 1-D one: {_measure.RUN_HELP}."
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
    examples: _measure.Examples = 2048,
    seed: _measure.Seed = 0,
    out: _measure.OutDir = None,
    quiet: _measure.Quiet = False,
) -> None:
    """1-D interpolation between runs (Keskar et al.), 2-D filter-normalised contours (Li et al.).

    The files go to landscape-RUN_A-vs-RUN_B (or landscape-RUN_A with one run), so comparing A with B
    and A with C keeps both.
    """
    from optlab.measure.landscape import BN_MODES, plot_interpolation, plot_surface, run_landscape

    if bn is not None and bn not in BN_MODES:
        raise ConfigError(f"invalid value for --bn: {bn!r} (valid: {', '.join(BN_MODES)})")
    _measure.at_least("--points", points, 2)
    _measure.at_least("--steps", steps, 0)
    if steps == 1:
        raise ConfigError("invalid value for --steps: 1 (0 to skip the 2-D plot, or an integer >= 2)")
    _measure.positive("--span", span)
    _measure.at_least("--examples", examples, 0)
    _measure.check_out(out)
    a = load_run(resolve_run(run_a))
    b = load_run(resolve_run(run_b), dataset=a.dataset) if run_b is not None else None
    with _measure.progress_bars(quiet) as update:
        result = run_landscape(
            a, b, points=points, steps=steps, span=span, bn=bn, examples=examples, seed=seed, progress=update
        )
    for line in result.lines():
        print(line)
    files = _measure.Writer(out, "landscape", *result.labels)
    name = result.name
    plot_interpolation(result.line, files.path(f"{name}.png"), title=result.title, xlabel=result.xlabel)
    files.json(f"{name}.json", result.line)
    files.csv(f"{name}.csv", result.rows())
    if result.surface is not None:
        plot_surface(result.surface, files.path("surface.png"), title=result.surface_title)
        files.json("surface.json", result.surface)
    files.report()
