"""optlab.speedrun: time to accuracy on a fixed target, with a record protocol.

``optlab speedrun DATASET`` runs the dataset's recipe (``optlab/speedrun/recipes/DATASET.toml``: a
:class:`~optlab.train.TrainConfig` and a target accuracy) for N seeds through optlab's own engine
(:func:`optlab.train.train`) and reports test accuracy and training seconds per seed and as mean ± std
(:func:`run`, :mod:`.runner`); ``--record`` judges the run against the last record with Welch's t-test
(:func:`judge`, :mod:`.records`). The speed-run practice it follows: Keller Jordan's airbench (CIFAR-10
to 94 % in seconds on one GPU) and modded-nanogpt: a fixed target, several seeds, the mean, a test."""

from optlab.speedrun.recipe import Recipe, load_recipe, recipe_names
from optlab.speedrun.records import Verdict, judge, record, render
from optlab.speedrun.runner import SeedRun, Speedrun, default_out_dir, run

__all__ = [
    "Recipe",
    "SeedRun",
    "Speedrun",
    "Verdict",
    "default_out_dir",
    "judge",
    "load_recipe",
    "recipe_names",
    "record",
    "render",
    "run",
]
