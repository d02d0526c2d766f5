"""optlab.train: the training loop, its checkpoints and run records.

``fit(model, optimizer, batcher, schedule, *, epochs, …) -> FitResult`` is the core loop (:mod:`.core`);
``train(config, run_dir=None, *, dataset=None, callbacks=(), quiet=False, resume=False) -> RunResult``
trains one model as :class:`TrainConfig` says and writes a run folder (``config.toml``, ``metrics.csv``,
``summary.json``, ``checkpoints/last.pt``, ``final.pt``) indexed in ``runs/index.sqlite`` (:class:`RunIndex`).

Names are imported on first use (PEP 562), so ``optlab runs list`` does not pay for importing torch.
"""

import importlib
from typing import Any

_EXPORTS = {
    "Callback": "callbacks",
    "TrainState": "callbacks",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "TrainConfig": "config",
    "parse_hparam": "config",
    "Diverged": "core",
    "FitResult": "core",
    "OnUpdate": "core",
    "Plateau": "core",
    "evaluate": "core",
    "evaluator": "core",
    "fit": "core",
    "CsvLogger": "loggers",
    "TensorBoardLogger": "loggers",
    "RunResult": "loop",
    "build": "loop",
    "check_fits": "loop",
    "fit_config": "loop",
    "describe_device": "device",
    "resolve_device": "device",
    "train": "loop",
    "RunIndex": "runs",
    "read_csv": "runs",
    "runs_root": "runs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'optlab.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"optlab.train.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
