"""The gradient noise scale and the critical batch size (McCandlish, Kaplan, Amodei et al. 2018, "An Empirical
Model of Large-Batch Training", arXiv:1812.06162).

Per-example gradients g_i have mean G (the true gradient) and covariance Σ. A batch of B i.i.d. examples gives
G_B with E|G_B|² = |G|² + tr(Σ)/B (their eq. A.1). The *simple noise scale*

    B_simple = tr(Σ) / |G|²                                                            (their eq. 2.8)

is the batch size at which the gradient's noise and signal are equal; training at B ≈ B_noise balances steps
against examples. Measuring |G_B|² at two batch sizes B_small < B_big gives unbiased estimates of both parts
(App. A.1):

    |G|²  ≈ (B_big·|G_big|² − B_small·|G_small|²) / (B_big − B_small)
    tr Σ ≈ (|G_small|² − |G_big|²) / (1/B_small − 1/B_big)

Each is averaged over pairs *separately* and only then divided (the ratio of means, not the mean of ratios,
which would be biased by noise in the denominator).

Sampling: the examples of a pair are drawn i.i.d. (with replacement) from the data, so the estimates are
unbiased for the per-example G and Σ of that data. The small batch is the first B_small examples of the big
one (as in the data-parallel setting of App. A.1), which costs B_big gradients per pair. The model is
evaluated in eval mode (see ``_common``: BatchNorm in train mode would couple the examples of a batch). The
parameters are never changed.

:func:`fit_critical_batch` fits their steps–examples trade-off (eq. 2.11–2.12)

    (S/S_min − 1)(E/E_min − 1) = 1,   equivalently S(B) = S_min + E_min/B,   B_crit = E_min/S_min,

from (batch size, steps to reach a target) pairs of runs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from optlab.errors import ConfigError
from optlab.measure._common import (
    LossFn,
    Progress,
    as_tensors,
    eval_mode,
    loss_and_grad,
    new_figure,
    save_figure,
    trainable,
)

# Defaults shared by ``optlab measure noise`` and ``optlab advise``, so that the two agree on the same model,
# data and seed (same estimator, same batches).
DEFAULT_SMALL_BATCH = 8
DEFAULT_BIG_BATCH = 1024
DEFAULT_PAIRS = 50


def noise_batches(small_batch: int, big_batch: int, examples: int) -> tuple[int, int]:
    """The (small, big) batch sizes used on ``examples`` training examples: big ≤ N, small < big.

    Both commands call this, so they clamp the same way. Bad values are :class:`ConfigError`.
    """
    for flag, value in (("--small-batch", small_batch), ("--big-batch", big_batch)):
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            raise ConfigError(f"invalid value for {flag}: {value!r} (an integer >= 1)")
    if small_batch >= big_batch:
        raise ConfigError(
            f"invalid value for --small-batch: {small_batch} (must be smaller than --big-batch {big_batch})"
        )
    big = min(big_batch, examples)
    return min(small_batch, max(1, big // 2)), big


def model_at_init(name: str, dataset: Any, seed: int) -> nn.Module:
    """Model ``name`` for ``dataset`` initialised from ``seed`` (the global RNG is left as it was)."""
    from optlab import models

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return models.create(name, dataset.input_shape, dataset.num_classes)


@dataclass(frozen=True)
class NoiseScale:
    """B_simple = tr Σ / |G|², both parts, their standard errors over the pairs, and the settings used."""

    b_simple: float
    grad_norm_sq: float  # |G|², the squared norm of the true gradient
    trace_sigma: float  # tr Σ, the per-example gradient variance summed over coordinates
    b_simple_stderr: float
    grad_norm_sq_stderr: float
    trace_sigma_stderr: float
    small_batch: int
    big_batch: int
    n_pairs: int
    loss: float  # mean loss over the big batches
    seed: int | None = None  # the seed of the batch sampling
    small_norms_sq: list[float] = field(default_factory=list)  # |G_small|² of each pair
    big_norms_sq: list[float] = field(default_factory=list)  # |G_big|² of each pair

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _squared_norm(tensors: list[torch.Tensor]) -> float:
    return float(sum((t.double() ** 2).sum() for t in tensors))


def noise_scale(
    model: nn.Module,
    loss_fn: LossFn,
    dataset: Any,
    small_batch: int,
    big_batch: int,
    n_pairs: int = 20,
    seed: int = 0,
    *,
    chunk_size: int | None = 1024,
    progress: Progress | None = None,
) -> NoiseScale:
    """Estimate B_simple = tr(Σ)/|G|² at the model's current parameters with the two-batch estimator above.

    Args:
        model, loss_fn: ``loss_fn(model(x), y)`` is the mean loss over a batch.
        dataset: an ``(X, Y)`` pair, an optlab ``Split``, or an optlab ``Dataset`` (its training split is
        used).
        small_batch, big_batch: the two batch sizes, 1 ≤ small < big (a large ratio lowers the variance).
        n_pairs: independent (small, big) pairs averaged; the standard errors shrink as 1/√n_pairs.
        chunk_size: examples per forward/backward pass (memory only; the result does not depend on it).

    Returns a :class:`NoiseScale`. If the estimate of |G|² is not positive (signal lost in the noise, e.g. at
    a minimum) ``b_simple`` is ``inf``.

    Example:
        >>> ns = noise_scale(model, nn.CrossEntropyLoss(), dataset, 32, 1024, n_pairs=10)   # doctest: +SKIP
        >>> ns.b_simple
    """
    for name, value in (("small_batch", small_batch), ("big_batch", big_batch), ("n_pairs", n_pairs)):
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            raise ConfigError(f"invalid {name}: {value!r} (must be an integer >= 1)")
    if not small_batch < big_batch:
        raise ConfigError(f"small_batch ({small_batch}) must be smaller than big_batch ({big_batch})")
    x, y = as_tensors(dataset)
    generator = torch.Generator().manual_seed(seed)
    params = trainable(model)
    grad_sq_estimates, trace_estimates, losses = [], [], []
    small_norms, big_norms = [], []
    with eval_mode(model):
        for pair in range(n_pairs):
            index = torch.randint(0, len(x), (big_batch,), generator=generator)
            small, rest = index[:small_batch], index[small_batch:]
            loss_small, g_small = loss_and_grad(model, loss_fn, x[small], y[small], params, chunk_size)
            loss_rest, g_rest = loss_and_grad(model, loss_fn, x[rest], y[rest], params, chunk_size)
            w_small = small_batch / big_batch  # G_big is the mean over all B_big examples
            g_big = [w_small * a + (1 - w_small) * b for a, b in zip(g_small, g_rest, strict=True)]
            norm_small, norm_big = _squared_norm(g_small), _squared_norm(g_big)
            small_norms.append(norm_small)
            big_norms.append(norm_big)
            # McCandlish et al. 2018, App. A.1: unbiased estimates of |G|² and tr Σ from one pair.
            grad_sq_estimates.append(
                (big_batch * norm_big - small_batch * norm_small) / (big_batch - small_batch)
            )
            trace_estimates.append((norm_small - norm_big) / (1 / small_batch - 1 / big_batch))
            losses.append(w_small * loss_small + (1 - w_small) * loss_rest)
            if progress is not None:
                progress(pair + 1, n_pairs)
    combined = _combine(grad_sq_estimates, trace_estimates, small_batch, big_batch, float(np.mean(losses)))
    return replace(combined, seed=seed, small_norms_sq=small_norms, big_norms_sq=big_norms)


def _combine(
    grad_sq_pairs: list[float], trace_pairs: list[float], small: int, big: int, loss: float
) -> NoiseScale:
    """Means first, then the ratio; its standard error by the delta method with the pairs' covariance."""
    grad_sq, trace = np.asarray(grad_sq_pairs), np.asarray(trace_pairs)
    n = len(grad_sq)
    g, s = float(grad_sq.mean()), float(trace.mean())
    if n > 1:
        var_g, var_s = grad_sq.var(ddof=1) / n, trace.var(ddof=1) / n
        cov = float(np.cov(grad_sq, trace, ddof=1)[0, 1]) / n
    else:
        var_g = var_s = cov = math.nan
    if g > 0:
        b = s / g
        rel_var = var_s / s**2 + var_g / g**2 - 2 * cov / (s * g) if s != 0 else math.nan
        b_err = abs(b) * math.sqrt(max(rel_var, 0.0)) if math.isfinite(rel_var) else math.nan
    else:
        b, b_err = math.inf, math.nan
    return NoiseScale(
        b_simple=b,
        grad_norm_sq=g,
        trace_sigma=s,
        b_simple_stderr=b_err,
        grad_norm_sq_stderr=math.sqrt(var_g),
        trace_sigma_stderr=math.sqrt(var_s),
        small_batch=small,
        big_batch=big,
        n_pairs=n,
        loss=loss,
    )


