"""The critical batch size measured three ways: the noise scale over training, the steps–examples trade-off
(with Zhang et al.'s 20 % definition beside McCandlish et al.'s), and Merrill et al.'s branched runs.

(a) McCandlish, Kaplan, Amodei et al. 2018 (arXiv:1812.06162): B_simple = tr Σ/|G|² over training, read from
    a :class:`~optlab.measure.noise_scale.NoiseScaleTracker`'s history. They predict B_crit ≈ B_noise *at the
    loss being targeted*, so :func:`b_simple_at_loss` reads the tracker at the first reading whose loss is at
    or below the target.
(b) Runs at several batch sizes trained to one target: S(B) = S_min + E_min/B fitted by
    :func:`~optlab.measure.noise_scale.fit_critical_batch`, B_crit = E_min/S_min. Zhang, Jiang, Xu et al.
    2024 ("How Does Critical Batch Size Scale in Pre-training?", arXiv:2410.21676) call critical the batch
    at which the steps exceed perfect linear scaling by 20 %: S(B) = 1.2·S(B₀)·B₀/B, B₀ the smallest batch.
    :func:`zhang_from_points` finds it on the measured points (log-linear interpolation of the examples
    ratio E(B)/E(B₀) = B·S(B)/(B₀·S(B₀)), which is what S(B)/(S(B₀)B₀/B) equals, at 1.2);
    :func:`zhang_from_fit` solves S_min + E_min/B = 1.2·(S_min + E_min/B₀)·B₀/B on the fit, which gives
    B = 1.2·B₀ + 0.2·B_crit (0.2·B_crit as B₀ → 0, where linear scaling is the asymptote E_min/B).
(c) Merrill, Arora, Groeneveld & Hajishirzi 2025 ("Critical Batch Size Revisited", arXiv:2505.23971): from
    the states (model and optimizer) of one base run at batch B at several steps t, branch at k·B for
    k = 1, 2, 4, …, with the learning rate scaled by k for SGD (linear rule, Goyal et al. 2017) or √k for
    Adam (square-root rule, Malladi et al. 2022), train each branch for the same number of examples, and
    call CBS(t) the largest k·B whose loss after that window is ≤ (1 + ε)× the k = 1 branch's. We take the
    largest k for which every k′ ≤ k is within the tolerance (the first k that fails ends the search), so
    one lucky large batch past a failing one does not count.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from optlab.errors import ConfigError
from optlab.measure._common import new_figure, save_figure
from optlab.measure.noise_scale import CriticalBatchFit
from optlab.schedules import WSD

ZHANG_EXCESS = 0.2  # Zhang et al. 2024: steps 20 % above perfect linear scaling


# -- (a) the noise scale over training ----------------------------------------------------------------------
def b_simple_over_training(history: Sequence[dict[str, float]]) -> dict[str, list[float]]:
    """A :class:`NoiseScaleTracker`'s ``history`` as columns: step, b_simple (the EMA), b_simple_raw, loss."""
    keys = ("step", "b_simple", "b_simple_raw", "loss")
    return {key: [float(row[key]) for row in history] for key in keys}


def b_simple_at_loss(history: Sequence[dict[str, float]], target: float) -> float:
    """The EMA B_simple at the first reading whose (mean big-batch) loss is ≤ ``target``; the last
    reading's if none is. NaN for an empty history."""
    if not history:
        return math.nan
    row = next((r for r in history if r["loss"] <= target), history[-1])
    return float(row["b_simple"])


# -- (b) the steps–examples trade-off, Zhang et al.'s definition --------------------------------------------
def zhang_from_fit(fit: CriticalBatchFit, b0: float | None = None, excess: float = ZHANG_EXCESS) -> float:
    """The batch at which the fitted S(B) = S_min + E_min/B is (1 + excess)× the linear scaling from ``b0``
    (default: the fit's smallest batch): B = (1 + excess)·B₀ + excess·E_min/S_min. ``inf`` if S_min = 0."""
    b0 = min(fit.batch_sizes) if b0 is None else float(b0)
    if fit.s_min <= 0:
        return math.inf
    return (1 + excess) * b0 + excess * fit.e_min / fit.s_min


