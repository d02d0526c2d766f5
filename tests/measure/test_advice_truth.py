"""Issue 13, row 6: every sentence of ``advise`` that states a direction or a comparison follows the measured
values. Fed numbers whose direction is reversed, the sentence reverses."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from torch import nn

from optlab.measure import advise as advise_module
from optlab.measure.advise import noise_trend, recommend, timing_sentence
from optlab.measure.noise_scale import NoiseScale
from optlab.measure.timing import Timing, TimingRow, find_knee

CURVE = {1: 1.0, 2: 1.0, 4: 1.0, 8: 1.0, 16: 1.05, 32: 1.1, 64: 1.3, 128: 2.6, 256: 5.2, 512: 10.4}


def synthetic_timing(seconds: dict[int, float], examples: int = 4096) -> Timing:
    rows = [
        TimingRow(b, t, t, t, t, math.ceil(examples / b), t * math.ceil(examples / b), b / t, 10)
        for b, t in sorted(seconds.items())
    ]
    knee, flat = find_knee(rows)
    return Timing(rows, "cpu", "sgd", examples, knee, flat)


def noise(b: float, err: float, loss: float) -> NoiseScale:
    return NoiseScale(b, 1.0, b, err, 0.1, 0.1, 8, 1024, 20, loss, 0)


def test_the_noise_trend_sentence_follows_the_measured_direction():
    # The case: 231 at init, 166 after training, the loss fell. The old text said "It grows".
    fell = noise_trend(noise(231, 9, 2.3), noise(166, 9, 1.2), "1 epoch")
    assert "fell" in fell and "rose" not in fell and "grows" not in fell
    assert "231" in fell and "166" in fell and "2.3 → 1.2" in fell
    rose = noise_trend(noise(166, 9, 2.3), noise(231, 9, 1.2), "1 epoch")
    assert "rose" in rose and "fell" not in rose
    assert "1.39×" in rose and "1.39×" in fell  # 231/166, computed from the values
    # Within two standard errors of each other: no direction is claimed.
    flat = noise_trend(noise(180, 20, 2.3), noise(170, 20, 1.2), "1 epoch")
    assert "no clear change" in flat and "rose" not in flat and "fell" not in flat
    # The trained estimate unusable (|G|² ≤ 0 gives inf): the sentence says the init value is used.
    lost = noise_trend(noise(180, 9, 2.3), noise(math.inf, math.nan, 0.01), "1 epoch")
    assert "not usable" in lost and "180" in lost


def test_the_timing_sentence_states_the_measured_ratios():
    flat = timing_sentence(synthetic_timing({b: 1.0 for b in (1, 2, 4, 8, 16)}))
    assert "up to B = 16" in flat and "16× larger took 1× the time" in flat and "no knee" in flat
    steep = timing_sentence(synthetic_timing(CURVE))
    assert "up to B = 64" in steep and "took 1.3× the time" in steep and "at B = 128 it is 2.6×" in steep
    at_once = timing_sentence(synthetic_timing({1: 1.0, 2: 3.0, 4: 6.0}))
    assert "already exceeds 2× from the second batch size" in at_once and "at B = 2 it is 3×" in at_once


def test_the_learning_rate_sentence_says_up_or_down_from_the_values():
    timing = synthetic_timing({b: 1.0 for b in (8, 16, 32, 64, 128)})
    up = recommend(timing, 64.0, "momentum", 0.05, 16).reasoning
    down = recommend(timing, 16.0, "momentum", 0.05, 128).reasoning
    assert any("(scaled up 4×)" in line for line in up)
    assert any("(scaled down 8×)" in line for line in down)
    same = recommend(timing, 32.0, "momentum", 0.05, 32).reasoning
    assert any("(unchanged)" in line for line in same)
    assert any("Warm-up: none (B = 32 is not larger than the reference B = 32)" in line for line in same)


@pytest.mark.parametrize(("at_init", "trained", "word"), [(231.0, 166.0, "fell"), (166.0, 231.0, "rose")])
def test_advise_reports_the_direction_it_measured(monkeypatch, at_init, trained, word):
    """``advise`` end to end with its measurements replaced by given numbers (timing, the two noise scales and
    the warm-up run): the printed reasoning follows them, whichever way round they are."""
    values = iter([noise(at_init, 5, 2.3), noise(trained, 5, 1.2)])
    monkeypatch.setattr(advise_module, "noise_scale", lambda *args, **kwargs: next(values))
    monkeypatch.setattr(
        advise_module,
        "time_per_update",
        lambda *args, **kwargs: synthetic_timing({16: 1.0, 32: 1.0, 64: 1.5}),
    )
    import optlab.train

    monkeypatch.setattr(optlab.train, "train", lambda *args, **kwargs: SimpleNamespace(model=nn.Linear(2, 2)))
    result = advise_module.advise("mlp", "mnist1d", "momentum", reference_lr=0.05, reference_batch=32)
    sentence = result.reasoning[1]
    assert sentence.startswith("B_noise was measured at initialisation and after 1 epoch(s)")
    assert word in sentence and ({"fell", "rose"} - {word}).pop() not in sentence
    assert result.b_noise == trained and result.noise_at_init["b_simple"] == at_init
