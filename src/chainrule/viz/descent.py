"""Gradient-descent paths drawn on their loss surfaces.

Two pictures, each contour maps with the paths on them and the loss-versus-update curves
beside them, saved as PNG (and optionally animated to GIF):

* :func:`plot_descent_paths` — batch, stochastic and mini-batch gradient descent on the
  linear regression of *Hands-On ML* chapter 4 (paths from :mod:`chainrule.linear`),
  over the true MSE surface whose minimum is the normal-equation solution.
* :func:`plot_optimizer_paths` — the optimizers of :mod:`chainrule.optim` (SGD, momentum,
  Nesterov, AdaGrad, RMSProp, Adam, AdamW) side by side on a test surface, each step
  taken by the optimizer from gradients computed by the Tensor engine
  (:func:`optimize_surface` for one, :func:`compare_optimizers` for several).

The computations need only NumPy; drawing needs matplotlib (``pip install
'chainrule[viz]'``), imported on first use, drawing on the Agg canvas (no pyplot, no
window, no global backend switch). GIFs are written with Pillow (a matplotlib
dependency) from blitted frames: the contours are drawn once and only the paths are
redrawn per frame (tens of times faster than redrawing the whole figure per frame, which
is what matplotlib's PillowWriter does).

Surfaces (``f(x, y)``, minimum, default start). The defaults (start, steps, one learning
rate per optimizer) were chosen so that every optimizer ends with ``f - f* <
tolerance`` (tested) while its character stays visible:

============  =======================================  ================  ============  =====
name          f(x, y)                                  minimum: f*       start         steps
============  =======================================  ================  ============  =====
rosenbrock    (1 - x)² + 100 (y - x²)²                 (1, 1): 0         (-1.2, 1)     2000
beale         (1.5 - x + xy)² + (2.25 - x + xy²)²      (3, 0.5): 0       (1, 1.5)      1000
              + (2.625 - x + xy³)²
saddle        x² + y⁴/4 - y²/2  (saddle point at 0)    (0, ±1): -0.25    (-1.5, 0.01)  300
quadratic     (x² + 50 y²) / 2  (condition number 50)  (0, 0): 0         (-4, 1)       300
regression    MSE of θ0 + θ1 x on the book's data      normal equation   book's randn  500
============  =======================================  ================  ============  =====

Default learning rates (``Surface.lrs``):

============  ======  ========  ========  =======  =======  =====  =====  =========
surface       sgd     momentum  nesterov  adagrad  rmsprop  adam   adamw  tolerance
============  ======  ========  ========  =======  =======  =====  =====  =========
rosenbrock    0.002   0.001     0.001     1.0      0.003    0.05   0.05   1e-2
beale         0.01    0.003     0.003     1.0      0.01     0.1    0.1    1e-2
saddle        0.05    0.02      0.02      0.5      0.02     0.05   0.05   1e-4
quadratic     0.035   0.01      0.01      1.0      0.05     0.2    0.2    1e-4
regression    0.1     0.03      0.03      1.0      0.03     0.1    0.1    1e-2
============  ======  ========  ========  =======  =======  =====  =====  =========

Momentum and Nesterov use momentum 0.9; AdamW keeps the library's default decoupled
weight decay 0.01, which pulls it toward the origin: on Rosenbrock, Beale and the
regression it is the slowest to settle (f - f* ≈ 2e-3 at the default step counts).
Plain SGD on Rosenbrock diverges above lr ≈ 0.002 from (-1.2, 1) and then crawls along
the valley (f - f* ≈ 9e-3 after 2000 steps); RMSProp without decay keeps oscillating at
a scale set by its lr.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.linear import DescentResult, book_comparison, book_data, normal_equation

__all__ = [
    "OPTIMIZERS",
    "SURFACES",
    "DescentPlot",
    "Surface",
    "SurfacePath",
    "compare_optimizers",
    "get_surface",
    "make_optimizer",
    "optimize_surface",
    "plot_descent_paths",
    "plot_optimizer_paths",
    "regression_surface",
    "surface_names",
]


# --------------------------------------------------------------------------- surfaces


@dataclass(frozen=True)
class Surface:
    """A 2-D loss surface with defaults for drawing and descending it.

    Attributes:
        name: registry key ("rosenbrock", ...).
        formula: how to write f (for titles).
        fn: ``f(x, y)`` on NumPy arrays (broadcasting): contours and path losses.
        loss: ``loss(W)`` for a Tensor ``W`` of shape (k, 2), one point per row, returning
            the k losses as a Tensor (k,), built from chainrule ops.
        minima: the global minimisers.
        f_min: the minimum value f*.
        start: default starting point.
        xlim, ylim: default drawing window.
        steps: default number of optimizer steps.
        lrs: default learning rate per optimizer name.
        tolerance: with the defaults, every optimizer in ``lrs`` ends with
            ``f - f* < tolerance``.
        decades: the contour levels span this many powers of ten of ``f - f*``.
        labels: axis labels.
    """

    name: str
    formula: str
    fn: Callable[[Any, Any], Any]
    loss: Callable[[Any], Any]
    minima: tuple[tuple[float, float], ...]
    f_min: float
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    steps: int
    lrs: Mapping[str, float]
    tolerance: float
    decades: float = 4.0
    labels: tuple[str, str] = ("x", "y")

    def values(self, points: Any) -> np.ndarray:
        """f at each row of ``points`` (k, 2) -> (k,)."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return np.asarray(self.fn(p[:, 0], p[:, 1]), dtype=np.float64)

    def grid(self, n: int = 240, xlim: Sequence[float] | None = None,
             ylim: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(X, Y, Z)`` on an n × n grid over the window, for contour plots."""
        xs = np.linspace(*(xlim or self.xlim), n)
        ys = np.linspace(*(ylim or self.ylim), n)
        gx, gy = np.meshgrid(xs, ys)
        return gx, gy, np.asarray(self.fn(gx, gy), dtype=np.float64)


def _rows(fn: Callable[[Any, Any], Any]) -> Callable[[Any], Any]:
    """``loss(W) = fn(W[:, 0], W[:, 1])``: the same formula on Tensor columns."""

    def loss(W: Any) -> Any:
        return fn(W[:, 0], W[:, 1])

    return loss


# Written with products rather than ``**`` (cheaper in the engine); they work unchanged on
# NumPy arrays and on Tensors.
def _rosenbrock(x: Any, y: Any) -> Any:
    a, b = 1 - x, y - x * x
    return a * a + 100 * (b * b)


def _beale(x: Any, y: Any) -> Any:
    xy = x * y
    xy2 = xy * y
    a, b, c = 1.5 - x + xy, 2.25 - x + xy2, 2.625 - x + xy2 * y
    return a * a + b * b + c * c


def _saddle(x: Any, y: Any) -> Any:
    y2 = y * y
    return x * x + 0.25 * (y2 * y2) - 0.5 * y2


def _quadratic(x: Any, y: Any) -> Any:
    return 0.5 * (x * x + 50 * (y * y))


def _optimizers() -> dict[str, tuple[str, Callable[[list[Any], float], Any]]]:
    from chainrule.optim import SGD, Adagrad, Adam, AdamW, RMSprop

    return {
        "sgd": ("SGD", lambda p, lr: SGD(p, lr=lr)),
        "momentum": ("momentum", lambda p, lr: SGD(p, lr=lr, momentum=0.9)),
        "nesterov": ("Nesterov", lambda p, lr: SGD(p, lr=lr, momentum=0.9, nesterov=True)),
        "adagrad": ("AdaGrad", lambda p, lr: Adagrad(p, lr=lr)),
        "rmsprop": ("RMSProp", lambda p, lr: RMSprop(p, lr=lr)),
        "adam": ("Adam", lambda p, lr: Adam(p, lr=lr)),
        "adamw": ("AdamW", lambda p, lr: AdamW(p, lr=lr)),
    }


#: Optimizers by name: ``(label, factory(params, lr))``. Momentum and Nesterov use 0.9;
#: the others keep chainrule.optim's defaults (AdamW: weight decay 0.01).
OPTIMIZERS: dict[str, tuple[str, Callable[[list[Any], float], Any]]] = _optimizers()

SURFACES: dict[str, Surface] = {
    "rosenbrock": Surface(
        "rosenbrock", "(1 - x)² + 100 (y - x²)²", _rosenbrock, _rows(_rosenbrock),
        minima=((1.0, 1.0),), f_min=0.0, start=(-1.2, 1.0), xlim=(-2.0, 2.0),
        ylim=(-1.0, 3.0), steps=2000,
        lrs={"sgd": 2e-3, "momentum": 1e-3, "nesterov": 1e-3, "adagrad": 1.0,
             "rmsprop": 3e-3, "adam": 0.05, "adamw": 0.05},
        tolerance=1e-2, decades=5.0),
    "beale": Surface(
        "beale", "(1.5 - x + xy)² + (2.25 - x + xy²)² + (2.625 - x + xy³)²", _beale,
        _rows(_beale), minima=((3.0, 0.5),), f_min=0.0, start=(1.0, 1.5),
        xlim=(-1.0, 4.5), ylim=(-1.5, 2.0), steps=1000,
        lrs={"sgd": 1e-2, "momentum": 3e-3, "nesterov": 3e-3, "adagrad": 1.0,
             "rmsprop": 1e-2, "adam": 0.1, "adamw": 0.1},
        tolerance=1e-2, decades=5.0),
    "saddle": Surface(
        "saddle", "x² + y⁴/4 - y²/2", _saddle, _rows(_saddle),
        minima=((0.0, 1.0), (0.0, -1.0)), f_min=-0.25, start=(-1.5, 0.01),
        xlim=(-2.0, 2.0), ylim=(-1.6, 1.6), steps=300,
        lrs={"sgd": 0.05, "momentum": 0.02, "nesterov": 0.02, "adagrad": 0.5,
             "rmsprop": 0.02, "adam": 0.05, "adamw": 0.05},
        tolerance=1e-4, decades=3.0),
    "quadratic": Surface(
        "quadratic", "(x² + 50 y²) / 2", _quadratic, _rows(_quadratic),
        minima=((0.0, 0.0),), f_min=0.0, start=(-4.0, 1.0), xlim=(-5.0, 5.0),
        ylim=(-1.5, 1.5), steps=300,
        lrs={"sgd": 0.035, "momentum": 0.01, "nesterov": 0.01, "adagrad": 1.0,
             "rmsprop": 0.05, "adam": 0.2, "adamw": 0.2},
        tolerance=1e-4, decades=5.0),
}


def regression_surface(X: Any = None, y: Any = None) -> Surface:
    """The MSE of ``θ0 + θ1 x`` as a surface over (θ0, θ1) (default: the book's data).

    Its minimum is the normal-equation solution; the default start is the book's
    ``randn(2)`` after ``seed(42)``; the Tensor loss is ``mean((X_b @ w - y)**2)`` per row.
    """
    import chainrule as cr

    if X is None and y is None:
        X, y = book_data()
    elif X is None or y is None:
        raise ValueError("regression_surface: give both X and y, or neither (the book's data)")
    xs = np.asarray(X, dtype=np.float64)
    if xs.ndim == 2 and xs.shape[1] == 1:
        xs = xs[:, 0]
    if xs.ndim != 1:
        raise ValueError("regression_surface: needs exactly one feature (two parameters "
                         f"θ0, θ1) to draw, got X of shape {np.shape(X)}")
    theta = normal_equation(xs, y)
    ys = np.asarray(y, dtype=np.float64).reshape(-1)
    f_min = float(np.mean((theta[0] + theta[1] * xs - ys) ** 2))
    # MSE(a, b) is quadratic: f* + [da db] [[1, x̄], [x̄, mean x²]] [da db]ᵀ around the
    # minimum — cheap on contour grids and precise near the minimum.
    mx, mxx = float(xs.mean()), float((xs * xs).mean())

    def fn(a: Any, b: Any) -> Any:
        da = np.asarray(a, dtype=np.float64) - theta[0]
        db = np.asarray(b, dtype=np.float64) - theta[1]
        return f_min + da * da + 2 * mx * da * db + mxx * db * db

    Xb_T = cr.tensor(np.stack([np.ones_like(xs), xs]))  # (2, m)
    yt = cr.tensor(ys)

    def loss(W: Any) -> Any:
        r = W @ Xb_T - yt  # (k, m) residuals, one row per point
        return (r * r).mean(axis=1)

    lo0, hi0 = sorted((0.0, float(theta[0])))
    lo1, hi1 = sorted((0.0, float(theta[1])))
    pad0, pad1 = 0.25 * (hi0 - lo0) + 0.5, 0.25 * (hi1 - lo1) + 0.5
    s0, s1 = (float(v) for v in np.random.RandomState(42).randn(2))
    return Surface(
        "regression", "MSE(θ0 + θ1 x)", fn, loss, minima=((float(theta[0]), float(theta[1])),),
        f_min=f_min, start=(s0, s1), xlim=(lo0 - pad0, hi0 + pad0), ylim=(lo1 - pad1, hi1 + pad1),
        steps=500,
        lrs={"sgd": 0.1, "momentum": 0.03, "nesterov": 0.03, "adagrad": 1.0,
             "rmsprop": 0.03, "adam": 0.1, "adamw": 0.1},
        tolerance=1e-2, decades=4.0, labels=("θ0 (intercept)", "θ1 (slope)"))


def surface_names() -> list[str]:
    """All surface names, ``regression`` included."""
    return sorted([*SURFACES, "regression"])


def get_surface(surface: str | Surface) -> Surface:
    """A :class:`Surface` by name (``"regression"`` builds the book's MSE surface)."""
    if isinstance(surface, Surface):
        return surface
    if surface == "regression":
        return regression_surface()
    if not isinstance(surface, str) or surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}; choose one of "
                         f"{', '.join(surface_names())}")
    return SURFACES[surface]


# --------------------------------------------------------------------------- descending


@dataclass(frozen=True)
class SurfacePath:
    """One optimizer's walk on a surface.

    Attributes:
        label: legend text ("Adam lr=0.05").
        optimizer: the optimizer's name (or class name).
        lr: the learning rate used.
        path: the start and the point after each step, (steps + 1, 2).
        losses: f at each point, (steps + 1,).
        f_min: the surface's minimum value.
        diverged: True if the walk overflowed (the path stops at the last finite point).
    """

    label: str
    optimizer: str
    lr: float
    path: np.ndarray
    losses: np.ndarray
    f_min: float
    diverged: bool = False

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])

    @property
    def gap(self) -> float:
        """``f(final point) - f*``."""
        return float(self.losses[-1] - self.f_min)


