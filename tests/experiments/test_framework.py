"""The framework pieces: claims, results, mean ± std, the registry's order and --only resolution."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from optlab._io import write_json
from optlab.errors import ConfigError
from optlab.experiments import registry
from optlab.experiments.framework import (
    NOT_REPRODUCED,
    REPRODUCED,
    SECTIONS,
    Claim,
    ClaimResult,
    mean_std,
    outcome,
)


def test_mean_std_uses_sample_std():
    summary = mean_std([1.0, 2.0, 3.0, 4.0])
    assert summary["mean"] == 2.5
    assert summary["std"] == pytest.approx(math.sqrt(5 / 3))
    assert summary["n"] == 4
    assert mean_std([7.0])["std"] == 0.0
    with pytest.raises(ValueError):
        mean_std([])


def test_outcome_rules():
    assert outcome({"a": True, "b": True}) == REPRODUCED
    assert outcome({"a": True, "b": False}) == NOT_REPRODUCED
    assert outcome({"a": True}, enough=False) == "inconclusive"


def test_claim_and_result_validate():
    with pytest.raises(ValueError, match="section"):
        Claim("X", "Nowhere", "text")
    with pytest.raises(ValueError, match="outcome"):
        ClaimResult("X", "crit", {}, 1, "maybe")
    result = ClaimResult("X", "crit", {"a": 1}, 1, REPRODUCED, checks={"c": np.bool_(True)})
    assert type(result.checks["c"]) is bool


def test_write_json_is_standard_json(tmp_path):
    path = tmp_path / "sub" / "m.json"
    write_json(
        path, {"nan": float("nan"), "np": np.float64(1.5), "flag": np.bool_(True), "list": [np.int64(3)]}
    )
    data = json.loads(path.read_text())
    assert data == {"nan": "nan", "np": 1.5, "flag": True, "list": [3]}
    assert [p.name for p in path.parent.iterdir()] == ["m.json"]  # no temporary file left behind


def test_registry_follows_the_lecture_order():
    modules = registry.modules()
    positions = [SECTIONS.index(m.SECTION) for m in modules]
    assert positions == sorted(positions)
    ids = registry.experiment_ids()
    assert ids.index("S4") < ids.index("S1") < ids.index("S6")  # momentum → adaptive lr → schedules
    for module in modules:
        assert module.CLAIMS and all(c.section == module.SECTION for c in module.CLAIMS)
        assert callable(module.run) and callable(module.verdict)
    # the registry's static table of claim ids matches the modules
    assert registry.claim_ids() == [c.id for m in modules for c in m.CLAIMS]
    assert registry.experiment_ids() == [m.ID for m in modules]
    ids = registry.claim_ids()
    assert len(ids) == len(set(ids))


def test_resolve_only():
    assert registry.resolve("s3, S1") == ["S1", "S3"]
    assert registry.resolve("S6b") == ["S6"]
    assert registry.resolve(None) == registry.experiment_ids()
    with pytest.raises(ConfigError, match=r"unknown experiment or claim id 'S9'.*valid: .*S1.*S6b"):
        registry.resolve("S1,S9")
