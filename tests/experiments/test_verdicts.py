"""Every verdict is computed: numbers that show the claim pass, numbers that don't fail, too small runs are
inconclusive. The measurement dicts below are written by hand, shaped like what each run() returns.
"""

from __future__ import annotations

import copy

import pytest

from optlab.experiments import adagrad_eruptions, adam_parts, lr_schedules, momentum, stuck, tiny_lr
from optlab.experiments.framework import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED


def outcome_of(module, measurements, claim_id=None):
    results = module.verdict([measurements])
    result = results[0] if claim_id is None else next(r for r in results if r.claim_id == claim_id)
    assert result.criterion and result.numbers and result.n == 1
    return result.outcome


def variant(base, **changes):
    m = copy.deepcopy(base)
    for key, value in changes.items():
        m[key] = value
    return m


S1 = {
    "updates": 1000,
    "learning_rate": 1e-2,
    "loss_start": 15_000.0,
    "loss_end": 14_700.0,
    "best_loss_first_half": 14_650.0,
    "best_loss_second_half": 14_640.0,
    "grad_norm_start": 2000.0,
    "min_grad_norm_second_half": 1999.0,
    "distance_to_minimum_end": 90.0,
}


def test_s1():
    assert outcome_of(stuck, S1) == REPRODUCED
    # the loss kept falling in the second half
    assert outcome_of(stuck, variant(S1, best_loss_second_half=10_000.0)) == NOT_REPRODUCED
    # a small gradient: an ordinary critical point, not the lecture's case
    assert outcome_of(stuck, variant(S1, min_grad_norm_second_half=1.0)) == NOT_REPRODUCED
    # loss went far down: not stuck
    assert (
        outcome_of(stuck, variant(S1, best_loss_first_half=100.0, best_loss_second_half=100.0))
        == NOT_REPRODUCED
    )
    assert outcome_of(stuck, variant(S1, updates=10)) == INCONCLUSIVE


S2 = {
    "updates": 100_000,
    "learning_rate": 1e-7,
    "floor_offset_start": 8.0,
    "floor_offset_end": 1e-5,
    "update_floor_reached": 45_000,
    "distance_start": 100.3,
    "distance_end": 99.99,
}


def test_s2():
    assert outcome_of(tiny_lr, S2) == REPRODUCED
    assert outcome_of(tiny_lr, variant(S2, floor_offset_end=0.5)) == NOT_REPRODUCED  # never reached the floor
    assert outcome_of(tiny_lr, variant(S2, distance_end=5.0)) == NOT_REPRODUCED  # got close after all
    assert outcome_of(tiny_lr, variant(S2, updates=2000)) == INCONCLUSIVE


def s3_run(label, closest, eruptions, largest, final, cos=0.95):
    return {
        "label": label,
        "distance_start": 3.0,
        "closest_distance": closest,
        "final_distance": final,
        "eruptions": eruptions,
        "eruption_updates": [400] * eruptions,
        "largest_eruption": largest,
        "largest_eruption_cos_steep": cos if eruptions else None,
    }


S3 = {
    "updates": 10_000,
    "runs": {
        "adagrad_rms_constant": s3_run("const", 1e-12, 2, 0.5, 1e-7),
        "adagrad_rms_decay": s3_run("decay", 1e-12, 0, 0.0, 1e-12),
        "rmsprop": s3_run("rmsprop", 1e-3, 0, 0.0, 1e-3),
        "adam": s3_run("adam", 0.0, 0, 0.0, 0.0),
    },
}


def test_s3():
    assert outcome_of(adagrad_eruptions, S3) == REPRODUCED
    no_eruption = copy.deepcopy(S3)
    no_eruption["runs"]["adagrad_rms_constant"] = s3_run("const", 1e-12, 0, 0.0, 1e-12)
    assert outcome_of(adagrad_eruptions, no_eruption) == NOT_REPRODUCED
    sideways = copy.deepcopy(S3)
    sideways["runs"]["adagrad_rms_constant"]["largest_eruption_cos_steep"] = 0.3
    assert outcome_of(adagrad_eruptions, sideways) == NOT_REPRODUCED
    decay_erupts = copy.deepcopy(S3)
    decay_erupts["runs"]["adagrad_rms_decay"] = s3_run("decay", 1e-12, 1, 0.2, 1e-12)
    assert outcome_of(adagrad_eruptions, decay_erupts) == NOT_REPRODUCED
    never_close = copy.deepcopy(S3)
    never_close["runs"]["adagrad_rms_constant"]["closest_distance"] = 0.5
    assert outcome_of(adagrad_eruptions, never_close) == NOT_REPRODUCED
    assert outcome_of(adagrad_eruptions, variant(S3, updates=600)) == INCONCLUSIVE


