"""optlab.report: the HTML lecture report, rendered from the results files alone."""

from optlab.report.html import format_number, render, render_html

__all__ = ["format_number", "render", "render_html"]
