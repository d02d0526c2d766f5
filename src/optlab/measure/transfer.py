"""Moving hyperparameters to a new batch size, each rule with its source, and a short learning-rate sweep that
checks the result on the user's model.

:func:`transfer` takes the settings tuned at a reference batch B₀ to a batch B and says which rule moved each:

* the learning rate — for SGD-type optimizers the linear rule (Goyal et al. 2017), or with a measured noise
  scale McCandlish et al.'s ε_max/(1 + B_noise/B) (linear below B_noise, flat above); for Adam-type ones
  the square-root rule (Malladi et al. 2022), or with B_noise the "surge" of Li et al. 2024 (√ below
  B_noise, peak at B_noise, falling above) — :mod:`optlab.schedules.scaling`;
* Adam's β₂ by its half-life in examples, β₂^(B/B₀) (Marek et al. 2025;
  :func:`optlab.schedules.half_life_beta2`);
* AdamW's weight decay by its timescale τ = B/(ηλD) (Bergsma et al. 2025): λ·(B/B₀)·(η₀/η).

:func:`lr_sweep` then trains the model a few hundred updates at each learning rate of a √2 grid around the
transferred one and reports whether the transferred lr is within one grid step of the swept best (and if
not, says so): the rules are models of the loss landscape, the sweep is a measurement.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from optlab.errors import ConfigError

__all__ = ["GRID", "LrSweep", "Transfer", "lr_sweep", "short_run_loss", "transfer"]

GRID = math.sqrt(2)  # the sweep's grid step: lrs η·√2^k
ADAM_TYPE = ("adam", "adamw", "radam", "lamb", "rmsprop", "adagrad")
SOURCES = {
    "linear": "Goyal et al. 2017, Accurate, large minibatch SGD (§2.1)",
    "sqrt": "Malladi et al. 2022, On the SDEs and scaling rules for adaptive gradient algorithms",
    "noise": "McCandlish et al. 2018, An empirical model of large-batch training (eq. 2.6)",
    "surge": "Li et al. 2024, Surge phenomenon in optimal learning rate and batch size scaling",
    "half-life": "Marek et al. 2025, Small batch size training for language models",
    "timescale": "Bergsma et al. 2025, Power lines: scaling laws for weight decay and batch size",
}


@dataclass(frozen=True)
class Transfer:
    """One hyperparameter moved from B₀ to B: its value ``before`` (at B₀) and ``after`` (at B), the rule's
    name and formula, and the paper it comes from."""

    name: str
    before: float
    after: float
    rule: str
    formula: str
    source: str

    def sentence(self) -> str:
        rule = f"by the {self.rule} rule, {self.formula}"
        return f"{self.name}: {self.before:.4g} → {self.after:.4g} {rule} ({self.source})."

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def transfer(
    optimizer: str,
    lr: float,
    base_batch: int,
    batch_size: int,
    *,
    b_noise: float | None = None,
    beta2: float | None = None,
    weight_decay: float | None = None,
) -> list[Transfer]:
    """The learning rate (always), β₂ (if given: Adam-type) and weight decay (if given and > 0: AdamW)
    tuned at ``base_batch``, moved to ``batch_size`` (see the module docstring). With ``b_noise`` (the
    measured noise scale, examples) the lr follows the noise-aware rule of its optimizer family. Raises
    :class:`ConfigError` for a bad value."""
    from optlab.schedules import half_life_beta2
    from optlab.schedules.scaling import (
        linear_scaling,
        noise_scaling,
        sqrt_scaling,
        surge_scaling,
        timescale_weight_decay,
    )

    adam_type = optimizer.lower() in ADAM_TYPE
    k = f"B/B₀ = {batch_size}/{base_batch}"
    if b_noise is None:
        rule = "sqrt" if adam_type else "linear"
        scale = sqrt_scaling if adam_type else linear_scaling
        new_lr = scale(lr, batch_size, base_batch)
        formula = f"η·√(B/B₀), {k}" if adam_type else f"η·B/B₀, {k}"
    else:
        rule = "surge" if adam_type else "noise"
        new_lr = (surge_scaling if adam_type else noise_scaling)(lr, batch_size, base_batch, b_noise)
        formula = (
            f"η ∝ 1/(√(B_noise/B) + √(B/B_noise)), B_noise = {b_noise:.3g}, {k}"
            if adam_type
            else f"η ∝ 1/(1 + B_noise/B), B_noise = {b_noise:.3g}, {k}"
        )
    rules = [Transfer("learning rate", lr, new_lr, rule, formula, SOURCES[rule])]
    if beta2 is not None:
        rules.append(
            Transfer(
                "β₂",
                beta2,
                half_life_beta2(beta2, batch_size, base_batch),
                "half-life",
                f"β₂^(B/B₀), {k}: the same half-life in examples",
                SOURCES["half-life"],
            )
        )
    if weight_decay:
        rules.append(
            Transfer(
                "weight decay",
                weight_decay,
                timescale_weight_decay(weight_decay, lr, base_batch, new_lr, batch_size),
                "timescale",
                f"λ·(B/B₀)·(η₀/η), {k}: the same τ = B/(ηλD)",
                SOURCES["timescale"],
            )
        )
    return rules


@dataclass(frozen=True)
class LrSweep:
    """A learning-rate sweep: the ``lrs`` tried (ascending, a √2 grid through ``checked``), the loss after
    each short run (inf: diverged), the ``best`` lr and whether it is ``bracketed`` (a worse lr tried on
    each side), and ``steps_off``: how many grid steps ``checked`` lies from the best."""

    checked: float
    lrs: list[float]
    losses: list[float]
    best: float
    bracketed: bool
    steps_off: float

    @property
    def agrees(self) -> bool:
        """The checked lr is within one √2 grid step of the swept best."""
        return self.steps_off <= 1 + 1e-9

    def sentence(self) -> str:
        grid = ", ".join(f"{lr:.3g}: {loss:.4g}" for lr, loss in zip(self.lrs, self.losses, strict=True))
        where = "" if self.bracketed else " (at the edge of the sweep: the best may lie beyond it)"
        verdict = (
            f"within one √2 step of the swept best {self.best:.3g}{where}: checked."
            if self.agrees
            else f"{self.steps_off:.0f} √2 steps from the swept best {self.best:.3g}{where}: use that."
        )
        return f"lr sweep (loss after a short run at each lr: {grid}): lr = {self.checked:.3g} is {verdict}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "agrees": self.agrees}


def lr_sweep(
    loss_at: Callable[[float], float], lr: float, *, radius: int = 2, max_points: int = 11
) -> LrSweep:
    """Evaluate ``loss_at`` on lr·√2^k for k = −radius … radius, then extend the grid on the side where the
    lowest loss sits at the edge, one point at a time, until a worse point brackets it or ``max_points``
    were tried. A non-finite loss counts as +inf. Raises :class:`ConfigError` for lr ≤ 0."""
    if not (isinstance(lr, int | float) and 0 < lr < math.inf):
        raise ConfigError(f"lr_sweep: lr must be a finite number > 0, got {lr!r}")
    if radius < 1 or max_points < 2 * radius + 1:
        raise ConfigError(
            f"lr_sweep: need radius >= 1 and max_points >= 2·radius + 1, got {radius}, {max_points}"
        )
    results: dict[int, float] = {}

    def run(k: int) -> None:
        loss = float(loss_at(lr * GRID**k))
        results[k] = loss if math.isfinite(loss) else math.inf

    for k in range(-radius, radius + 1):
        run(k)
    while len(results) < max_points:
        best = min(results, key=lambda k: (results[k], abs(k)))
        if math.isinf(results[best]):
            break  # every lr diverged: nothing to follow
        if best == min(results):
            run(best - 1)
        elif best == max(results):
            run(best + 1)
        else:
            break
    ks = sorted(results)
    best = min(ks, key=lambda k: (results[k], abs(k)))
    return LrSweep(
        checked=float(lr),
        lrs=[lr * GRID**k for k in ks],
        losses=[results[k] for k in ks],
        best=lr * GRID**best,
        bracketed=min(ks) < best < max(ks),
        steps_off=float(abs(best)),
    )


def short_run_loss(
    model_fn: Callable[[], Any],
    optimizer: str,
    split: Any,
    batch_size: int,
    steps: int,
    *,
    seed: int = 0,
    eval_examples: int = 4096,
    hparams: dict[str, Any] | None = None,
) -> Callable[[float], float]:
    """``lr -> loss``: train ``model_fn()`` (built after ``torch.manual_seed(seed)``, so every lr starts
    from the same weights) for ``steps`` updates of batch ``batch_size`` on ``split`` (reshuffled from
    ``seed``) at a constant lr, and return the cross-entropy on its first ``eval_examples`` examples (inf if
    it diverged). Trains through :func:`optlab.train.fit`."""
    import torch
    import torch.nn.functional as F

    from optlab import data, optim
    from optlab.train.core import fit

    x_eval, y_eval = split.x[:eval_examples], split.y[:eval_examples]

    def loss_at(lr: float) -> float:
        torch.manual_seed(seed)
        model = model_fn().to(split.x.device)
        opt = optim.create(optimizer, model.parameters(), lr=lr, **(hparams or {}))
        batcher = data.Batcher(split, batch_size, shuffle=True, drop_last=True, seed=seed)
        result = fit(model, opt, batcher, lambda _: lr, epochs=10**9, max_steps=steps, on_nonfinite="stop")
        if result.diverged:
            return math.inf
        model.eval()
        with torch.no_grad():
            return float(F.cross_entropy(model(x_eval), y_eval))

    return loss_at