def test_s3_eruption_counter():
    import numpy as np

    steep = np.array([0.0, 1.0])
    # straight in to 1e-6, then a jump along y to 0.1, then back down: one eruption along the steep axis
    xs = np.concatenate([np.geomspace(1.0, 1e-6, 50), [1e-6] * 5])
    points = np.stack([xs, np.zeros_like(xs)], axis=1)
    points = np.concatenate([points, [[0.0, 0.1], [0.0, 0.05], [1e-7, 0.0], [1e-8, 0.0]]])
    found = adagrad_eruptions.eruptions(points, (0.0, 0.0), steep)
    assert found["eruptions"] == 1
    assert found["largest_eruption"] == pytest.approx(0.1)
    assert found["largest_eruption_cos_steep"] == pytest.approx(1.0)
    calm = adagrad_eruptions.eruptions(points[:55], (0.0, 0.0), steep)
    assert calm["eruptions"] == 0


S4 = {
    "updates": 3000,
    "gd_end_x": -0.006,
    "gd_grad_norm_start": 20.0,
    "gd_grad_norm_end": 2e-4,
    "gd_past_saddle_end_x": 1.0,
    "momentum_end_x": 3.0,
    "momentum_max_x": 3.3,
    "roots": [1.0, 1.6, 3.0],
    "loss_end": {"gd": 0.0, "gd_past_saddle": -0.2, "momentum": -3.5},
}


def test_s4():
    assert outcome_of(momentum, S4) == REPRODUCED
    assert outcome_of(momentum, variant(S4, momentum_end_x=1.0, momentum_max_x=1.2)) == NOT_REPRODUCED
    assert outcome_of(momentum, variant(S4, gd_end_x=3.0)) == NOT_REPRODUCED  # GD got through on its own
    assert outcome_of(momentum, variant(S4, gd_grad_norm_end=5.0)) == NOT_REPRODUCED  # GD still moving
    assert outcome_of(momentum, variant(S4, updates=400)) == INCONCLUSIVE


S5 = {
    "updates": 3000,
    "distance_start": 3.0,
    "max_gap_adam_beta1_0_vs_corrected_rmsprop": 1e-15,
    "max_gap_adam_beta1_0_vs_plain_rmsprop": 2.0,
    "final_distance": {"adam": 1e-10},
}


def test_s5():
    assert outcome_of(adam_parts, S5) == REPRODUCED
    assert (
        outcome_of(adam_parts, variant(S5, max_gap_adam_beta1_0_vs_corrected_rmsprop=1e-4)) == NOT_REPRODUCED
    )
    # the control: if plain RMSProp were indistinguishable the check would prove nothing
    assert outcome_of(adam_parts, variant(S5, max_gap_adam_beta1_0_vs_plain_rmsprop=1e-9)) == NOT_REPRODUCED
    assert outcome_of(adam_parts, variant(S5, updates=10)) == INCONCLUSIVE
    # Too few updates before the path reached the minimum: nothing much was compared.
    assert outcome_of(adam_parts, variant(S5, compared_updates=50)) == INCONCLUSIVE
    assert outcome_of(adam_parts, variant(S5, compared_updates=2000)) == REPRODUCED


S6 = {
    "transformer_peak_step": 4000,
    "transformer_peak_lr": 6.988e-4,
    "linear_warmup_strictly_rising": True,
    "linear_warmup_meets_cosine": True,
    "resnet_before_400": [0.01],
    "resnet_at_400": 0.1,
    "s6b_updates": 3000,
    "s6b_loss_start": 10.0,
    "s6b_decay_max_loss": 64.0,
    "s6b_warmup_max_loss": 10.0,
    "s6b_distance_start": 3.0,
    "s6b_decay_final_distance": 1e-12,
    "s6b_warmup_final_distance": 1e-12,
    "s6b_decay_max_distance": 3.0,
    "s6b_warmup_max_distance": 3.0,
}


def test_s6a():
    assert outcome_of(lr_schedules, S6, "S6a") == REPRODUCED
    assert outcome_of(lr_schedules, variant(S6, transformer_peak_step=4001), "S6a") == NOT_REPRODUCED
    assert outcome_of(lr_schedules, variant(S6, transformer_peak_lr=1e-3), "S6a") == NOT_REPRODUCED
    assert outcome_of(lr_schedules, variant(S6, resnet_at_400=0.01), "S6a") == NOT_REPRODUCED


def test_s6b():
    assert outcome_of(lr_schedules, S6, "S6b") == REPRODUCED
    assert outcome_of(lr_schedules, variant(S6, s6b_decay_max_loss=10.0), "S6b") == NOT_REPRODUCED
    assert outcome_of(lr_schedules, variant(S6, s6b_warmup_max_loss=12.0), "S6b") == NOT_REPRODUCED
    assert outcome_of(lr_schedules, variant(S6, s6b_warmup_final_distance=0.5), "S6b") == NOT_REPRODUCED
    assert outcome_of(lr_schedules, variant(S6, s6b_updates=500), "S6b") == INCONCLUSIVE
