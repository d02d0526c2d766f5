"""The advice's decision rule on synthetic timing curves, the lr rules, warm-up, and run loading errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from optlab.errors import ConfigError, OptlabError
from optlab.measure.advise import plot_advice, recommend, scaled_lr, warmup_steps
from optlab.measure.runs import fit_state, load_state
from optlab.measure.timing import Timing, TimingRow, find_knee


def synthetic_timing(seconds: dict[int, float], examples: int = 4096) -> Timing:
    rows = [
        TimingRow(b, t, t, t, t, math.ceil(examples / b), t * math.ceil(examples / b), b / t, 10)
        for b, t in sorted(seconds.items())
    ]
    knee, flat = find_knee(rows)
    return Timing(rows, "cpu", "sgd", examples, knee, flat)


# A typical curve: flat up to 64, then ∝ B.
CURVE = {1: 1.0, 2: 1.0, 4: 1.0, 8: 1.0, 16: 1.05, 32: 1.1, 64: 1.3, 128: 2.6, 256: 5.2, 512: 10.4}


def test_recommendation_minimises_time_times_examples_overhead():
    b_noise = 100.0
    advice = recommend(synthetic_timing(CURVE), b_noise, "sgd", reference_lr=0.1, reference_batch=32)
    # J(B) = S(B)/S_min · E(B)/E_min · t(B), McCandlish et al.'s two overheads weighted by time per step.
    cost = {b: (1 + b_noise / b) * (1 + b / b_noise) * t for b, t in CURVE.items()}
    best = min(cost, key=cost.get)
    assert advice.recommended_batch == best == 64  # near B_noise, and the last flat size before the knee
    within = [b for b, v in cost.items() if v <= 1.25 * cost[best]]
    assert advice.batch_range == (min(within), max(within))
    assert advice.knee_batch_size == 128 and advice.flat_up_to == 64
    option = {o.batch_size: o for o in advice.options}[64]
    assert option.steps_factor == pytest.approx(1 + 100 / 64)
    assert option.examples_factor == pytest.approx(1 + 64 / 100)
    time = {b: (1 + b_noise / b) * t for b, t in CURVE.items()}
    assert option.relative_time == pytest.approx(time[64] / min(time.values()))


def test_with_flat_timing_the_optimum_is_the_noise_scale():
    flat = {2**i: 1.0 for i in range(11)}
    advice = recommend(synthetic_timing(flat), 64.0, "sgd", reference_lr=0.1, reference_batch=32)
    assert advice.recommended_batch == 64  # B_crit ≈ B_noise balances S/S_min = E/E_min = 2
    low, high = advice.batch_range  # (2 + r + 1/r)/4 ≤ 1.25  ⇔  0.38 ≤ r = B/B_noise ≤ 2.6
    assert (low, high) == (32, 128)


def test_small_noise_scale_recommends_small_batches():
    advice = recommend(synthetic_timing(CURVE), 2.0, "sgd", reference_lr=0.1, reference_batch=32)
    assert advice.recommended_batch == 2


def test_slow_hardware_pulls_the_recommendation_below_the_noise_scale():
    steep = {b: float(b) for b in (1, 2, 4, 8, 16, 32, 64, 128)}  # no flat region at all: t ∝ B
    advice = recommend(synthetic_timing(steep), 64.0, "adam", reference_lr=1e-3, reference_batch=32)
    assert advice.recommended_batch < 64


def test_learning_rate_rules():
    assert scaled_lr("sgd", 0.1, 128, 512) == pytest.approx(0.4)  # linear (Goyal et al.)
    assert scaled_lr("momentum", 0.1, 128, 32) == pytest.approx(0.025)
    assert scaled_lr("adam", 1e-3, 128, 512) == pytest.approx(2e-3)  # square root
    assert scaled_lr("lamb", 1e-3, 100, 25) == pytest.approx(5e-4)
    with pytest.raises(ConfigError, match="unknown optimizer"):
        scaled_lr("adadelta", 0.1, 128, 256)


def test_warmup_grows_with_batch_size_and_is_capped():
    assert warmup_steps(128, 128, 4096) == 0
    assert warmup_steps(64, 128, 4096) == 0
    assert warmup_steps(256, 128, 4096) == 16  # 1 epoch of 16 updates
    assert warmup_steps(1024, 128, 4096) == 3 * 4  # log2(8) = 3 epochs of 4 updates
    assert warmup_steps(128 * 64, 128, 2**20) == 5 * 128  # capped at Goyal et al.'s 5 epochs


def test_advice_figure_and_reasoning(tmp_path):
    advice = recommend(synthetic_timing(CURVE), 100.0, "sgd", reference_lr=0.1, reference_batch=32)
    assert any("B_noise ≈ 100" in line for line in advice.reasoning)
    assert any("lr = 0.2 at B = 64" in line for line in advice.reasoning)
    plot_advice(advice, tmp_path / "advice.png")
    assert (tmp_path / "advice.png").stat().st_size > 1000


def test_recommend_rejects_a_nonpositive_noise_scale():
    with pytest.raises(ConfigError, match="noise scale"):
        recommend(synthetic_timing(CURVE), -3.0, "sgd", 0.1, 32)


def test_weights_that_do_not_fit_give_one_line_errors(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3))
    torch.save({"0.weight": torch.zeros(3, 5), "0.bias": torch.zeros(3)}, tmp_path / "wrong.pt")
    with pytest.raises(OptlabError, match=r"0.weight has shape \(3, 5\)") as error:
        fit_state(model, load_state(tmp_path / "wrong.pt"), "wrong.pt")
    assert "\n" not in str(error.value)
    torch.save({"1.weight": torch.zeros(3, 4)}, tmp_path / "other.pt")
    with pytest.raises(OptlabError, match="missing"):
        fit_state(model, load_state(tmp_path / "other.pt"), "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(OptlabError, match="corrupt"):
        load_state(tmp_path / "junk.pt")
    with pytest.raises(OptlabError, match="no weights"):
        load_state(tmp_path / "absent.pt")


def test_noisy_timings_are_flagged_in_the_reasoning():
    rows = [TimingRow(b, 1.0, 0.2, 3.0, 0.1, 1, 1.0, float(b), 10) for b in (1, 2, 4, 8)]  # q75/q25 = 15
    advice = recommend(Timing(rows, "cpu", "sgd", 100, None, 8), 4.0, "sgd", 0.1, 32)
    assert any("noisy" in line for line in advice.reasoning)
    quiet = recommend(synthetic_timing(CURVE), 4.0, "sgd", 0.1, 32)
    assert not any("noisy" in line for line in quiet.reasoning)


def test_the_lr_moves_by_the_noise_aware_rule_and_every_rule_names_its_source():
    from optlab.measure.advise import apply_transfer
    from optlab.schedules.scaling import noise_scaling, surge_scaling

    flat = {2**i: 1.0 for i in range(11)}
    adam = recommend(synthetic_timing(flat), 64.0, "adamw", reference_lr=1e-3, reference_batch=16)
    apply_transfer(adam, {"betas": (0.9, 0.999), "weight_decay": 0.01})
    assert adam.recommended_batch == 64
    assert adam.recommended_lr == pytest.approx(surge_scaling(1e-3, 64, 16, 64.0))
    assert [t["rule"] for t in adam.transfers] == ["surge", "half-life", "timescale"]
    text = "\n".join(adam.reasoning)
    for source in ("Li et al. 2024", "Marek et al. 2025", "Bergsma et al. 2025"):
        assert source in text
    assert f"{0.999**4:.4g}" in text  # β₂ at 4× the batch: the same half-life in examples
    assert "The plain square-root rule would give 0.002 " in text
    sgd = recommend(synthetic_timing(flat), 64.0, "momentum", reference_lr=0.1, reference_batch=16)
    apply_transfer(sgd, {"momentum": 0.9})
    assert sgd.recommended_lr == pytest.approx(noise_scaling(0.1, 64, 16, 64.0))  # below the linear 0.4
    assert [t["rule"] for t in sgd.transfers] == ["noise"] and "McCandlish" in sgd.reasoning[3]


def test_three_ways_adds_the_estimates_and_a_cbs_driven_warm_up(tmp_path):
    import json
    import shlex

    from optlab import schedules
    from optlab.measure.advise import read_three_ways, use_three_ways

    flat = {2**i: 1.0 for i in range(11)}
    advice = recommend(synthetic_timing(flat), 64.0, "adam", reference_lr=1e-3, reference_batch=16,
                       model="mlp1d", dataset="mnist1d")  # fmt: skip
    path = tmp_path / "three_ways.json"
    # CBS already 32 at the first branch: the warm-up starts at 32, so its lr is the reference's ×√2
    cbs = [{"step": 10, "cbs": 32}, {"step": 100, "cbs": 64}, {"step": 400, "cbs": 128}]
    found = {"target": 0.5, "base": {"batch_size": 16}, "b_simple": 70.0, "b_crit": 80.0, "zhang_fit": 60.0}
    path.write_text(json.dumps({**found, "cbs": cbs}))
    use_three_ways(advice, read_three_ways(path), path)
    text = "\n".join(advice.reasoning)
    assert "B_crit = E_min/S_min 80" in text and "0.8× B_crit" in text
    command = shlex.split(advice.reasoning[-1].split("): ", 1)[1])
    # a whole command to paste: no placeholder, and no --batch-size (the schedule replaces it)
    assert command[:2] == ["optlab", "train"] and "..." not in command and "--batch-size" not in command
    option = {word: command[i + 1] for i, word in enumerate(command) if word.startswith("--")}
    assert (option["--model"], option["--dataset"], option["--optimizer"]) == ("mlp1d", "mnist1d", "adam")
    assert float(option["--lr"]) == pytest.approx(1e-3 * 2**0.5, rel=1e-3)
    given = [command[i + 1] for i, word in enumerate(command) if word == "--batch-schedule-arg"]
    args = dict(arg.split("=", 1) for arg in given)
    assert command[command.index("--batch-schedule") + 1] == "cbs_driven" and len(args) == 3
    schedule = schedules.create_batch_schedule("cbs_driven", **args)
    assert [schedule(e) for e in (0, 160, 1600, 6400, 10**6)] == [32, 32, 64, 128, 128]
    # a CBS(t) that only falls: no warm-up to follow, and no command that would hold one batch
    flat = recommend(synthetic_timing({2**i: 1.0 for i in range(11)}), 64.0, "adam", reference_lr=1e-3,
                     reference_batch=16)  # fmt: skip
    falling = [{"step": 10, "cbs": 256}, {"step": 100, "cbs": 128}, {"step": 400, "cbs": 64}]
    path.write_text(json.dumps({**found, "cbs": falling}))
    use_three_ways(flat, read_three_ways(path), path)
    assert "not advised here" in flat.reasoning[-1] and "optlab train" not in flat.reasoning[-1]
    path.write_text("{}")
    with pytest.raises(ConfigError, match=r"invalid value for --three-ways: .* is not a three_ways\.json"):
        read_three_ways(path)
