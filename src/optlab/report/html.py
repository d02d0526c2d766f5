"""The lecture report: ``index.html`` rendered from ``results.json`` alone (never from in-memory state).

Self-contained: inline CSS, no scripts, no web fonts; figures are PNG files beside it, linked by relative
paths, so the folder can be moved, zipped and opened offline in any browser.
"""

from __future__ import annotations

import functools
import html
import json
import math
import re
from pathlib import Path
from typing import Any

from optlab._io import atomic_write_text as write_text
from optlab.errors import OptlabError
from optlab.experiments.framework import DATA_CLAIM_RULE, INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, SECTIONS

__all__ = ["format_number", "render", "render_html"]

_CSS = """
:root { --ink: #1d2330; --muted: #5b6475; --line: #d9dee7; --ok: #1b7f3b; --bad: #b42318; --unsure: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #f6f7f9;
       font: 17px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 60px; background: #fff; }
h1 { font-size: 30px; margin: 8px 0 4px; }
h2 { font-size: 24px; margin: 44px 0 8px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
h3 { font-size: 20px; margin: 30px 0 6px; }
p.meta { color: var(--muted); font-size: 14px; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: 10px 0 18px; font-size: 15px; }
th, td { border-bottom: 1px solid var(--line); padding: 6px 10px; text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; font-size: 14px; font-weight: 600;
         color: #fff; white-space: nowrap; }
.badge.reproduced { background: var(--ok); }
.badge.not-reproduced { background: var(--bad); }
.badge.inconclusive { background: var(--unsure); }
article.claim { border: 1px solid var(--line); border-radius: 10px; padding: 14px 20px 8px; margin: 18px 0
28px; }
blockquote { margin: 6px 0 14px; padding: 8px 16px; border-left: 4px solid #8aa4d6; background: #f3f6fc;
             font-size: 18px; }
figure { margin: 14px 0 18px; }
figure img { display: block; width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: 15px; margin-top: 6px; }
.formulas { background: #fbfaf4; border: 1px solid #ece6c8; border-radius: 8px; padding: 8px 14px;
            margin: 10px 0; }
.formulas div { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 15px; margin: 3px 0; }
.label { font-weight: 600; }
.note { background: #f4f4f6; border-radius: 8px; padding: 8px 14px; margin: 10px 0; font-size: 15.5px; }
ul.checks { list-style: none; padding-left: 4px; margin: 6px 0 12px; }
ul.checks li { margin: 2px 0; }
.pass { color: var(--ok); font-weight: 700; }
.fail { color: var(--bad); font-weight: 700; }
a { color: #1f5fbf; }
p.tryit { background: #eef5ff; border-radius: 8px; padding: 6px 14px; font-size: 15.5px; }
"""

_BADGE_CLASS = {REPRODUCED: "reproduced", NOT_REPRODUCED: "not-reproduced", INCONCLUSIVE: "inconclusive"}

_INTRO = (
    "Each section below takes one sentence of the lecture on mini-batch optimisation, runs an experiment "
    "that should show it, and decides from the measured numbers whether it did. The rule for deciding (the "
    "<em>criterion</em>) is written next to each result, together with the numbers it used, so you can "
    "check the decision yourself. A claim is <strong>reproduced</strong> when every part of its criterion "
    "holds, <strong>not reproduced</strong> when a part fails, and <strong>inconclusive</strong> when the "
    "run was too small to decide (for example the fast <code>smoke</code> profile)."
)

_SURFACE_NOTE = (
    "The error-surface experiments run optimizers on small functions of two parameters (x, y), where the "
    "minimum and the gradient are known exactly, so every step can be drawn on the contour lines. They are "
    "deterministic: seeds do not change them, so n = 1."
)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
# θ_{t+1} → θ<sub>t+1</sub>, g_t → g<sub>t</sub>; d_model stays as it is (a word, not a subscript).
_SUBSCRIPT = re.compile(r"_\{([^{}]+)\}|_([A-Za-z0-9])(?![A-Za-z0-9])")


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _formula(text: str) -> str:
    """Escape, then set _{…} and single-character _x as subscripts."""
    return _SUBSCRIPT.sub(lambda m: f"<sub>{m.group(1) or m.group(2)}</sub>", _e(text))


