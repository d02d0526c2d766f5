"""optlab.optim."""
