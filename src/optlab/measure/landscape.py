"""Loss landscapes: 1-D interpolation between two solutions (Keskar et al. 2017, after Goodfellow et al. 2015)
and 2-D surfaces around one solution along filter-normalised random directions (Li et al. 2018, "Visualizing
the Loss Landscape of Neural Nets").

* :func:`interpolation_1d`: f((1−α)·x_A + α·x_B) for α ∈ [−1, 2] (train and test loss and accuracy): Keskar's
  parametric plot, with x_A the small-batch and x_B the large-batch solution. With one solution,
  :func:`direction_1d` walks along one filter-normalised random direction instead.
* :func:`surface_2d`: f(x + α·d₁ + β·d₂) on a grid, where each d is a Gaussian direction rescaled *per filter*
  (Li et al. §4): for every parameter tensor with two or more dimensions and every filter j (slice along the
  output dimension: a conv filter or a row of a linear layer), d_j ← d_j / ‖d_j‖ · ‖θ_j‖. This removes the
  scale invariance that makes un-normalised plots of different nets incomparable. One-dimensional parameters
  (biases, BatchNorm weights) get a zero direction by default, as with ``--xignore biasbn`` in the authors'
  code.

BatchNorm (chosen per call with ``bn``):
  * ``"recompute"`` (default for 1-D): at every point the running mean/variance are recomputed from training
    batches (reset, then a cumulative average over up to ``bn_examples`` examples, with dropout off):
    interpolated weights need statistics of their own, the solutions' statistics do not fit them (as in SWA's
    ``update_bn``, Izmailov et al. 2018, and mode-connectivity studies, Garipov et al. 2018).
  * ``"interpolate"``: running statistics interpolated with the same α as the weights (cheap, less faithful).
  * ``"keep"`` (default for 2-D): the solution's running statistics, evaluated in eval mode — what Li et
    al.'s code does (directions perturb only parameters; BatchNorm buffers are left as trained).
Models without BatchNorm ignore ``bn``. The caller's model is never changed (we work on a copy).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from optlab.errors import ConfigError
from optlab.measure._common import (
    LossFn,
    Progress,
    TaskProgress,
    as_tensors,
    chunks,
    eval_mode,
    for_task,
    loss_and_accuracy,
    model_device,
    new_figure,
    save_figure,
)

BN_MODES = ("recompute", "interpolate", "keep")
State = dict[str, torch.Tensor]


def _bn_label(model: nn.Module, bn: str) -> str:
    return bn if batchnorm_layers(model) else "none (no BatchNorm layers)"


def _check_bn(bn: str) -> None:
    if bn not in BN_MODES:
        raise ConfigError(f"invalid bn mode: {bn!r} (valid: {', '.join(BN_MODES)})")


def batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def recompute_bn_statistics(
    model: nn.Module, x: torch.Tensor, batch_size: int = 256, max_examples: int = 4096
) -> None:
    """Reset every BatchNorm's running mean/variance and re-estimate them on ``x`` (cumulative average).

    Only the BatchNorm layers run in train mode (dropout stays off); ``momentum=None`` makes the running
    statistics the plain average over the batches seen. Momenta and mode flags are restored afterwards;
    parameters unchanged.
    """
    layers = batchnorm_layers(model)
    if not layers:
        return
    device = model_device(model)
    momenta = [layer.momentum for layer in layers]
    with eval_mode(model):
        for layer in layers:
            layer.reset_running_stats()
            layer.momentum = None
            layer.train()
        try:
            with torch.no_grad():
                for part in chunks(min(len(x), max_examples), batch_size):
                    model(x[part].to(device))
        finally:
            for layer, momentum in zip(layers, momenta, strict=True):
                layer.momentum = momentum


def interpolate_states(
    state_a: State, state_b: State, alpha: float, keep_from_a: frozenset[str] | set[str] = frozenset()
) -> State:
    """(1−α)·A + α·B for every floating-point entry; integer entries (``num_batches_tracked``) and the names
    in ``keep_from_a`` (e.g. BatchNorm buffers with ``bn="keep"``) are taken from A.
    """
    if state_a.keys() != state_b.keys():
        missing = sorted(set(state_a) ^ set(state_b))
        raise ConfigError(
            f"the two solutions have different parameters ({', '.join(missing[:4])}): not the same model"
        )
    out = {}
    for key, a in state_a.items():
        b = state_b[key]
        if a.shape != b.shape:
            raise ConfigError(f"parameter {key} has shape {tuple(a.shape)} in A and {tuple(b.shape)} in B")
        if a.is_floating_point() and key not in keep_from_a:
            out[key] = (1 - alpha) * a + alpha * b.to(a.dtype)
        else:
            out[key] = a.clone()
    return out


def _evaluate(model: nn.Module, loss_fn: LossFn, splits: dict[str, Any], bn: str) -> dict[str, float]:
    """Loss and accuracy per split (``bn="recompute"``: BatchNorm statistics from train first)."""
    if bn == "recompute":
        recompute_bn_statistics(model, splits["train"][0])
    model.eval()
    row = {}
    for name, (x, y) in splits.items():
        loss, acc = loss_and_accuracy(model, loss_fn, x, y)
        row[f"{name}_loss"], row[f"{name}_accuracy"] = loss, acc
    return row


def _splits(train: Any, test: Any, max_examples: int | None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    out = {"train": as_tensors(train)}
    if test is not None:
        out["test"] = as_tensors(test)
    if max_examples:
        out = {k: (x[:max_examples], y[:max_examples]) for k, (x, y) in out.items()}
    return out


def _line(
    model: nn.Module,
    alphas: list[Any],
    states: Iterator[State],
    loss_fn: LossFn,
    splits: dict[str, Any],
    bn: str,
    progress: Progress | None,
    **extra: Any,
) -> dict[str, Any]:
    """A copy of ``model`` evaluated at each of ``states`` (one per α): the columns ``alpha``, ``bn``,
    ``extra``, then ``{split}_loss`` and ``{split}_accuracy``."""
    work = copy.deepcopy(model)
    rows = []
    for i, state in enumerate(states):
        work.load_state_dict(state)
        rows.append(_evaluate(work, loss_fn, splits, bn))
        if progress is not None:
            progress(i + 1, len(alphas))
    out = {"alpha": [round(float(a), 12) for a in alphas], "bn": _bn_label(model, bn), **extra}
    return out | {key: [row[key] for row in rows] for key in rows[0]}


def interpolation_1d(
    model: nn.Module,
    state_a: State,
    state_b: State,
    loss_fn: LossFn,
    train: Any,
    test: Any = None,
    alphas: Sequence[float] | None = None,
    *,
    bn: str = "recompute",
    max_examples: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Loss and accuracy of (1−α)·x_A + α·x_B for each α (default 31 points in [−1, 2]).

    ``model`` is a template of the right architecture (copied, not changed); ``state_a``/``state_b`` its state
    dicts. ``train``/``test`` are ``(X, Y)`` pairs or optlab splits; ``max_examples`` evaluates on the first
    N of each. Returns ``{"alpha": [...], "train_loss": [...], "train_accuracy": [...], "test_loss": [...],
    "bn": bn}``.
    """
    _check_bn(bn)
    alphas = list(np.linspace(-1, 2, 31) if alphas is None else alphas)
    buffers = frozenset(name for name, _ in model.named_buffers()) if bn == "keep" else frozenset()
    states = (interpolate_states(state_a, state_b, float(alpha), buffers) for alpha in alphas)
    return _line(model, alphas, states, loss_fn, _splits(train, test, max_examples), bn, progress)


