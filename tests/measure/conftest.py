"""One intra-op thread inside these tests (tests/conftest.py's ``one_torch_thread``): their tensors are
small, and the shared test machine has few cores. An autouse fixture (not a module-level call) so that the
setting does not leak into other test folders."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield
