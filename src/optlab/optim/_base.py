"""What every optlab optimizer shares: validation, lazy state, the choice between the reference step and the
fast one.

Each optimizer writes two steps:

* ``_reference_step`` – the readable for-loop, one line per line of the paper's algorithm box. This is the
ground truth
  (as torch.optim's single-tensor loop is for torch).
* ``_fast_step`` – one pass over memory per update: torch's own fused kernel where it computes exactly the
same thing,
  otherwise a torch.compile'd elementwise kernel from :mod:`optlab.optim._fused`. It returns ``False`` when it
  cannot run (compilation unavailable), and the reference step runs instead.

``fused=None`` (the default) takes the fast step where it pays: always for torch's native fused kernels (no
compile cost), and for compiled kernels only when a parameter group holds at least
``_fused.COMPILE_MIN_NUMEL`` elements. ``fused=True`` always takes the fast step, ``fused=False`` always the
reference step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from optlab.optim import _fused

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


def check_lr(lr: float) -> None:
    if not isinstance(lr, int | float) or lr < 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")


def check_non_negative(name: str, value: float) -> None:
    if not isinstance(value, int | float) or value < 0.0:
        raise ValueError(f"Invalid {name} value: {value}")


def check_betas(betas: tuple[float, float]) -> None:
    for index, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {beta}")


def check_fused(fused: bool | None) -> None:
    if fused not in (None, True, False):
        raise ValueError(f"Invalid fused value: {fused!r} (use None for automatic, True or False)")


def group_numel(params: list[Tensor]) -> int:
    return sum(p.numel() for p in params)


def group_by_device_and_dtype(params: list[Tensor]) -> dict[tuple[torch.device, torch.dtype], list[Tensor]]:
    """torch's fused kernels take tensors of one device and dtype per call."""
    groups: dict[tuple[torch.device, torch.dtype], list[Tensor]] = {}
    for p in params:
        groups.setdefault((p.device, p.dtype), []).append(p)
    return groups


class OptlabOptimizer(torch.optim.Optimizer):
    """Base class: subclasses define ``_init_state``, ``_reference_step`` and ``_fast_step``."""

    #: True where the fast step is one of torch's native fused kernels (no compile cost: use it at any size).
    _native_fused: bool = False

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Perform one update; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            for p in params:
                if p.grad.is_sparse:
                    raise RuntimeError(
                        f"{type(self).__name__} does not support sparse gradients "
                        "(use torch.optim.SparseAdam, or a dense embedding: nn.Embedding(..., sparse=False))"
                    )
                state = self.state[p]
                if len(state) == 0:
                    self._init_state(group, p, state)
                elif "step" in state and state["step"].device != p.device:
                    # load_state_dict leaves "step" where it was saved; kernels want it beside the parameter.
                    state["step"] = state["step"].to(p.device)
            if self._use_fast_step(group, params) and self._fast_step(group, params):
                continue
            self._reference_step(group, params)
        return loss

    def _use_fast_step(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        fused = group.get("fused")
        if fused is False:
            return False
        if fused is True or self._native_fused_available(group, params):
            return True
        return _fused.pays_to_compile(group_numel(params))

    def _native_fused_available(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        return False

    # --- to be defined by each optimizer
    # -------------------------------------------------------------------------
    def _init_state(self, group: dict[str, Any], p: Tensor, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def _reference_step(self, group: dict[str, Any], params: list[Tensor]) -> None:
        raise NotImplementedError

    def _fast_step(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        return False

    # --- helpers
    # ----------------------------------------------------------------------------------------------------
    def _new_step_counter(self, p: Tensor) -> Tensor:
        # A 0-dim float32 tensor beside the parameter, as torch's fused optimizers keep it: state dicts move
        # freely between optlab and torch.optim, and kernels read it without a host sync.
        return torch.zeros((), dtype=torch.float32, device=p.device)

    def _steps_after_increment(self, params: list[Tensor]) -> list[int]:
        """Increment every parameter's step counter and return the new counts (one host sync per group)."""
        counters = [self.state[p]["step"] for p in params]
        torch._foreach_add_(counters, 1)
        return [int(t) for t in torch.stack(counters).tolist()]

    def _counted_steps(self, params: list[Tensor]) -> Tensor:
        """Increment the step counters and return them as one tensor (no host sync), for per-step scalars.

        float64 (float32 on MPS, which has no float64), like the Python doubles torch computes them in.
        """
        counters = [self.state[p]["step"] for p in params]
        torch._foreach_add_(counters, 1)
        steps = torch.stack(counters)
        return steps.to(torch.float32 if steps.device.type == "mps" else torch.float64)

    def _uncount_steps(self, params: list[Tensor]) -> None:
        """Undo ``_counted_steps`` when the fast step could not run: the reference step counts it itself."""
        torch._foreach_sub_([self.state[p]["step"] for p in params], 1)

    def _hyperparameters(self, params: list[Tensor], *values: float, double: bool = False) -> Tensor:
        """Hyperparameters as one tensor, so a schedule changing them never recompiles a kernel.

        float64 for float64 parameters, else float32 (the precision torch's fused kernels use for float32
        parameters): the compiled loop then converts nothing per element. ``double``: float64 regardless
        (float32 on MPS, which has no float64), for scalars computed once per step such as β^t.

        Cached by value when all values are Python numbers (a tensor value could change in place): building
        the tensor costs ≈40 µs per step, and the values change rarely (a schedule changes lr at most once
        per step). Kernels only read it.
        """
        device = params[0].device
        wide = device.type != "mps" and (double or any(p.dtype == torch.float64 for p in params))
        dtype = torch.float64 if wide else torch.float32
        if not all(type(v) in (float, int) for v in values):
            return torch.tensor(values, dtype=torch.float64).to(device=device, dtype=dtype, non_blocking=True)
        key = (device, dtype, values)
        cache: dict[Any, Tensor] = self.__dict__.setdefault("_hyperparameter_cache", {})
        hp = cache.get(key)
        if hp is None:
            if len(cache) >= 64:  # a schedule's past values: start over
                cache.clear()
            hp = torch.tensor(values, dtype=torch.float64).to(device=device, dtype=dtype, non_blocking=True)
            cache[key] = hp
        return hp
