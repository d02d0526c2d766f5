"""optlab.models."""
