"""Exceptions that cross optlab's layers; the CLI turns them into one line and an exit code."""


class OptlabError(Exception):
    """A run failed for a reason the user can act on (missing data, a corrupt checkpoint, a NaN loss)."""

    exit_code = 1


class ConfigError(OptlabError, ValueError):
    """Bad user input: an unknown name or an invalid value. The message names the value and what is valid."""

    exit_code = 2


class DataError(OptlabError):
    """A dataset is missing or damaged; the message says where we looked and how to get it."""
