"""Headless Chromium for the explorer's tests and benchmark: dump many URLs in a small thread pool."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)"
)

#: a user formula, so the equality test covers the --surface 'EXPR' path (SymPy -> JS and torch) too
CUSTOM = "x**2/2 + 2*y**2 + sin(x)*y/2 + exp(-x**2)"
_DUMP = re.compile(r'<pre id="dump"[^>]*>(.*?)</pre>', re.S)


def chromium(*args: str, profile: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with flags that keep it offline and quiet, as tests/report/test_browser.py."""
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--hide-scrollbars",
    ]
    assert CHROMIUM is not None
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=timeout)


def dump(page: Path, query: str, profile: Path) -> dict[str, Any]:
    """Open ``page?query`` (with dump=1 in it) and return the JSON the page wrote into <pre id="dump">."""
    done = chromium("--dump-dom", f"{page.as_uri()}?{query}", profile=profile)
    match = _DUMP.search(done.stdout)
    assert match and match.group(1).strip(), f"no dump for ?{query[:200]}…: {done.stderr[-1500:]}"
    return json.loads(html.unescape(match.group(1)))


def dump_many(page: Path, queries: list[str], workers: int = 4) -> list[dict[str, Any]]:
    """``dump`` for each query, a few Chromium processes at a time (each has its own profile folder)."""
    root = Path(tempfile.mkdtemp(prefix="explore-chromium-"))
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda iq: dump(page, iq[1], root / f"p{iq[0]}"), enumerate(queries)))
    finally:
        shutil.rmtree(root, ignore_errors=True)