class NoiseScaleTracker:
    """Trainer callback: measures B_simple every ``every`` updates and keeps an exponential moving average.

    As McCandlish et al. (App. A.1) recommend, the EMA is kept for |G|² and tr Σ *separately* and B_simple is
    their ratio. Each measurement uses ``n_pairs`` pairs drawn from ``data`` (default: the run's training
    split) with this tracker's own random generator, so the training run's RNG and parameters are untouched.
    ``history`` holds one dict per measurement: step, b_simple (EMA), b_simple_raw, grad_norm_sq, trace_sigma,
    loss.
    """

    def __init__(
        self,
        small_batch: int = 32,
        big_batch: int = 512,
        every: int = 100,
        n_pairs: int = 4,
        ema: float = 0.9,
        loss_fn: LossFn | None = None,
        data: Any = None,
        seed: int = 0,
    ):
        if not 0 <= ema < 1:
            raise ConfigError(f"invalid ema: {ema!r} (must be in [0, 1))")
        if not (isinstance(every, int) and every >= 1):
            raise ConfigError(f"invalid every: {every!r} (must be an integer >= 1)")
        self.small_batch, self.big_batch, self.every, self.n_pairs = small_batch, big_batch, every, n_pairs
        self.ema, self.loss_fn, self.data, self.seed = ema, loss_fn or nn.CrossEntropyLoss(), data, seed
        self._grad_sq: float | None = None
        self._trace: float | None = None
        self.history: list[dict[str, float]] = []

    def on_step(self, state: Any) -> None:
        if state.step % self.every != 0:
            return
        data = self.data if self.data is not None else state.dataset
        measured = noise_scale(
            state.model,
            self.loss_fn,
            data,
            self.small_batch,
            self.big_batch,
            self.n_pairs,
            self.seed + state.step,
        )
        if self._grad_sq is None or self._trace is None:
            self._grad_sq, self._trace = measured.grad_norm_sq, measured.trace_sigma
        else:
            self._grad_sq = self.ema * self._grad_sq + (1 - self.ema) * measured.grad_norm_sq
            self._trace = self.ema * self._trace + (1 - self.ema) * measured.trace_sigma
        smoothed = self._trace / self._grad_sq if self._grad_sq > 0 else math.inf
        self.history.append(
            {
                "step": int(state.step),
                "b_simple": smoothed,
                "b_simple_raw": measured.b_simple,
                "grad_norm_sq": measured.grad_norm_sq,
                "trace_sigma": measured.trace_sigma,
                "loss": measured.loss,
            }
        )

    @property
    def b_simple(self) -> float:
        """The latest EMA-smoothed B_simple (NaN before the first measurement)."""
        return self.history[-1]["b_simple"] if self.history else math.nan


