"""Error types for bad or missing data files."""

from __future__ import annotations

__all__ = ["DataError", "DataFileNotFoundError"]


class DataError(ValueError):
    """A data file is missing, corrupt, truncated or not what it claims to be.

    The message always names the file (or the files looked for) and what is wrong,
    and where it helps, how to fix it.
    """


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A needed file does not exist (and could not be downloaded).

    Both a :class:`DataError` (so a :class:`ValueError`) and a :class:`FileNotFoundError`,
    so either ``except`` clause catches it.
    """
