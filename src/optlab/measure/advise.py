"""``optlab advise``: batch size, learning rate and warm-up from two measurements on *your* model and
hardware.

1. The time per update t(B) against batch size (:mod:`optlab.measure.timing`).
2. The gradient noise scale B_noise ≈ B_simple (:mod:`optlab.measure.noise_scale`), measured at
   initialisation and after a short training run (McCandlish et al. 2018 §3 observe that it grows as the loss
   falls; the advice reports the direction it measured, not the one expected). Both are measured exactly as
   ``optlab measure noise`` does (same estimator, batch sizes, pairs and seed), so that command reproduces
   them.

McCandlish et al.'s model (eq. 2.11, with B_crit ≈ B_noise) predicts the steps and examples needed to reach a
given loss at batch size B:  S(B) = S_min·(1 + B_noise/B)  and  E(B) = E_min·(1 + B/B_noise).  On this
hardware the wall-clock time to that loss is then  T(B) ∝ (1 + B_noise/B)·t(B).  Below B_noise, a bigger batch
cuts the steps almost ∝ 1/B; above it, the steps hardly fall while examples (epochs) grow; above the timing
knee each step also costs more. While t(B) is flat, T alone always favours the largest batch, however many
extra epochs that costs, so we weigh time against examples as McCandlish et al. do (B_crit balances S/S_min
against E/E_min) and minimise

    J(B) = (1 + B_noise/B)·(1 + B/B_noise)·t(B)      (time overhead × example overhead)

which is smallest at B = B_noise while t(B) is flat and is pulled below the timing knee where t(B) grows. We
recommend the measured batch size with the smallest J and the range of batch sizes within ``tolerance``
(default 25 %) of it (with flat timing: 0.38–2.6 × B_noise).

Learning rate for the recommended batch size, from a reference (lr_ref at B_ref): linear rule lr =
lr_ref·B/B_ref for SGD-type optimizers (Goyal et al. 2017), square-root rule lr = lr_ref·√(B/B_ref) for
adaptive ones (Adam family, RMSProp, Adagrad, LAMB; Krizhevsky 2014, Hoffer et al. 2017, You et al. 2020).
Warm-up: Goyal et al. warm up over 5 epochs when the lr is scaled by k = 32; our heuristic (stated as such)
warms up over min(5, log₂ k) epochs, one per doubling of the batch size over the reference, and not at all for
k ≤ 1.

Every sentence of the reasoning that states a direction or a comparison is computed from the measured values
(:func:`noise_trend`, :func:`timing_sentence`, :func:`recommend`), never assumed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from optlab.errors import ConfigError
from optlab.measure._common import TaskProgress, batch_size_axis, for_task, new_figure, save_figure
from optlab.measure.noise_scale import (
    DEFAULT_BIG_BATCH,
    DEFAULT_PAIRS,
    DEFAULT_SMALL_BATCH,
    NoiseScale,
    model_at_init,
    noise_batches,
    noise_scale,
)
from optlab.measure.timing import FLAT_FACTOR, NOISY_SPREAD, Timing, time_per_update, timing_spread
from optlab.schedules import CbsDriven

LINEAR_RULE = ("sgd", "momentum", "nesterov", "lars")
SQRT_RULE = ("adagrad", "rmsprop", "adam", "adamw", "radam", "lamb")
DEFAULT_TOLERANCE = 0.25
MAX_WARMUP_EPOCHS = 5.0  # Goyal et al. 2017, §2.2


def scaling_rule(optimizer: str) -> str:
    """The lr scaling rule: ``linear`` for SGD-type optimizers, ``sqrt`` for adaptive ones."""
    if optimizer in LINEAR_RULE:
        return "linear"
    if optimizer in SQRT_RULE:
        return "sqrt"
    raise ConfigError(f"unknown optimizer {optimizer!r}; choose one of: {', '.join(LINEAR_RULE + SQRT_RULE)}")


def scaled_lr(optimizer: str, reference_lr: float, reference_batch: int, batch_size: int) -> float:
    from optlab.schedules.scaling import linear_scaling, sqrt_scaling

    rule = linear_scaling if scaling_rule(optimizer) == "linear" else sqrt_scaling
    return rule(reference_lr, batch_size, reference_batch)


def _scaled_words(factor: float) -> str:
    """``factor`` as words: "scaled up 4×", "scaled down 2×" or "unchanged"."""
    if math.isclose(factor, 1.0, rel_tol=1e-9):
        return "unchanged"
    return f"scaled up {factor:.3g}×" if factor > 1 else f"scaled down {1 / factor:.3g}×"


def timing_sentence(timing: Timing) -> str:
    """What the timing curve shows, with the measured ratios (not an assumed "almost free")."""
    rows = sorted(timing.rows, key=lambda r: r.batch_size)
    first = rows[0]
    flat = next(r for r in rows if r.batch_size == timing.flat_up_to)
    size_ratio = flat.batch_size / first.batch_size
    time_ratio = flat.update_s / first.update_s
    text = f"On {timing.device}, the time per update "
    if flat.batch_size == first.batch_size:
        text += f"already exceeds {FLAT_FACTOR:g}× from the second batch size measured"
    else:
        text += (
            f"stays within {FLAT_FACTOR:g}× the smallest batch's up to B = {flat.batch_size}: a batch "
            f"{size_ratio:.3g}× larger took {time_ratio:.3g}× the time per update"
        )
    knee = timing.knee_batch_size
    if knee is not None:
        knee_row = next(r for r in rows if r.batch_size == knee)
        text += f"; at B = {knee} it is {knee_row.update_s / first.update_s:.3g}× (the knee)."
    else:
        text += " (no knee among the sizes measured)."
    return text


def noise_trend(at_init: NoiseScale, trained: NoiseScale, where: str) -> str:
    """The sentence comparing B_noise at initialisation with B_noise after training, from the values.

    The direction (rose, fell, no clear change: the difference within two combined standard errors) and the
    loss's direction are both computed, so reversed numbers give the reversed sentence.
    """
    a, b = at_init.b_simple, trained.b_simple
    loss_words = (
        f"loss {at_init.loss:.3g} → {trained.loss:.3g}"
        if math.isfinite(at_init.loss) and math.isfinite(trained.loss)
        else "loss not measured"
    )
    head = f"B_noise was measured at initialisation and after {where} ({loss_words}): "
    if not (math.isfinite(b) and b > 0):
        return head + (
            f"after training the estimate is not usable (B_simple = {b:.3g}: |G|² not positive, the gradient "
            f"lost in the noise), so the value at initialisation, {a:.3g}, is used."
        )
    if not (math.isfinite(a) and a > 0):
        return head + f"{b:.3g} after training (at initialisation the estimate was not usable: {a:.3g})."
    errors = [e for e in (at_init.b_simple_stderr, trained.b_simple_stderr) if math.isfinite(e)]
    combined = math.sqrt(sum(e * e for e in errors)) if len(errors) == 2 else math.nan
    values = f"{a:.3g} ± {at_init.b_simple_stderr:.2g} → {b:.3g} ± {trained.b_simple_stderr:.2g}"
    if math.isfinite(combined) and abs(b - a) <= 2 * combined:
        return head + f"{values}, no clear change (the difference is within two standard errors)."
    direction = "rose" if b > a else "fell"
    text = head + f"it {direction} {max(a, b) / min(a, b):.3g}× ({values})"
    if not math.isfinite(combined):
        text += " (standard errors unknown: too few pairs)"
    loss_fell = trained.loss < at_init.loss
    if b > a and loss_fell:
        text += (
            ", as McCandlish et al. observe while the loss falls; later in training still larger batches "
            "may pay off."
        )
    elif b < a and loss_fell:
        text += (
            ", although the loss fell (McCandlish et al. observe the opposite over whole runs; a short "
            "warm-up or an early phase can differ). The advice uses the trained value."
        )
    else:
        text += ". The advice uses the trained value."
    return text


def reproduce_commands(
    model: str,
    dataset: str,
    run_dir: str | Path,
    at_init: NoiseScale,
    trained: NoiseScale,
    data_dir: str | None = None,
) -> list[str]:
    """The two ``optlab measure noise`` commands that reproduce an advice's B_noise at init and trained."""

    def settings(noise: NoiseScale) -> str:
        text = f"--small-batch {noise.small_batch} --big-batch {noise.big_batch} --pairs {noise.n_pairs}"
        return text + f" --seed {noise.seed}"

    where = f" --data-dir {data_dir}" if data_dir else ""
    return [
        f"optlab measure noise --model {model} --dataset {dataset}{where} {settings(at_init)}",
        f"optlab measure noise {run_dir} {settings(trained)}",
    ]


