"""``optlab demo``: five optimizers, a table, a contour plot."""

from __future__ import annotations

import numpy as np

from optlab.experiments.demo import METHODS, demo_surface, run_demo


def test_run_demo_rows_and_figure(tmp_path):
    rows, figure = run_demo(tmp_path, steps=60)
    assert [r.method for r in rows] == list(METHODS)
    start_distance = float(np.linalg.norm(np.subtract(demo_surface().start, demo_surface().minimum)))
    for row in rows:
        assert np.isfinite(row.final_loss) and row.final_loss >= 0
        assert row.distance_to_minimum < start_distance  # every method made progress
    assert figure.exists() and figure.stat().st_size > 20_000
