"""The optimizer registry: one frozen record per name; the CLI, the trainer, tests and docs read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch

from optlab.errors import ConfigError
from optlab.optim._base import ParamsT
from optlab.optim.adagrad import Adagrad
from optlab.optim.adam import Adam, AdamW
from optlab.optim.lamb import LAMB
from optlab.optim.lars import LARS
from optlab.optim.radam import RAdam
from optlab.optim.rmsprop import RMSProp
from optlab.optim.sgd import SGD


@dataclass(frozen=True)
class OptimizerInfo:
    """What optlab knows about one optimizer name."""

    name: str
    cls: type[torch.optim.Optimizer]
    defaults: MappingProxyType[str, Any] = field(repr=False)
    paper: str
    description: str


def _info(
    name: str, cls: type[torch.optim.Optimizer], defaults: dict[str, Any], paper: str, description: str
):
    return OptimizerInfo(name, cls, MappingProxyType(dict(defaults)), paper, description)


_REGISTRY: dict[str, OptimizerInfo] = {
    info.name: info
    for info in (
        _info("sgd", SGD, {"lr": 0.1}, "Robbins & Monro 1951", "plain stochastic gradient descent"),
        _info(
            "momentum",
            SGD,
            {"lr": 0.1, "momentum": 0.9},
            "Polyak 1964; Sutskever et al. 2013",
            "SGD with heavy-ball momentum",
        ),
        _info(
            "nesterov",
            SGD,
            {"lr": 0.1, "momentum": 0.9, "nesterov": True},
            "Nesterov 1983; Sutskever et al. 2013",
            "SGD with Nesterov momentum",
        ),
        _info(
            "adagrad",
            Adagrad,
            {"lr": 1e-2},
            "Duchi, Hazan & Singer 2011",
            "per-coordinate step sizes from the sum of squared gradients",
        ),
        _info(
            "rmsprop",
            RMSProp,
            {"lr": 1e-2, "alpha": 0.99},
            "Tieleman & Hinton 2012",
            "per-coordinate step sizes from a moving average of squared gradients",
        ),
        _info(
            "adam",
            Adam,
            {"lr": 1e-3, "betas": (0.9, 0.999)},
            "Kingma & Ba 2015",
            "momentum and RMSProp scaling with bias correction",
        ),
        _info(
            "adamw",
            AdamW,
            {"lr": 1e-3, "betas": (0.9, 0.999), "weight_decay": 1e-2},
            "Loshchilov & Hutter 2019",
            "Adam with decoupled weight decay",
        ),
        _info(
            "radam",
            RAdam,
            {"lr": 1e-3, "betas": (0.9, 0.999)},
            "Liu et al. 2020",
            "Adam with the variance of the adaptive step rectified during warm-up",
        ),
        _info(
            "lars",
            LARS,
            {"lr": 1.0, "momentum": 0.9, "trust_coefficient": 1e-3},
            "You, Gitman & Ginsburg 2017",
            "momentum SGD with a per-layer trust ratio for large batches",
        ),
        _info(
            "lamb",
            LAMB,
            {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-6},
            "You et al. 2020",
            "Adam with a per-layer trust ratio for large batches",
        ),
    )
}


def names() -> list[str]:
    """The registered optimizer names, in the lecture's order."""
    return list(_REGISTRY)


def info(name: str) -> OptimizerInfo:
    """The record for ``name``; an unknown name raises ``ConfigError`` naming the valid ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown optimizer {name!r}; valid names: {', '.join(_REGISTRY)}") from None


def create(name: str, params: ParamsT, **hparams: Any) -> torch.optim.Optimizer:
    """Build optimizer ``name`` over ``params``: the registry's defaults, overridden by ``hparams``.

    Example: ``create("momentum", model.parameters(), lr=0.05)`` is ``SGD(..., lr=0.05, momentum=0.9)``.
    """
    record = info(name)
    return record.cls(params, **{**record.defaults, **hparams})
