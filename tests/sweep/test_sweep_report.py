"""The report: grouping over seeds (mean, sample std), time-to-target from the learning curves, the files."""

from __future__ import annotations

import csv
import statistics

import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from optlab.sweep import build_report, start_study
from optlab.sweep.study import join

FAST = {"heartbeat_interval": 1, "grace_period": 4}
PNG = b"\x89PNG\r\n\x1a\n"


def fill(study, spec, rows):
    """rows: (batch_size, lr, seed, final accuracy, curve) → COMPLETE trials, as workers would record them."""
    distributions = {p.name: CategoricalDistribution(list(p.values)) for p in spec.params}
    for batch_size, lr, seed, accuracy, curve in rows:
        point = {"batch_size": batch_size, "lr": lr, "seed": seed}
        study.add_trial(
            create_trial(
                state=TrialState.COMPLETE,
                params=point,
                distributions=distributions,
                value=accuracy,
                user_attrs={"curve": curve, "effective_lr": lr, "run_dir": f"/runs/{batch_size}-{lr}-{seed}"},
            )
        )


@pytest.fixture
def study_with_results(grid_spec, storage_url):
    spec = grid_spec("batch_size=32,256", "lr=0.001,0.01", "seed=0,1,2")
    storage, name, _, _ = start_study(spec, "rep", storage_url, **FAST)
    study, _ = join(storage, name)
    # curves: [epoch, step, accuracy, training seconds]
    fill(
        study,
        spec,
        [
            (32, 0.01, 0, 0.90, [[1, 10, 0.85, 1.0], [2, 20, 0.90, 2.0]]),
            (32, 0.01, 1, 0.94, [[1, 10, 0.91, 1.5], [2, 20, 0.94, 3.0]]),
            (32, 0.01, 2, 0.92, [[1, 10, 0.80, 1.2], [2, 20, 0.92, 2.4]]),
            (256, 0.01, 0, 0.70, [[1, 2, 0.60, 0.3], [2, 4, 0.70, 0.6]]),
            (256, 0.01, 1, 0.72, [[1, 2, 0.65, 0.3], [2, 4, 0.72, 0.6]]),
            (32, 0.001, 0, 0.80, [[1, 10, 0.70, 1.0], [2, 20, 0.80, 2.0]]),
        ],
    )
    return name


def test_best_setting_and_spread_over_seeds(study_with_results, storage_url, tmp_path):
    report = build_report(study_with_results, storage_url, tmp_path / "out")
    best = report.best
    assert best.point == {"batch_size": 32, "lr": 0.01} and best.n == 3
    assert best.mean == pytest.approx(statistics.fmean([0.90, 0.94, 0.92]))
    assert best.std == pytest.approx(0.02)  # sample std of 0.90, 0.94, 0.92
    assert [row["n"] for row in report.rows] == ["3", "1", "2"]  # best first: 0.92, 0.80, 0.71
    assert report.rows[0]["range"] == "0.9000..0.9400"
    names = sorted(path.name for path in report.files)
    assert names == ["curves.png", "heatmap.png", "settings.csv", "trials.csv"]
    for png in ("curves.png", "heatmap.png"):
        assert (tmp_path / "out" / png).read_bytes().startswith(PNG)
    with open(tmp_path / "out" / "trials.csv") as handle:
        trials = list(csv.DictReader(handle))
    assert len(trials) == 6 and {t["seed"] for t in trials} == {"0", "1", "2"}


def test_time_and_steps_to_target(study_with_results, storage_url, tmp_path):
    report = build_report(
        study_with_results, storage_url, tmp_path / "o", metric="time-to-target", target=0.9
    )
    best = report.best  # batch 32, lr 0.01: seeds reach 0.9 at 2.0 s, 1.5 s, 2.4 s; the others never
    assert best.point == {"batch_size": 32, "lr": 0.01}
    assert best.values == [2.0, 1.5, 2.4]
    assert [g.mean for g in report.settings[1:]] == [None, None]
    assert "2 missed target" in report.rows[-1]["note"] or "2 missed target" in report.rows[-2]["note"]
    steps = build_report(study_with_results, storage_url, metric="steps-to-target", target=0.8, write=False)
    by_point = {(g.point["batch_size"], g.point["lr"]): g.values for g in steps.settings}
    assert by_point[(32, 0.01)] == [10.0, 10.0, 10.0] and by_point[(32, 0.001)] == [20.0]
    assert by_point[(256, 0.01)] == []


def test_bad_metric_is_a_config_error(study_with_results, storage_url):
    from optlab.errors import ConfigError

    with pytest.raises(ConfigError, match="--metric"):
        build_report(study_with_results, storage_url, metric="loss", write=False)
    with pytest.raises(ConfigError, match="--target"):
        build_report(study_with_results, storage_url, metric="time-to-target", write=False)
