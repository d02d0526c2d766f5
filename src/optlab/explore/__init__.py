"""``optlab explore``: the lecture's error surfaces as an offline interactive page.

The page (``explore.html`` + ``explore-assets/``) runs JavaScript copies of optlab.optim's update rules and
optlab.schedules' schedules; :mod:`optlab.explore.contract` documents its URL contract and computes the same
runs in Python, which the tests compare in headless Chromium.
"""

from optlab.explore.contract import Run, defaults, parse_run, python_runs, url_query
from optlab.explore.page import ASSETS, PAGE, write_page
from optlab.explore.surfaces import (
    ExploreSurface,
    expression_surface,
    named_surface,
    names,
)

__all__ = [
    "ASSETS",
    "PAGE",
    "ExploreSurface",
    "Run",
    "defaults",
    "expression_surface",
    "named_surface",
    "names",
    "parse_run",
    "python_runs",
    "url_query",
    "write_page",
]