def filter_normalized_direction(
    model: nn.Module, generator: torch.Generator, ignore_1d: bool = True
) -> dict[str, torch.Tensor]:
    """A Gaussian direction in parameter space, rescaled filter by filter to the norms of the model's filters.

    Li et al. 2018 §4: d_{i,j} ← d_{i,j} / ‖d_{i,j}‖ · ‖θ_{i,j}‖ for filter j of layer i (slices along dim 0).
    One-dimensional parameters get 0 (``ignore_1d``) or a copy of themselves (authors' code without biasbn).
    """
    direction = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        theta = param.detach()
        if theta.dim() <= 1:
            direction[name] = torch.zeros_like(theta) if ignore_1d else theta.clone()
            continue
        d = torch.randn(theta.shape, generator=generator, dtype=torch.float64).to(theta)
        d_norms = d.flatten(1).norm(dim=1).clamp_min(1e-10)
        theta_norms = theta.flatten(1).norm(dim=1)
        scale = (theta_norms / d_norms).view(-1, *([1] * (theta.dim() - 1)))
        direction[name] = d * scale
    return direction


def _shifted_state(base: State, directions: list[tuple[float, dict[str, torch.Tensor]]]) -> State:
    out = {k: v.clone() for k, v in base.items()}
    for coefficient, direction in directions:
        for name, d in direction.items():
            out[name] = out[name] + coefficient * d
    return out


