"""optlab.data."""
