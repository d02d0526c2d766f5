"""optlab.models: the lecture's models by name, built for a dataset's input shape.

``create(name, input_shape, num_classes)``, ``name`` in ``names()``: ``f1, c1, mlp1d, cnn1d, cnn1d_bn, logreg,
mlp, conv2bn, cnn1d_bn64`` (the last two for the speed runs; ``optlab list models`` describes each).
"""

from optlab.models.nets import ResidualMLP, c1, cnn1d, f1, logreg, mlp, mlp1d
from optlab.models.registry import ModelInfo, create, info, names

__all__ = [
    "ModelInfo",
    "ResidualMLP",
    "c1",
    "cnn1d",
    "create",
    "f1",
    "info",
    "logreg",
    "mlp",
    "mlp1d",
    "names",
]