def warmup_steps(batch_size: int, reference_batch: int, examples: int) -> int:
    """Linear warm-up in updates: min(5, log₂(B/B_ref)) epochs for B > B_ref, else none (a heuristic)."""
    k = batch_size / reference_batch
    if k <= 1:
        return 0
    epochs = min(MAX_WARMUP_EPOCHS, math.log2(k))
    return math.ceil(epochs * math.ceil(examples / batch_size))


@dataclass(frozen=True)
class Option:
    """One measured batch size, with the model's predictions relative to the best option."""

    batch_size: int
    update_s: float
    epoch_s: float
    steps_factor: float  # S(B)/S_min = 1 + B_noise/B
    examples_factor: float  # E(B)/E_min = 1 + B/B_noise
    relative_time: float  # T(B)/min T, the predicted wall-clock time to the target
    relative_cost: float  # J(B)/min J, time overhead × example overhead (the criterion)
    lr: float
    warmup_steps: int


@dataclass
class Advice:
    model: str
    dataset: str
    optimizer: str
    device: str
    b_noise: float
    rule: str
    reference_lr: float
    reference_batch: int
    recommended_batch: int
    batch_range: tuple[int, int]
    recommended_lr: float
    recommended_warmup_steps: int
    flat_up_to: int
    knee_batch_size: int | None
    options: list[Option]
    reasoning: list[str]
    transfers: list[dict[str, Any]] = field(default_factory=list)  # each rule used, with its source
    lr_sweep: dict[str, Any] | None = None  # the short sweep that checked recommended_lr
    critical_batch: dict[str, Any] | None = None  # the three estimates, when given (--three-ways FILE)
    noise: dict[str, Any] = field(default_factory=dict)
    noise_at_init: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recommend(
    timing: Timing,
    b_noise: float,
    optimizer: str,
    reference_lr: float,
    reference_batch: int,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    model: str = "",
    dataset: str = "",
) -> Advice:
    """The pure decision: timing curve and B_noise → batch size, range, lr and warm-up (see the module)."""
    if not (isinstance(b_noise, int | float) and b_noise > 0 and not math.isnan(b_noise)):
        raise ConfigError(f"the noise scale must be a positive number, got {b_noise!r}")
    rule = scaling_rule(optimizer)
    rows = sorted(timing.rows, key=lambda r: r.batch_size)
    raw_time = [(1 + b_noise / r.batch_size) * r.update_s for r in rows]  # ∝ S(B)·t(B)
    raw_cost = [t * (1 + r.batch_size / b_noise) for r, t in zip(rows, raw_time, strict=True)]  # × E(B)/E_min
    best_time, best_cost = min(raw_time), min(raw_cost)
    best_index = int(np.argmin(raw_cost))
    options = [
        Option(
            batch_size=r.batch_size,
            update_s=r.update_s,
            epoch_s=r.epoch_s,
            steps_factor=1 + b_noise / r.batch_size,
            examples_factor=1 + r.batch_size / b_noise,
            relative_time=t / best_time,
            relative_cost=c / best_cost,
            lr=scaled_lr(optimizer, reference_lr, reference_batch, r.batch_size),
            warmup_steps=warmup_steps(r.batch_size, reference_batch, timing.examples),
        )
        for r, t, c in zip(rows, raw_time, raw_cost, strict=True)
    ]
    low = high = best_index  # the contiguous range around the best within the tolerance
    while low > 0 and options[low - 1].relative_cost <= 1 + tolerance:
        low -= 1
    while high < len(options) - 1 and options[high + 1].relative_cost <= 1 + tolerance:
        high += 1
    best = options[best_index]
    lo_b, hi_b = options[low].batch_size, options[high].batch_size
    knee = timing.knee_batch_size
    reasoning = [
        f"Gradient noise scale B_noise ≈ {b_noise:.3g}. McCandlish et al.'s model (2018; a model, not "
        "measured here) predicts: below B_noise, doubling the batch nearly halves the steps needed; above "
        "it, the steps hardly fall and the examples (epochs) needed grow.",
        timing_sentence(timing),
        f"Weighing predicted time to a fixed loss, (1 + B_noise/B)·t(B), against the examples it needs, "
        f"(1 + B/B_noise), the best batch size is B = {best.batch_size} (time {best.relative_time:.2f}× the "
        f"fastest measured, {best.examples_factor:.2g}× the minimum examples); "
        + (
            f"every B from {lo_b} to {hi_b} is within {tolerance:.0%} of it."
            if lo_b != hi_b
            else f"no neighbouring batch size measured is within {tolerance:.0%} of it."
        ),
        (
            f"Learning rate: {'linear' if rule == 'linear' else 'square-root'} rule for {optimizer} from "
            f"lr = {reference_lr:g} at B = {reference_batch}: lr = {best.lr:.3g} at B = {best.batch_size} "
            f"({_scaled_words(best.lr / reference_lr)})."
        ),
        (
            f"Warm-up: {best.warmup_steps} updates (min(5, log₂ k) epochs for a batch k = "
            f"{best.batch_size / reference_batch:.3g}× the reference; a heuristic after Goyal et al. 2017)."
            if best.warmup_steps
            else (
                f"Warm-up: none (B = {best.batch_size} is not larger than the reference "
                f"B = {reference_batch})."
            )
        ),
    ]
    spread = timing_spread(timing)
    if spread > NOISY_SPREAD:
        reasoning.append(
            f"Caution: the timings are noisy (update times vary {spread:.2g}× between the quartiles, typical "
            "of a machine busy with other work); the timing side of this advice is uncertain. Re-run on an "
            "idle machine (on CPU, --threads 1 helps)."
        )
    return Advice(
        model=model,
        dataset=dataset,
        optimizer=optimizer,
        device=timing.device,
        b_noise=float(b_noise),
        rule=rule,
        reference_lr=float(reference_lr),
        reference_batch=int(reference_batch),
        recommended_batch=best.batch_size,
        batch_range=(lo_b, hi_b),
        recommended_lr=best.lr,
        recommended_warmup_steps=best.warmup_steps,
        flat_up_to=timing.flat_up_to,
        knee_batch_size=knee,
        options=options,
        reasoning=reasoning,
        timing=timing.to_dict(),
    )


