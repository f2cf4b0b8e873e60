"""User-facing errors: printed as one line by the CLI, never as a traceback."""


class UserError(Exception):
    """A mistake in the input, the config or the command line.

    The message must name the file, field or option at fault and, where there is a
    closed set of valid values, list them.
    """


class ConfigError(UserError):
    """An invalid pipeline config (unknown key, gate, rule, or bad value)."""


class InputError(UserError):
    """Unreadable or malformed input data (corrupt file, missing column, wrong type)."""