OptimizerLike = str | type | Callable[..., Any]


def _key(optimizer: OptimizerLike) -> str | None:
    """The registry key of a name (validated), or None for a class / factory."""
    if isinstance(optimizer, str):
        key = optimizer.strip().lower()
        if key not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; choose one of "
                             f"{', '.join(OPTIMIZERS)}")
        return key
    if isinstance(optimizer, type) or callable(optimizer):
        return None
    raise ValueError("optimizer must be a name, an optimizer class or a factory "
                     f"f(params, lr), got {type(optimizer).__name__}")


def make_optimizer(optimizer: OptimizerLike, params: list[Any], lr: float) -> tuple[str, Any]:
    """``(label, optimizer)`` from a name in :data:`OPTIMIZERS`, an optimizer class
    (called as ``cls(params, lr=lr)``) or a factory ``f(params, lr)``."""
    key = _key(optimizer)
    if key is not None:
        label, factory = OPTIMIZERS[key]
        return label, factory(params, lr)
    if isinstance(optimizer, type):
        return optimizer.__name__, optimizer(params, lr=lr)
    opt = optimizer(params, lr)
    return type(opt).__name__, opt


def _check_lr(lr: Any, where: str) -> float:
    if isinstance(lr, bool) or not isinstance(lr, int | float | np.number) or \
            not math.isfinite(lr):
        raise ValueError(f"{where}: the learning rate must be a finite number, got {lr!r}")
    if lr < 0:
        raise ValueError(f"{where}: the learning rate must be >= 0, got {lr}")
    return float(lr)


