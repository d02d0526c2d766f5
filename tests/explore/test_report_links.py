"""The lecture report ships the explorer; each error-surface claim's "try it" link opens a working preset."""

from __future__ import annotations

import html
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from explore_chromium import chromium, needs_chromium

from optlab.explore import parse_run
from optlab.explore.presets import try_it_links
from optlab.report import render

CLAIMS = ("S1", "S2", "S3", "S4", "S5", "S6a", "S6b")


def _report(out: Path) -> str:
    claims = [
        {"id": c, "experiment": c[:2], "section": "Momentum", "title": c, "sentence": "s", "verdict": "ok"}
        for c in (*CLAIMS, "B1")
    ]
    results = {"profile": "smoke", "experiments": [], "claims": claims}
    out.mkdir()
    (out / "results.json").write_text(json.dumps(results))
    return render(out).read_text()


def test_every_surface_claim_links_to_the_explorer_beside_the_report(tmp_path):
    page = _report(tmp_path / "report")
    links = [html.unescape(h) for h in re.findall(r'href="(explore\.html\?[^"]+)"', page)]
    assert len(links) == len(CLAIMS)  # S1–S6, not the batch claim B1
    assert (tmp_path / "report" / "explore.html").is_file()
    assert (tmp_path / "report" / "explore-assets" / "config.js").is_file()
    for link in links:
        query = parse_qs(urlsplit(link).query)
        assert query["surface"][0] in ("valley", "quadratic", "saddle_and_local_min")
        for opt in query["opt"]:
            parse_run(opt)  # the library accepts every run the link asks for


def test_presets_use_the_experiments_settings():
    from optlab.experiments import momentum, stuck
    from optlab.experiments.surfaces import LECTURE_VALLEY

    s1 = parse_qs(try_it_links()["S1"].query)
    assert json.loads(s1["opt"][0]) == {"name": "sgd", "lr": stuck.LEARNING_RATE}
    assert (float(s1["x0"][0]), float(s1["y0"][0])) == LECTURE_VALLEY["start"]
    s4 = [json.loads(o) for o in parse_qs(try_it_links()["S4"].query)["opt"]]
    assert s4[1] == {"name": "momentum", "lr": momentum.LEARNING_RATE, "momentum": momentum.MOMENTUM,
                     "form": "lecture"}  # fmt: skip


@pytest.mark.slow
@needs_chromium
def test_try_it_links_open_without_errors(tmp_path):
    page = _report(tmp_path / "report")
    links = [html.unescape(h) for h in re.findall(r'href="(explore\.html\?[^"]+)"', page)]
    base = (tmp_path / "report").as_uri()

    def load(k: int) -> tuple[str, str]:
        done = chromium(
            "--virtual-time-budget=3000", "--dump-dom", f"{base}/{links[k]}", profile=tmp_path / f"p{k}"
        )
        return done.stdout, done.stderr

    with ThreadPoolExecutor(max_workers=3) as pool:
        loaded = list(pool.map(load, range(len(links))))
    found = {}
    for link, (dom, log) in zip(links, loaded, strict=True):
        console = [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]
        assert console == [], (link, console)
        labels = re.findall(r'class="label (converges|oscillates|diverges|stalls|error)"', dom)
        assert len(labels) == len(parse_qs(urlsplit(link).query)["opt"]) and "error" not in labels, link
        found[link] = labels
    # the page's labels tell each claim's story (the rule is printed on the page)
    by_claim = dict(zip(CLAIMS, found.values(), strict=True))
    assert by_claim["S1"] == ["oscillates"]  # bounces between the walls
    assert by_claim["S2"] == ["stalls", "oscillates"]  # η = 1e-7 crawls; S1's η bounces
    assert by_claim["S3"][:2] == ["oscillates", "converges"]  # Adagrad-RMS erupts; with η/√(t+1) it does not
    assert by_claim["S4"] == ["stalls", "converges"]  # GD stops at the saddle; momentum reaches x = 3
