"""The explorer's page, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
from explore_chromium import CUSTOM

from optlab.explore import expression_surface, write_page


@pytest.fixture(scope="session")
def explore_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page as ``optlab explore --surface CUSTOM`` writes it."""
    out = tmp_path_factory.mktemp("explore")
    return write_page(
        out, extra=[expression_surface(CUSTOM, extent=(-2.0, 2.0, -1.5, 1.5), start=(-1.6, 1.2))]
    )
