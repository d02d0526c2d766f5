"""The explorer's 2-D surfaces, each with two implementations of (f, ∂f/∂x, ∂f/∂y): torch and JavaScript.

* The lecture's surfaces (``quadratic``, ``valley``, ``saddle_and_local_min``) are the very
  :class:`optlab.experiments.surfaces.Surface` objects the S-experiments build, with their settings
  (``LECTURE_QUADRATIC``, ``LECTURE_VALLEY``, S4's roots): S3/S5/S6's rotated quadratic, S1/S2's valley,
  S4's saddle and local minimum. The Python side uses their closed forms; the page gets the same closed
  forms written in JavaScript with the same constants (passed as JSON numbers, so the doubles are identical)
  and the same order of operations.
* ``rosenbrock``, ``saddle`` and any ``--surface 'EXPR'`` are one SymPy expression: SymPy differentiates it
  and prints f and ∇f both as JavaScript (``sympy.jscode``) and as torch (``lambdify(modules="torch")``). One
  source, two targets; the printers walk the same expression tree, so the operation order matches.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import sympy
import torch
from sympy.parsing.sympy_parser import (
    convert_xor,
    parse_expr,
    standard_transformations,
)
from torch import Tensor

from optlab.errors import ConfigError
from optlab.experiments.surfaces import (
    LECTURE_QUADRATIC,
    LECTURE_VALLEY,
    Surface,
    quadratic,
    saddle_and_local_min,
    valley,
)

__all__ = ["ExploreSurface", "expression_surface", "lecture_surfaces", "named_surface", "names"]

ValueAndGrad = Callable[[Tensor], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class ExploreSurface:
    """A surface as the page and the Python side both need it.

    Attributes:
        name: the ``surface=`` URL value.
        formula: f(x, y) in plain text, shown on the page.
        extent: (x_min, x_max, y_min, y_max) of the contour plot.
        start: the default start (x0, y0).
        minimum: the global minimiser where known (drawn as a star), else None.
        js: JavaScript source of ``function (x, y) { return [f, df/dx, df/dy]; }``.
        value_and_grad: torch (f, ∇f) at points shaped ``(..., 2)``, float64.
        note: one sentence for the page: where the surface comes from.
    """

    name: str
    formula: str
    extent: tuple[float, float, float, float]
    start: tuple[float, float]
    minimum: tuple[float, float] | None
    js: str
    value_and_grad: ValueAndGrad = field(repr=False)
    note: str = ""

    def page_record(self) -> str:
        """This surface as a JavaScript object literal for the page's surfaces.js."""
        meta = {
            "name": self.name,
            "formula": self.formula,
            "extent": list(self.extent),
            "start": list(self.start),
            "minimum": list(self.minimum) if self.minimum is not None else None,
            "note": self.note,
        }
        body = json.dumps(meta, ensure_ascii=False)[:-1]  # drop the closing brace, add the function
        return f'{body}, "vg": {self.js}}}'


# ----------------------------------------------------------------------------------------------------------
# the lecture's surfaces: the S-experiments' settings, their closed forms mirrored in JavaScript
# ----------------------------------------------------------------------------------------------------------
def _from_lecture(surface: Surface, formula: str, js: str, note: str) -> ExploreSurface:
    """``surface`` for the page: its name, window, start, minimum and closed form; ``js`` mirrors it."""
    assert surface.closed_form is not None  # all three lecture surfaces have one
    return ExploreSurface(
        surface.name, formula, surface.extent, surface.start, surface.minimum, js, surface.closed_form, note
    )


def _quadratic() -> ExploreSurface:
    surface = quadratic(**LECTURE_QUADRATIC)
    angle = LECTURE_QUADRATIC["angle_deg"]
    # H = R diag(λ) Rᵀ exactly as experiments.surfaces.quadratic computes it (same expressions, same doubles).
    lam1, lam2 = (float(v) for v in LECTURE_QUADRATIC["eigenvalues"])
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    h_xx = lam1 * cos * cos + lam2 * sin * sin
    h_yy = lam1 * sin * sin + lam2 * cos * cos
    h_xy = (lam1 - lam2) * cos * sin
    cx, cy = surface.minimum
    p = json.dumps({"hxx": h_xx, "hxy": h_xy, "hyy": h_yy, "cx": cx, "cy": cy})
    js = (
        f"(function () {{ const P = {p}; return function (x, y) {{ const dx = x - P.cx, dy = y - P.cy; "
        "const gx = P.hxx * dx + P.hxy * dy, gy = P.hxy * dx + P.hyy * dy; "
        "return [0.5 * (dx * gx + dy * gy), gx, gy]; }; })()"
    )
    return _from_lecture(
        surface,
        f"f = ½ (θ − θ*)ᵀ H (θ − θ*), eigenvalues {lam1:g} and {lam2:g}, axes rotated {angle:g}°",
        js,
        "S3, S5, S6b: the lecture's ill-conditioned quadratic (condition number 100)",
    )


