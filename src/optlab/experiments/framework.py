"""The experiment contract: claims, measurements, computed verdicts.

An experiment is a module with

* ``ID``, ``TITLE``, ``SECTION`` (one of :data:`SECTIONS`), ``SEEDED`` (whether seeds change the outcome),
  ``INTRO`` (a paragraph for the report: which setting and why);
* ``PROFILES``: the profile table, ``{profile: ProfileRow(setting, seconds)}`` for every profile in
  :data:`PROFILES` — what ``run()`` does in that profile and roughly how long one ``run()`` takes (the
  runner starts the dearest jobs first and prints the expected time from these);
* ``CLAIMS``: a tuple of :class:`Claim`;
* ``run(profile, out_dir, seed) -> dict``: runs the experiment, writes its data (CSV) and figures (PNG)
  into ``out_dir`` and returns the measurements (JSON-serialisable; the runner writes them, once, to
  ``measurements.json``). ``measurements["figures"]`` lists the figures as ``{"file", "caption", "claims"}``;
* ``verdict(runs) -> list[ClaimResult]``: decides each claim from the numbers alone. ``runs`` holds one
  measurements dict per seed, as read back from disk.

An experiment whose training is a grid of independent runs (B3: batch size × learning rate × seed) may also
define ``run_grid(profile, plan: SweepPlan)``, which trains the whole grid as an Optuna sweep
(:mod:`optlab.sweep`) served by ``plan.workers`` processes — and by any worker on another machine that joins
the study through ``plan.storage_url`` — and accept ``run(profile, out_dir, seed, sweep=plan)``, which then
reads its seed's runs from the study instead of training them.

An experiment that measures wall-clock time as its result (R1, the speed run) sets ``TIMED = True``: the
runner runs its jobs alone, after all others, in its own process, since a timing taken while other jobs
train is not a measurement.

Verdicts are computed: a criterion is a sentence the report prints plus the code that checks it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from optlab.errors import DataError

__all__ = [
    "DATA_CLAIM_RULE",
    "INCONCLUSIVE",
    "NOT_REPRODUCED",
    "OUTCOMES",
    "PROFILES",
    "REPRODUCED",
    "SECTIONS",
    "Claim",
    "ClaimResult",
    "Profile",
    "ProfileRow",
    "SweepPlan",
    "cpu_threads",
    "fresh_model",
    "initial_weights",
    "mean_std",
    "outcome",
    "pm",
    "run_settings",
    "separated",
    "settings_over_seeds",
    "skip_absent",
    "spearman",
]

Profile = Literal["smoke", "quick", "full"]
PROFILES: tuple[str, ...] = ("smoke", "quick", "full")

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
OUTCOMES: tuple[str, ...] = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ProfileRow(Generic[S]):
    """One row of an experiment's ``PROFILES`` table: its ``setting`` in that profile (updates, epochs, a
    dataclass: whatever its ``run()`` reads) and ``seconds``, the rough wall time of one ``run()`` (one seed)
    on the 2-core CPU this was written on."""

    setting: S
    seconds: float


# The lecture's order; the report groups claims by these, in this order.
SECTIONS: tuple[str, ...] = (
    "Batch size",
    "Momentum",
    "Adaptive learning rate",
    "Learning-rate schedules",
    "Large batch",
    "After the lecture",  # what batch-size science learned since 2018 (issue 16)
    "Speed run",  # time to accuracy, the lecture's trade-off measured as airbench does (issue 17)
)


@dataclass(frozen=True)
class Claim:
    """One sentence of the lecture that an experiment tests.

    ``formulas`` are the update rules of the methods involved (printed next to the result), ``differs`` says
    in plain words where our setting differs from the lecture's, ``mechanism`` why the paper's mechanism
    operates in our setting (every data claim says it: see :data:`DATA_CLAIM_RULE`).
    """

    id: str
    section: str
    sentence: str
    formulas: tuple[str, ...] = ()
    differs: str = ""
    title: str = ""  # a short heading; the experiment's title when empty
    mechanism: str = ""

    def __post_init__(self) -> None:
        if self.section not in SECTIONS:
            raise ValueError(
                f"claim {self.id}: unknown section {self.section!r}; valid: {', '.join(SECTIONS)}"
            )


@dataclass(frozen=True)
class ClaimResult:
    """The computed decision on one claim: the criterion as printed, the numbers it used, n, the outcome."""

    claim_id: str
    criterion: str
    numbers: dict[str, Any]
    n: int
    outcome: str
    note: str = ""
    checks: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "checks", {name: bool(ok) for name, ok in self.checks.items()})
        if self.outcome not in OUTCOMES:
            raise ValueError(
                f"claim {self.claim_id}: outcome must be one of {OUTCOMES}, got {self.outcome!r}"
            )

    @classmethod
    def decide(
        cls,
        claim_id: str,
        criterion: str,
        numbers: dict[str, Any],
        n: int,
        checks: dict[str, bool],
        *,
        enough: bool = True,
        note: str = "",
        not_shown: str = "",
    ) -> ClaimResult:
        """The result with the outcome :func:`outcome` computes from ``checks``; ``not_shown`` (what was
        tried, and why the claim does not show) joins the note when the claim is not reproduced."""
        result = outcome(checks, enough=enough)
        if result == NOT_REPRODUCED:
            note = "; ".join(part for part in (note, not_shown) if part)
        return cls(claim_id, criterion, numbers, n, result, note, checks)


@dataclass(frozen=True)
class SweepPlan:
    """Train grid experiments through an Optuna sweep: where the studies live, how many local worker
    processes serve them, and how many seeds the grid holds (the seeds are one of its axes)."""

    storage_url: str
    workers: int
    seeds: int
    first_seed: int = 0

    @property
    def seed_list(self) -> tuple[int, ...]:
        """The seeds of the grid: ``first_seed … first_seed + seeds − 1``."""
        return tuple(range(self.first_seed, self.first_seed + self.seeds))


# The rule every data claim (a claim that trains networks on data) is decided by; the report prints it once.
DATA_CLAIM_RULE = (
    "Every claim that trains networks on data is decided by one rule. (1) The setting is one in which the "
    "paper's mechanism operates — each claim says why under “Why this setting”; a setting where it cannot "
    "operate would decide nothing. (2) The effect is large against the spread over seeds: the criterion "
    "compares means over seeds with their standard deviations (the ±1 std intervals must not overlap) or "
    "with a stated tolerance. (3) The verdict is stable: the same verdict must come out for seeds 0–2, "
    "3–5 and 10–12 (optlab lecture --first-seed S). No criterion is loosened to make a claim pass: where a"
    " claim does not show, the report says what was tried and why."
)


def separated(high: dict[str, Any], low: dict[str, Any]) -> bool:
    """``high``'s mean − std lies above ``low``'s mean + std (both from :func:`mean_std`): the difference of
    the means exceeds the spread over seeds, the ±1 std intervals do not overlap."""
    return high["mean"] - high["std"] > low["mean"] + low["std"]


def outcome(checks: dict[str, bool], *, enough: bool = True) -> str:
    """reproduced if every check holds, not reproduced if one fails, inconclusive if the run was too small."""
    if not enough:
        return INCONCLUSIVE
    return REPRODUCED if all(checks.values()) else NOT_REPRODUCED


def mean_std(values: Sequence[float]) -> dict[str, Any]:
    """{"mean", "std", "n", "values"} with the sample standard deviation (n − 1); std is 0 for n = 1."""
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("mean_std: no values")
    mean = sum(vals) / len(vals)
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return {"mean": mean, "std": std, "n": len(vals), "values": vals}


def batcher(split: Any, batch_size: int, seed: int) -> Any:
    """The experiments' data order: an :class:`optlab.data.Batcher` reshuffled every epoch from ``seed``. The
    last, short batch is dropped when a batch is at least 10 % of the set, so that every large-batch update
    has the same size (a 40 %-sized last batch would be a different experiment)."""
    from optlab.data import Batcher

    n = len(split.y)
    return Batcher(split, batch_size, shuffle=True, drop_last=batch_size * 10 >= n, seed=seed)


@contextlib.contextmanager
def cpu_threads(device: Any, threads: int = 1) -> Iterator[None]:
    """Use ``threads`` intra-op threads on a CPU ``device`` for the duration (restored afterwards); no-op on
    other devices. One thread: small-batch timings and tiny networks do not pay for thread wake-ups, and
    parallel lecture workers do not oversubscribe the cores."""
    import torch

    if torch.device(device).type != "cpu":
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties); 0 when either side is constant."""
    import numpy as np
    from scipy.stats import rankdata

    ra, rb = rankdata(a), rankdata(b)
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def pm(stats: dict[str, Any], scale: float = 1.0, digits: int = 2) -> str:
    """``mean ± std`` of a :func:`mean_std` result, both × ``scale``, with ``digits`` decimals."""
    return f"{stats['mean'] * scale:.{digits}f} ± {stats['std'] * scale:.{digits}f}"


