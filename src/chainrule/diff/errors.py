"""Errors raised by the textbook differentiation engines in :mod:`chainrule.diff`."""

from __future__ import annotations

__all__ = ["DiffError"]


class DiffError(ValueError):
    """Bad input to a differentiation engine.

    Raised for invalid arguments (``eps <= 0``, unknown method names), for values outside a
    function's domain (``log`` of a non-positive number, division by zero), for non-finite
    function values, and for malformed or unknown symbolic expressions. It subclasses
    :class:`ValueError`, so ``except ValueError`` also catches it.
    """
