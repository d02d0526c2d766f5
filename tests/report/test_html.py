"""The page renders from a results document alone; numbers are formatted for people; text is escaped."""

from __future__ import annotations

import json

import pytest

from optlab.errors import OptlabError
from optlab.report import format_number, render, render_html


def results_doc(**claim_changes):
    claim = {
        "id": "S9",
        "experiment": "S9",
        "section": "Momentum",
        "title": "A <test> claim",
        "sentence": "Momentum & friends <roll>.",
        "formulas": ["θ_{t+1} = θ_t + m_{t+1}"],
        "differs": "We differ.",
        "figures": [{"path": "S9/seed-0/f.png", "caption": "cap"}],
        "criterion": "x ≥ 1",
        "numbers": {"x": 1.5, "acc": {"mean": 0.91, "std": 0.012, "n": 3}},
        "n": 3,
        "verdict": "not reproduced",
        "checks": {"x ≥ 1": True, "y": False},
        "note": "",
    }
    claim.update(claim_changes)
    return {
        "optlab_version": "0",
        "profile": "quick",
        "seeds": 3,
        "created": "now",
        "wall_time_s": 12.5,
        "experiments": [
            {
                "id": "S9",
                "title": "t",
                "section": "Momentum",
                "intro": "Intro text.",
                "seeded": True,
                "seeds": [0, 1, 2],
                "wall_time_s": 3.0,
                "errors": [],
            }
        ],
        "claims": [claim],
    }


def test_format_number():
    assert format_number(1.23456) == "1.235"
    assert format_number(1.2e-7) == "1.200 × 10⁻⁷"
    assert format_number(100_000) == "100 000"
    assert format_number(14_660.3) == "14 660"
    assert format_number({"mean": 0.5, "std": 0.25, "n": 4}) == "0.5 ± 0.25 (n = 4)"
    assert format_number(None) == "–"
    assert format_number(True) == "yes"


def test_page_has_summary_claim_and_escapes_text():
    page = render_html(results_doc())
    assert "<h2>Summary</h2>" in page
    assert '<a href="#claim-S9">S9</a>' in page and 'id="claim-S9"' in page
    assert "Momentum &amp; friends &lt;roll&gt;." in page and "<roll>" not in page
    assert "θ<sub>t+1</sub>" in page
    assert "0.91 ± 0.012 (n = 3)" in page
    assert 'src="S9/seed-0/f.png"' in page
    assert "badge not-reproduced" in page
    assert "✗</span> y" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_render_needs_results(tmp_path):
    with pytest.raises(OptlabError, match=r"no results\.json"):
        render(tmp_path)
    (tmp_path / "results.json").write_text("{broken")
    with pytest.raises(OptlabError, match="not valid JSON"):
        render(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps(results_doc()))
    assert render(tmp_path).name == "index.html"