def compare_optimizers(surface: str | Surface,
                       optimizers: Iterable[OptimizerLike] | None = None, *,
                       lr: float | Mapping[str, float] | None = None, steps: int | None = None,
                       start: Sequence[float] | None = None) -> dict[str, SurfacePath]:
    """Walk ``surface`` with several chainrule optimizers at once, from the same start.

    Each optimizer owns one ``cr.tensor`` of shape (2,) (float64, requires grad). Every
    step stacks them into ``W`` (k, 2), computes ``surface.loss(W).sum()`` with chainrule
    ops and calls ``backward()`` once — the rows do not interact, so each parameter gets
    exactly its own gradient — then every optimizer calls ``step()``.

    Args:
        surface: a name (see :func:`surface_names`) or a :class:`Surface`.
        optimizers: names from :data:`OPTIMIZERS` (default: all), optimizer classes (e.g.
            ``chainrule.optim.NAdam``) or factories ``f(params, lr)``.
        lr: one learning rate for all, or ``{name: lr}``; missing ones use the surface's
            default for that name (a class or factory needs an explicit ``lr``).
        steps, start: override the surface's defaults.

    Returns:
        ``{label: SurfacePath}`` in the given order. A walk that overflows stops there and
        is marked ``diverged`` (it does not raise).

    Raises:
        ValueError: unknown surface or optimizer name, negative learning rate, bad steps or
            start (one line).
    """
    import chainrule as cr

    surf = get_surface(surface)
    if isinstance(optimizers, str):
        specs: list[OptimizerLike] = [optimizers]
    else:
        specs = list(OPTIMIZERS) if optimizers is None else list(optimizers)
    if not specs:
        raise ValueError("compare_optimizers: no optimizers given")
    if isinstance(lr, Mapping):
        unknown = sorted(set(lr) - {k for k in map(_key, specs) if k is not None})
        if unknown:
            raise ValueError(f"lr names optimizers that are not compared: {', '.join(unknown)}")
    rates: list[float] = []
    for opt in specs:
        key = _key(opt)
        rate = lr.get(key or "") if isinstance(lr, Mapping) else lr
        if rate is None:
            if key is None or key not in surf.lrs:
                raise ValueError(f"no default learning rate for {opt!r} on {surf.name}; "
                                 "pass lr=")
            rate = surf.lrs[key]
        rates.append(_check_lr(rate, f"{key or getattr(opt, '__name__', 'optimizer')} on "
                                     f"{surf.name}"))
    steps = surf.steps if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    point = np.array(surf.start if start is None else start, dtype=np.float64).reshape(-1)
    if point.shape != (2,) or not np.all(np.isfinite(point)):
        raise ValueError(f"start must be two finite numbers x,y, got {start!r}")

    params = [cr.tensor(point.copy(), requires_grad=True, dtype=np.float64) for _ in specs]
    made = [make_optimizer(opt, [w], rate) for opt, w, rate in zip(specs, params, rates)]
    paths = np.empty((len(specs), int(steps) + 1, 2))
    paths[:, 0] = point
    ends = [int(steps)] * len(specs)  # index of each walk's last finite point
    live = list(range(len(specs)))
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, int(steps) + 1):
            for i in live:
                made[i][1].zero_grad()
            surf.loss(cr.stack(params)).sum().backward()
            for i in list(live):
                made[i][1].step()
                w = params[i].data
                if not np.all(np.isfinite(w)) or np.abs(w).max() > 1e12:
                    ends[i] = t - 1
                    live.remove(i)
                    w[...] = paths[i, t - 1]  # freeze it at its last finite point
                    params[i].requires_grad = False
                else:
                    paths[i, t] = w
            if not live:
                break
        out: dict[str, SurfacePath] = {}
        for i, opt in enumerate(specs):
            key = _key(opt)
            pts = paths[i, :ends[i] + 1].copy()
            label = f"{made[i][0]} lr={rates[i]:g}"
            while label in out:
                label += "'"
            out[label] = SurfacePath(label=label, optimizer=key or made[i][0], lr=rates[i],
                                     path=pts, losses=surf.values(pts), f_min=surf.f_min,
                                     diverged=ends[i] < int(steps))
    return out


