"""optlab.measure."""
