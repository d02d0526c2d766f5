"""optlab.optim: the lecture's optimizers as ``torch.optim.Optimizer`` drop-ins, exact to their papers.

``SGD, Adagrad, RMSProp, Adam, AdamW, RAdam`` give the same numbers as the torch.optim class of the same name
with the same arguments; ``LARS`` and ``LAMB`` follow You et al.'s algorithm boxes. The default step makes one
pass over memory (two for LARS/LAMB); ``fused=False`` selects the readable reference step. The registry
(``names, info, create``) maps the names ``sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, radam,
lars, lamb`` to them. ``param_groups(model, weight_decay)`` builds param groups without weight decay on
biases, norm layers and embeddings. ``RMSprop`` is torch's spelling of ``RMSProp``.
"""

from optlab.optim.adagrad import Adagrad
from optlab.optim.adam import Adam, AdamW
from optlab.optim.lamb import LAMB
from optlab.optim.lars import LARS
from optlab.optim.param_groups import ParamGroups, param_groups
from optlab.optim.radam import RAdam
from optlab.optim.registry import OptimizerInfo, create, info, names
from optlab.optim.rmsprop import RMSProp
from optlab.optim.sgd import SGD

#: torch.optim's spelling
RMSprop = RMSProp

__all__ = [
    "LAMB",
    "LARS",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "OptimizerInfo",
    "ParamGroups",
    "RAdam",
    "RMSProp",
    "RMSprop",
    "create",
    "info",
    "names",
    "param_groups",
]