def zhang_from_points(
    batch_sizes: Sequence[float], steps: Sequence[float], excess: float = ZHANG_EXCESS
) -> float:
    """The batch at which the measured steps first exceed linear scaling from the smallest batch B₀ by
    ``excess``: where r(B) = B·S(B)/(B₀·S(B₀)) first reaches 1 + excess, interpolated linearly in log B
    between the two measured batches around it. ``inf`` if no measured batch reaches it."""
    order = np.argsort(np.asarray(batch_sizes, dtype=float))
    b = np.asarray(batch_sizes, dtype=float)[order]
    s = np.asarray(steps, dtype=float)[order]
    if len(b) < 2 or np.any(b <= 0) or np.any(s <= 0):
        raise ConfigError("need two or more runs with positive batch sizes and steps")
    ratio = b * s / (b[0] * s[0])
    level = 1 + excess
    for i in range(1, len(b)):
        if ratio[i] >= level:
            fraction = (level - ratio[i - 1]) / (ratio[i] - ratio[i - 1])
            return float(math.exp(math.log(b[i - 1]) + fraction * (math.log(b[i]) - math.log(b[i - 1]))))
    return math.inf


# -- (c) Merrill et al.'s branched measurement --------------------------------------------------------------
class KeepStates:
    """Trainer callback: keeps copies of the model's and the optimizer's state after the updates ``steps``
    (``states[step] = {"model": …, "optimizer": …}``), to branch from (:func:`branch_cbs`). Step 0 (the
    start) is not an update: pass the initial states yourself if you want it. ``stop``: end the run once the
    last of them is kept."""

    def __init__(self, steps: Sequence[int], stop: bool = False):
        self.steps, self.stop = set(int(s) for s in steps), stop
        self.states: dict[int, dict[str, Any]] = {}

    def on_step(self, state: Any) -> None:
        if state.step in self.steps:
            self.states[state.step] = {
                "model": copy.deepcopy(state.model.state_dict()),
                "optimizer": copy.deepcopy(state.optimizer.state_dict()),
            }
        if self.stop and state.step >= max(self.steps):
            state.stop = True


SQRT_RULE = ("adagrad", "rmsprop", "adam", "adamw", "radam", "lamb")  # adaptive: √ (Malladi et al. 2022)


def lr_rule(optimizer: str) -> str:
    """The learning-rate rule a branch at k·B uses: ``"sqrt"`` (×√k) for the adaptive optimizers
    (:data:`SQRT_RULE`; LAMB as You et al. 2019 scale it), ``"linear"`` (×k, Goyal et al. 2017) for SGD,
    momentum, Nesterov and LARS."""
    return "sqrt" if optimizer.lower() in SQRT_RULE else "linear"


def scaled_lr(lr: float, k: float, rule: str) -> float:
    """``lr`` for a batch k times larger: ×k (``"linear"``) or ×√k (``"sqrt"``)."""
    if rule == "linear":
        return lr * k
    if rule == "sqrt":
        return lr * math.sqrt(k)
    raise ConfigError(f"invalid lr rule {rule!r} (linear or sqrt)")


@dataclass(frozen=True)
class Branches:
    """The branches from one saved step: batch sizes k·B, their lrs, steps, losses after the window, and
    CBS = the largest k·B (every smaller k also) with loss ≤ (1 + eps)·the k = 1 loss."""

    step: int
    batch_sizes: list[int]
    lrs: list[float]
    steps: list[int]
    losses: list[float]
    eps: float
    cbs: int
    capped: bool  # CBS is the largest batch tried: the true CBS may be larger
    cooldown: float = 0.0  # the fraction of each branch's updates in its linear cool-down

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cbs_from_losses(batch_sizes: Sequence[int], losses: Sequence[float], eps: float) -> int:
    """The largest batch (in increasing order, the first one the base) whose loss and that of every smaller
    one is ≤ (1 + eps)·``losses[0]``; a non-finite loss fails."""
    limit = (1 + eps) * losses[0]
    cbs = batch_sizes[0]
    for b, loss in zip(batch_sizes[1:], losses[1:], strict=True):
        if not (math.isfinite(loss) and loss <= limit):
            break
        cbs = b
    return int(cbs)


def check_ks(ks: Sequence[int]) -> None:
    """The branches' batch multiples: integers that start at 1 and increase, else :class:`ConfigError`."""
    if not ks or ks[0] != 1 or any(b <= a for a, b in itertools.pairwise(ks)):
        raise ConfigError(f"invalid value for --ks: {','.join(map(str, ks))} (must start at 1 and increase)")