def direction_1d(
    model: nn.Module,
    loss_fn: LossFn,
    train: Any,
    test: Any = None,
    alphas: Sequence[float] | None = None,
    *,
    seed: int = 0,
    bn: str = "keep",
    max_examples: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Loss and accuracy along x + α·d, d a filter-normalised random direction (default: 41 α in [−1, 1])."""
    _check_bn(bn)
    alphas = list(np.linspace(-1, 1, 41) if alphas is None else alphas)
    base = {k: v.detach().clone() for k, v in model.state_dict().items()}
    direction = filter_normalized_direction(model, torch.Generator().manual_seed(seed))
    states = (_shifted_state(base, [(alpha, direction)]) for alpha in alphas)
    return _line(model, alphas, states, loss_fn, _splits(train, test, max_examples), bn, progress, seed=seed)


def surface_2d(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    Y: torch.Tensor,
    steps: int = 21,
    span: float = 1.0,
    *,
    seed: int = 0,
    bn: str = "keep",
    ignore_1d: bool = True,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Loss and accuracy on the grid x + α·d₁ + β·d₂, α, β ∈ [−span, span] (``steps`` points each).

    d₁, d₂ are independent filter-normalised Gaussian directions (Li et al. 2018). Returns ``{"alpha": [...],
    "beta": [...], "loss": [[...]] (rows: β, columns: α), "accuracy": [[...]], "bn": ..., "seed": seed}``.
    """
    _check_bn(bn)
    if not (isinstance(steps, int) and steps >= 3):
        raise ConfigError(f"invalid steps: {steps!r} (must be an integer >= 3)")
    X, Y = as_tensors((X, Y))
    generator = torch.Generator().manual_seed(seed)
    d1 = filter_normalized_direction(model, generator, ignore_1d)
    d2 = filter_normalized_direction(model, generator, ignore_1d)
    work = copy.deepcopy(model)
    base = {k: v.detach().clone() for k, v in model.state_dict().items()}
    grid = np.linspace(-span, span, steps)
    loss = np.zeros((steps, steps))
    accuracy = np.zeros((steps, steps))
    done = 0
    for i, beta in enumerate(grid):
        for j, alpha in enumerate(grid):
            work.load_state_dict(_shifted_state(base, [(alpha, d1), (beta, d2)]))
            row = _evaluate(work, loss_fn, {"train": (X, Y)}, bn)
            loss[i, j], accuracy[i, j] = row["train_loss"], row["train_accuracy"]
            done += 1
            if progress is not None:
                progress(done, steps * steps)
    return {
        "alpha": grid.tolist(),
        "beta": grid.tolist(),
        "loss": loss.tolist(),
        "accuracy": accuracy.tolist(),
        "bn": _bn_label(model, bn),
        "seed": seed,
    }


def plot_interpolation(data: dict[str, Any], path: str | Path, title: str = "", xlabel: str = "α") -> None:
    """Keskar et al.'s parametric plot: loss (left axis, log) and accuracy (right axis) for train and test."""
    figure, loss_axis = new_figure(figsize=(6.5, 4.5))
    alpha = np.asarray(data["alpha"])
    accuracy_axis = loss_axis.twinx()
    for split, style in (("train", "-"), ("test", "--")):
        if f"{split}_loss" not in data:
            continue
        loss_axis.semilogy(alpha, data[f"{split}_loss"], style, color="C0", label=f"{split} loss")
        acc = np.asarray(data[f"{split}_accuracy"], dtype=float)
        if np.isfinite(acc).any():
            accuracy_axis.plot(alpha, 100 * acc, style, color="C3", label=f"{split} accuracy")
    for marker in (0.0, 1.0):
        if alpha.min() <= marker <= alpha.max():
            loss_axis.axvline(marker, color="gray", lw=0.6, ls=":")
    from matplotlib import ticker

    # Plain numbers (6, not 6×10⁰) on the log axis; minor ticks are labelled on short ranges only.
    loss_axis.yaxis.set_major_formatter(ticker.LogFormatter())
    loss_axis.yaxis.set_minor_formatter(ticker.LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    loss_axis.set_xlabel(xlabel)
    loss_axis.set_ylabel("loss (log scale)", color="C0")
    accuracy_axis.set_ylabel("accuracy (%)", color="C3")
    lines = loss_axis.get_legend_handles_labels()
    more = accuracy_axis.get_legend_handles_labels()
    loss_axis.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="best")
    bn_note = f"BatchNorm statistics: {data.get('bn', '-')}"
    loss_axis.set_title(f"{title}\n{bn_note}" if title else bn_note, fontsize=10)
    save_figure(figure, path)


def plot_surface(data: dict[str, Any], path: str | Path, title: str = "") -> None:
    """Contour plot of the loss around the solution (log-spaced levels), the solution marked at the centre.

    The colour bar is a continuous scale with a few ticks (not one label per contour level), the axes carry
    at most five ticks each, and the title sits above the plot only (constrained layout), so nothing overlaps
    at the default size.
    """
    from matplotlib import cm, colors, ticker

    figure, axes = new_figure(figsize=(6, 5), layout="constrained")
    alpha, beta = np.asarray(data["alpha"]), np.asarray(data["beta"])
    loss = np.asarray(data["loss"], dtype=float)
    finite = loss[np.isfinite(loss)]
    low, high = max(finite.min(), 1e-8), max(finite.max(), finite.min() * 1.01 + 1e-8)
    logarithmic = high / low > 10
    levels = np.geomspace(low, high, 25) if logarithmic else np.linspace(low, high, 25)
    norm = colors.LogNorm(low, high) if logarithmic else colors.Normalize(low, high)
    axes.contour(
        alpha, beta, np.clip(loss, low, high), levels=levels, cmap="viridis", norm=norm, linewidths=0.8
    )
    bar = figure.colorbar(cm.ScalarMappable(norm=norm, cmap="viridis"), ax=axes, shrink=0.85)
    bar.set_label("train loss" + (" (log scale)" if logarithmic else ""))
    if not logarithmic:
        bar.locator = ticker.MaxNLocator(6)
        bar.update_ticks()
    axes.plot([0], [0], "r*", ms=10, label="solution")
    axes.xaxis.set_major_locator(ticker.MaxNLocator(5))
    axes.yaxis.set_major_locator(ticker.MaxNLocator(5))
    axes.set_xlabel("filter-normalised direction 1")
    axes.set_ylabel("filter-normalised direction 2")
    axes.set_aspect("equal")
    axes.legend(fontsize=8, loc="upper right")
    axes.set_title(title or f"loss surface (BatchNorm: {data.get('bn', '-')})", fontsize=10, wrap=True)
    save_figure(figure, path)


# -- the landscape of one or two runs (``optlab measure landscape``) -----------------------------------------
@dataclass
class RunLandscape:
    """:func:`run_landscape`'s result: a 1-D cut (``name``: ``"interpolation"`` between two runs, or
    ``"direction"`` through one) and, unless skipped, a 2-D surface around run A, with their figure texts."""

    name: str
    line: dict[str, Any]
    surface: dict[str, Any] | None
    labels: list[str]  # names the output: [A] or [A, "vs-B"]
    title: str
    xlabel: str
    surface_title: str

    @property
    def columns(self) -> list[str]:
        """The 1-D cut's per-α columns (``alpha``, ``train_loss``, ...)."""
        return [key for key, value in self.line.items() if isinstance(value, list)]

    def rows(self) -> list[dict[str, Any]]:
        """The 1-D cut as table rows, one per α."""
        return [{k: self.line[k][i] for k in self.columns} for i in range(len(self.line["alpha"]))]

    def lines(self) -> list[str]:
        """The summary a person reads: the loss ranges of the cut, the surface's centre and maximum."""
        line = self.line
        summary = ", ".join(
            f"{key} {min(line[key]):.3g}–{max(line[key]):.3g}"
            for key in self.columns
            if key.endswith("_loss")
        )
        lines = [f"1-D ({self.name}, BatchNorm: {line['bn']}): {summary}"]
        if self.surface is not None:
            grid = np.asarray(self.surface["loss"])
            steps = grid.shape[0]
            centre = grid[steps // 2, steps // 2]
            lines.append(
                f"2-D around A ({steps}×{steps}, BatchNorm: {self.surface['bn']}): loss at the centre "
                f"{centre:.3g}, max on the grid {np.nanmax(grid):.3g}"
            )
        return lines


def run_landscape(
    a: Any,
    b: Any = None,
    *,
    points: int = 31,
    steps: int = 21,
    span: float = 1.0,
    bn: str | None = None,
    examples: int = 2048,
    seed: int = 0,
    progress: TaskProgress | None = None,
) -> RunLandscape:
    """The landscape of :class:`~optlab.measure.runs.LoadedRun` ``a`` on its first ``examples`` examples
    (0: all) of each split, cross-entropy loss.

    With a second run ``b`` (same model and data, else a :class:`ConfigError`): :func:`interpolation_1d` at
    ``points`` values of α ∈ [−1, 2] (BatchNorm ``bn``, default recompute); without: :func:`direction_1d`
    at α ∈ [−1, 1] (default keep). Unless ``steps`` is 0, a ``steps``×``steps`` :func:`surface_2d` over
    [−span, span]² around ``a`` (keep: Li et al. keep the solution's statistics). ``progress(task, done,
    total)`` reports the tasks "1-D interpolation" or "1-D direction", and "2-D surface".
    """
    from optlab.measure.runs import run_label, subset

    if b is not None and (b.config.model, b.config.dataset) != (a.config.model, a.config.dataset):
        raise ConfigError(
            f"{b.run_dir} trains {b.config.model} on {b.config.dataset}, {a.run_dir} trains "
            f"{a.config.model} on {a.config.dataset}: interpolation needs the same model and data"
        )
    train, test = subset(a.dataset.train, examples), subset(a.dataset.test, examples)
    loss_fn = nn.CrossEntropyLoss()
    kept = "keep" if bn in (None, "interpolate") else bn  # Li et al. keep the solution's statistics
    label_a = run_label(a.run_dir)
    if b is not None:
        task = for_task(progress, "1-D interpolation")
        states, alphas = (a.model.state_dict(), b.model.state_dict()), np.linspace(-1, 2, points)
        line = interpolation_1d(
            a.model, *states, loss_fn, train, test, alphas, bn=bn or "recompute", progress=task
        )
        title = (
            f"A = {label_a}: {a.config.optimizer}, batch {a.config.batch_size}\n"
            f"B = {run_label(b.run_dir)}: {b.config.optimizer}, batch {b.config.batch_size}"
        )
        xlabel, name = "α  (0: run A, 1: run B)", "interpolation"
    else:
        task = for_task(progress, "1-D direction")
        line = direction_1d(
            a.model, loss_fn, train, test, np.linspace(-1, 1, points), seed=seed, bn=kept, progress=task
        )
        title = f"{label_a}: along one filter-normalised direction"
        xlabel, name = "α", "direction"
    surface, surface_title = None, ""
    if steps:
        task = for_task(progress, "2-D surface")
        surface = surface_2d(
            a.model, loss_fn, *train, steps=steps, span=span, seed=seed, bn=kept, progress=task
        )
        surface_title = f"{label_a}: train loss around the solution\n(BatchNorm: {surface['bn']})"
    return RunLandscape(
        name=name,
        line=line,
        surface=surface,
        labels=[label_a] + ([f"vs-{run_label(b.run_dir)}"] if b is not None else []),
        title=title,
        xlabel=xlabel,
        surface_title=surface_title,
    )
