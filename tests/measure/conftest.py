"""One intra-op thread: these tests use small tensors, and the shared test machine has few cores."""

import torch

torch.set_num_threads(1)
