"""What every optlab optimizer shares: validation, lazy state, the choice between the reference step and the
fast one.

Each optimizer writes two steps:

* ``_reference_step`` – the readable for-loop, one line per line of the paper's algorithm box. This is the
  ground truth (as torch.optim's single-tensor loop is for torch).
* ``_fast_step`` – one pass over memory per update: torch's own fused kernel where it computes exactly the
  same thing, otherwise a torch.compile'd elementwise kernel from :mod:`optlab.optim._fused`. It returns
  ``False`` when it cannot run (compilation unavailable), and the reference step runs instead.

``fused=None`` (the default) takes the fast step where it pays: always for torch's native fused kernels (no
compile cost), and for compiled kernels only when a parameter group holds at least
``_fused.COMPILE_MIN_NUMEL`` elements. ``fused=True`` always takes the fast step, ``fused=False`` always the
reference step.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from optlab.optim import _fused

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]


def real_number(name: str, value: Any, *, tensor_ok: bool = False) -> float | Tensor:
    """``value`` as a Python number: Python and NumPy real scalars are accepted (as torch.optim accepts
    them), a 1-element tensor is kept where torch keeps one (``tensor_ok``, the learning rate) and read out
    elsewhere. NumPy scalars and tensors are read at their exact value, as Python floats: torch.optim does
    its arithmetic on a NumPy scalar as NumPy does (NumPy 2 keeps ``np.float32`` in float32) and on a
    float32 tensor in float32, so there its last digits can differ from optlab's.

    Anything else (a bool, a string, a multi-element tensor, a complex number) raises ``TypeError`` naming
    the argument.
    """
    if isinstance(value, Tensor):
        if value.numel() != 1 or value.is_complex():
            raise TypeError(
                f"Invalid {name}: a tensor {name} must be one real element, got shape "
                f"{tuple(value.shape)} {value.dtype}"
            )
        return value if tensor_ok else value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Invalid {name}: must be a real number, got {value!r}")
    return value if type(value) in (int, float) else float(value)  # NumPy scalars become Python floats


def check_lr(lr: Any) -> float | Tensor:
    """The learning rate, >= 0 (a 1-element tensor is kept, as torch keeps it, so schedulers fill it)."""
    lr = real_number("learning rate", lr, tensor_ok=True)
    value = lr.item() if isinstance(lr, Tensor) else lr
    if not value >= 0.0:  # also refuses NaN
        raise ValueError(f"Invalid learning rate: {value} (must be >= 0)")
    return lr


def check_non_negative(name: str, value: Any) -> float:
    """A real number >= 0 (NaN refused), as a Python number."""
    number = real_number(name, value)
    if not number >= 0.0:  # also refuses NaN
        raise ValueError(f"Invalid {name} value: {number} (must be >= 0)")
    return number


def check_betas(betas: Any) -> tuple[float, float]:
    """Two real numbers in [0, 1)."""
    try:
        first, second = betas
    except (TypeError, ValueError):
        raise TypeError(f"Invalid betas: must be a pair (beta1, beta2), got {betas!r}") from None
    checked = []
    for index, beta in enumerate((first, second)):
        beta = real_number(f"beta parameter at index {index}", beta)
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {beta} (must be in [0, 1))")
        checked.append(beta)
    return checked[0], checked[1]


def adam_arguments(lr: Any, betas: Any, eps: Any, weight_decay: Any) -> dict[str, Any]:
    """The arguments Adam, RAdam and LAMB share, checked in torch's order (lr, ε, betas, weight decay), as
    group keys in torch's order."""
    lr = check_lr(lr)
    eps = check_non_negative("epsilon", eps)
    betas = check_betas(betas)
    weight_decay = check_non_negative("weight_decay", weight_decay)
    return dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def torch_options(
    owner: str,
    fused: bool | None,
    *,
    maximize: bool = False,
    foreach: bool | None = None,
    capturable: bool = False,
    differentiable: bool = False,
    **flags: bool,
) -> dict[str, Any]:
    """torch.optim's implementation keywords, checked; the group keys torch stores for them.

    ``fused``: None (automatic), True or False chooses optlab's step (module docstring); kept as given.
    ``flags``: the optimizer's own True/False keywords that torch stores beside these (Adam's
    ``decoupled_weight_decay``), checked first and kept as bools. ``maximize`` is implemented (the step
    ascends: g ← −g). ``foreach`` picks an implementation in torch and changes no number; optlab chooses its
    own multi-tensor path, so any value is accepted and kept in the group (checkpoints stay loadable by
    torch). ``capturable=True`` (CUDA-graph capture) and ``differentiable=True`` (autograd through the step)
    are refused: optlab's steps run under ``torch.no_grad`` with host-side scalars.
    """
    if fused not in (None, True, False):
        raise ValueError(f"Invalid fused value: {fused!r} (use None for automatic, True or False)")
    for name, value in (
        *flags.items(),
        ("maximize", maximize),
        ("capturable", capturable),
        ("differentiable", differentiable),
    ):
        if value not in (True, False):
            raise TypeError(f"Invalid {name}: must be True or False, got {value!r}")
    if foreach not in (None, True, False):
        raise TypeError(f"Invalid foreach: must be None, True or False, got {foreach!r}")
    if capturable:
        raise ValueError(
            f"{owner}: capturable=True (CUDA-graph capture) is not supported; "
            f"use torch.optim.{owner} to capture"
        )
    if differentiable:
        raise ValueError(
            f"{owner}: differentiable=True (autograd through the step) is not supported; "
            f"use torch.optim.{owner}"
        )
    flags = {name: bool(value) for name, value in flags.items()}
    return dict(
        fused=fused, **flags, maximize=bool(maximize), foreach=foreach, capturable=False, differentiable=False
    )


