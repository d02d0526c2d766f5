"""optlab: the lecture on mini-batch optimisation as working software.

Layers (imports point one way only; ``tests/test_architecture.py`` checks it):
``optim``, ``schedules``, ``data``, ``models`` ← ``train`` ← ``measure``, ``sweep``, ``speedrun`` ←
``experiments`` ← ``report``, ``explore`` ← ``cli``; ``errors`` and ``_io`` from anywhere.
``docs/architecture.md`` says where each lecture concept lives.
"""

__version__ = "0.1.0"
