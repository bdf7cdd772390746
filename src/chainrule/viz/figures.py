"""The one way chainrule makes and saves matplotlib figures.

Every picture of the library goes through these three functions, so that none of them
touches matplotlib's global state: figures are :class:`matplotlib.figure.Figure` objects
on their own Agg canvas (no pyplot, no figure manager, no window, no
``matplotlib.use``), and a program's chosen backend and pyplot figures stay as they were.

* :func:`require_matplotlib` — raise one clear :class:`ImportError` naming the extra to
  install (``pip install 'chainrule[viz]'``) when matplotlib is missing.
* :func:`new_figure` — a Figure with an Agg canvas attached.
* :func:`save_figure` — write it atomically, in the format its suffix names.

matplotlib is imported on first use, so ``import chainrule`` never needs it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..io import atomic_write

__all__ = ["INSTALL_HINT", "PathLike", "new_figure", "require_matplotlib", "save_figure"]

PathLike = str | os.PathLike[str]

#: What to run when matplotlib is missing.
INSTALL_HINT = "pip install 'chainrule[viz]' (or pip install matplotlib)"


def require_matplotlib(what: str = "drawing") -> None:
    """Raise ``ImportError("<what> needs matplotlib: pip install 'chainrule[viz]' ...")``
    (one line) unless matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(f"{what} needs matplotlib: {INSTALL_HINT}") from None


def new_figure(figsize: tuple[float, float], what: str = "drawing", **kwargs: Any) -> Any:
    """A :class:`matplotlib.figure.Figure` of ``figsize`` inches (width, height) drawn on
    its own Agg canvas; ``kwargs`` go to ``Figure`` (``layout="constrained"``, ``dpi``).
    Raises the :func:`require_matplotlib` error, naming ``what``, without matplotlib."""
    require_matplotlib(what)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Any, path: PathLike, dpi: float = 100,
                **savefig_kwargs: Any) -> Path:
    """Write ``fig`` to ``path`` and return it as a :class:`~pathlib.Path`.

    The format follows the suffix (``.png``, ``.svg``, ``.pdf``, ...; anything else raises
    ``ValueError``); missing parent folders are created; the file appears only when
    complete (:func:`chainrule.io.atomic_write`). ``savefig_kwargs`` go to
    ``Figure.savefig`` (``bbox_inches="tight"``, ``facecolor``, ...).
    """
    out = Path(path)
    fmt = out.suffix[1:].lower()
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise ValueError(f"cannot tell the image format from {str(path)!r}: give a suffix "
                         f"such as .png (supported: {', '.join(sorted(supported))})")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as f:
        fig.savefig(f, format=fmt, dpi=dpi, **savefig_kwargs)
    return out
