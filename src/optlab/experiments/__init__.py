"""optlab.experiments."""