def fresh_model(name: str, dataset: Any, init: dict[str, Any] | None = None) -> Any:
    """``optlab.models.create(name)`` for ``dataset``'s inputs and classes, on the device of its training
    data, with the weights ``init`` when given."""
    from optlab import models

    model = models.create(name, dataset.input_shape, dataset.num_classes).to(dataset.train.x.device)
    if init is not None:
        model.load_state_dict(init)
    return model


def initial_weights(name: str, dataset: Any, seed: int) -> tuple[Any, dict[str, Any]]:
    """A :func:`fresh_model` drawn from ``seed`` and a copy of its weights: every run of one seed starts
    from them, so its runs differ only in what the experiment compares."""
    import torch

    torch.manual_seed(seed)
    template = fresh_model(name, dataset)
    return template, {k: v.clone() for k, v in template.state_dict().items()}


def skip_absent(
    items: Iterable[T], measure: Callable[[T], R], name: Callable[[T], str] = str, *, needed: str = ""
) -> tuple[dict[str, R], dict[str, str]]:
    """``{name(item): measure(item)}`` and, for the items whose data are absent (a :class:`DataError`, e.g.
    Fashion-MNIST not downloaded: the others run and the report says so), ``{name(item): the error's first
    line}``. ``needed`` (an experiment id): a DataError naming them all when no item could be measured."""
    done: dict[str, R] = {}
    absent: dict[str, str] = {}
    for item in items:
        try:
            done[name(item)] = measure(item)
        except DataError as error:
            absent[name(item)] = str(error).splitlines()[0]
    if needed and not done:
        reasons = "; ".join(f"{k}: {v}" for k, v in absent.items())
        raise DataError(f"{needed}: no dataset could be loaded: {reasons}")
    return done, absent