def default_batch_sizes(examples: int, largest: int = 4096) -> list[int]:
    """Powers of two from 1 up to min(N, ``largest``)."""
    top = max(1, min(examples, largest))
    return [2**i for i in range(int(math.log2(top)) + 1)]


def advise(
    model: str,
    dataset: str,
    optimizer: str = "sgd",
    *,
    reference_lr: float | None = None,
    reference_batch: int = 128,
    batch_sizes: Sequence[int] | None = None,
    device: str = "cpu",
    threads: int | None = None,
    statistic: str = "median",
    repeats: int = 30,
    max_seconds: float = 3.0,
    run_dir: str | Path | None = None,
    warm_epochs: int = 1,
    small_batch: int = DEFAULT_SMALL_BATCH,
    big_batch: int = DEFAULT_BIG_BATCH,
    n_pairs: int = DEFAULT_PAIRS,
    tolerance: float = DEFAULT_TOLERANCE,
    data_dir: str | None = None,
    seed: int = 0,
    keep_warmup: str | Path | None = None,
    progress: TaskProgress | None = None,
    check_steps: int = 200,
    three_ways: str | Path | None = None,
) -> Advice:
    """Measure timing and noise scale for ``model`` on ``dataset`` and :func:`recommend`.

    The noise scale is measured at initialisation (the model initialised from ``seed``) and at the weights
    of ``run_dir`` (its ``final.pt``, on the run's own data split) if given, else after training
    ``warm_epochs`` epochs at the reference setting — in ``keep_warmup`` if given (a run folder that
    ``optlab measure noise`` can measure again), else in a temporary folder. Both use the estimator, batch
    sizes (:func:`noise_batches`), pairs and seed of ``optlab measure noise``, so it reproduces them.
    ``reference_lr`` defaults to the optimizer registry's default lr. ``progress(task, done, total)`` reports
    the phases. The lr is moved to the recommended batch by :func:`apply_transfer` and checked by a √2-grid
    :func:`optlab.measure.transfer.lr_sweep` of ``check_steps`` updates per lr (0: no sweep); ``three_ways``
    adds the estimates of a ``three_ways.json`` (:func:`use_three_ways`).
    """
    from optlab import data, models, optim
    from optlab.train import TrainConfig, fit_config, train

    scaling_rule(optimizer)  # fail early on an unknown name
    found = read_three_ways(three_ways) if three_ways is not None else None
    if reference_lr is None:
        reference_lr = float(optim.info(optimizer).defaults["lr"])
    models.info(model)
    run = None
    if run_dir is not None:
        from optlab.measure.runs import load_run

        run = load_run(run_dir)
        if (run.config.model, run.config.dataset) != (model, dataset):
            raise ConfigError(
                f"invalid value for --run: {run_dir} trains {run.config.model} on {run.config.dataset}, "
                f"not {model} on {dataset}"
            )
        ds = run.dataset  # the run's own split, as `optlab measure noise RUN` uses
    else:
        ds = data.load(dataset, data_dir=data_dir)
    small, big = noise_batches(small_batch, big_batch, len(ds.train))
    sizes = list(batch_sizes) if batch_sizes else default_batch_sizes(len(ds.train))
    timing = time_per_update(
        lambda: models.create(model, ds.input_shape, ds.num_classes),
        ds,
        sizes,
        optimizer,
        device,
        lr=reference_lr,
        threads=threads,
        statistic=statistic,
        repeats=repeats,
        max_seconds=max_seconds,
        progress=for_task(progress, "timing"),
    )

    loss_fn = nn.CrossEntropyLoss()
    # At init on the dataset as `optlab measure noise --model --dataset` loads it (a run's own split may hold
    # out a validation part, and then its batches differ).
    plain = data.load(dataset, data_dir=data_dir) if run is not None else ds
    init_small, init_big = noise_batches(small_batch, big_batch, len(plain.train))
    at_init = noise_scale(
        model_at_init(model, plain, seed), loss_fn, plain, init_small, init_big, n_pairs, seed,
        progress=for_task(progress, "noise scale (init)"),
    )  # fmt: skip
    if run is not None:
        trained = run.model
        where = f"training (the weights of {run_dir})"
    else:
        config = TrainConfig(
            dataset=dataset,
            model=model,
            optimizer=optimizer,
            lr=reference_lr,
            batch_size=reference_batch,
            epochs=warm_epochs,
            seed=seed,
            device=device,
            data_dir=data_dir,
            description="advise warm-up",
        )
        where = f"{warm_epochs} epoch(s) of training at the reference setting"
        if keep_warmup is not None:
            trained = train(config, Path(keep_warmup), dataset=ds, quiet=True, index=False).model
        else:
            trained = fit_config(config, dataset=ds).model
    trained = trained.to("cpu")
    measured = noise_scale(
        trained, loss_fn, ds, small, big, n_pairs, seed, progress=for_task(progress, "noise scale (trained)")
    )
    b_noise = (
        measured.b_simple if math.isfinite(measured.b_simple) and measured.b_simple > 0 else at_init.b_simple
    )
    advice = recommend(
        timing,
        b_noise,
        optimizer,
        reference_lr,
        reference_batch,
        tolerance=tolerance,
        model=model,
        dataset=dataset,
    )
    advice.noise = measured.to_dict()
    advice.noise_at_init = at_init.to_dict()
    advice.reasoning.insert(1, noise_trend(at_init, measured, where))
    if found is not None:
        use_three_ways(advice, found, three_ways)
    apply_transfer(advice, optim.info(optimizer).defaults)
    if check_steps:
        from optlab.measure.transfer import lr_sweep, short_run_loss

        loss_at = short_run_loss(
            lambda: models.create(model, ds.input_shape, ds.num_classes),
            optimizer, ds.train, min(advice.recommended_batch, len(ds.train)), check_steps, seed=seed,
        )  # fmt: skip
        if progress is not None:
            progress("lr sweep", 0, 1)
        sweep = lr_sweep(loss_at, advice.recommended_lr)
        if progress is not None:
            progress("lr sweep", 1, 1)
        advice.lr_sweep = sweep.to_dict()
        advice.reasoning.append(
            f"{sweep.sentence()} ({check_steps} updates at B = {advice.recommended_batch})"
        )
    return advice


