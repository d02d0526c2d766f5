"""optlab.data: datasets held as in-memory tensors, and the `Batcher` that slices per-epoch permutations.

    >>> from optlab.data import load, Batcher
    >>> ds = load("fashion-mnist", validation=5000, seed=0).to("cuda")
    >>> for x, y in Batcher(ds.train, batch_size=256, seed=0): ...

Datasets: `names()` -> fashion-mnist, mnist, mnist1d, cifar10, ordered-abc. Files are looked up in the
`data_dir` argument, `$OPTLAB_DATA`, `$OPTLAB_CACHE/<name>` (default ~/.cache/optlab/<name>),
/usr/share/datasets/<name>, then torchvision's `<root>/<Name>/raw`. `download(name, dest)` fetches the
official MNIST / Fashion-MNIST files."""

from ._common import Dataset, Split, cache_root, subset
from .batcher import Batcher
from .idx import download
from .registry import DatasetInfo, info, load, names

__all__ = [
    "Batcher",
    "Dataset",
    "DatasetInfo",
    "Split",
    "cache_root",
    "download",
    "info",
    "load",
    "names",
    "subset",
]
