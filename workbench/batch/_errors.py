"""What batch scoring refuses, as one exception whose message names the column, key, file or version."""


class BatchError(ValueError):
    """A batch that cannot be scored (bad input, an unapproved or changed version, an output in the way)."""
