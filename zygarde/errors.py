"""The one exception type for errors a user can cause and fix."""


class ZygardeError(Exception):
    """A user-fixable problem: bad file, column, or parameter. The message says what and how to fix it."""
