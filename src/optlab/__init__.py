"""optlab: the lecture on mini-batch optimisation as working software.

Layers (imports point downward only): ``optim``/``schedules`` ← ``data``/``models`` ← ``train`` ←
``measure``/``experiments`` ← ``report``/``cli``.
"""

__version__ = "0.1.0"