def optimize_surface(surface: str | Surface, optimizer: OptimizerLike, lr: float | None = None,
                     steps: int | None = None, start: Sequence[float] | None = None
                     ) -> SurfacePath:
    """Walk ``surface`` with one chainrule optimizer and return its :class:`SurfacePath`.

    >>> walk = optimize_surface("quadratic", "adam")          # the surface's defaults
    >>> walk.path.shape, walk.gap < 1e-4
    ((301, 2), True)

    See :func:`compare_optimizers` for the arguments.
    """
    (walk,) = compare_optimizers(surface, [optimizer], lr=lr, steps=steps,
                                 start=start).values()
    return walk


# --------------------------------------------------------------------------- drawing


@dataclass
class DescentPlot:
    """What the plot functions return: the matplotlib figure, the paths drawn (by label)
    and the files written."""

    figure: Any
    paths: dict[str, Any]
    files: list[Path] = field(default_factory=list)


def _need_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("drawing descent paths needs matplotlib: pip install "
                          "'chainrule[viz]' (or pip install matplotlib)") from None


def _new_figure(figsize: tuple[float, float]) -> Any:
    _need_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22"]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "h", "<"]


@dataclass
class _Anim:
    """The artists a GIF animates (lines with their full data) and redraws on top."""

    lines: list[tuple[Any, np.ndarray, np.ndarray]] = field(default_factory=list)
    overlays: list[Any] = field(default_factory=list)

    def add(self, line: Any) -> None:
        xs, ys = (np.asarray(a) for a in line.get_data())
        self.lines.append((line, xs, ys))