def format_number(value: Any) -> str:
    """A readable number: 4 significant digits, scientific notation for very large or small magnitudes;
    ``{"mean", "std", "n"}`` becomes ``mean ± std (n = k)``.
    """
    if isinstance(value, dict) and "mean" in value:
        text = f"{format_number(value['mean'])} ± {format_number(value.get('std', 0.0))}"
        return f"{text} (n = {value['n']})" if "n" in value else text
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}".replace(",", " ")
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0:
            return "0"
        magnitude = abs(value)
        if 1e3 <= magnitude < 1e5:
            return f"{value:,.0f}".replace(",", " ")
        if magnitude >= 1e5 or magnitude < 1e-3:
            mantissa, exponent = f"{value:.3e}".split("e")
            return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(format_number(v) for v in value)
    return str(value)


def _note(label: str, text: str) -> str:
    return f'<div class="note"><span class="label">{label}</span> {_e(text)}</div>'


def _badge(verdict: str) -> str:
    return f'<span class="badge {_BADGE_CLASS.get(verdict, "inconclusive")}">{_e(verdict)}</span>'


def _claim_html(claim: dict[str, Any]) -> str:
    parts = [f'<article class="claim" id="claim-{_e(claim["id"])}">']
    parts.append(
        f"<h3>{_e(claim['id'])} · {_e(claim.get('title', ''))} &nbsp;{_badge(claim['verdict'])}</h3>"
    )
    parts.append(f"<blockquote>{_e(claim['sentence'])}</blockquote>")
    for figure in claim.get("figures", []):
        parts.append(
            f'<figure><img src="{_e(figure["path"])}" alt="{_e(figure.get("caption", claim["id"]))}" '
            f'loading="eager"><figcaption>{_e(figure.get("caption", ""))}</figcaption></figure>'
        )
    link = _try_it_links().get(claim["id"])
    if link is not None:  # the interactive page (optlab explore), preset to this claim's runs
        parts.append(
            f'<p class="tryit"><a href="explore.html?{_e(link.query)}">▶ Try it in the explorer</a>: '
            f"{_e(link.text)}</p>"
        )
    if claim.get("formulas"):
        rows = "".join(f"<div>{_formula(f)}</div>" for f in claim["formulas"])
        parts.append(f'<div class="formulas"><span class="label">The methods</span>{rows}</div>')
    if claim.get("mechanism"):
        parts.append(_note("Why this setting.", claim["mechanism"]))
    if claim.get("criterion"):
        parts.append(f'<p><span class="label">Criterion.</span> {_e(claim["criterion"])}</p>')
    if claim.get("checks"):
        items = "".join(
            f'<li><span class="{"pass" if ok else "fail"}">{"✓" if ok else "✗"}</span> {_e(name)}</li>'
            for name, ok in claim["checks"].items()
        )
        parts.append(f'<ul class="checks">{items}</ul>')
    if claim.get("numbers"):
        rows = "".join(
            f'<tr><td>{_e(name)}</td><td class="num">{_e(format_number(value))}</td></tr>'
            for name, value in claim["numbers"].items()
        )
        parts.append(
            f"<table><tr><th>measured (n = {_e(claim.get('n', 1))})</th><th>value</th></tr>{rows}</table>"
        )
    parts.append(
        f'<p><span class="label">Verdict:</span> {_badge(claim["verdict"])}'
        + (f" — {_e(claim['note'])}" if claim.get("note") else "")
        + "</p>"
    )
    if claim.get("differs"):
        parts.append(_note("Our setting vs the lecture.", claim["differs"]))
    parts.append("</article>")
    return "\n".join(parts)


def _lecture_table_html(rows: list[dict[str, Any]]) -> str:
    """The lecture's small-vs-large summary, each cell with this run's number, its claim and ✓/✗."""
    mark = {True: '<span class="pass">✓</span>', False: '<span class="fail">✗</span>', None: "–"}
    body = []
    for row in rows:
        links = ", ".join(f'<a href="#claim-{_e(c)}">{_e(c)}</a>' for c in row.get("claims", []))
        body.append(
            f"<tr><td>{_e(row['aspect'])}</td><td>{_e(row['lecture_small'])}</td>"
            f"<td>{_e(row['lecture_large'])}</td><td>{_e(row['measured'])}</td><td>{links}</td>"
            f"<td>{mark.get(row.get('agrees'), '–')}</td></tr>"
        )
    return (
        '<h3 id="lecture-table">The lecture\'s table, measured: small batch vs large batch</h3>'
        "<p>The lecture sums up the batch-size part in six rows. Each row below holds what this run measured,"
        " the claim it comes from, and ✓ where the measurement agrees with the lecture's word (✗ where it "
        "does not, – where this run has no number for it).</p>"
        "<table><tr><th>aspect</th><th>small batch (lecture)</th><th>large batch (lecture)</th>"
        "<th>measured here</th><th>claim</th><th>agrees</th></tr>" + "".join(body) + "</table>"
    )