# -- critical batch size from steps vs examples --------------------------------------------------------------
@dataclass(frozen=True)
class CriticalBatchFit:
    """S(B) = S_min + E_min/B fitted to measured (B, S); B_crit = E_min/S_min (McCandlish et al. eq.
    2.11–2.12)."""

    s_min: float
    e_min: float
    b_crit: float
    batch_sizes: list[float] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    relative_rms_error: float = 0.0

    def predicted_steps(self, batch_size: float | np.ndarray) -> Any:
        return self.s_min + self.e_min / np.asarray(batch_size, dtype=float)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_critical_batch(batch_sizes: list[float], steps: list[float]) -> CriticalBatchFit:
    """Fit (S/S_min − 1)(E/E_min − 1) = 1 with E = B·S to runs trained to the same target.

    The relation is S = S_min + E_min·(1/B): linear in (S_min, E_min). We solve it by non-negative least
    squares on *relative* residuals (each row divided by its S), so runs with few and many steps count alike.
    """
    from scipy.optimize import lsq_linear

    b = np.asarray(batch_sizes, dtype=float)
    s = np.asarray(steps, dtype=float)
    if b.shape != s.shape or b.ndim != 1:
        raise ConfigError("batch_sizes and steps must be two lists of the same length")
    if len(np.unique(b)) < 2:
        raise ConfigError("need runs at two or more different batch sizes to fit S_min and E_min")
    if np.any(b <= 0) or np.any(s <= 0) or not np.all(np.isfinite(s)):
        raise ConfigError(
            "batch sizes and steps must be positive and finite (drop runs that never reached the target)"
        )
    design = np.stack([np.ones_like(b), 1 / b], axis=1) / s[:, None]
    solution = lsq_linear(design, np.ones_like(s), bounds=(0, np.inf), method="bvls")
    s_min, e_min = (float(v) for v in solution.x)
    predicted = s_min + e_min / b
    rms = float(np.sqrt(np.mean((predicted / s - 1) ** 2)))
    b_crit = e_min / s_min if s_min > 0 else math.inf
    return CriticalBatchFit(s_min, e_min, b_crit, b.tolist(), s.tolist(), rms)