def apply_transfer(advice: Advice, defaults: dict[str, Any]) -> None:
    """Move the reference lr (and Adam's β₂, AdamW's weight decay, from the optimizer's ``defaults``) to the
    recommended batch by the noise-aware rules of :func:`optlab.measure.transfer.transfer` with the measured
    B_noise; the recommended lr becomes the transferred one, and each rule is stated with its source."""
    from optlab.measure.transfer import transfer

    betas = defaults.get("betas")
    decay = defaults.get("weight_decay") if advice.optimizer == "adamw" else None
    rules = transfer(
        advice.optimizer, advice.reference_lr, advice.reference_batch, advice.recommended_batch,
        b_noise=advice.b_noise, beta2=betas[1] if betas else None, weight_decay=decay,
    )  # fmt: skip
    plain = scaled_lr(advice.optimizer, advice.reference_lr, advice.reference_batch, advice.recommended_batch)
    lr_rule = rules[0]
    advice.recommended_lr = lr_rule.after
    advice.transfers = [r.to_dict() for r in rules]
    index = next(i for i, line in enumerate(advice.reasoning) if line.startswith("Learning rate:"))
    name = "square-root" if advice.rule == "sqrt" else "linear"
    moved = lr_rule.sentence().removeprefix("learning rate: ")
    advice.reasoning[index] = (
        f"Learning rate: {moved} The plain {name} rule would give {plain:.3g} "
        f"({_scaled_words(lr_rule.after / plain)} by the noise scale)."
    )
    advice.reasoning[index + 1 : index + 1] = [r.sentence() for r in rules[1:]]


