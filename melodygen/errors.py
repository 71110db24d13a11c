"""The one exception type for user mistakes: bad paths, bad files, bad config values."""


class MelodygenError(Exception):
    """A user-facing error; entry points print its message as a single line and exit 2."""


def exit_stopped(message: str, status: int = 130) -> None:
    """Print ``message`` as one line on stderr and exit with ``status`` after a Ctrl-C was handled.

    A Ctrl-C that lands inside an ``exec()`` of a string (dataclasses and namedtuple do that while torch
    imports) leaves CPython's "unhandled KeyboardInterrupt" mark set, and ``python -m`` then kills itself
    with SIGINT after exiting, whatever status was asked for. Running any string clears the mark.
    """
    import sys

    print(message, file=sys.stderr, flush=True)
    exec("")  # noqa: S102
    sys.exit(status)