def branch_cbs(
    model: nn.Module,
    make_optimizer: Callable[[Any, float], torch.optim.Optimizer],
    states: dict[int, dict[str, Any]],
    split: Any,
    base_batch: int,
    lr: float | Callable[[int], float],
    *,
    ks: Sequence[int] = (1, 2, 4, 8),
    window: int | Callable[[int], int],
    rule: str,
    eps: float = 0.02,
    cooldown: float = 0.0,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    eval_data: tuple[torch.Tensor, torch.Tensor] | None = None,
    seed: int = 0,
) -> list[Branches]:
    """CBS(t) for each saved step t of ``states`` (from :class:`KeepStates`), Merrill et al. 2025.

    Each branch loads the state, makes its optimizer with ``make_optimizer(params, lr_k)`` and loads the
    saved optimizer state into it (momentum, Adam's moments), trains ``window // (k·B)`` updates (at least
    one; ``window`` in examples, or a function of t that gives them, e.g. a window growing with t) of batch
    k·B at lr_k = :func:`scaled_lr` (``lr``, k, ``rule``) on ``split`` (reshuffled from ``seed``; the same
    seed for every k; ``lr`` may be the base run's schedule, read at t), then measures ``loss_fn`` (default
    cross-entropy) on ``eval_data`` (default the whole ``split``) in eval mode. ``ks``
    must start at 1; batches larger than ``split`` are left out. ``model`` is a template (not changed).

    ``cooldown`` > 0: the last fraction ``cooldown`` of each branch's updates decay linearly to 0 (WSD). At
    a constant lr a branch is compared at its noise floor, which a larger batch undercuts by having less
    noise, not by making more progress; a cool-down removes that floor from every branch alike (A4,
    :mod:`optlab.experiments.batch_warmup`, needed it: with constant-lr branches CBS(t) was the largest batch
    tried from 8 000 examples on). Raises :class:`ConfigError` for a bad ``ks``, ``window`` or ``cooldown``.
    """
    from optlab.data import Batcher, Split
    from optlab.train.core import evaluate, fit

    check_ks(ks)
    windows = {step: int(window(step) if callable(window) else window) for step in states}
    for size in windows.values():
        if size < base_batch:
            raise ConfigError(f"window ({size} examples) must hold at least one base batch ({base_batch})")
    if not 0 <= cooldown <= 1:
        raise ConfigError(f"invalid cool-down fraction {cooldown:g} (must be in [0, 1])")
    eval_split = split if eval_data is None else Split(*eval_data)
    results = []
    for step in sorted(states):
        sizes, lrs, counts, losses = [], [], [], []
        for k in ks:
            batch = k * base_batch
            if batch > len(split.y):
                break
            net = copy.deepcopy(model)
            net.load_state_dict(states[step]["model"])
            lr_k = scaled_lr(lr(step) if callable(lr) else lr, k, rule)
            optimizer = make_optimizer(net.parameters(), lr_k)
            optimizer.load_state_dict(states[step]["optimizer"])
            updates = max(1, windows[step] // batch)
            batcher = Batcher(split, batch, shuffle=True, drop_last=True, seed=seed + step)
            decay = round(cooldown * updates)
            schedule = WSD(lr_k, updates, decay) if decay else (lambda _, v=lr_k: v)
            fit(net, optimizer, batcher, schedule, epochs=10**9, max_steps=updates, on_nonfinite="stop",
                loss_fn=loss_fn)  # fmt: skip
            if loss_fn is None:  # cross-entropy, batched as the engine evaluates (A4's numbers rest on it)
                loss = evaluate(net, eval_split)[0]
            else:
                net.eval()
                with torch.no_grad():
                    loss = float(loss_fn(net(eval_split.x), eval_split.y))
            sizes.append(batch)
            lrs.append(lr_k)
            counts.append(updates)
            losses.append(loss if math.isfinite(loss) else math.inf)
        cbs = cbs_from_losses(sizes, losses, eps)
        results.append(Branches(step, sizes, lrs, counts, losses, eps, cbs, cbs == sizes[-1], cooldown))
    return results


# -- the three side by side ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThreeWays:
    """The three estimates: B_simple at the target loss, B_crit and Zhang's from the fit and the points, and
    CBS(t) from the branches (``cbs``: one dict per saved step)."""

    b_simple: float
    b_crit: float
    zhang_fit: float
    zhang_points: float
    cbs: list[dict[str, Any]] = field(default_factory=list)
    b_simple_history: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def three_ways(
    fit: CriticalBatchFit,
    noise_history: Sequence[dict[str, float]],
    target: float,
    branches: Sequence[Branches] = (),
) -> ThreeWays:
    """Collect the three measurements (see the module docstring) for one model."""
    return ThreeWays(
        b_simple=b_simple_at_loss(noise_history, target),
        b_crit=fit.b_crit,
        zhang_fit=zhang_from_fit(fit),
        zhang_points=zhang_from_points(fit.batch_sizes, fit.steps),
        cbs=[b.to_dict() for b in branches],
        b_simple_history=b_simple_over_training(noise_history),
    )


BRANCH_FRACTIONS = (0.05, 0.15, 0.3, 0.6, 1.0)  # branch points: these fractions of the steps to the target


def three_ways_from_run(
    config: Any,
    fitted: CriticalBatchFit,
    target: float,
    target_steps: int,
    *,
    ks: Sequence[int] = (1, 2, 4, 8, 16, 32),
    window: int | None = None,
    eps: float = 0.02,
    cooldown: float = 0.0,
    dataset: Any = None,
) -> ThreeWays:
    """The three estimates for a user's model: ``config`` is the base run (a :class:`TrainConfig`, usually the
    smallest batch of the trade-off runs ``fitted``), which reached the ``target`` training loss after
    ``target_steps`` updates.

    The base run is trained again from its seed (bit-identical to the original up to the last branch point,
    :func:`optlab.train.fit_config`) with a :class:`NoiseScaleTracker` (the default batch sizes of ``optlab
    measure noise``, 4 pairs, 20 readings) and :class:`KeepStates` at :data:`BRANCH_FRACTIONS` of
    ``target_steps``; then :func:`branch_cbs` with the lr rule of its optimizer (:func:`lr_rule`) from the
    lr its schedule gives at each t, each branch's last ``cooldown`` of its updates cooling down linearly to
    0. ``window`` (examples) defaults to 4 updates of the largest branch. The
    branches train without augmentation, in float32, with the run's training loss.
    """
    from optlab import optim
    from optlab.measure.noise_scale import (
        DEFAULT_BIG_BATCH,
        DEFAULT_SMALL_BATCH,
        NoiseScaleTracker,
        noise_batches,
    )
    from optlab.train import resolve_device
    from optlab.train.loop import build, fit_config

    check_ks(ks)
    if config.batch_size is None:
        raise ConfigError("the base run trained full batch: branching needs a mini-batch run")
    points = sorted({max(1, round(f * target_steps)) for f in BRANCH_FRACTIONS})
    parts = build(config, dataset, resolve_device(config.device))
    split = parts.dataset.train
    small, big = noise_batches(DEFAULT_SMALL_BATCH, DEFAULT_BIG_BATCH, len(split))
    tracker = NoiseScaleTracker(small, big, every=max(1, points[-1] // 20), n_pairs=4, seed=config.seed)
    keep = KeepStates(points, stop=True)
    fit_config(config, dataset=parts.dataset, callbacks=[tracker, keep])
    window = window or 4 * max(ks) * config.batch_size
    branches = branch_cbs(
        parts.model,
        lambda params, lr: optim.create(config.optimizer, params, lr=lr, **config.hparams),
        keep.states,
        split,
        config.batch_size,
        parts.schedule,
        ks=ks,
        window=window,
        rule=lr_rule(config.optimizer),
        eps=eps,
        cooldown=cooldown,
        loss_fn=parts.loss_fn,
        seed=config.seed,
    )
    return three_ways(fitted, tracker.history, target, branches)


def plot_three_ways(result: ThreeWays, path: str | Path, title: str = "") -> None:
    """Left: B_simple over training (EMA and raw) with B_crit, Zhang's batch and the final CBS as lines;
    right: CBS(t) over the base run's steps."""
    figure, (left, right) = new_figure(1, 2, figsize=(11, 4.5), layout="constrained")
    h = result.b_simple_history
    if h.get("step"):
        left.plot(h["step"], h["b_simple_raw"], "o", color="C0", alpha=0.3, ms=3, label="B_simple (raw)")
        left.plot(h["step"], h["b_simple"], "-", color="C0", label="B_simple (EMA)")
    marks = (("B_crit = E_min/S_min", result.b_crit, "C1"), ("Zhang (fit)", result.zhang_fit, "C2"))
    for label, value, color in marks:
        if math.isfinite(value) and value > 0:
            left.axhline(value, color=color, ls="--", lw=1, label=f"{label} = {value:.3g}")
    if math.isfinite(result.b_simple) and result.b_simple > 0:
        left.axhline(result.b_simple, color="C0", ls=":", lw=1,
                     label=f"B_simple at the target = {result.b_simple:.3g}")  # fmt: skip
    left.set_yscale("log")
    left.set_xlabel("update (base run)")
    left.set_ylabel("batch size")
    left.legend(fontsize=7)
    if result.cbs:
        steps = [c["step"] for c in result.cbs]
        right.plot(steps, [c["cbs"] for c in result.cbs], "s-", color="C3", label="CBS(t), branched")
        for c in result.cbs:
            if c["capped"]:
                right.annotate("≥", (c["step"], c["cbs"]), textcoords="offset points", xytext=(4, 4))
        right.set_yscale("log", base=2)
        right.legend(fontsize=7)
    right.set_xlabel("branch point t (update of the base run)")
    right.set_ylabel("critical batch size")
    figure.suptitle(title or "The critical batch size, three ways", fontsize=10)
    save_figure(figure, path)
