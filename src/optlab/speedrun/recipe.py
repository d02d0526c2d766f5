"""Speed-run recipes: TOML files, one per dataset, in ``optlab/speedrun/recipes/`` (or any path).

A recipe is a :class:`~optlab.train.TrainConfig` (its ``[train]`` table, the keys of ``optlab train
--config``) plus what the speed run needs beyond it::

    target = 0.91          # mean test accuracy (fraction) the seeds must reach
    seeds = 5              # default number of seeds
    threads = 1            # torch's intra-op threads (optional; default: torch's, the number of cores)
    description = "..."    # one line: what the recipe is
    [train]
    dataset = "fashion-mnist"
    model = "conv2bn"
    ...

Comments in the file say how each setting was chosen (the README's "Speed run" section has the numbers).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from optlab.errors import ConfigError
from optlab.train.config import TrainConfig

__all__ = ["Recipe", "load_recipe", "recipe_names"]

_KEYS = {"target", "seeds", "threads", "description", "train"}


@dataclass(frozen=True)
class Recipe:
    """A parsed recipe: ``name`` (the file's stem), the accuracy ``target`` (fraction), the default number of
    ``seeds``, the run's ``config`` (its seed is replaced per run), torch's ``threads`` (None: torch's
    default) and where it was read from."""

    name: str
    target: float
    seeds: int
    description: str
    config: TrainConfig
    source: str
    threads: int | None = None

    @property
    def dataset(self) -> str:
        return self.config.dataset


def _recipes_dir() -> Any:
    return resources.files("optlab.speedrun") / "recipes"


def recipe_names() -> list[str]:
    """The recipes shipped with optlab, by name (``optlab speedrun NAME``)."""
    return sorted(p.name[: -len(".toml")] for p in _recipes_dir().iterdir() if p.name.endswith(".toml"))


def load_recipe(name_or_path: str | Path) -> Recipe:
    """The shipped recipe ``name_or_path`` (e.g. ``"fashion-mnist"``) or the recipe file at that path.
    Raises :class:`ConfigError` (one line) for an unknown name, an unreadable file or a bad setting."""
    text_name = str(name_or_path)
    if text_name.endswith(".toml") or Path(text_name).is_file():
        path = Path(text_name)
        try:
            text, source = path.read_text(), str(path)
        except OSError as error:
            raise ConfigError(f"cannot read recipe {path}: {error.strerror or error}") from None
        name = path.stem
    elif text_name in recipe_names():
        text = (_recipes_dir() / f"{text_name}.toml").read_text()
        source, name = f"optlab/speedrun/recipes/{text_name}.toml", text_name
    else:
        raise ConfigError(
            f"invalid value for DATASET: no speed-run recipe {text_name!r}; choose one of: "
            f"{', '.join(recipe_names())} (or give a recipe .toml file)"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"recipe {source} is not valid TOML: {error}") from None
    unknown = sorted(set(data) - _KEYS)
    if unknown or not isinstance(data.get("train"), dict):
        raise ConfigError(
            f"recipe {source}: "
            + (f"unknown key(s) {', '.join(unknown)}" if unknown else "needs a [train] table")
            + f"; valid keys: {', '.join(sorted(_KEYS))}"
        )
    try:
        config = TrainConfig.from_dict(data["train"])
    except ConfigError as error:
        raise ConfigError(f"recipe {source}: {error}") from None
    if config.validation:
        raise ConfigError(
            f"recipe {source}: validation must be 0 (a speed run is measured on the test split)"
        )
    target, seeds = data.get("target", 0.0), data.get("seeds", 5)
    check_target(target, f"recipe {source}: target")
    check_seeds(seeds, f"recipe {source}: seeds")
    threads = data.get("threads")
    if threads is not None:
        check_threads(threads, f"recipe {source}: threads")
    description = str(data.get("description", ""))
    return Recipe(name, float(target), seeds, description, config, source, threads)


def check_target(value: Any, what: str = "invalid value for --target") -> None:
    """A test accuracy as a fraction in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(f"{what}: {value!r} (a test accuracy as a fraction in [0, 1], e.g. 0.91)")


def check_seeds(value: Any, what: str = "invalid value for --seeds") -> None:
    """An integer >= 1 (also the check of ``threads``)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what}: {value!r} (an integer >= 1)")


def check_threads(value: Any, what: str = "invalid value for --threads") -> None:
    check_seeds(value, what)
