"""Issue 11's rules for data claims: ≥ 3 seeds in quick and full, a mechanism stated next to every data claim,
``--first-seed``, and the lecture's small-vs-large table (which must mark a reversed measurement ✗)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from optlab.data import Split
from optlab.experiments import generalisation_gap as b4
from optlab.experiments import lecture_table, registry, runner
from optlab.experiments.framework import DATA_CLAIM_RULE, REPRODUCED
from optlab.report.html import render_html

# Claims decided by training networks on data (the error-surface claims S1–S6 are deterministic functions).
DATA_EXPERIMENTS = [i for i in registry.resolve(None) if i.startswith(("B", "A"))]


def test_every_seeded_data_claim_runs_on_at_least_three_seeds_in_quick_and_full():
    seeded = [i for i in DATA_EXPERIMENTS if registry.load(i).SEEDED]
    assert {"B3", "B4", "B5", "B6", "B7"} <= set(seeded)
    for profile in ("quick", "full"):
        for experiment_id in seeded:
            seeds = runner.seed_list(profile, experiment_id)
            assert len(seeds) >= 3, (profile, experiment_id, seeds)
            assert getattr(registry.load(experiment_id), "MIN_SEEDS", 3) <= len(seeds)


def test_every_data_claim_says_why_the_papers_mechanism_operates_in_its_setting():
    for experiment_id in DATA_EXPERIMENTS:
        for claim in registry.load(experiment_id).CLAIMS:
            assert len(claim.mechanism) > 100, claim.id


def test_first_seed_shifts_the_seeds_of_seeded_experiments_only():
    assert runner.seed_list("quick", "B4", first_seed=10) == [10, 11, 12]
    assert runner.seed_list("quick", "B4", 2, first_seed=3) == [3, 4]
    assert runner.seed_list("quick", "S1", first_seed=10) == [10]  # deterministic: once
    jobs = runner._jobs("quick", ["S1", "B5"], 3, first_seed=3)
    assert sorted(jobs) == [("B5", 3), ("B5", 4), ("B5", 5), ("S1", 3)]


def test_first_seed_runs_those_seeds_and_is_recorded_in_results(tmp_path):
    plan = runner.plan_lecture("smoke", tmp_path, only="B5", seeds=2, workers=1, first_seed=7)
    results = runner.run_lecture(plan)
    assert results["first_seed"] == 7
    assert results["experiments"][0]["seeds"] == [7, 8]
    for seed in (7, 8):
        record = json.loads((tmp_path / "B5" / f"seed-{seed}" / "measurements.json").read_text())
        assert record["seed"] == seed == record["measurements"]["seed"]
    assert not (tmp_path / "B5" / "seed-0").exists()
    assert json.loads((tmp_path / "results.json").read_text())["first_seed"] == 7


# ----------------------------------------------------------------------------------------- lecture table
TIMING = {
    "one thread": {"device": "cpu", "threads": 1, "examples": 4000,
                   "update_s": {"1": 0.0005, "1000": 0.005}, "epoch_s": {"1": 2.0, "1000": 0.02}},
    "all cores": {"device": "cpu", "threads": 2, "examples": 4000,
                  "update_s": {"1": 0.0005, "1000": 0.003}, "epoch_s": {"1": 2.0, "1000": 0.012}},
}  # fmt: skip


def _b4(small_test: float, large_test: float, small_var: float, large_var: float) -> dict:
    setting = {"key": "mnist1d/cnn1d", "small_batch": 32, "large_batch": 400,
               "gradient_variance": {"small": small_var, "large": large_var},
               "small": {"test_acc": small_test}, "large": {"test_acc": large_test}}  # fmt: skip
    return {"settings": [setting]}


def _b3(small_train: float, large_train: float) -> dict:
    runs = [{"batch_size": 16, "train_acc": small_train}, {"batch_size": 3500, "train_acc": large_train}]
    return {"datasets": {"mnist1d": {"runs": runs}}}


def _table(timing=TIMING, b3=(0.7, 0.2), b4=(0.92, 0.87, 0.07, 0.005), verdicts=None):
    verdicts = verdicts or {"B3": REPRODUCED, "B4": REPRODUCED}
    rows = lecture_table.build(timing, {"B3": [_b3(*b3)] * 3, "B4": [_b4(*b4)] * 3}, verdicts)
    return {row["aspect"]: row for row in rows}


def test_table_has_the_lectures_six_rows_each_with_its_claim():
    rows = _table()
    assert list(rows) == [
        "speed for one update (no parallelism)",
        "speed for one update (with parallelism)",
        "time for one epoch",
        "gradient",
        "optimisation",
        "generalisation",
    ]
    assert all(row["claims"] for row in rows.values())
    assert [row["agrees"] for row in rows.values()] == [True, False, True, True, True, True]


def test_table_marks_reversed_measurements_as_disagreeing():
    timing = json.loads(json.dumps(TIMING))
    timing["one thread"]["update_s"] = {"1": 0.01, "1000": 0.005}  # the small batch slower per update
    timing["one thread"]["epoch_s"] = {"1": 0.01, "1000": 2.0}  # the small batch's epoch faster
    timing["gpu"] = {
        "device": "cuda",
        "threads": None,
        "examples": 4000,
        "update_s": {"1": 0.001, "1000": 0.0011},
        "epoch_s": {"1": 4.0, "1000": 0.0044},
    }
    rows = _table(timing, b3=(0.2, 0.7), b4=(0.85, 0.90, 0.001, 0.05))
    assert rows["speed for one update (no parallelism)"]["agrees"] is False
    assert rows["speed for one update (with parallelism)"]["agrees"] is True  # the GPU decides: × 1.1
    assert rows["time for one epoch"]["agrees"] is False
    assert rows["gradient"]["agrees"] is False
    assert rows["optimisation"]["agrees"] is False
    assert rows["generalisation"]["agrees"] is False


def test_table_needs_the_claims_verdict_not_only_the_direction():
    rows = _table(verdicts={"B3": "not reproduced", "B4": "inconclusive"})
    assert rows["optimisation"]["agrees"] is False and rows["generalisation"]["agrees"] is False


def test_table_without_the_experiments_says_not_measured():
    rows = {r["aspect"]: r for r in lecture_table.build(None, {}, {})}
    assert all(row["agrees"] is None and "not measured" in row["measured"] for row in rows.values())


def test_report_prints_the_rule_the_mechanisms_and_the_table():
    claim = {"id": "B4", "experiment": "B4", "section": "Batch size", "title": "t", "sentence": "s",
             "verdict": REPRODUCED, "mechanism": "because of the noise", "figures": []}  # fmt: skip
    results = {
        "profile": "quick",
        "first_seed": 10,
        "seeds": 3,
        "experiments": [{"id": "B4", "seeded": True, "intro": "i", "seeds": [10, 11, 12]}],
        "claims": [claim],
        "lecture_table": list(_table().values()),
    }
    page = render_html(results)
    assert DATA_CLAIM_RULE.split("(1)")[0].strip() in page and "seeds from 10" in page
    assert "Why this setting." in page and "because of the noise" in page
    assert 'id="lecture-table"' in page and page.count('href="#claim-B1"') == 2


# ------------------------------------------------------------------------------- gradient variance (B4)
def test_gradient_variance_is_zero_for_the_full_batch_and_falls_with_the_batch():
    torch.manual_seed(0)
    x, y = torch.randn(200, 5), torch.randint(0, 3, (200,))
    model = nn.Linear(5, 3)
    before = [p.detach().clone() for p in model.parameters()]
    split = Split(x, y)
    assert b4.gradient_variance(model, split, 200, 3, seed=0) == pytest.approx(0.0, abs=1e-12)
    small, large = (b4.gradient_variance(model, split, b, 40, seed=0) for b in (4, 50))
    # without replacement: E‖g_B − g‖² = tr(Σ)/B · (N − B)/(N − 1); the ratio 4 → 50 is ≈ 16.4
    assert 8 < small / large < 30
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
