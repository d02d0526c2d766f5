"""One intra-op thread inside these tests: their tensors are small, and the shared test machine has few cores.

An autouse fixture (not a module-level call) so that the setting does not leak into other test folders.
"""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)