def _valley() -> ExploreSurface:
    surface = valley(**LECTURE_VALLEY)
    a, k = float(LECTURE_VALLEY["shallow"]), float(LECTURE_VALLEY["steep"])
    p = json.dumps({"a": a, "k": k, "ln2": math.log(2.0)})
    js = (
        f"(function () {{ const P = {p}; return function (x, y) {{ const ay = Math.abs(y); "
        "const logCosh = ay + Math.log1p(Math.exp(-2.0 * ay)) - P.ln2; "
        "return [0.5 * P.a * x * x + P.k * logCosh, P.a * x, P.k * Math.tanh(y)]; }; })()"
    )
    return _from_lecture(
        surface,
        f"f = ½·{a:g}·x² + {k:g}·log cosh(y)",
        js,
        "S1, S2: a long valley whose walls are planes far from the floor",
    )


def _saddle_and_local_min() -> ExploreSurface:
    from optlab.experiments import momentum as s4

    surface = saddle_and_local_min(s4.ROOTS, start=s4.START)
    a, b, d = (float(r) for r in s4.ROOTS)
    across = 2.0  # saddle_and_local_min's default κ, which S4 keeps
    # the polynomial coefficients exactly as optlab.experiments.surfaces computes them; the page's Horner
    # loop takes them highest degree first
    derivative = np.polynomial.polynomial.polyfromroots([0.0, 0.0, a, b, d])
    c = [float(v) for v in np.polynomial.polynomial.polyint(derivative)[::-1]]
    p = json.dumps({"c": c, "dc": [float(v) for v in derivative[::-1]], "across": across})
    js = (
        f"(function () {{ const P = {p}; function horner(x, c) {{ let t = 0; "
        "for (let i = 0; i < c.length; i++) t = t * x + c[i]; return t; } "
        "return function (x, y) { return [horner(x, P.c) + 0.5 * P.across * y * y, horner(x, P.dc), "
        "P.across * y]; }; })()"
    )
    return _from_lecture(
        surface,
        f"f = g(x) + ½·{across:g}·y², g′(x) = x²(x − {a:g})(x − {b:g})(x − {d:g})",
        js,
        f"S4: a flat saddle at x = 0, a small local minimum at x = {a:g}, the global minimum at x = {d:g}",
    )


# ----------------------------------------------------------------------------------------------------------
# SymPy surfaces: one expression, printed as JavaScript and as torch
# ----------------------------------------------------------------------------------------------------------
_X, _Y = sympy.symbols("x y", real=True)
#: the functions a formula may use (SymPy names); each has a JavaScript Math and a torch counterpart
_FUNCTIONS = {
    name: getattr(sympy, name)
    for name in (
        "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "exp", "log",
        "sqrt", "Abs",
    )
}  # fmt: skip
#: what SymPy's parser may build besides the names above (it wraps numbers and unknown names in these)
_PARSER_GLOBALS = {
    name: getattr(sympy, name) for name in ("Integer", "Float", "Rational", "Symbol", "Function")
}
_ALLOWED = ", ".join(sorted(set(_FUNCTIONS) | {"abs", "pi", "E"}))


def _parse(expression: str) -> sympy.Expr:
    bad = f"bad surface expression {expression!r}"
    if not isinstance(expression, str) or not expression.strip():
        raise ConfigError(f"{bad}: give a formula in x and y, e.g. 'x**2 + 10*y**2'")
    if len(expression) > 500 or any(token in expression for token in ("__", "lambda", ";", "import")):
        raise ConfigError(f"{bad}: use only x, y, numbers, + - * / ** ^ ( ) and {_ALLOWED}")
    local = {"x": _X, "y": _Y, "abs": sympy.Abs, "pi": sympy.pi, "E": sympy.E, **_FUNCTIONS}
    try:
        expr = parse_expr(
            expression,
            local_dict=local,
            global_dict=_PARSER_GLOBALS,
            transformations=(*standard_transformations, convert_xor),
        )
    except Exception as error:  # SymPy raises SyntaxError, TokenError, TypeError, NameError…
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"{bad}: cannot parse it ({reason}); e.g. 'x**2 + 10*y**2'") from None
    if not isinstance(expr, sympy.Expr):
        raise ConfigError(f"{bad}: not a formula (got {type(expr).__name__})")
    unknown = sorted(str(s) for s in expr.free_symbols - {_X, _Y})
    if unknown:
        raise ConfigError(f"{bad}: unknown name {unknown[0]!r}; use x, y and {_ALLOWED}")
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Function) and type(node) not in _FUNCTIONS.values():
            raise ConfigError(f"{bad}: unknown function {type(node).__name__!r}; valid: {_ALLOWED}")
    if not expr.free_symbols:
        raise ConfigError(f"{bad}: it does not depend on x or y")
    return expr


