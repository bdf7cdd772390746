"""The error type of :mod:`chainrule.diff` (defined in :mod:`chainrule.errors`)."""

from ..errors import DiffError

__all__ = ["DiffError"]
