"""Test surfaces for optimizers, and the paths chainrule's optimizers take on them.

* :class:`Surface` — a 2-D loss ``f(x, y)`` (on NumPy arrays, and on Tensors for the
  gradients) with its minimum and defaults for descending and drawing it; :data:`SURFACES`
  holds Rosenbrock, Beale, a saddle and an ill-conditioned quadratic; :func:`get_surface`
  finds one by name, :func:`register_surface` adds built-on-demand ones (the linear
  regression of :func:`chainrule.linear.regression_surface` is one).
* :func:`compare_optimizers` / :func:`optimize_surface` — walk a surface with optimizers
  of :data:`chainrule.optim.OPTIMIZERS` (or any optimizer class or factory), each step's
  gradient computed by the Tensor engine; the walks come back as :class:`SurfacePath`.

Everything here needs only NumPy and the engine; :mod:`chainrule.viz.descent` draws the
walks over the surfaces' contours.

The surfaces (``f(x, y)``, minimum, default start; ``regression`` is registered by
:func:`chainrule.linear.regression_surface`). The defaults (start, steps, one learning
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

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..autograd.ops import stack
from ..autograd.tensor import tensor
from .registry import OPTIMIZERS

__all__ = [
    "SURFACES",
    "Surface",
    "SurfacePath",
    "compare_optimizers",
    "get_surface",
    "line_fit_surface",
    "make_optimizer",
    "optimize_surface",
    "register_surface",
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


#: Surfaces built on demand, by name (``register_surface``).
_BUILDERS: dict[str, Callable[[], Surface]] = {}


def register_surface(name: str, build: Callable[[], Surface]) -> None:
    """Make ``get_surface(name)`` return ``build()`` (for surfaces that depend on data,
    such as :func:`chainrule.linear.regression_surface`, registered as "regression")."""
    if name in SURFACES:
        raise ValueError(f"register_surface: {name!r} is a built-in surface")
    _BUILDERS[name] = build


def line_fit_surface(x: Any, y: Any, theta: Sequence[float], start: Sequence[float],
                     name: str = "regression") -> Surface:
    """The MSE of ``θ0 + θ1 x`` as a surface over (θ0, θ1), for data ``x`` (m,) and ``y``
    (m,) whose least-squares solution is ``theta`` (2,); ``start`` is the default start.

    The Tensor loss is ``mean((X_b @ w - y)**2)`` per row ``w`` of ``W`` (k, 2).
    """
    xs = np.asarray(x, dtype=np.float64).reshape(-1)
    ys = np.asarray(y, dtype=np.float64).reshape(-1)
    t0, t1 = (float(v) for v in theta)
    f_min = float(np.mean((t0 + t1 * xs - ys) ** 2))
    # MSE(a, b) is quadratic: f* + [da db] [[1, x̄], [x̄, mean x²]] [da db]ᵀ around the
    # minimum — cheap on contour grids and precise near the minimum.
    mx, mxx = float(xs.mean()), float((xs * xs).mean())

    def fn(a: Any, b: Any) -> Any:
        da = np.asarray(a, dtype=np.float64) - t0
        db = np.asarray(b, dtype=np.float64) - t1
        return f_min + da * da + 2 * mx * da * db + mxx * db * db

    Xb_T = tensor(np.stack([np.ones_like(xs), xs]))  # (2, m)
    yt = tensor(ys)

    def loss(W: Any) -> Any:
        r = W @ Xb_T - yt  # (k, m) residuals, one row per point
        return (r * r).mean(axis=1)

    lo0, hi0 = sorted((0.0, t0))
    lo1, hi1 = sorted((0.0, t1))
    pad0, pad1 = 0.25 * (hi0 - lo0) + 0.5, 0.25 * (hi1 - lo1) + 0.5
    s0, s1 = (float(v) for v in start)
    return Surface(
        name, "MSE(θ0 + θ1 x)", fn, loss, minima=((t0, t1),),
        f_min=f_min, start=(s0, s1), xlim=(lo0 - pad0, hi0 + pad0), ylim=(lo1 - pad1, hi1 + pad1),
        steps=500,
        lrs={"sgd": 0.1, "momentum": 0.03, "nesterov": 0.03, "adagrad": 1.0,
             "rmsprop": 0.03, "adam": 0.1, "adamw": 0.1},
        tolerance=1e-2, decades=4.0, labels=("θ0 (intercept)", "θ1 (slope)"))


def surface_names() -> list[str]:
    """All surface names, the registered ones (``regression``) included."""
    return sorted([*SURFACES, *_BUILDERS])


def get_surface(surface: str | Surface) -> Surface:
    """A :class:`Surface` by name (``"regression"`` builds the book's MSE surface)."""
    if isinstance(surface, Surface):
        return surface
    if isinstance(surface, str) and surface in _BUILDERS:
        return _BUILDERS[surface]()
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
        spec = OPTIMIZERS[key]
        return spec.label, spec(params, lr)
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

    Each optimizer owns one tensor of shape (2,) (float64, requires grad). Every
    step stacks them into ``W`` (k, 2), computes ``surface.loss(W).sum()`` with chainrule
    ops and calls ``backward()`` once — the rows do not interact, so each parameter gets
    exactly its own gradient — then every optimizer calls ``step()``.

    Args:
        surface: a name (see :func:`surface_names`) or a :class:`Surface`.
        optimizers: names from :data:`OPTIMIZERS` (default: every name the surface has a
            learning rate for in ``lrs``: the seven above), optimizer classes (e.g.
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
    surf = get_surface(surface)
    if isinstance(optimizers, str):
        specs: list[OptimizerLike] = [optimizers]
    else:
        specs = list(surf.lrs) if optimizers is None else list(optimizers)
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

    params = [tensor(point.copy(), requires_grad=True, dtype=np.float64) for _ in specs]
    made = [make_optimizer(opt, [w], rate) for opt, w, rate in zip(specs, params, rates)]
    paths = np.empty((len(specs), int(steps) + 1, 2))
    paths[:, 0] = point
    ends = [int(steps)] * len(specs)  # index of each walk's last finite point
    live = list(range(len(specs)))
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, int(steps) + 1):
            for i in live:
                made[i][1].zero_grad()
            surf.loss(stack(params)).sum().backward()
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
