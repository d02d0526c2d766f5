"""The layer-wise trust ratio shared by LARS (You et al. 2017) and LAMB (You et al. 2019).

Both scale a tensor's step by a ratio of norms, ‖w‖ over the norm of the update direction, and both fall back
to a ratio of 1 where either norm is 0 (a freshly zero-initialised tensor, or one whose gradient vanished):
without the fallback a zero weight would never move (ratio 0) and a zero update would divide by zero.
"""

from __future__ import annotations

import torch
from torch import Tensor


def trust_ratio(numerator: Tensor, denominator: Tensor, w_norm: Tensor, update_norm: Tensor) -> Tensor:
    """``numerator / denominator`` where ``w_norm > 0`` and ``update_norm > 0``, else 1 (all 0-dim tensors).

    Stays on the device (no host sync), so it can sit inside a compiled kernel.
    """
    return torch.where((w_norm > 0) & (update_norm > 0), numerator / denominator, torch.ones_like(numerator))
