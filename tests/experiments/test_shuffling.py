"""B5 (shuffling): verdicts on made-up records, the recorder's block positions, a smoke run."""

from __future__ import annotations

import json

import pytest

from optlab.experiments import shuffling as b5
from optlab.experiments.framework import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from optlab.experiments.runner import run_job


def _record(acc, recall, share, block_share):
    return {"seed": 0, "test_acc": acc, "train_acc_last_epoch": acc, "final_recall": recall,
            "final_share": share, "block_share_last_epoch": [block_share] * 3,
            "mean_block_share": block_share, "epoch_recalls": [recall], "step_shares": [share]}  # fmt: skip


GOOD = _record(0.93, [0.93, 0.92, 0.94], [0.33, 0.33, 0.34], 0.33)
ORDERED = _record(0.45, [0.05, 0.30, 0.98], [0.03, 0.19, 0.78], 0.8)


def _runs(none, once, every, seeds=3, epochs=10):
    modes = {"no shuffling": [none], "shuffled once": [once], "reshuffled every epoch": [every]}
    return [{"epochs": epochs, "modes": modes} for _ in range(seeds)]


def _outcomes(runs):
    return {r.claim_id: r.outcome for r in b5.verdict(json.loads(json.dumps(runs)))}


def test_reproduced_when_unshuffled_model_follows_the_order():
    assert _outcomes(_runs(ORDERED, GOOD, GOOD)) == {"B5a": REPRODUCED, "B5b": REPRODUCED}


def test_b5a_fails_when_no_shuffling_does_no_harm():
    # E.g. a learning rate so small that a block of updates cannot move the decision.
    outcomes = _outcomes(_runs(GOOD, GOOD, GOOD))
    assert outcomes["B5a"] == NOT_REPRODUCED
    assert outcomes["B5b"] == REPRODUCED


def test_b5a_fails_when_the_last_block_does_not_dominate():
    # Harmful, but the end-of-epoch decision is not "mostly C": the criterion asks for C to dominate.
    skewed_to_a = _record(0.45, [0.98, 0.30, 0.05], [0.78, 0.19, 0.03], 0.8)
    result = b5.verdict(_runs(skewed_to_a, GOOD, GOOD))[0]
    assert result.checks["C most predicted at end, share ≥ 0.5"] is False
    assert result.outcome == NOT_REPRODUCED


def test_b5b_fails_when_shuffling_once_does_not_learn():
    bad_once = _record(0.6, [0.2, 0.8, 0.8], [0.1, 0.45, 0.45], 0.5)
    assert _outcomes(_runs(ORDERED, bad_once, GOOD))["B5b"] == NOT_REPRODUCED


def test_one_seed_or_few_epochs_is_inconclusive():
    assert set(_outcomes(_runs(ORDERED, GOOD, GOOD, seeds=1)).values()) == {INCONCLUSIVE}
    assert set(_outcomes(_runs(ORDERED, GOOD, GOOD, epochs=2)).values()) == {INCONCLUSIVE}


def test_smoke_run_records_every_update_and_writes_figures(tmp_path):
    assert run_job("B5", "smoke", 0, str(tmp_path)).error is None
    out = tmp_path / "B5" / "seed-0"  # the runner's folder of this seed
    m = json.loads((out / "measurements.json").read_text())["measurements"]
    for name in ("b5_predictions.png", "b5_decisions.png", "b5_shuffling.csv", "measurements.json"):
        assert (out / name).is_file(), name
    updates = b5.PROFILES["smoke"].setting * 3 * b5.PER_CLASS // b5.BATCH_SIZE
    for name, _ in b5.MODES:
        (record,) = m["modes"][name]
        assert len(record["step_shares"]) == updates
        assert all(sum(s) == pytest.approx(1.0) for s in record["step_shares"])
        assert len(record["epoch_recalls"]) == b5.PROFILES["smoke"].setting
        assert record["final_recall"] == record["epoch_recalls"][-1]
    results = b5.verdict([m])
    assert {r.outcome for r in results} == {INCONCLUSIVE}  # one seed, two epochs
    # Even in two epochs the unshuffled model's last block (C) already pulls the predictions towards C.
    none = m["modes"]["no shuffling"][0]
    assert none["final_share"][2] > 1 / 3
