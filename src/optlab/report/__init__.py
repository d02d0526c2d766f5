"""optlab.report."""
