"""optlab.train."""
