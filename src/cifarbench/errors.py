"""The exceptions that mean "the user asked for something that cannot be done".

The CLI turns every `UserError` into one line on stderr and exit code 2, with no
traceback; anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A mistake in what the user asked for: the message says the value and what is allowed."""


class ConfigError(UserError):
    """A configuration field has a value that is not allowed."""


class DataError(UserError):
    """A dataset is missing, corrupted or malformed."""


class CheckpointError(UserError):
    """A checkpoint cannot be loaded for the model or run it was asked for."""