def _contour(ax: Any, surf: Surface, xlim: Sequence[float], ylim: Sequence[float],
             anim: _Anim, n: int = 200) -> None:
    from matplotlib.colors import LogNorm

    gx, gy, z = surf.grid(n, xlim, ylim)
    gap = np.maximum(z - surf.f_min, 1e-300)
    top = float(np.percentile(gap, 98))
    levels = np.logspace(math.log10(top) - surf.decades, math.log10(top), 15)
    ax.contourf(gx, gy, np.clip(gap, levels[0], None), levels=levels, norm=LogNorm(),
                cmap="Blues_r", alpha=0.5, extend="max")
    ax.contour(gx, gy, gap, levels=levels, colors="0.5", linewidths=0.4, alpha=0.6)
    for i, m in enumerate(surf.minima):
        (star,) = ax.plot(*m, marker="*", color="gold", markersize=15, markeredgecolor="k",
                          linestyle="none", zorder=6, label="minimum" if i == 0 else None)
        anim.overlays.append(star)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(surf.labels[0])
    ax.set_ylabel(surf.labels[1])


def _path_line(ax: Any, pts: np.ndarray, i: int, label: str | None, anim: _Anim,
               linewidth: float = 1.3) -> None:
    (line,) = ax.plot(pts[:, 0], pts[:, 1], color=_COLORS[i % 10], marker=_MARKERS[i % 10],
                      markersize=3.5, markevery=max(1, (len(pts) - 1) // 30 or 1),
                      linewidth=linewidth, label=label, zorder=3)
    anim.add(line)


def _start_marker(ax: Any, start: Sequence[float], anim: _Anim) -> None:
    (dot,) = ax.plot(*start, marker="o", color="k", markersize=6, linestyle="none", zorder=7,
                     label="start")
    anim.overlays.append(dot)


def _loss_panel(ax: Any, curves: Sequence[tuple[str, np.ndarray]], f_min: float, xlabel: str,
                anim: _Anim, title: str) -> None:
    n = 1
    for i, (label, losses) in enumerate(curves):
        gap = np.maximum(np.asarray(losses, dtype=np.float64) - f_min, 1e-16)
        (line,) = ax.plot(np.arange(len(gap)), gap, color=_COLORS[i % 10], linewidth=1.2,
                          label=label)
        anim.add(line)
        n = max(n, len(gap) - 1)
    ax.set_yscale("log")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(0, n)
    ax.set_xlabel(f"{xlabel} (log scale after 1)")
    ax.set_ylabel("f − f*  (log scale)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="major", linewidth=0.5)


def _check_outputs(path: Any, gif: Any) -> None:
    """Reject wrong file types before any work is done."""
    if path is not None and Path(path).suffix.lower() != ".png":
        raise ValueError(f"the figure is written as PNG; give a .png path, got {str(path)!r}")
    if gif is not None and Path(gif).suffix.lower() != ".gif":
        raise ValueError(f"the animation is written as GIF; give a .gif path, got {str(gif)!r}")


def _save_png(fig: Any, path: str | os.PathLike[str], dpi: float) -> Path:
    from chainrule.data.files import atomic_write

    _check_outputs(path, None)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as f:
        fig.savefig(f, format="png", dpi=dpi)
    return out


def _save_gif(fig: Any, path: str | os.PathLike[str], anim: _Anim, frames: int, fps: float,
              dpi: float) -> Path:
    """Write an animated GIF: frame k draws each line up to fraction ((k + 1) / frames)²
    of its points (early steps get more frames), then the last frame is held.

    The figure without the lines is drawn once; each frame restores that background and
    draws only the lines (and the markers and legends above them) — blitting.
    """
    _need_matplotlib()
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("writing a GIF needs Pillow: pip install pillow") from None
    from chainrule.data.files import atomic_write

    _check_outputs(None, path)
    out = Path(path)
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 2:
        raise ValueError(f"a GIF needs at least 2 frames, got {frames!r}")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    out.parent.mkdir(parents=True, exist_ok=True)

    canvas = fig.canvas
    old_dpi = fig.dpi
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    try:
        fig.set_dpi(dpi)
        for line, _, _ in anim.lines:
            line.set_visible(False)
        canvas.draw()
        background = canvas.copy_from_bbox(fig.bbox)
        for line, _, _ in anim.lines:
            line.set_visible(True)
        images = []
        for k in range(frames):
            frac = ((k + 1) / frames) ** 2
            canvas.restore_region(background)
            for line, xs, ys in anim.lines:
                upto = max(1, math.ceil(frac * len(xs)))
                line.set_data(xs[:upto], ys[:upto])
                line.axes.draw_artist(line)
            for artist in [*anim.overlays, *legends]:
                artist.axes.draw_artist(artist)
            rgb = np.asarray(canvas.buffer_rgba())[..., :3]
            images.append(Image.fromarray(np.ascontiguousarray(rgb)))
    finally:
        for line, xs, ys in anim.lines:
            line.set_data(xs, ys)
        fig.set_dpi(old_dpi)
    # One palette for all frames (from the fullest frame), no dithering: frames differ only
    # where the paths grew, so the GIF stays small.
    palette = images[-1].quantize(colors=128, method=Image.Quantize.FASTOCTREE)
    frames_p = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    duration = [int(1000 / fps)] * (frames - 1) + [2000]
    buffer = io.BytesIO()
    frames_p[0].save(buffer, format="GIF", save_all=True, append_images=frames_p[1:],
                     duration=duration, loop=0)
    with atomic_write(out) as f:
        f.write(buffer.getvalue())
    return out


def _write(fig: Any, plot: DescentPlot, anim: _Anim, path: Any, gif: Any, dpi: float,
           gif_frames: int, gif_fps: float, gif_dpi: float) -> DescentPlot:
    if path is not None:
        plot.files.append(_save_png(fig, path, dpi))
    if gif is not None:
        plot.files.append(_save_gif(fig, gif, anim, gif_frames, gif_fps, gif_dpi))
    return plot


def plot_descent_paths(results: Mapping[str, DescentResult] | None = None, *, X: Any = None,
                       y: Any = None, path: str | os.PathLike[str] | None = None,
                       gif: str | os.PathLike[str] | None = None,
                       zoom: tuple[float, float, float, float] | None = (2.6, 4.6, 2.3, 3.4),
                       figsize: tuple[float, float] = (15.0, 4.8), dpi: float = 100,
                       gif_frames: int = 40, gif_fps: float = 10, gif_dpi: float = 60,
                       title: str | None = None) -> DescentPlot:
    """Batch, stochastic and mini-batch GD paths over the MSE contours, with the losses.

    Panels: the whole paths in (θ0, θ1); a zoom on the minimum (default: the window of the
    book's Figure 4-11, ``zoom = (θ0 min, θ0 max, θ1 min, θ1 max)``; ``None`` drops the
    panel); the MSE above its minimum against the number of parameter updates.

    Args:
        results: ``{label: DescentResult}`` for a linear regression with one feature
            (default: :func:`chainrule.linear.book_comparison` — the book's three runs).
        X, y: the data the results were fitted on (default: the book's), for the contours.
        path: write the figure there as PNG, ``figsize × dpi`` pixels.
        gif: also write an animation there (the paths drawn progressively).
        gif_frames, gif_fps, gif_dpi: the animation's frame count, speed and resolution.

    Returns:
        A :class:`DescentPlot`: ``figure``, ``paths`` (the results) and ``files`` written.
    """
    _need_matplotlib()
    _check_outputs(path, gif)
    if results is None:
        results = book_comparison(X, y) if (X is not None or y is not None) else \
            book_comparison()
    if not results:
        raise ValueError("plot_descent_paths: no paths to draw")
    for name, r in results.items():
        if not isinstance(r, DescentResult):
            raise ValueError(f"plot_descent_paths: {name!r} is not a DescentResult")
        if r.path.shape[1] != 2:
            raise ValueError(f"plot_descent_paths: {name!r} has {r.path.shape[1]} parameters; "
                             "the contour needs exactly two (intercept and one feature)")
    surf = regression_surface(X, y) if (X is not None or y is not None) else \
        regression_surface()
    all_pts = np.concatenate([r.path for r in results.values()] + [np.array(surf.minima)])
    lo, hi = all_pts.min(axis=0), all_pts.max(axis=0)
    pad = 0.08 * (hi - lo) + 0.1
    xlim, ylim = (lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1])

    fig = _new_figure(figsize)
    widths = [1.0, 1.0, 1.1] if zoom else [1.0, 1.1]
    axes = list(fig.subplots(1, len(widths), gridspec_kw={"width_ratios": widths}))
    anim = _Anim()
    windows = [(axes[0], xlim, ylim, "paths in parameter space")]
    if zoom:
        windows.append((axes[1], zoom[:2], zoom[2:], "zoom on the minimum (★ normal equation)"))
    for ax, xl, yl, ttl in windows:
        _contour(ax, surf, xl, yl, anim)
        for i, (name, r) in enumerate(results.items()):
            _path_line(ax, r.path, i, f"{name} ({r.steps} updates)", anim,
                       linewidth=0.9 if r.steps > 2000 else 1.3)
        _start_marker(ax, next(iter(results.values())).path[0], anim)
        ax.set_title(ttl, fontsize=10)
    axes[0].legend(loc="lower right", fontsize=8, framealpha=0.9)
    _loss_panel(axes[-1], [(name, r.losses) for name, r in results.items()], surf.f_min,
                "parameter updates", anim, "MSE above its minimum (full data)")
    axes[-1].legend(fontsize=8)
    th = surf.minima[0]
    fig.suptitle(title or "Batch vs stochastic vs mini-batch gradient descent on linear "
                 f"regression (normal equation θ = [{th[0]:.8f}, {th[1]:.8f}])", fontsize=11)
    plot = DescentPlot(figure=fig, paths=dict(results))
    return _write(fig, plot, anim, path, gif, dpi, gif_frames, gif_fps, gif_dpi)


def plot_optimizer_paths(surface: str | Surface = "rosenbrock",
                         optimizers: Iterable[OptimizerLike] | None = None, *,
                         lr: float | Mapping[str, float] | None = None, steps: int | None = None,
                         start: Sequence[float] | None = None,
                         walks: Mapping[str, SurfacePath] | None = None,
                         layout: str = "grid", path: str | os.PathLike[str] | None = None,
                         gif: str | os.PathLike[str] | None = None,
                         figsize: tuple[float, float] | None = None, dpi: float = 100,
                         gif_frames: int = 40, gif_fps: float = 10, gif_dpi: float = 60,
                         title: str | None = None) -> DescentPlot:
    """Several chainrule optimizers on one surface: their paths over the contours, and
    their losses against the step.

    Args:
        surface: a surface name (see :func:`surface_names`) or a :class:`Surface`.
        optimizers, lr, steps, start: as in :func:`compare_optimizers` (default: all seven
            optimizers with the surface's defaults).
        walks: already computed ``{label: SurfacePath}`` (from :func:`compare_optimizers`)
            to draw instead of computing them.
        layout: ``"grid"`` — one small contour map per optimizer (its path bold, the others
            faint) and the loss panel, in rows of up to four; ``"overlay"`` — all paths on
            one map beside the loss panel.
        path: write the figure there as PNG, ``figsize × dpi`` pixels (default figsize:
            3.6 in per grid column × 3.3 in per row; 13 × 5.2 in for the overlay).
        gif: also write an animation there.

    Returns:
        A :class:`DescentPlot` whose ``paths`` maps each label to its :class:`SurfacePath`.
    """
    _need_matplotlib()
    _check_outputs(path, gif)
    surf = get_surface(surface)
    if layout not in ("grid", "overlay"):
        raise ValueError(f"layout must be 'grid' or 'overlay', got {layout!r}")
    if walks is None:
        walks = compare_optimizers(surf, optimizers, lr=lr, steps=steps, start=start)
    if not walks:
        raise ValueError("plot_optimizer_paths: no paths to draw")
    items = list(walks.items())
    begin = items[0][1].path[0]
    n_steps = max(len(w.path) - 1 for _, w in items)

    def name(label: str, w: SurfacePath) -> str:
        return label + (" (diverged)" if w.diverged else "")

    anim = _Anim()
    if layout == "overlay":
        fig = _new_figure(figsize or (13.0, 5.2))
        ax_map, ax_loss = fig.subplots(1, 2)
        _contour(ax_map, surf, surf.xlim, surf.ylim, anim)
        for i, (_, w) in enumerate(items):
            _path_line(ax_map, w.path, i, None, anim)
        _start_marker(ax_map, begin, anim)
        ax_map.set_title(f"f = {surf.formula}", fontsize=10)
        ax_map.legend(loc="upper left", fontsize=8, framealpha=0.9)
    else:
        cols = min(4, len(items) + 1)
        rows = math.ceil((len(items) + 1) / cols)
        fig = _new_figure(figsize or (3.6 * cols, 3.3 * rows + 0.4))
        grid = fig.subplots(rows, cols, squeeze=False).ravel()
        for i, (label, w) in enumerate(items):
            ax = grid[i]
            _contour(ax, surf, surf.xlim, surf.ylim, anim, n=150)
            for j, (_, other) in enumerate(items):
                if j != i:
                    (faint,) = ax.plot(other.path[:, 0], other.path[:, 1], color="0.55",
                                       linewidth=0.6, alpha=0.5, zorder=2)
                    anim.add(faint)
            _path_line(ax, w.path, i, None, anim, linewidth=1.6)
            _start_marker(ax, begin, anim)
            ax.set_title(f"{name(label, w)}\nf − f* = {w.gap:.1e}", fontsize=9,
                         color=_COLORS[i % 10])
            if i % cols:
                ax.set_ylabel("")
            if i < len(items) + 1 - cols:
                ax.set_xlabel("")
        ax_loss = grid[len(items)]
        for ax in grid[len(items) + 1:]:
            ax.set_visible(False)
    _loss_panel(ax_loss, [(name(label, w), w.losses) for label, w in items], surf.f_min,
                "optimizer steps", anim, f"{surf.name}: loss above the minimum")
    ax_loss.legend(fontsize=7 if len(items) > 4 else 8, loc="lower left")
    fig.suptitle(title or f"chainrule.optim on the {surf.name} surface f = {surf.formula} "
                 f"({n_steps} steps from {tuple(round(float(v), 3) for v in begin)}; "
                 "gradients by the Tensor engine)", fontsize=11)
    plot = DescentPlot(figure=fig, paths=dict(walks))
    return _write(fig, plot, anim, path, gif, dpi, gif_frames, gif_fps, gif_dpi)
