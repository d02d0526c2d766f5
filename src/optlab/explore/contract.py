"""The page's public contract, and its Python side: the same runs with optlab.optim and optlab.schedules.

URL parameters of ``explore.html`` (all optional):

* ``surface=NAME`` — a surface the page was built with (default: the first);
* ``x0=…&y0=…`` — the start (default: the surface's);
* ``steps=N`` — updates per run (default 1000);
* ``opt=JSON`` — one per run, URL-encoded ``{"name": <registry name>, <keyword>: <value>, …}`` with the
  keyword names of :func:`optlab.optim.create` (e.g. ``{"name":"adam","lr":0.1,"betas":[0.9,0.999]}``);
  missing keywords take the registry's defaults. One extra key, ``"schedule"``, gives this run its own
  schedule;
* ``schedule=JSON`` — the schedule of every run without its own: ``{"name": <optlab.schedules name>,
  "warmup_steps": W, <option>: <value>, …}``, built as ``optlab.schedules.create(name, lr, steps, W,
  **options)`` with the run's lr (``"total_steps"`` overrides ``steps``);
* ``dump=1`` — the page writes ``{"surface": …, "runs": [{"name", "hparams", "schedule", "trajectory",
  "loss"}]}`` into ``<pre id="dump">``; the trajectory has steps + 1 points, the start first.

The parameterisation: θ = (x, y) is ONE float64 tensor of shape (1, 2), as in the S-experiments (one row of
their (n, 2) tensor). LARS and LAMB therefore see one "layer" of two weights: their trust ratios use
‖θ‖ = √(x² + y²) and the norm of the whole 2-vector update; and a (1, 2) tensor is 2-D, so LARS's
``exclude_1d`` never applies. The page does exactly the same.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import torch

from optlab import optim, schedules
from optlab.errors import ConfigError
from optlab.explore.surfaces import ExploreSurface

__all__ = ["Run", "defaults", "parse_run", "python_runs", "url_query"]

#: keywords of the optimizer classes that are about the implementation, not the update rule
_IMPLEMENTATION = {"params", "self", "fused", "foreach", "capturable", "differentiable"}


def defaults(name: str) -> dict[str, Any]:
    """Every keyword of optimizer ``name`` with its value when not given: the class's signature defaults,
    overridden by the registry's (what ``optlab.optim.create(name, params)`` uses)."""
    record = optim.info(name)
    signature = inspect.signature(record.cls.__init__)
    values: dict[str, Any] = {}
    for parameter in signature.parameters.values():
        if parameter.name in _IMPLEMENTATION or parameter.kind is parameter.VAR_KEYWORD:
            continue
        values[parameter.name] = None if parameter.default is inspect.Parameter.empty else parameter.default
    values.update(record.defaults)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


@dataclass(frozen=True)
class Run:
    """One run of the contract: optimizer name, its keywords as given, and its schedule spec (or None)."""

    name: str
    hparams: dict[str, Any]
    schedule: dict[str, Any] | None = None

    def opt_json(self) -> str:
        """The ``opt=`` value (before URL-encoding)."""
        body: dict[str, Any] = {"name": self.name, **self.hparams}
        if self.schedule is not None:
            body["schedule"] = self.schedule
        return json.dumps(body, separators=(",", ":"))


def parse_run(spec: dict[str, Any] | str, default_schedule: dict[str, Any] | None = None) -> Run:
    """An ``opt=`` value (JSON text or dict) as a :class:`Run`; bad names or keywords raise ConfigError."""
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as error:
            raise ConfigError(f"opt={spec!r} is not JSON ({error.msg})") from None
    if not isinstance(spec, dict) or "name" not in spec:
        raise ConfigError(f'opt={spec!r}: need a JSON object with a "name", e.g. {{"name":"adam","lr":0.1}}')
    body = dict(spec)
    name = body.pop("name")
    schedule = body.pop("schedule", default_schedule)
    valid = defaults(name)  # raises ConfigError for an unknown name
    unknown = sorted(set(body) - set(valid))
    if unknown:
        raise ConfigError(f"opt {name!r}: unknown keyword {unknown[0]!r}; valid: {', '.join(valid)}")
    return Run(name, body, schedule)


def _schedule(spec: dict[str, Any], lr: float, steps: int) -> schedules.Schedule:
    options = dict(spec)
    name = options.pop("name", None)
    warmup = options.pop("warmup_steps", 0)
    total = options.pop("total_steps", steps)
    return schedules.create(name, lr, total, warmup, **options)


def python_run(surface: ExploreSurface, start: tuple[float, float], steps: int, run: Run) -> dict[str, Any]:
    """``run`` with optlab.optim / optlab.schedules from ``start``: the page's dump record for it.

    The loop is the S-experiments' (:func:`optlab.experiments._descent.descend`): gradient from the closed
    form, ``optimizer.step()``, then ``scheduler.step()``, so update t uses the schedule's lr(t).
    """
    theta = torch.tensor([start], dtype=torch.float64, requires_grad=True)
    hparams = {k: tuple(v) if isinstance(v, list) else v for k, v in run.hparams.items()}
    optimizer = optim.create(run.name, [theta], **hparams)
    scheduler = None
    if run.schedule is not None:
        lr = optimizer.param_groups[0]["lr"]
        scheduler = schedules.attach(optimizer, _schedule(run.schedule, lr, steps))
    points = torch.empty(steps + 1, 2, dtype=torch.float64)
    losses = torch.empty(steps + 1, dtype=torch.float64)
    with torch.no_grad():
        for t in range(steps + 1):
            value, grad = surface.value_and_grad(theta)
            points[t] = theta[0]
            losses[t] = value.reshape(())
            if t == steps:
                break
            theta.grad = grad.reshape(1, 2)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
    return {"name": run.name, "hparams": run.hparams, "schedule": run.schedule,
            "trajectory": points.tolist(), "loss": losses.tolist()}  # fmt: skip


def python_runs(
    surface: ExploreSurface, start: tuple[float, float], steps: int, runs: list[Run]
) -> dict[str, Any]:
    """The dump the page writes for these runs, computed in Python."""
    return {"surface": surface.name, "runs": [python_run(surface, start, steps, run) for run in runs]}


def url_query(
    surface: str,
    runs: list[Run],
    start: tuple[float, float] | None = None,
    steps: int | None = None,
    schedule: dict[str, Any] | None = None,
    dump: bool = False,
) -> str:
    """The query string (without ``?``) that opens the page preset to these runs."""
    parts = [f"surface={quote(surface)}"]
    if start is not None:
        parts += [f"x0={start[0]!r}", f"y0={start[1]!r}"]
    if steps is not None:
        parts.append(f"steps={int(steps)}")
    if schedule is not None:
        parts.append("schedule=" + quote(json.dumps(schedule, separators=(",", ":")), safe=""))
    parts += ["opt=" + quote(run.opt_json(), safe="") for run in runs]
    if dump:
        parts.append("dump=1")
    return "&".join(parts)