def expression_surface(
    expression: str,
    name: str = "custom",
    extent: tuple[float, float, float, float] = (-2.0, 2.0, -2.0, 2.0),
    start: tuple[float, float] | None = None,
    minimum: tuple[float, float] | None = None,
    note: str = "",
) -> ExploreSurface:
    """The surface f(x, y) = ``expression``, differentiated by SymPy, printed as JavaScript and torch.

    A bad expression (syntax, unknown names, not finite at the start) raises ConfigError naming it.
    """
    expr = _parse(expression)
    parts = [expr, sympy.diff(expr, _X), sympy.diff(expr, _Y)]
    js_parts = [sympy.jscode(part) for part in parts]
    if any("Not supported" in code for code in js_parts):
        raise ConfigError(
            f"bad surface expression {expression!r}: JavaScript cannot print it; valid: {_ALLOWED}"
        )
    js = f"function (x, y) {{ return [{', '.join(js_parts)}]; }}"
    torch_fn = sympy.lambdify((_X, _Y), parts, modules="torch")

    def value_and_grad(points: Tensor) -> tuple[Tensor, Tensor]:
        x, y = points[..., 0], points[..., 1]
        f, gx, gy = (torch.as_tensor(v, dtype=points.dtype).expand_as(x) for v in torch_fn(x, y))
        return f, torch.stack([gx, gy], dim=-1)

    x_min, x_max, y_min, y_max = extent
    if not (x_min < x_max and y_min < y_max):
        raise ConfigError(f"bad extent {extent}: need x_min < x_max and y_min < y_max")
    if start is None:
        start = (x_min + 0.2 * (x_max - x_min), y_min + 0.8 * (y_max - y_min))  # upper left
    f0, g0 = value_and_grad(torch.tensor(start, dtype=torch.float64))
    if not (torch.isfinite(f0).all() and torch.isfinite(g0).all()):
        raise ConfigError(
            f"bad surface expression {expression!r}: f or its gradient is not finite at the start {start}"
        )
    formula = "f = " + str(expr).replace("**", "^")
    return ExploreSurface(name, formula, extent, start, minimum, js, value_and_grad, note)


_BUILDERS: dict[str, Callable[[], ExploreSurface]] = {
    "quadratic": _quadratic,
    "valley": _valley,
    "saddle_and_local_min": _saddle_and_local_min,
    "rosenbrock": partial(
        expression_surface,
        "(1 - x)**2 + 100*(y - x**2)**2",
        "rosenbrock",
        extent=(-2.0, 2.0, -1.0, 3.0),
        start=(-1.5, 2.5),
        minimum=(1.0, 1.0),
        note="Rosenbrock 1960: a curved, flat-bottomed banana valley",
    ),
    "saddle": partial(
        expression_surface,
        "x**2/2 - y**2/2 + y**4/4",
        "saddle",
        extent=(-2.0, 2.0, -1.6, 1.6),
        start=(-1.8, 0.02),
        minimum=(0.0, 1.0),
        note="a plain saddle at the origin, (x² − y²)/2 near it; y⁴/4 gives the runs two minima, y = ±1",
    ),
}

LECTURE = ("quadratic", "valley", "saddle_and_local_min")


def names() -> list[str]:
    """The named surfaces, the lecture's first."""
    return list(_BUILDERS)


def named_surface(name: str) -> ExploreSurface:
    """The surface called ``name``; an unknown name raises ConfigError listing the valid ones."""
    try:
        return _BUILDERS[name]()
    except KeyError:
        valid = ", ".join(_BUILDERS)
        raise ConfigError(f"unknown surface {name!r}; valid: {valid} or a formula in x and y") from None


def lecture_surfaces() -> list[ExploreSurface]:
    """All named surfaces (the page ships every one)."""
    return [builder() for builder in _BUILDERS.values()]
