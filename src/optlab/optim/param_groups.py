"""Parameter groups made easy: no weight decay on biases, norm layers and embeddings; per-pattern lr scales.

``param_groups(model, weight_decay=0.05, lr=1e-3, lr_scale={"head.*": 10})`` returns a list of torch param
group dicts, ready for any ``torch.optim.Optimizer``, that also carries a table of which tensor went where::

    groups = param_groups(model, weight_decay=0.05)
    print(groups.table())
    opt = torch.optim.AdamW(groups, lr=1e-3)

The common practice it encodes (Goyal et al. 2017 for biases and BatchNorm; BERT / GPT-2 / timm for biases,
LayerNorm and embeddings): weight decay pulls weights toward 0, which suits the matrices of linear and
convolutional layers but fights a norm layer's scale (its natural value is 1) and biases and embeddings gain
nothing from it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

__all__ = ["Assignment", "ParamGroups", "param_groups"]

#: Module types whose parameters count as "norm" (scales and shifts of normalisation layers).
NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase,  # BatchNorm*, InstanceNorm*, SyncBatchNorm
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
    *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()),
)
EMBEDDING_TYPES: tuple[type[nn.Module], ...] = (nn.Embedding, nn.EmbeddingBag)
NO_DECAY_KINDS = ("bias", "norm", "embedding")


@dataclass(frozen=True)
class Assignment:
    """Where one parameter went."""

    name: str
    shape: tuple[int, ...]
    group: int  # index into the returned list; -1 where skipped (frozen)
    weight_decay: float | None  # None: the optimizer's own
    lr_scale: float
    reason: str  # why it is (not) decayed, e.g. "bias", "norm (LayerNorm)", "decayed"


class ParamGroups(list):
    """A list of torch param group dicts (pass it to any optimizer) with the assignment table beside it."""

    def __init__(self, groups: Iterable[dict[str, Any]], assignments: list[Assignment]) -> None:
        super().__init__(groups)
        self.assignments = assignments

    def table(self) -> str:
        """One line per parameter: name, shape, group, weight decay, lr scale, reason."""
        rows = [("parameter", "shape", "group", "weight_decay", "lr_scale", "why")]
        for a in self.assignments:
            group = "-" if a.group < 0 else str(a.group)
            decay = "optimizer's" if a.weight_decay is None else f"{a.weight_decay:g}"
            shape = "×".join(map(str, a.shape)) or "scalar"
            rows.append((a.name, shape, group, decay, f"{a.lr_scale:g}", a.reason))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def _kind(name: str, module: nn.Module, no_decay: tuple[str, ...]) -> str | None:
    """The no-decay kind of parameter ``name`` (its full dotted name) owned by ``module``, or None."""
    leaf = name.rsplit(".", 1)[-1]
    if "norm" in no_decay and isinstance(module, NORM_TYPES):
        return f"norm ({type(module).__name__})"
    if "embedding" in no_decay and isinstance(module, EMBEDDING_TYPES):
        return f"embedding ({type(module).__name__})"
    if "bias" in no_decay and leaf.startswith("bias"):
        return "bias"
    lowered = name.lower()
    for pattern in no_decay:  # a custom module: match the name ("norm" in "ln_norm.weight", globs)
        if pattern.lower() in lowered or fnmatch.fnmatchcase(name, pattern):
            return f"name matches {pattern!r}"
    return None


def param_groups(
    model: nn.Module,
    weight_decay: float | None,
    *,
    no_decay: Iterable[str] = NO_DECAY_KINDS,
    lr_scale: Mapping[str, float] | None = None,
    lr: float | None = None,
) -> ParamGroups:
    """Torch param groups for ``model``: ``weight_decay`` on most tensors, 0 on the ``no_decay`` kinds.

    Args:
        model: the module; every parameter with ``requires_grad`` goes into exactly one group (tied
            parameters once), frozen ones are listed in the table as skipped.
        weight_decay: the decay of the decayed group(s); None leaves their ``weight_decay`` key out, so they
            take the optimizer's own (its default, or the value it is built with).
        no_decay: kinds that get weight decay 0: ``"bias"`` (a parameter named ``bias*``), ``"norm"`` (any
            parameter of a normalisation layer: BatchNorm, LayerNorm, GroupNorm, ...), ``"embedding"``
            (``nn.Embedding``/``EmbeddingBag``); any other string matches parameter names, as a substring
            (case-insensitive) or a glob.
        lr_scale: ``{glob pattern on the dotted name: factor}``; the first matching pattern sets the factor
            (else 1). Groups of a factor ≠ 1 get ``lr = lr · factor`` (so ``lr`` is then required) and the
            key ``"lr_scale"`` for reference.
        lr: the optimizer's base lr, needed only with ``lr_scale``.

    Returns:
        a :class:`ParamGroups` (a list of dicts with ``params``, ``weight_decay`` and where scaled ``lr``);
        ``.assignments`` and ``.table()`` say which tensor went where and why.
    """
    no_decay = tuple(no_decay)
    if weight_decay is not None and (
        isinstance(weight_decay, bool) or not isinstance(weight_decay, int | float) or not weight_decay >= 0
    ):
        raise ValueError(f"param_groups: weight_decay must be a number >= 0, got {weight_decay!r}")
    scales = dict(lr_scale or {})
    for pattern, factor in scales.items():
        if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor > 0:
            raise ValueError(f"param_groups: lr_scale[{pattern!r}] must be a number > 0, got {factor!r}")
    if any(f != 1 for f in scales.values()) and lr is None:
        raise ValueError("param_groups: lr_scale needs lr (the base lr the factors multiply)")

    groups: dict[tuple[bool, float], dict[str, Any]] = {}
    assignments: list[Assignment] = []
    seen: set[int] = set()
    for module_name, module in model.named_modules():
        for leaf, p in module.named_parameters(recurse=False):
            name = f"{module_name}.{leaf}" if module_name else leaf
            if id(p) in seen:
                continue  # a tied parameter: its first owner decides
            seen.add(id(p))
            if not p.requires_grad:
                assignments.append(Assignment(name, tuple(p.shape), -1, 0.0, 1.0, "frozen (skipped)"))
                continue
            kind = _kind(name, module, no_decay)
            decay = weight_decay if kind is None else 0.0
            factor = next((float(f) for pat, f in scales.items() if fnmatch.fnmatchcase(name, pat)), 1.0)
            key = (kind is None, factor)
            if key not in groups:
                group: dict[str, Any] = {"params": []}
                if decay is not None:
                    group["weight_decay"] = decay
                if factor != 1.0:
                    group["lr"] = lr * factor  # type: ignore[operator]  # lr checked above
                    group["lr_scale"] = factor
                groups[key] = group
            groups[key]["params"].append(p)
            index = list(groups).index(key)
            assignments.append(Assignment(name, tuple(p.shape), index, decay, factor, kind or "decayed"))
    return ParamGroups(groups.values(), assignments)