@dataclass(frozen=True)
class StepsToTarget:
    """:func:`steps_to_target`'s result: one row per run, ``{"run": folder, "batch_size": B (None: full
    batch), "steps": the step of the first epoch whose ``metric`` is <= ``target`` (None: never)}``."""

    metric: str
    target: float
    rows: list[dict[str, Any]]

    @property
    def reached(self) -> list[dict[str, Any]]:
        """The rows a fit can use: runs at a batch size that reached the target."""
        return [row for row in self.rows if row["steps"] is not None and row["batch_size"] is not None]

    @property
    def left_out(self) -> list[str]:
        """The folders of the runs that never reached the target, or trained full batch."""
        return [row["run"] for row in self.rows if row["steps"] is None or row["batch_size"] is None]

    @property
    def batch_sizes(self) -> list[int]:
        return [row["batch_size"] for row in self.reached]

    @property
    def steps(self) -> list[int]:
        return [row["steps"] for row in self.reached]


def steps_to_target(run_dirs: list[str | Path], metric: str, target: float) -> StepsToTarget:
    """Steps each run took to reach ``metric <= target`` (a loss: lower is better), read from its
    ``metrics.csv`` (per epoch, so the step of the first epoch at the target), with its batch size from its
    ``config.toml``: the (B, S) pairs :func:`fit_critical_batch` takes (``.batch_sizes``, ``.steps``).

    A run without ``metrics.csv`` or a ``metric`` that is not a column of it is a :class:`ConfigError`.
    """
    from optlab.train.config import TrainConfig
    from optlab.train.runs import read_csv

    rows = []
    for run_dir in map(Path, run_dirs):
        config = TrainConfig.load(run_dir / "config.toml")
        if not (run_dir / "metrics.csv").is_file():
            raise ConfigError(f"{run_dir} has no metrics.csv (did the run finish an epoch?)")
        metrics = read_csv(run_dir / "metrics.csv")
        if metrics and metric not in metrics[0]:
            raise ConfigError(
                f"invalid value for --metric: {metric!r}; metrics.csv has {', '.join(metrics[0])}"
            )
        reached = next((r for r in metrics if r.get(metric) is not None and r[metric] <= target), None)
        steps = reached["step"] if reached else None
        rows.append({"run": str(run_dir), "batch_size": config.batch_size, "steps": steps})
    return StepsToTarget(metric, target, rows)