def read_three_ways(path: str | Path) -> dict[str, Any]:
    """``three_ways.json`` of ``optlab measure critical-batch --three-ways``, checked; raises
    :class:`ConfigError` (one line) for a file that is not one."""
    import json

    try:
        found = json.loads(Path(path).read_text())
        int(found["base"]["batch_size"])
        [(int(c["step"]), int(c["cbs"])) for c in found["cbs"]]
        float(found["b_crit"]), float(found["b_simple"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(
            f"invalid value for --three-ways: {path} is not a three_ways.json of `optlab measure "
            f"critical-batch --three-ways` ({error.__class__.__name__}: {error})"
        ) from None
    return found


def use_three_ways(advice: Advice, found: dict[str, Any], path: str | Path) -> None:
    """State the three estimates of ``found`` (:func:`read_three_ways` of ``path``) beside this advice's
    B_noise, and recommend a batch-size warm-up that follows the measured CBS(t) (Merrill et al. 2025) as an
    ``optlab train`` command line."""
    base = int(found["base"]["batch_size"])
    points = [(int(c["step"]) * base, int(c["cbs"])) for c in found["cbs"]]
    b_crit, b_simple = float(found["b_crit"]), float(found["b_simple"])
    advice.critical_batch = {"file": str(path), **found}
    cbs = ", ".join(f"{c} after {e} examples" for e, c in points)
    advice.reasoning.append(
        f"The critical batch measured three ways ({path}): B_simple {b_simple:.3g} at the target loss, "
        f"B_crit = E_min/S_min {b_crit:.3g} (McCandlish et al. 2018), Zhang et al.'s "
        f"{float(found.get('zhang_fit', math.nan)):.3g}; this advice's B_noise is {advice.b_noise:.3g} "
        f"({advice.b_noise / b_crit:.2g}× B_crit). CBS(t) (Merrill et al. 2025): {cbs}."
    )
    if points:
        arg = ",".join(f"{e}:{c}" for e, c in points)
        top = max(c for _, c in points)
        # the schedule replaces --batch-size and its lr rule counts from its own first size, so the lr given
        # is the reference lr moved to that size by the same rule
        first = CbsDriven(tuple(points), base, top)(0)
        if first == top:  # CBS(t) never rises past its first value: the schedule would hold one batch
            advice.reasoning.append(
                f"Batch-size warm-up (Merrill et al. 2025): not advised here. The measured CBS(t) does not "
                f"rise ({cbs}), so a schedule that follows it would hold batch {first} from the start: "
                "train at a fixed batch instead."
            )
            return
        lr = scaled_lr(advice.optimizer, advice.reference_lr, advice.reference_batch, first)
        advice.reasoning.append(
            "Batch-size warm-up that follows CBS(t) (Merrill et al. 2025: fewer updates at the same data), "
            f"from batch {first} at lr {lr:.4g} (the {advice.rule} rule from {advice.reference_lr:g} at "
            f"{advice.reference_batch}): optlab train --model {advice.model} --dataset {advice.dataset} "
            f"--optimizer {advice.optimizer} --lr {lr:.4g} --batch-schedule cbs_driven --batch-schedule-arg "
            f"points={arg} --batch-schedule-arg min_batch={base} --batch-schedule-arg max_batch={top} "
            f"--batch-lr-rule {advice.rule}"
            + (" --batch-beta2-rule half-life" if advice.rule == "sqrt" else "")
        )


def plot_advice(advice: Advice, path: str | Path) -> None:
    """Left: time per update and per epoch (log-log). Right: predicted time and examples to target."""
    figure, (left, right) = new_figure(1, 2, figsize=(11, 4.5))
    b = np.array([o.batch_size for o in advice.options])
    left.loglog(b, [o.update_s for o in advice.options], "o-", label="time per update")
    left.loglog(b, [o.epoch_s for o in advice.options], "s-", label="time per epoch")
    if advice.knee_batch_size is not None:
        left.axvline(
            advice.knee_batch_size, color="gray", ls="--", lw=0.8, label=f"knee B = {advice.knee_batch_size}"
        )
    batch_size_axis(left, b)
    left.set_ylabel("seconds")
    left.set_title(f"{advice.model} on {advice.dataset} ({advice.device})")
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    options = advice.options
    right.loglog(b, [o.relative_time for o in options], "o-", color="C2", label="time to target (relative)")
    right.loglog(b, [o.relative_cost for o in options], "s-", color="C4", label="time × examples (criterion)")
    right.loglog(b, [o.steps_factor for o in options], ":", color="C0", label="steps S/S_min = 1 + B_noise/B")
    right.loglog(
        b, [o.examples_factor for o in options], ":", color="C1", label="examples E/E_min = 1 + B/B_noise"
    )
    right.axvline(advice.b_noise, color="C3", lw=0.8, label=f"B_noise ≈ {advice.b_noise:.3g}")
    low, high = advice.batch_range
    band = f"recommended {low}–{high}" if low != high else f"recommended {low}"
    right.axvspan(low / 2**0.5, high * 2**0.5, color="C2", alpha=0.15, label=band)
    batch_size_axis(right, b)
    right.set_ylabel("relative to the best measured B")
    right.set_title(f"recommended B = {advice.recommended_batch}, lr = {advice.recommended_lr:.3g}")
    # Below the panels: inside, the legends would cover the curves they describe.
    right.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    save_figure(figure, path)
