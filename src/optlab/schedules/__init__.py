"""optlab.schedules."""