def plot_critical_batch(fit: CriticalBatchFit, path: str | Path, title: str = "") -> None:
    """Steps against examples (log-log): the runs, the fitted hyperbola, the S_min and E_min asymptotes."""
    figure, axes = new_figure(figsize=(6, 4.5))
    b = np.asarray(fit.batch_sizes)
    s = np.asarray(fit.steps)
    axes.loglog(b * s, s, "o", color="C0", label="runs (to the target)")
    for bi, si in zip(b, s, strict=True):
        axes.annotate(f"B={bi:g}", (bi * si, si), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if fit.s_min > 0 and fit.e_min > 0:
        grid = np.geomspace(min(b.min(), fit.b_crit) / 8, max(b.max(), fit.b_crit) * 8, 200)
        fitted = fit.predicted_steps(grid)
        axes.loglog(grid * fitted, fitted, "-", color="C1", label="(S/S_min − 1)(E/E_min − 1) = 1")
        axes.axhline(fit.s_min, color="gray", ls="--", lw=0.8, label="asymptotes S_min, E_min")
        axes.axvline(fit.e_min, color="gray", ls="--", lw=0.8)
        axes.plot([2 * fit.e_min], [2 * fit.s_min], "s", color="C3", label=f"B_crit = {fit.b_crit:.3g}")
        axes.set_title(
            title or f"S_min = {fit.s_min:.4g} steps, E_min = {fit.e_min:.4g} examples", fontsize=10
        )
    axes.set_xlabel("examples processed E")
    axes.set_ylabel("optimisation steps S")
    axes.legend(fontsize=8)
    save_figure(figure, path)


def plot_noise_scale(noise: NoiseScale, path: str | Path, title: str = "") -> None:
    """|G_B|² against B (log-log): each pair's two points, their means, and E|G_B|² = |G|² + tr Σ/B.

    The curve falls as tr Σ/B (noise) until it levels off at |G|² (signal); the two are equal at
    B = B_simple, where the curve is 2|G|² (marked).
    """
    figure, axes = new_figure(figsize=(6, 4.5))
    sizes = np.array([noise.small_batch, noise.big_batch], dtype=float)
    if noise.small_norms_sq:
        for x, values, label in (
            (sizes[0], noise.small_norms_sq, f"each pair ({noise.n_pairs} pairs)"),
            (sizes[1], noise.big_norms_sq, None),
        ):
            axes.plot(np.full(len(values), x), values, "o", color="C0", alpha=0.25, ms=4, label=label)
        means = [np.mean(noise.small_norms_sq), np.mean(noise.big_norms_sq)]
        axes.plot(sizes, means, "s", color="C1", ms=7, label="mean over pairs")
    b = noise.b_simple
    top = max(sizes[1], b if math.isfinite(b) else 0) * 4
    grid = np.geomspace(sizes[0] / 2, top, 200)
    curve = noise.grad_norm_sq + noise.trace_sigma / grid
    shown = curve > 0  # an estimate |G|² ≤ 0 makes the curve cross zero: not drawable on a log axis
    line = f"|G|² + tr Σ/B  (|G|² = {noise.grad_norm_sq:.3g}, tr Σ = {noise.trace_sigma:.3g})"
    axes.plot(grid[shown], curve[shown], "-", color="C3", label=line)
    if noise.grad_norm_sq > 0:
        axes.axhline(noise.grad_norm_sq, color="gray", ls=":", lw=0.8, label="|G|² (signal)")
        if math.isfinite(b) and b > 0:
            axes.plot(
                [b], [2 * noise.grad_norm_sq], "D", color="C2", label=f"B_simple = {b:.3g}: noise = signal"
            )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("batch size B")
    axes.set_ylabel("squared norm of the batch gradient |G_B|²")
    axes.set_title(
        title or f"B_simple = {b:.3g} ± {noise.b_simple_stderr:.2g} (loss {noise.loss:.3g})", fontsize=10
    )
    axes.legend(fontsize=8)
    save_figure(figure, path)
