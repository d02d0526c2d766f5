"""``optlab explore``: write the interactive page of the lecture's error surfaces (offline, from file://)."""

from __future__ import annotations

import webbrowser
from pathlib import Path

import typer

from optlab.errors import ConfigError, OptlabError


def _extent(text: str) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise ConfigError(f"--extent {text!r}: give four numbers x_min,x_max,y_min,y_max, e.g. -2,2,-2,2")
    return values  # type: ignore[return-value]


def register(app: typer.Typer) -> None:
    @app.command()
    def explore(
        out: Path = typer.Option(
            Path("explore-page"), "--out", "-o", help="Folder for explore.html and explore-assets/."
        ),
        open_page: bool = typer.Option(False, "--open", help="Open the page in the default browser."),
        surface: str | None = typer.Option(
            None,
            "--surface",
            help="The surface to open with: a name (quadratic, valley, saddle_and_local_min, rosenbrock, "
            "saddle) or your own formula in x and y, e.g. 'x**2 + 10*y**2' (SymPy differentiates it).",
        ),
        extent: str | None = typer.Option(
            None,
            "--extent",
            help="For a formula: the plot window x_min,x_max,y_min,y_max (default -2,2,-2,2).",
        ),
    ) -> None:
        """An offline page: optimizers side by side on the lecture's error surfaces (optlab.optim's rules)."""
        from optlab.explore import expression_surface, names, write_page

        extra = []
        if surface is not None and surface not in names():
            window = _extent(extent) if extent is not None else (-2.0, 2.0, -2.0, 2.0)
            extra.append(expression_surface(surface, extent=window))
        elif extent is not None:
            raise ConfigError("--extent applies to a formula given with --surface, not to a named surface")
        try:
            page = write_page(out, extra=extra, first=surface if not extra else extra[0].name)
        except OSError as error:  # --out is a file, read-only, on a full disk…
            raise OptlabError(f"cannot write the page to {out}: {error.strerror or error}") from None
        print(f"explorer: {page.resolve()}")
        if open_page and not webbrowser.open(page.resolve().as_uri()):
            print(f"no browser found; open {page.resolve().as_uri()} yourself")