@functools.cache
def _try_it_links() -> dict[str, Any]:
    from optlab.explore.presets import try_it_links

    return try_it_links()


def render_html(results: dict[str, Any]) -> str:
    """The page for a results.json document."""
    claims = results.get("claims", [])
    experiments = {e["id"]: e for e in results.get("experiments", [])}
    counts = {
        v: sum(1 for c in claims if c["verdict"] == v) for v in (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)
    }
    head = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>optlab lecture report ({_e(results.get('profile', ''))})</title><style>{_CSS}</style></head>"
    )
    body = ["<body><main>", "<h1>The lecture, re-run and measured</h1>"]
    body.append(
        f'<p class="meta">profile <strong>{_e(results.get("profile"))}</strong> · optlab '
        f"{_e(results.get('optlab_version'))} · {_e(results.get('created'))} · total wall time "
        f"{_e(format_number(float(results.get('wall_time_s', 0.0))))} s · {len(claims)} claims: "
        f"{counts[REPRODUCED]} reproduced, {counts[NOT_REPRODUCED]} not reproduced, {counts[INCONCLUSIVE]} "
        "inconclusive</p>"
    )
    body.append(f"<p>{_INTRO}</p>")
    if any(e.get("seeded") for e in experiments.values()):
        seeds = results.get("first_seed", 0)
        body.append(
            f'<p><span class="label">How a data claim is decided.</span> {_e(DATA_CLAIM_RULE)} This run: '
            f"seeds from {_e(seeds)} (n = {_e(results.get('seeds'))} per seeded experiment).</p>"
        )
    if any(not e.get("seeded", True) for e in experiments.values()):
        body.append(f"<p>{_e(_SURFACE_NOTE)}</p>")
    body.append(
        "<h2>Summary</h2><table><tr><th>claim</th><th>section</th><th>the lecture "
        "says</th><th>verdict</th></tr>"
    )
    for claim in claims:
        sentence = claim["sentence"]
        short = sentence if len(sentence) <= 150 else sentence[:147].rsplit(" ", 1)[0] + " …"
        body.append(
            "<tr><td><a "
            f'href="#claim-{_e(claim["id"])}">{_e(claim["id"])}</a></td><td>{_e(claim["section"])}</td>'
            f"<td>{_e(short)}</td><td>{_badge(claim['verdict'])}</td></tr>"
        )
    body.append("</table>")
    ordered = sorted(SECTIONS, key=SECTIONS.index) + sorted({c["section"] for c in claims} - set(SECTIONS))
    for section in ordered:
        in_section = [c for c in claims if c["section"] == section]
        if not in_section:
            continue
        body.append(f"<h2>{_e(section)}</h2>")
        shown: set[str] = set()
        for claim in in_section:
            experiment = experiments.get(claim["experiment"], {})
            if claim["experiment"] not in shown and experiment.get("intro"):
                shown.add(claim["experiment"])
                seeds = experiment.get("seeds", [])
                detail = (
                    f"seeds {', '.join(map(str, seeds))}" if experiment.get("seeded") else "deterministic"
                )
                seconds = format_number(float(experiment.get("wall_time_s", 0.0)))
                body.append(
                    f'<p><span class="label">Experiment {_e(claim["experiment"])}.</span> '
                    f'{_e(experiment["intro"])} <span class="meta">({_e(detail)}; {seconds} s)</span></p>'
                )
                for error in experiment.get("errors", []):
                    body.append(
                        '<div class="note"><span class="fail">The experiment failed:</span> '
                        f"{_e(error)}</div>"
                    )
            body.append(_claim_html(claim))
        if section == "Batch size" and results.get("lecture_table"):
            body.append(_lecture_table_html(results["lecture_table"]))
    body.append(
        '<p class="meta">Made by <code>optlab lecture</code> from <code>results.json</code> in this folder; '
        "each experiment's raw measurements (JSON) and the data behind its figures (CSV) are in its "
        "sub-folder.</p>"
    )
    body.append("</main></body></html>")
    return head + "\n".join(body) + "\n"


def render(out_dir: Path) -> Path:
    """Read ``out_dir/results.json`` and write ``out_dir/index.html``; return its path."""
    results_path = out_dir / "results.json"
    try:
        results = json.loads(results_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OptlabError(
            f"no results.json in {out_dir}; run `optlab lecture --out {out_dir}` first"
        ) from None
    except ValueError as error:
        raise OptlabError(f"{results_path} is not valid JSON ({error}); re-run `optlab lecture`") from None
    page = out_dir / "index.html"
    write_text(page, render_html(results))
    from optlab.explore import write_page

    write_page(out_dir)  # explore.html beside it: the "try it" links open it
    return page
