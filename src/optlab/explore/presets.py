""" "Try it" links: the explorer preset to each error-surface claim's surface, start, optimizers and settings.

The settings are read from the experiment modules themselves (their constants), so a link shows what the
claim measured: the same surface, start, learning rates and forms, and the quick profile's number of updates.
"""

from __future__ import annotations

from dataclasses import dataclass

from optlab.explore.contract import Run, url_query

__all__ = ["TryIt", "try_it_links"]


@dataclass(frozen=True)
class TryIt:
    """A claim's link: the query for ``explore.html`` and a sentence saying what it opens."""

    claim: str
    query: str
    text: str


def try_it_links() -> dict[str, TryIt]:
    """Claim id → its preset (S1–S6)."""
    from optlab.experiments import adagrad_eruptions as s3
    from optlab.experiments import adam_parts as s5
    from optlab.experiments import lr_schedules as s6
    from optlab.experiments import momentum as s4
    from optlab.experiments import stuck as s1
    from optlab.experiments import tiny_lr as s2
    from optlab.experiments.surfaces import LECTURE_VALLEY

    decay = {"name": "inverse_time", "power": 0.5}
    links = [
        TryIt(
            "S1",
            url_query(
                "valley",
                [Run("sgd", {"lr": s1.LEARNING_RATE})],
                LECTURE_VALLEY["start"],
                s1.PROFILES["quick"].setting,
            ),
            f"gradient descent with η = {s1.LEARNING_RATE:g} on the valley: watch it bounce between the "
            "walls; then lower η with the slider.",
        ),
        TryIt(
            "S2",
            url_query(
                "valley",
                [Run("sgd", {"lr": s2.LEARNING_RATE}), Run("sgd", {"lr": s1.LEARNING_RATE})],
                LECTURE_VALLEY["start"],
                s2.REQUIRED_STEPS,
            ),
            f"η = {s2.LEARNING_RATE:g} beside S1's η = {s1.LEARNING_RATE:g}, {s2.REQUIRED_STEPS:,} updates: "
            "down to the floor, then a crawl.",
        ),
        TryIt(
            "S3",
            url_query(
                "quadratic",
                [
                    Run("adagrad", {"lr": s3.LEARNING_RATE, "average": True}),
                    Run("adagrad", {"lr": s3.LEARNING_RATE, "average": True}, decay),
                    Run("rmsprop", {"lr": 0.01, "alpha": 0.9, "init": "first_grad"}),
                    Run("adam", {"lr": 0.01}),
                ],
                s3.START,
                s3.PROFILES["quick"].setting,
            ),
            "Adagrad's root mean square with constant η and with η/√(t+1), RMSProp and Adam: step through "
            "an eruption and watch σ.",
        ),
        TryIt(
            "S4",
            url_query(
                "saddle_and_local_min",
                [
                    Run("sgd", {"lr": s4.LEARNING_RATE}),
                    Run("momentum", {"lr": s4.LEARNING_RATE, "momentum": s4.MOMENTUM, "form": "lecture"}),
                ],
                s4.START,
                s4.PROFILES["quick"].setting,
            ),
            f"gradient descent and momentum (λ = {s4.MOMENTUM:g}) from the same start; drag the start to "
            f"{s4.START_PAST_SADDLE}, just past the saddle, and gradient descent stops in the local minimum.",
        ),
        TryIt(
            "S5",
            url_query(
                "quadratic",
                [
                    Run("momentum", {"lr": s5.LEARNING_RATE, "form": "lecture"}),
                    Run("rmsprop", {"lr": s5.LEARNING_RATE, "alpha": s5.BETA2, "eps": s5.EPS}),
                    Run("adam", {"lr": s5.LEARNING_RATE, "betas": [0.9, s5.BETA2], "eps": s5.EPS}),
                    Run("adam", {"lr": s5.LEARNING_RATE, "betas": [0.0, s5.BETA2], "eps": s5.EPS}),
                ],
                s3.START,
                s5.PROFILES["quick"].setting,
            ),
            "momentum, RMSProp, Adam and Adam with β₁ = 0 from the S3 start: Adam = RMSProp + momentum.",
        ),
        TryIt(
            "S6a",
            url_query(
                "quadratic",
                [
                    Run("momentum", {"lr": 0.01, "form": "lecture"}),
                    Run("momentum", {"lr": 0.01, "form": "lecture"}, {"name": "step"}),
                    Run("momentum", {"lr": 0.01, "form": "lecture"}, {"name": "cosine", "warmup_steps": 100}),
                ],
                s3.START,
                1000,
            ),
            "the same momentum run with a constant lr, step decay and linear warm-up + cosine.",
        ),
        TryIt(
            "S6b",
            url_query(
                "quadratic",
                [
                    Run("adagrad", {"lr": s6.ETA_S6B, "average": True}, schedule)
                    for schedule in (decay, {**decay, "warmup_steps": s6.WARMUP_S6B})
                ],
                s3.START,
                s6.PROFILES["quick"].setting,
            ),
            f"Adagrad-RMS with η = {s6.ETA_S6B:g}/√(t+1), without and with {s6.WARMUP_S6B} updates of "
            "warm-up: the first step's jump up the wall.",
        ),
    ]
    return {link.claim: link for link in links}
