"""The error type for bad input: shown to the user as one line, exit code 2, no traceback."""


class InputError(ValueError):
    """Bad input (a file, a line, a field, a setting); the message names where."""
