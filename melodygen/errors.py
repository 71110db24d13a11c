"""The one exception type for user mistakes: bad paths, bad files, bad config values."""


class MelodygenError(Exception):
    """A user-facing error; entry points print its message as a single line and exit 2."""
