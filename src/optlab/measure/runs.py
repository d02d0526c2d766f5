"""Load a finished run for measurement: its resolved ``config.toml``, its dataset and its ``final.pt``
weights.

Built from the train layer's public pieces (``TrainConfig.load``) and the data/model registries; the weights
are read with ``torch.load(weights_only=True)``. A folder without a run, a damaged file, or weights that do
not fit the model the config names become one-line :class:`OptlabError` / :class:`ConfigError` messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from optlab.errors import ConfigError, OptlabError


@dataclass
class LoadedRun:
    run_dir: Path
    config: Any  # optlab.train.TrainConfig
    dataset: Any  # optlab.data.Dataset
    model: nn.Module  # on the CPU, eval mode, with the run's final weights


def load_state(path: str | Path) -> dict[str, torch.Tensor]:
    """A plain state dict from ``path`` (``final.pt``), or a checkpoint's ``"model"`` entry."""
    path = Path(path)
    if not path.is_file():
        raise OptlabError(f"no weights at {path} (did the run complete?)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # damaged files raise many types
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OptlabError(
            f"{path} is corrupt or not a weights file torch can read safely: {reason}"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise OptlabError(f"{path} does not hold a model state dict")
    return state


def fit_state(model: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """``model.load_state_dict(state)``; if it does not fit, a one-line error naming the first mismatch."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        detail = f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}"
        raise OptlabError(
            f"{what} does not fit the model ({len(missing)} missing, {len(unexpected)} unexpected "
            f"entries; {detail})"
        )
    for key, tensor in expected.items():
        if tensor.shape != state[key].shape:
            raise OptlabError(
                f"{what} does not fit the model: {key} has shape {tuple(state[key].shape)}, "
                f"the model expects {tuple(tensor.shape)}"
            )
    model.load_state_dict(state)


def load_run(run_dir: str | Path, dataset: Any = None, weights: str = "final.pt") -> LoadedRun:
    """The run in ``run_dir``: config, dataset (loaded by name unless given), model with final weights."""
    from optlab import data, models
    from optlab.train import TrainConfig

    run_dir = Path(run_dir)
    if not (run_dir / "config.toml").is_file():
        raise ConfigError(f"{run_dir} is not a run directory (no config.toml there)")
    config = TrainConfig.load(run_dir / "config.toml")
    if dataset is None:
        dataset = data.load(
            config.dataset, data_dir=config.data_dir, validation=config.validation, seed=config.seed
        )
    model = models.create(config.model, dataset.input_shape, dataset.num_classes)
    fit_state(
        model, load_state(run_dir / weights), f"{run_dir / weights} ({config.model} on {config.dataset})"
    )
    model.eval()
    return LoadedRun(run_dir, config, dataset, model)


def subset(split: Any, examples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``examples`` examples ``(x, y)`` of a dataset split (all of them for 0)."""
    x, y = split.x, split.y
    return (x[:examples], y[:examples]) if examples else (x, y)


def resolve_run(key: str | Path) -> Path:
    """The folder of a run given as a folder, or as an id or name of the runs index (as ``optlab runs show``).

    A folder holding ``config.toml`` wins; otherwise ``key`` is looked up in the index of the runs root
    (``$OPTLAB_RUNS`` or ``./runs``). Read-only: a missing index is not created. Neither → a
    :class:`ConfigError` naming the key and where it was looked for.
    """
    from optlab.train.runs import RunIndex

    path = Path(key)
    if (path / "config.toml").is_file():
        return path
    index = RunIndex()
    if index.path.is_file():
        try:
            row = index.get(str(key))
        except ConfigError as error:
            if not str(error).startswith("no run "):
                raise  # e.g. a name two runs share: the index says which ids to choose from
            row = None
        if row is not None:
            found = Path(row["path"])
            if (found / "config.toml").is_file():
                return found
            raise ConfigError(
                f"run {str(key)!r} is recorded at {found}, but that folder holds no config.toml"
            )
    if path.exists():
        raise ConfigError(f"{path} is not a run directory (no config.toml there)")
    raise ConfigError(
        f"{str(key)!r} is neither a run folder nor a run id or name in {index.path} (see `optlab runs list`)"
    )


def run_label(run_dir: str | Path) -> str:
    """A short name for a run in output folder names: its folder name (a sweep trial: STUDY-trial-NNNN)."""
    run_dir = Path(run_dir).resolve()
    name = run_dir.name
    if name.startswith("trial-") and run_dir.parent.name:
        name = f"{run_dir.parent.name}-{name}"
    return name