@functools.lru_cache(maxsize=1024)
def dense(shape: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    """True where a tensor of this shape and stride covers its memory exactly once: a permutation of a
    contiguous layout (contiguous, transposed, channels_last, ...), not a slice with gaps and not an expanded
    (overlapping) view. Cached: a model's parameters come in a handful of layouts.
    """
    expected = 1
    for size, step in sorted(zip(shape, stride, strict=True), key=lambda pair: pair[1]):
        if size == 1:
            continue
        if step != expected:
            return False
        expected *= size
    return True


def group_by_device_and_dtype(params: list[Tensor]) -> dict[tuple[torch.device, torch.dtype], list[Tensor]]:
    """torch's fused kernels take tensors of one device and dtype per call."""
    groups: dict[tuple[torch.device, torch.dtype], list[Tensor]] = {}
    for p in params:
        groups.setdefault((p.device, p.dtype), []).append(p)
    return groups


class OptlabOptimizer(torch.optim.Optimizer):
    """Base class: subclasses define ``_reference_step`` and ``_fast_step``, and ``_init_state`` where their
    state is more than a step counter and zeros under ``_state_tensor_keys``.

    Fast-step preconditions, checked per parameter on every step (a few attribute reads per tensor, far
    below the step's memory traffic); a parameter that fails them takes the reference step:

    * real floating dtype (torch's ``.grad`` setter already keeps the gradient's dtype, device and shape
      equal to the parameter's; sparse gradients are refused);
    * where ``_fast_step_needs_same_layout`` (torch's native fused kernels, which walk the tensors' memory
      in storage order): the parameter non-overlapping and dense, and its gradient and every state tensor
      laid out with the same strides. A ``channels_last`` weight whose gradient is a contiguous view into a
      flat buffer (DDP's ``gradient_as_bucket_view``), or a transposed parameter with a contiguous gradient,
      would otherwise have its elements receive each other's updates. The compiled kernels index every
      tensor by its own strides (inductor specialises on them), so they need no such check.
    """

    #: True where the fast step needs param, grad and state in one memory layout (torch's fused kernels).
    _fast_step_needs_same_layout: bool = False
    #: The per-parameter state tensors (shaped like the parameter) whose layout that check covers; the default
    #: ``_init_state`` creates them at zero.
    _state_tensor_keys: tuple[str, ...] = ()
    #: Complex parameters are optimised as real pairs (``view_as_real``), as torch.optim does.
    _supports_complex: bool = True

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """torch's ``add_param_group``; optimizers without complex support refuse complex parameters here."""
        params = param_group["params"]
        tensors = [params] if isinstance(params, Tensor) else list(params)
        for p in tensors:
            p = p[1] if isinstance(p, tuple) else p  # (name, tensor) pairs
            if isinstance(p, Tensor) and p.is_complex() and not self._supports_complex:
                raise TypeError(
                    f"{type(self).__name__}: complex parameters are not supported (got {p.dtype}): its "
                    "per-tensor trust ratio has no complex form; optimise a real parameter instead"
                )
        param_group["params"] = params if isinstance(params, Tensor) else tensors
        super().add_param_group(param_group)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Also what ``load_state_dict`` ends with: make a checkpoint from torch.optim, an older torch or an
        older optlab usable.

        * group keys the checkpoint lacks are filled from this optimizer's defaults (torch's
          ``__setstate__`` does the same with its own keys);
        * a ``step`` saved as a Python number (older torch versions) becomes a 0-dim float32 tensor beside
          its parameter, as optlab keeps it;
        * a state tensor saved in another memory layout than its parameter's is copied into the parameter's
          layout, so that the fast step's layout precondition holds after loading.
        """
        super().__setstate__(state)
        for group in self.param_groups:
            for key, value in self.defaults.items():
                group.setdefault(key, value)
            for p in group["params"]:
                p_state = self.state.get(p)
                if not p_state:
                    continue
                step = p_state.get("step")
                if step is not None and not isinstance(step, Tensor):
                    p_state["step"] = torch.tensor(float(step), dtype=torch.float32, device=p.device)
                for key, value in p_state.items():
                    if (
                        isinstance(value, Tensor)
                        and value.shape == p.shape
                        and value.dim() > 0
                        and value.stride() != p.stride()
                    ):
                        p_state[key] = torch.empty_like(p, dtype=value.dtype).copy_(value)

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
            if any(p.is_complex() for p in params):
                params, complex_views = self._real_views(params)
                try:
                    self._step_group(group, params)
                finally:
                    self._end_real_views(complex_views)
            else:
                self._step_group(group, params)
        return loss

    def _step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        fast, reference = (
            self._fast_step_candidates(params) if self._use_fast_step(group, params) else ([], params)
        )
        if fast and not self._fast_step(group, fast):
            reference = params  # the fast step could not run (no compiler): it changed nothing
        if reference:
            self._reference_step(group, reference)

    def _real_views(self, params: list[Tensor]) -> tuple[list[Tensor], list[tuple[Tensor, Tensor, dict]]]:
        """Complex parameters as torch.optim treats them: as real ones of twice the size (``view_as_real``
        of the parameter, its gradient and its state, all sharing memory), so the update rule runs on the
        real and imaginary parts as separate coordinates. The views' state is registered for this step."""
        views: list[Tensor] = []
        complex_views: list[tuple[Tensor, Tensor, dict]] = []
        for p in params:
            if not p.is_complex():
                views.append(p)
                continue
            real = torch.view_as_real(p)
            real.grad = torch.view_as_real(p.grad)
            created = {
                key: torch.view_as_real(value)
                for key, value in self.state[p].items()
                if isinstance(value, Tensor) and value.is_complex()
            }
            self.state[real] = {**self.state[p], **created}
            views.append(real)
            complex_views.append((p, real, created))
        return views, complex_views

    def _end_real_views(self, complex_views: list[tuple[Tensor, Tensor, dict]]) -> None:
        """Carry state the step created or replaced (not updated in place) back to the complex parameter."""
        for p, real, created in complex_views:
            state = self.state.pop(real)
            real.grad = None
            for key, value in state.items():
                if created.get(key) is value:
                    continue  # a view: updated in place, the complex state already holds the numbers
                if isinstance(value, Tensor) and value.dim() == p.dim() + 1 and value.is_floating_point():
                    value = torch.view_as_complex(value)
                self.state[p][key] = value

    def _fast_step_candidates(self, params: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """Split ``params``: those meeting the fast step's preconditions (class docstring), and the rest.

        A gradient's dtype, device and shape equal its parameter's (torch checks them when ``.grad`` is
        set), so only the layout is checked. The common case, all contiguous, costs a few flag reads per
        tensor (≈1 µs); any other layout compares strides.
        """
        if not self._fast_step_needs_same_layout:
            if all(p.is_floating_point() for p in params):
                return params, []
            floating = [p for p in params if p.is_floating_point()]
            return floating, [p for p in params if not p.is_floating_point()]
        fast: list[Tensor] = []
        reference: list[Tensor] = []
        state, keys = self.state, self._state_tensor_keys
        for p in params:
            p_state = state[p]
            if not p.is_floating_point():
                ok = False
            elif p.is_contiguous():
                ok = p.grad.is_contiguous()
                for key in keys:
                    value = p_state.get(key)
                    if ok and value is not None and not value.is_contiguous():
                        ok = False
            else:
                stride = p.stride()
                ok = p.grad.stride() == stride and dense(tuple(p.shape), stride)
                for key in keys:
                    value = p_state.get(key)
                    if ok and value is not None and value.stride() != stride:
                        ok = False
            (fast if ok else reference).append(p)
        return fast, reference

    @staticmethod
    def _grad(group: dict[str, Any], p: Tensor) -> Tensor:
        """The gradient the rule descends along: −∇f where the group maximises (torch's ``maximize``)."""
        return -p.grad if group["maximize"] else p.grad

    @staticmethod
    def _grads(group: dict[str, Any], params: list[Tensor]) -> list[Tensor]:
        """``_grad`` for a list, in one foreach call where the group maximises."""
        grads = [p.grad for p in params]
        return torch._foreach_neg(grads) if group["maximize"] else grads

    def _use_fast_step(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        fused = group.get("fused")
        if fused is False:
            return False
        if fused is True or self._native_fused_available(group, params):
            return True
        return _fused.pays_to_compile(sum(p.numel() for p in params))

    def _native_fused_available(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        return False

    # --- to be defined by each optimizer
    # -------------------------------------------------------------------------
    def _init_state(self, group: dict[str, Any], p: Tensor, state: dict[str, Any]) -> None:
        """A step counter and zeros shaped like ``p`` for each of ``_state_tensor_keys`` (RAdam's m and v)."""
        state["step"] = self._new_step_counter(p)
        for key in self._state_tensor_keys:
            state[key] = torch.zeros_like(p, memory_format=torch.preserve_format)

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
        return [int(t) for t in self._counted_steps(params).tolist()]

    def _counted_steps(self, params: list[Tensor]) -> Tensor:
        """Increment the step counters and return them as one tensor (no host sync), for per-step scalars.

        float64 (float32 on MPS, which has no float64), like the Python doubles torch computes them in.
        """
        counters = [self.state[p]["step"] for p in params]
        torch._foreach_add_(counters, 1)
        steps = torch.stack(counters)
        return steps.to(torch.float32 if steps.device.type == "mps" else torch.float64)

    def _run_counted(self, params: list[Tensor], kernel: Callable[..., None], *args: Any) -> bool:
        """``_fused.run(kernel, *args)`` for a step already counted (``_counted_steps``); where it could not
        run, uncount the step: the reference step counts it itself."""
        if _fused.run(kernel, *args):
            return True
        torch._foreach_sub_([self.state[p]["step"] for p in params], 1)
        return False

    def _torch_fused_step(
        self,
        kernel: Callable[..., None],
        group: dict[str, Any],
        params: list[Tensor],
        state_keys: tuple[str | None, ...],
        **hyperparameters: Any,
    ) -> bool:
        """One call of torch's native fused ``kernel`` per device and dtype (its tensors must share them):
        parameters, gradients, the state tensors under each of ``state_keys`` ([] for None), the step
        counters (counted first, as torch does), with the group's lr and maximize and ``hyperparameters``."""
        for same_kind in group_by_device_and_dtype(params).values():
            states = [self.state[p] for p in same_kind]
            steps = [s["step"] for s in states]
            torch._foreach_add_(steps, 1)
            kernel(
                same_kind,
                [p.grad for p in same_kind],
                *([s[key] for s in states] if key else [] for key in state_keys),
                steps,
                lr=float(group["lr"]),
                maximize=group["maximize"],
                grad_scale=None,
                found_inf=None,
                **hyperparameters,
            )
        return True

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