def run_settings(
    profile: str,
    seed: int,
    settings: Iterable[Any],
    train: Callable[[Any, Any], dict[str, Any]],
    plot: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """The measurements of an experiment that trains several settings, each with a ``key`` (B4, B6), on the
    device present: ``train(setting, device)`` gives a setting's entry, ``plot(entry)`` draws its figure
    and gives the figure's record; a setting whose data are absent is listed under ``skipped``."""
    from optlab.train import describe_device, resolve_device

    device = resolve_device()
    entries, absent = skip_absent(settings, lambda setting: train(setting, device), lambda s: s.key)
    return {
        "profile": profile,
        "seed": seed,
        "device": describe_device(device),
        "settings": list(entries.values()),
        "skipped": [{"setting": key, "reason": reason} for key, reason in absent.items()],
        "figures": [plot(entry) for entry in entries.values()],
    }


def settings_over_seeds(
    runs: Sequence[dict[str, Any]], min_seeds: int, compared: str
) -> tuple[dict[str, list[dict[str, Any]]], int, str]:
    """From :func:`run_settings`' measurements, one per seed: each setting's entries over the seeds (by
    key), n (the fewest seeds of any setting) and the verdict's note (fewer than ``min_seeds`` seeds to
    compare ``compared``; the settings skipped)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for run_ in runs:
        for entry in run_.get("settings", []):
            grouped.setdefault(entry["key"], []).append(entry)
    n = min((len(entries) for entries in grouped.values()), default=0)
    skipped = sorted({s["setting"] for run_ in runs for s in run_.get("skipped", [])})
    notes = []
    if n < min_seeds:
        notes.append(f"only {n} seed(s): at least {min_seeds} are needed to compare {compared}")
    if skipped:
        notes.append(f"skipped (data not available): {', '.join(skipped)}")
    return grouped, n, "; ".join(notes)
