"""The one error the playground shows on the page instead of failing."""

from __future__ import annotations

__all__ = ["PlaygroundInputError"]


class PlaygroundInputError(ValueError):
    """Bad input from the page (a setting out of range, an expression that does not parse);
    the server answers it with the message and keeps running."""
