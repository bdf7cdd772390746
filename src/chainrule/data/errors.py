"""Error types for bad or missing data files (defined in :mod:`chainrule.errors`)."""

from ..errors import DataError, DataFileNotFoundError

__all__ = ["DataError", "DataFileNotFoundError"]
