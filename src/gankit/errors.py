"""User-facing errors: one line that names the bad value and the fix.

The CLI turns a `GankitError` into that line on stderr and exit code 2, with no traceback.
"""


class GankitError(ValueError):
    """A mistake in the user's input (config, data, paths), not a bug in gankit."""
