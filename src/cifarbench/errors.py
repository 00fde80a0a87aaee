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


class WriteError(Exception):
    """A file could not be written: a full disk, a file-size limit, a read-only folder. A fault of the
    machine, not of what was asked; the CLI prints it as one line naming the file and exits 1. The
    file it was writing keeps its last whole version (files.atomic_file never leaves half of one)."""


class RunStopped(Exception):
    """A run ended before its last step: failed (exit 1) or interrupted by a signal (128 + signal).

    The message is one line that says what happened and what to do next (how to resume, or
    what to change). `status` ("failed" or "interrupted") and `record` (fields such as the
    failure's reason or the signal's name) are what the run lifecycle writes into run_log.json.
    """

    def __init__(self, message: str, exit_code: int, status: str = "failed", record: dict | None = None):
        super().__init__(message)
        self.exit_code = exit_code
        self.status = status
        self.record = dict(record or {})
