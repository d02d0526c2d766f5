"""The smoke profile end to end (in this process), and the ``optlab lecture`` command as a user runs it."""

from __future__ import annotations

import json

import pytest

from optlab.errors import ConfigError
from optlab.experiments import registry
from optlab.experiments.framework import NOT_REPRODUCED, OUTCOMES, PROFILES, ProfileRow
from optlab.experiments.runner import plan_lecture, run_lecture
from optlab.report import render

# The error-surface experiments (part 1); the data experiments have their own tests.
SURFACE_IDS = ["S4", "S1", "S2", "S3", "S5", "S6"]
SURFACE_CLAIMS = ["S4", "S1", "S2", "S3", "S5", "S6a", "S6b"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("lecture")
    results = run_lecture(plan_lecture("smoke", out, only=",".join(SURFACE_IDS), workers=1))
    return out, results


def test_smoke_writes_every_claim_with_a_computed_verdict(smoke):
    out, results = smoke
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["claims"] == results["claims"]
    assert [c["id"] for c in on_disk["claims"]] == SURFACE_CLAIMS
    assert set(SURFACE_CLAIMS) <= set(registry.claim_ids())
    for claim in on_disk["claims"]:
        assert claim["verdict"] in OUTCOMES
        # smoke runs are short: a claim may be inconclusive there, but the surfaces must never contradict it
        assert claim["verdict"] != NOT_REPRODUCED, (claim["id"], claim["checks"], claim["numbers"])
        for key in ("sentence", "criterion", "numbers", "n", "formulas", "differs"):
            assert claim[key] not in (None, "", {}), (claim["id"], key)
        assert claim["figures"], claim["id"]
        for figure in claim["figures"]:
            assert (out / figure["path"]).stat().st_size > 10_000
    for experiment in on_disk["experiments"]:
        assert experiment["errors"] == []
        assert (out / experiment["id"] / "seed-0" / "measurements.json").exists()
        # the measurements are written once, by the runner: no other JSON beside them
        assert [p.name for p in (out / experiment["id"] / "seed-0").glob("*.json")] == ["measurements.json"]


def test_the_plan_checks_every_option_before_anything_runs_with_one_error_type(tmp_path):
    out = tmp_path / "r"
    for options, named in (
        ({"profile": "huge"}, "huge"),
        ({"only": "Z9"}, "Z9"),
        ({"seeds": 0}, "--seeds"),
        ({"first_seed": -1}, "--first-seed"),
        ({"workers": 0}, "--workers"),
        ({"storage": "sqlite:///x.db"}, "--sweep"),
        ({"sweep": True, "storage": "nosuch://db"}, "nosuch://db"),
    ):
        with pytest.raises(ConfigError, match=named):
            plan_lecture(options.pop("profile", "smoke"), out, **options)
    assert not out.exists()
    plan = plan_lecture("quick", out, only="S1,B5", seeds=2, first_seed=3, workers=2)
    assert plan.ids == ("B5", "S1") and plan.workers == 2 and plan.kept == () and plan.sweep is None
    assert sorted(plan.jobs) == [("B5", 3), ("B5", 4), ("S1", 3)] and plan.pending == list(plan.jobs)


def test_every_experiment_declares_one_profile_table_holding_its_cost():
    for module in registry.modules():
        assert set(module.PROFILES) == set(PROFILES), module.ID
        assert all(isinstance(row, ProfileRow) and row.seconds > 0 for row in module.PROFILES.values())
        for dead in ("COST", "SEEDS", "SETTINGS", "STEPS", "EPOCHS", "expected_seconds"):
            assert not hasattr(module, dead), (module.ID, dead)


def test_results_follow_from_the_files(smoke, tmp_path):
    """The report reads results.json only: a copy of the folder renders the same page."""
    out, _ = smoke
    page = render(out).read_text()
    assert page.count('class="claim"') == len(SURFACE_CLAIMS)
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "results.json").write_bytes((out / "results.json").read_bytes())
    assert render(copy).read_text() == page


def test_resume_keeps_finished_experiments(smoke):
    out, results = smoke
    before = (out / "S1" / "seed-0" / "measurements.json").stat().st_mtime_ns
    again = run_lecture(plan_lecture("smoke", out, only="S1", workers=1, resume=True))
    assert (out / "S1" / "seed-0" / "measurements.json").stat().st_mtime_ns == before
    assert [c["verdict"] for c in again["claims"]] == [
        c["verdict"] for c in results["claims"] if c["id"] == "S1"
    ]


def test_estimate_schedules_the_costs_longest_first_on_the_workers(tmp_path):
    from optlab.experiments import generalisation_gap as b4
    from optlab.experiments import large_batch as b6
    from optlab.experiments.runner import estimate, plan_lecture

    expected = estimate(plan_lecture("full", tmp_path, only="B6,B4", seeds=2, workers=2))
    # the dearer one's two jobs go to the two workers, then the other's: each worker carries one of each
    assert expected.wall_seconds == b4.PROFILES["full"].seconds + b6.PROFILES["full"].seconds
    costs = {"B4": b4.PROFILES["full"].seconds, "B6": b6.PROFILES["full"].seconds}
    assert list(expected.per_experiment) == sorted(costs, key=lambda e: -costs[e])
    assert expected.per_experiment["B4"] == (b4.PROFILES["full"].seconds, 2)
    assert expected.jobs == 4 and expected.kept == 0
    one_worker = estimate(plan_lecture("full", tmp_path, only="B6,B4", seeds=2, workers=1))
    assert one_worker.wall_seconds == 2 * (b4.PROFILES["full"].seconds + b6.PROFILES["full"].seconds)
    assert "h" in expected.line() and "4 jobs on 2 workers" in expected.line()


def test_estimate_leaves_out_what_resume_keeps(smoke):
    from optlab.experiments.runner import estimate, plan_lecture

    out, _ = smoke
    assert estimate(plan_lecture("smoke", out, only="S1,S4", resume=True)).kept == 2
    assert estimate(plan_lecture("smoke", out, only="S1,S4", resume=False)).kept == 0
