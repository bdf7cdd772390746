"""THE RULE TABLE: every primitive once — its forward (NumPy), its vjp and its jvp.

Reading guide. ``prim(name, forward, vjp, jvp)`` declares a primitive:

* ``forward(*arrays, **params)`` works on ndarrays and returns an ndarray;
* ``vjp`` has one function per tensor argument, ``vjp_i(g, y, *xs, **params)``, giving the
  cotangent for argument ``i`` from the output cotangent ``g``, the output ``y`` and the
  inputs ``xs`` — all Tensors, and written with differentiable ops so gradients of
  gradients work. Returning ``None`` means "zero". Broadcasting is undone by the engine,
  never here: a rule may return a cotangent of the broadcast (output) shape;
* ``jvp`` has one function per argument, ``jvp_i(t, y, *xs, **params)``, giving the output
  tangent contributed by the tangent ``t`` of argument ``i``; contributions are summed and
  broadcast to the output shape in one place (``_push_tangents``).

Composite functions (selu, gelu, var, std, norm, stack, split, ...) are written from
primitives at the end of the file. Fused primitives (``linear``,
``softmax_cross_entropy``) exist only for speed and are gradchecked against composites.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from ..errors import ShapeError
from .mode import paused_forward_mode, state
from .tensor import Tensor, _make, _to_array, get_default_dtype

# --------------------------------------------------------------------------- machinery


class Primitive:
    """One row of the rule table. Calling it applies the op to tensors."""

    __slots__ = ("name", "forward", "vjps", "jvps", "differentiable", "accumulate")

    def __init__(self, name: str, forward: Any, vjp: Any, jvp: Any,
                 differentiable: bool = True, accumulate: Any = None) -> None:
        self.name = name
        self.forward = forward
        self.vjps = vjp if isinstance(vjp, (tuple, _Each, Joint)) else (vjp,)
        self.jvps = jvp if isinstance(jvp, (tuple, _Each)) else (jvp,)
        self.differentiable = differentiable
        # Optional shortcut for a one-argument linear op whose vjp scatters into zeros
        # (indexing): ``accumulate(buffer, g, **params)`` adds the cotangent in place.
        # Used only when no graph of the gradient is recorded; the vjp stays the rule.
        self.accumulate = accumulate

    def __call__(self, *args: Tensor, **params: Any) -> Tensor:
        """Run forward on tensors; record the node when gradients are wanted."""
        for a in args:
            if not isinstance(a, Tensor):  # numbers and arrays become constants
                args = tuple(lift(b) for b in args)
                break
        try:
            out = self.forward(*[a.data for a in args], **params)
        except ValueError as e:
            shapes = ", ".join(str(a.data.shape) for a in args)
            raise ShapeError(f"{self.name}: inputs of shapes {shapes} do not fit: {e}") from None
        y = _make(out)
        if not self.differentiable or y.data.dtype.kind not in "fc":
            return y
        if state.grad_enabled:
            for a in args:
                if a._rg:
                    y._rg = True
                    y._op = self
                    y._parents = args
                    y._params = params
                    break
        if state.fw_level and not state.fw_paused:
            _push_tangents(self, y, args, params)
        return y

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


class _Each:
    """Rules for a primitive with any number of tensor arguments: ``rule(i, ...)``."""

    __slots__ = ("rule",)

    def __init__(self, rule: Any) -> None:
        self.rule = rule

    def __getitem__(self, i: int) -> Any:
        rule = self.rule
        return lambda *a, **k: rule(i, *a, **k)


class Joint:
    """Cotangents of all arguments from one computation: ``rule(g, y, *xs, **params)``
    returns a tuple with one cotangent (or None) per argument. For primitives such as a
    whole recurrent scan, where the arguments' cotangents come out of one backward loop."""

    __slots__ = ("rule",)

    def __init__(self, rule: Any) -> None:
        self.rule = rule


def prim(name: str, forward: Any, vjp: Any = None, jvp: Any = None) -> Primitive:
    return Primitive(name, forward, vjp, jvp)


def nondiff(name: str, forward: Any) -> Primitive:
    """A primitive whose output never carries gradients (comparisons, argmax, ...)."""
    return Primitive(name, forward, None, None, differentiable=False)


def _push_tangents(p: Primitive, y: Tensor, args: tuple, params: dict) -> None:
    level = state.fw_level
    total = None
    with paused_forward_mode():
        for i, a in enumerate(args):
            tan = a._tangent
            if tan is None or tan[0] != level:
                continue
            rule = p.jvps[i]
            if rule is None:
                raise NotImplementedError(f"no jvp rule for primitive '{p.name}' "
                                          f"(argument {i})")
            ti = rule(tan[1], y, *args, **params)
            if ti is not None:
                total = ti if total is None else total + ti
        if total is not None and total.data.shape != y.data.shape:
            total = broadcast_to(total, y.data.shape)
    if total is not None:
        y._tangent = (level, total)


def _zero(*_: Any, **__: Any) -> None:
    return None


def lift(x: Any, like: Tensor | None = None) -> Tensor:
    """Turn a Python number or array into a constant tensor.

    A Python scalar takes the floating dtype of ``like`` so that ``x * 2.0`` stays float32.
    """
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (int, float, bool, np.number, np.bool_)):
        if like is not None and like.data.dtype.kind == "f":
            return _make(np.asarray(x, dtype=like.data.dtype))
        if isinstance(x, float):
            return _make(np.asarray(x, dtype=get_default_dtype()))
    return Tensor(x)


def _lift2(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    if not isinstance(a, Tensor):
        a = lift(a, b if isinstance(b, Tensor) else None)
    if not isinstance(b, Tensor):
        b = lift(b, a)
    da, db = a.data.dtype, b.data.dtype
    if da != db and (da.kind == "f") != (db.kind == "f"):  # int with float: keep the float
        if da.kind == "f":
            b = _make(b.data.astype(da))
        else:
            a = _make(a.data.astype(db))
    return a, b


def _const(arr: np.ndarray) -> Tensor:
    return _make(arr)


def _mask(cond: np.ndarray, like: Tensor) -> Tensor:
    return _make(cond.astype(like.data.dtype))


def _norm_axis(axis: Any, ndim: int) -> tuple[int, ...] | None:
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ShapeError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % builtins.max(ndim, 1))
    return tuple(sorted(out))


def _kept_shape(shape: tuple, axis: tuple | None) -> tuple:
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else s for i, s in enumerate(shape))


def _unreduce(g: Tensor, x: Tensor, axis: tuple | None, keepdims: bool) -> Tensor:
    """Broadcast a reduced cotangent back over the reduced axes of ``x``."""
    if not keepdims:
        g = reshape(g, _kept_shape(x.data.shape, axis))
    return broadcast_to(g, x.data.shape)


def _keep(y: Tensor, x: Tensor, axis: tuple | None, keepdims: bool) -> Tensor:
    return y if keepdims else reshape(y, _kept_shape(x.data.shape, axis))


def _count(shape: tuple, axis: tuple | None) -> int:
    if axis is None:
        return math.prod(shape)
    return math.prod(shape[a] for a in axis)


# --------------------------------------------------------------------------- arithmetic

_add = prim("add", np.add,
            vjp=(lambda g, y, a, b: g, lambda g, y, a, b: g),
            jvp=(lambda t, y, a, b: t, lambda t, y, a, b: t))
_sub = prim("sub", np.subtract,
            vjp=(lambda g, y, a, b: g, lambda g, y, a, b: -g),
            jvp=(lambda t, y, a, b: t, lambda t, y, a, b: -t))
_mul = prim("mul", np.multiply,
            vjp=(lambda g, y, a, b: g * b, lambda g, y, a, b: g * a),
            jvp=(lambda t, y, a, b: t * b, lambda t, y, a, b: a * t))
_div = prim("div", np.true_divide,
            vjp=(lambda g, y, a, b: g / b, lambda g, y, a, b: -g * y / b),
            jvp=(lambda t, y, a, b: t / b, lambda t, y, a, b: -t * y / b))


def _log_base(a: Tensor) -> Tensor:
    """log(a) where a > 0, else 0: d(a**b)/db is taken as 0 where the base is not positive."""
    pos = a.data > 0
    return log(where(pos, a, 1.0)) if not pos.all() else log(a)


def _pow_da(g: Tensor, y: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """b a^(b-1), with the b = 0 terms exactly 0 (no 0 * inf at a = 0, to any order)."""
    zero = b.data == 0
    if not zero.any():
        return g * b * a ** (b - 1)
    safe_a = where(zero, 1.0, a)
    return where(zero, 0.0, g * b * safe_a ** (b - 1))


_pow = prim("pow", np.power,
            vjp=(_pow_da, lambda g, y, a, b: g * y * _log_base(a)),
            jvp=(_pow_da, lambda t, y, a, b: t * y * _log_base(a)))
# The identity as a node: gives a tensor its own place in the graph (used by jvp).
alias = prim("alias", lambda x: x, vjp=lambda g, y, x: g, jvp=lambda t, y, x: t)
neg = prim("neg", np.negative, vjp=lambda g, y, x: -g, jvp=lambda t, y, x: -t)


def add(a: Any, b: Any) -> Tensor:
    return _add(*_lift2(a, b))


def sub(a: Any, b: Any) -> Tensor:
    return _sub(*_lift2(a, b))


def mul(a: Any, b: Any) -> Tensor:
    return _mul(*_lift2(a, b))


def div(a: Any, b: Any) -> Tensor:
    return _div(*_lift2(a, b))


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001
    """``a ** b``; the exponent may be a tensor (d/db uses log a, taken as 0 where a <= 0)."""
    return _pow(*_lift2(a, b))


# --------------------------------------------------------------------------- elementwise


def _sigmoid_np(x: np.ndarray) -> np.ndarray:
    """1/(1 + e^-x) for x >= 0 and e^x/(1 + e^x) below: exp never overflows.

    Small arrays use exp(-log(1 + e^-x)) instead: fewer NumPy calls (each call's fixed
    cost dominates there), same accuracy, slower per element.
    """
    if x.size <= 256:
        return np.exp(-np.logaddexp(x.dtype.type(0), -x))
    e = np.exp(-np.abs(x))
    r = 1 / (1 + e)
    return np.where(x >= 0, r, e * r)


def _sigmoid_slope_np(y: np.ndarray) -> np.ndarray:
    return y * (1 - y)


# sigmoid' = y (1 - y) as one node, so sigmoid's backward is two operations.
_sigmoid_slope = prim("sigmoid_slope", _sigmoid_slope_np,
                      vjp=lambda g, s, y: g * (1 - 2 * y), jvp=lambda t, s, y: t * (1 - 2 * y))


def _erf_np(x: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import erf
    except ImportError:  # exact but slower fallback
        erf = np.vectorize(math.erf, otypes=[np.float64])
    return np.asarray(erf(x)).astype(x.dtype, copy=False)


def _sqrt_vjp(g: Tensor, y: Tensor, x: Tensor) -> Tensor:
    """d sqrt(x) = 1/(2 sqrt x): +inf at 0 (as IEEE, PyTorch, JAX); a zero cotangent stays 0."""
    zero = y.data == 0
    if not zero.any():
        return g / (2 * y)
    inf = np.where(g.data == 0, 0, np.copysign(np.inf, g.data)).astype(g.data.dtype)
    return where(zero, _const(inf), g / (2 * where(zero, 1.0, y)))


exp = prim("exp", np.exp, vjp=lambda g, y, x: g * y, jvp=lambda t, y, x: t * y)
log = prim("log", np.log, vjp=lambda g, y, x: g / x, jvp=lambda t, y, x: t / x)
log1p = prim("log1p", np.log1p, vjp=lambda g, y, x: g / (x + 1), jvp=lambda t, y, x: t / (x + 1))
expm1 = prim("expm1", np.expm1, vjp=lambda g, y, x: g * (y + 1),
             jvp=lambda t, y, x: t * (y + 1))
sqrt = prim("sqrt", np.sqrt, vjp=_sqrt_vjp, jvp=lambda t, y, x: _sqrt_vjp(t, y, x))
sin = prim("sin", np.sin, vjp=lambda g, y, x: g * cos(x), jvp=lambda t, y, x: t * cos(x))
cos = prim("cos", np.cos, vjp=lambda g, y, x: -g * sin(x), jvp=lambda t, y, x: -t * sin(x))
tan = prim("tan", np.tan, vjp=lambda g, y, x: g * (1 + y * y),
           jvp=lambda t, y, x: t * (1 + y * y))
tanh = prim("tanh", np.tanh, vjp=lambda g, y, x: g * (1 - y * y),
            jvp=lambda t, y, x: t * (1 - y * y))
sigmoid = prim("sigmoid", _sigmoid_np, vjp=lambda g, y, x: g * _sigmoid_slope(y),
               jvp=lambda t, y, x: t * _sigmoid_slope(y))
softplus = prim("softplus", lambda x: np.logaddexp(x.dtype.type(0), x),
                vjp=lambda g, y, x: g * sigmoid(x), jvp=lambda t, y, x: t * sigmoid(x))
relu = prim("relu", lambda x: np.maximum(x, x.dtype.type(0)),
            vjp=lambda g, y, x: g * _mask(x.data > 0, g),
            jvp=lambda t, y, x: t * _mask(x.data > 0, t))
leaky_relu = prim("leaky_relu", lambda x, slope=0.01: np.where(x > 0, x, x * x.dtype.type(slope)),
                  vjp=lambda g, y, x, slope=0.01: g * _const(
                      np.where(x.data > 0, 1, slope).astype(g.data.dtype)),
                  jvp=lambda t, y, x, slope=0.01: t * _const(
                      np.where(x.data > 0, 1, slope).astype(t.data.dtype)))
elu = prim("elu",
           lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))
                                         ).astype(x.dtype, copy=False),
           vjp=lambda g, y, x, alpha=1.0: g * where(x.data > 0, 1.0, y + alpha),
           jvp=lambda t, y, x, alpha=1.0: t * where(x.data > 0, 1.0, y + alpha))
erf = prim("erf", _erf_np,
           vjp=lambda g, y, x: g * (2 / math.sqrt(math.pi)) * exp(-x * x),
           jvp=lambda t, y, x: t * (2 / math.sqrt(math.pi)) * exp(-x * x))
abs = prim("abs", np.abs, vjp=lambda g, y, x: g * sign(x),  # noqa: A001  |x|'(0) = 0
           jvp=lambda t, y, x: t * sign(x))
sign = prim("sign", np.sign, vjp=_zero, jvp=_zero)
_clip = prim("clip", lambda x, lo, hi: np.clip(x, lo, hi),
             vjp=lambda g, y, x, lo, hi: g * _mask(_inside(x.data, lo, hi), g),
             jvp=lambda t, y, x, lo, hi: t * _mask(_inside(x.data, lo, hi), t))


def _inside(x: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
    keep = np.ones(x.shape, dtype=bool)
    if lo is not None:
        keep &= x >= lo
    if hi is not None:
        keep &= x <= hi
    return keep


def clip(x: Any, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """Clamp to [min, max]; the gradient passes where min <= x <= max (inclusive)."""
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    return _clip(lift(x), lo=min, hi=max)


def _tie_share(a: np.ndarray, b: np.ndarray, dtype: Any) -> np.ndarray:
    """Weight of ``a`` in max(a, b): 1 where a wins, 1/2 on ties, 0 where b wins."""
    return np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0)).astype(dtype)


_maximum = prim(
    "maximum", np.maximum,
    vjp=(lambda g, y, a, b: g * _const(_tie_share(a.data, b.data, g.data.dtype)),
         lambda g, y, a, b: g * _const(_tie_share(b.data, a.data, g.data.dtype))),
    jvp=(lambda t, y, a, b: t * _const(_tie_share(a.data, b.data, t.data.dtype)),
         lambda t, y, a, b: t * _const(_tie_share(b.data, a.data, t.data.dtype))))
_minimum = prim(
    "minimum", np.minimum,
    vjp=(lambda g, y, a, b: g * _const(_tie_share(b.data, a.data, g.data.dtype)),
         lambda g, y, a, b: g * _const(_tie_share(a.data, b.data, g.data.dtype))),
    jvp=(lambda t, y, a, b: t * _const(_tie_share(b.data, a.data, t.data.dtype)),
         lambda t, y, a, b: t * _const(_tie_share(a.data, b.data, t.data.dtype))))
_where = prim("where", np.where,
              vjp=(None, lambda g, y, c, a, b: where(c, g, 0.0),
                   lambda g, y, c, a, b: where(c, 0.0, g)),
              jvp=(None, lambda t, y, c, a, b: where(c, t, 0.0),
                   lambda t, y, c, a, b: where(c, 0.0, t)))


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise max; on ties each side gets half the gradient."""
    return _maximum(*_lift2(a, b))


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise min; on ties each side gets half the gradient."""
    return _minimum(*_lift2(a, b))


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``cond`` is true, else ``b`` (``cond`` is not differentiated)."""
    c = cond if isinstance(cond, Tensor) else _make(np.asarray(cond, dtype=bool))
    if c.data.dtype != bool:
        c = _make(c.data.astype(bool))
    a, b = _lift2(a, b)
    return _where(c, a, b)


# --------------------------------------------------------------------------- linear algebra


def _mm_vjp_a(g: Tensor, y: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if b.ndim == 1:
        return unsqueeze(g, -1) * b
    if a.ndim == 1:
        return squeeze(matmul(b, unsqueeze(g, -1)), -1)
    return matmul(g, swapaxes(b, -1, -2))


def _mm_vjp_b(g: Tensor, y: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if a.ndim == 1:
        return g * a if b.ndim == 1 else unsqueeze(a, -1) * unsqueeze(g, -2)
    if b.ndim == 1:
        return squeeze(matmul(swapaxes(a, -1, -2), unsqueeze(g, -1)), -1)
    return matmul(swapaxes(a, -1, -2), g)


_matmul = prim("matmul", np.matmul, vjp=(_mm_vjp_a, _mm_vjp_b),
               jvp=(lambda t, y, a, b: matmul(t, b), lambda t, y, a, b: matmul(a, t)))


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules (batched; 1-D operands promoted and removed)."""
    a, b = _lift2(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: operands must be at least 1-D, got shapes "
                         f"{a.shape} and {b.shape}")
    return _matmul(a, b)


def _linear_np(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    y = x @ w.T
    if y.dtype == np.result_type(y, b):
        y += b
        return y
    return y + b


def _linear_vjp_w(g: Tensor, y: Tensor, x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    if x.ndim != 2:
        g, x = reshape(g, (-1, g.shape[-1])), reshape(x, (-1, x.shape[-1]))
    return matmul(transpose(g), x)


linear_ = prim("linear", _linear_np,
               vjp=(lambda g, y, x, w, b: matmul(g, w), _linear_vjp_w, lambda g, y, x, w, b: g),
               jvp=(lambda t, y, x, w, b: matmul(t, transpose(w)),
                    lambda t, y, x, w, b: matmul(x, transpose(t)),
                    lambda t, y, x, w, b: t))


# The same without a bias: its weight cotangent comes out in the weight's own layout.
linear_nobias = prim("linear_nobias", lambda x, w: x @ w.T,
                     vjp=(lambda g, y, x, w: matmul(g, w),
                          lambda g, y, x, w: _linear_vjp_w(g, y, x, w, None)),
                     jvp=(lambda t, y, x, w: matmul(t, transpose(w)),
                          lambda t, y, x, w: matmul(x, transpose(t))))


def linear(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` as one fused node. x: (..., in), weight: (out, in), bias: (out,)."""
    x = lift(x)
    if x.ndim == 0 or weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise ShapeError(f"linear: input of shape {x.shape} does not fit a weight of shape "
                         f"{weight.shape} (expected last input dim {weight.shape[-1]})")
    if bias is None:
        return linear_nobias(x, weight)
    return linear_(x, weight, bias)


# --------------------------------------------------------------------------- reductions

_sum = prim("sum", lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims),
            vjp=lambda g, y, x, axis, keepdims: _unreduce(g, x, axis, keepdims),
            jvp=lambda t, y, x, axis, keepdims: _sum(t, axis=axis, keepdims=keepdims))
_mean = prim("mean", lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims)
             / x.dtype.type(_count(x.shape, axis)) if x.dtype.kind == "f"
             else np.mean(x, axis=axis, keepdims=keepdims),
             vjp=lambda g, y, x, axis, keepdims: _unreduce(g, x, axis, keepdims)
             / _count(x.shape, axis),
             jvp=lambda t, y, x, axis, keepdims: _mean(t, axis=axis, keepdims=keepdims))


def _extreme_weights(y: Tensor, x: Tensor, axis: tuple | None, keepdims: bool) -> Tensor:
    """Share of each element in a max/min: 1/(number of ties) at the extreme, else 0."""
    hit = x.data == _keep(y, x, axis, keepdims).data
    weights = hit.astype(x.data.dtype)
    counts = hit.sum(axis=axis, keepdims=True)
    if counts.max(initial=0) > 1:
        weights /= counts
    return _const(weights)


def _extreme(name: str, fn: Any) -> Primitive:
    return prim(name, lambda x, axis, keepdims: fn(x, axis=axis, keepdims=keepdims),
                vjp=lambda g, y, x, axis, keepdims: _unreduce(g, x, axis, keepdims)
                * _extreme_weights(y, x, axis, keepdims),
                jvp=lambda t, y, x, axis, keepdims: _sum(
                    t * _extreme_weights(y, x, axis, keepdims), axis=axis, keepdims=keepdims))


_max = _extreme("max", np.max)
_min = _extreme("min", np.min)


def _prod_others(x: Tensor, axis: tuple | None) -> Tensor:
    """For each element, the product of the other elements in its reduction group."""
    nd = x.ndim
    axes = tuple(range(nd)) if axis is None else axis
    rest = tuple(i for i in range(nd) if i not in axes)
    moved = transpose(x, rest + axes)
    lead = moved.shape[:len(rest)]
    n = _count(x.shape, axes)
    flat = reshape(moved, lead + (n,))
    eye = np.eye(n, dtype=bool)
    grid = where(eye, 1.0, unsqueeze(flat, -2))  # (..., n, n) with ones on the diagonal
    others = _prod(grid, axis=(len(lead) + 1,), keepdims=False)
    others = reshape(others, moved.shape)
    return transpose(others, tuple(np.argsort(rest + axes)))


def _prod_partials(y: Tensor, x: Tensor, axis: tuple | None, keepdims: bool) -> Tensor:
    """d prod / d x_i for every element (x's shape), exact also where x has zeros."""
    if (x.data != 0).all():
        return broadcast_to(_keep(y, x, axis, keepdims), x.shape) / x
    return _prod_others(x, axis)


_prod = prim("prod", lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
             vjp=lambda g, y, x, axis, keepdims: _unreduce(g, x, axis, keepdims)
             * _prod_partials(y, x, axis, keepdims),
             jvp=lambda t, y, x, axis, keepdims: _sum(
                 t * _prod_partials(y, x, axis, keepdims), axis=axis, keepdims=keepdims))


def _logsumexp_np(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


_logsumexp = prim("logsumexp", _logsumexp_np,
                  vjp=lambda g, y, x, axis, keepdims: _unreduce(g, x, axis, keepdims)
                  * exp(x - _keep(y, x, axis, keepdims)),
                  jvp=lambda t, y, x, axis, keepdims: _sum(
                      t * exp(x - _keep(y, x, axis, keepdims)), axis=axis, keepdims=keepdims))


def _reducer(p: Primitive) -> Any:
    def reduce(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
        x = lift(x)
        return p(x, axis=_norm_axis(axis, x.ndim), keepdims=bool(keepdims))

    reduce.__name__ = p.name
    reduce.__doc__ = f"{p.name} over ``axis`` (None = all axes), optionally keeping dims."
    return reduce


sum = _reducer(_sum)  # noqa: A001
mean = _reducer(_mean)
max = _reducer(_max)  # noqa: A001
min = _reducer(_min)  # noqa: A001
prod = _reducer(_prod)
logsumexp = _reducer(_logsumexp)
max.__doc__ = "Max over ``axis``; tied maxima share the gradient equally."
min.__doc__ = "Min over ``axis``; tied minima share the gradient equally."


def _safe_sqrt_vjp(g: Tensor, y: Tensor, x: Tensor) -> Tensor:
    pos = y.data > 0
    return g * _mask(pos, g) / (2 * where(pos, y, 1.0))


# sqrt whose derivative at 0 is taken as 0: the subgradient rule for norm and std at 0.
_safe_sqrt = prim("safe_sqrt", np.sqrt, vjp=_safe_sqrt_vjp,
                  jvp=lambda t, y, x: _safe_sqrt_vjp(t, y, x))


def var(x: Any, axis: Any = None, keepdims: bool = False, correction: int = 1) -> Tensor:
    """Variance over ``axis``, dividing by N - correction (PyTorch's default correction=1)."""
    x = lift(x)
    ax = _norm_axis(axis, x.ndim)
    n = _count(x.shape, ax)
    if n - correction <= 0:
        raise ValueError(f"var: correction={correction} needs more than {correction} "
                         f"element(s) per group, got {n} (shape {x.shape}, axis {axis})")
    d = x - _mean(x, axis=ax, keepdims=True)
    return _sum(d * d, axis=ax, keepdims=bool(keepdims)) / (n - correction)


def std(x: Any, axis: Any = None, keepdims: bool = False, correction: int = 1) -> Tensor:
    """Standard deviation; its gradient where std = 0 is 0 (the subgradient)."""
    return _safe_sqrt(var(x, axis, keepdims, correction))


def norm(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Euclidean norm over ``axis``; its gradient at 0 is 0 (the subgradient)."""
    x = lift(x)
    return _safe_sqrt(_sum(x * x, axis=_norm_axis(axis, x.ndim), keepdims=bool(keepdims)))


# --------------------------------------------------------------------------- softmax family


def _softmax_np(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def _log_softmax_np(x: np.ndarray, axis: int) -> np.ndarray:
    return x - _logsumexp_np(x, axis, True)


_softmax = prim("softmax", _softmax_np,
                vjp=lambda g, y, x, axis: y * (g - _sum(g * y, axis=(axis,), keepdims=True)),
                jvp=lambda t, y, x, axis: y * (t - _sum(t * y, axis=(axis,), keepdims=True)))
_log_softmax = prim("log_softmax", _log_softmax_np,
                    vjp=lambda g, y, x, axis: g - exp(y) * _sum(g, axis=(axis,), keepdims=True),
                    jvp=lambda t, y, x, axis: t - _sum(exp(y) * t, axis=(axis,), keepdims=True))


def softmax(x: Any, axis: int = -1) -> Tensor:
    x = lift(x)
    return _softmax(x, axis=_norm_axis(axis, x.ndim)[0])


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    x = lift(x)
    return _log_softmax(x, axis=_norm_axis(axis, x.ndim)[0])


def _target_probs(target: np.ndarray, logits_shape: tuple, dtype: Any) -> np.ndarray:
    if target.dtype.kind in "iu":
        probs = np.zeros(logits_shape, dtype=dtype)
        probs.reshape(-1, logits_shape[-1])[np.arange(target.size), target.reshape(-1)] = 1
        return probs
    return target


def _sce_np(z: np.ndarray, target: np.ndarray) -> np.ndarray:
    logp = _log_softmax_np(z, -1)
    if target.dtype.kind in "iu":
        flat = logp.reshape(-1, logp.shape[-1])
        return -flat[np.arange(target.size), target.reshape(-1)].reshape(target.shape)
    return -np.sum(target * logp, axis=-1)


def _probs(target: Tensor, z: Tensor) -> Tensor:
    """The target as a probability tensor (one-hot constants for class indices)."""
    if target.data.dtype.kind in "iu":
        return _const(_target_probs(target.data, z.data.shape, z.data.dtype))
    return target


def _sce_vjp(g: Tensor, y: Tensor, z: Tensor, target: Tensor) -> Tensor:
    if target.data.dtype.kind in "iu":
        return unsqueeze(g, -1) * (softmax(z, -1) - _probs(target, z))
    # d/dz of -sum(t * log_softmax(z)) = softmax(z) * sum(t) - t (sum(t) = 1 for a distribution)
    mass = _sum(target, axis=(z.ndim - 1,), keepdims=True)
    return unsqueeze(g, -1) * (softmax(z, -1) * mass - target)


def _sce_vjp_target(g: Tensor, y: Tensor, z: Tensor, target: Tensor) -> Tensor:
    return -unsqueeze(g, -1) * log_softmax(z, -1)


def _sce_jvp(t: Tensor, y: Tensor, z: Tensor, target: Tensor) -> Tensor:
    last = (z.ndim - 1,)
    return -_sum(_probs(target, z) * (t - _sum(softmax(z, -1) * t, axis=last, keepdims=True)),
                 axis=last, keepdims=False)


_softmax_ce = prim("softmax_cross_entropy", _sce_np,
                   vjp=(_sce_vjp, _sce_vjp_target),
                   jvp=(_sce_jvp, lambda t, y, z, target: -_sum(
                       t * log_softmax(z, -1), axis=(z.ndim - 1,), keepdims=False)))


def softmax_cross_entropy(logits: Any, target: Any) -> Tensor:
    """Per-example cross-entropy of softmax(logits) against ``target``, fused and stable.

    logits: (..., C). target: integer class indices (...) or probabilities (..., C).
    Returns shape (...). The gradient w.r.t. logits is softmax(logits) - target.
    """
    z = lift(logits)
    t = target if isinstance(target, Tensor) else Tensor(target)
    if t.data.dtype.kind in "iu":
        if t.shape != z.shape[:-1]:
            raise ShapeError(f"softmax_cross_entropy: class-index target of shape {t.shape} "
                             f"does not match logits of shape {z.shape} (expected "
                             f"{z.shape[:-1]})")
        if t.data.size and (t.data.min() < 0 or t.data.max() >= z.shape[-1]):
            raise ValueError(f"softmax_cross_entropy: class indices must lie in "
                             f"[0, {z.shape[-1]}), got range [{t.data.min()}, {t.data.max()}]")
    elif t.shape != z.shape:
        raise ShapeError(f"softmax_cross_entropy: probability target of shape {t.shape} "
                         f"does not match logits of shape {z.shape}")
    return _softmax_ce(z, t)


# --------------------------------------------------------------------------- movement


def _sum_to_np(x: np.ndarray, shape: tuple) -> np.ndarray:
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and x.shape[i + lead] != 1)
    return (np.sum(x, axis=axes, keepdims=True) if axes else x).reshape(shape)


_reshape = prim("reshape", lambda x, shape: np.reshape(x, shape),
                vjp=lambda g, y, x, shape: _reshape(g, shape=x.shape),
                jvp=lambda t, y, x, shape: _reshape(t, shape=y.shape))
_transpose = prim("transpose", lambda x, axes: np.transpose(x, axes),
                  vjp=lambda g, y, x, axes: _transpose(g, axes=tuple(np.argsort(axes))),
                  jvp=lambda t, y, x, axes: _transpose(t, axes=axes))
_broadcast_to = prim("broadcast_to", lambda x, shape: np.broadcast_to(x, shape),
                     vjp=lambda g, y, x, shape: _sum_to(g, shape=x.shape),
                     jvp=lambda t, y, x, shape: _broadcast_to(t, shape=shape))
_sum_to = prim("sum_to", _sum_to_np,
               vjp=lambda g, y, x, shape: _broadcast_to(g, shape=x.shape),
               jvp=lambda t, y, x, shape: _sum_to(t, shape=shape))
_flip = prim("flip", lambda x, axis: np.flip(x, axis),
             vjp=lambda g, y, x, axis: _flip(g, axis=axis),
             jvp=lambda t, y, x, axis: _flip(t, axis=axis))
_cast = prim("cast", lambda x, dtype: x.astype(dtype),
             vjp=lambda g, y, x, dtype: _cast(g, dtype=x.dtype),
             jvp=lambda t, y, x, dtype: _cast(t, dtype=dtype))


def _pad_np(x: np.ndarray, widths: tuple, value: float) -> np.ndarray:
    return np.pad(x, widths, mode="constant", constant_values=value)


def _unpad(g: Tensor, widths: tuple) -> Tensor:
    return getitem(g, tuple(slice(lo, g.shape[i] - hi) for i, (lo, hi) in enumerate(widths)))


_pad = prim("pad", _pad_np,
            vjp=lambda g, y, x, widths, value: _unpad(g, widths),
            jvp=lambda t, y, x, widths, value: _pad(t, widths=widths, value=0.0))


def reshape(x: Any, shape: Any) -> Tensor:
    x = lift(x)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if shape == x.shape:
        return x
    return _reshape(x, shape=shape)


def transpose(x: Any, axes: Any = None) -> Tensor:
    """Permute axes (reverse them when ``axes`` is None), as ``np.transpose``."""
    x = lift(x)
    axes = tuple(range(x.ndim))[::-1] if axes is None else tuple(
        int(a) % builtins.max(x.ndim, 1) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"transpose: axes {axes} are not a permutation for shape {x.shape}")
    return _transpose(x, axes=axes)


permute = transpose


def swapaxes(x: Any, a: int, b: int) -> Tensor:
    x = lift(x)
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return _transpose(x, axes=tuple(axes))


def broadcast_to(x: Any, shape: Any) -> Tensor:
    x = lift(x)
    shape = tuple(shape)
    if shape == x.shape:
        return x
    return _broadcast_to(x, shape=shape)


expand = broadcast_to


def sum_to(x: Any, shape: Any) -> Tensor:
    """Sum a broadcast tensor back down to ``shape`` (the transpose of ``broadcast_to``)."""
    x = lift(x)
    shape = tuple(shape)
    if shape == x.shape:
        return x
    return _sum_to(x, shape=shape)


def cast(x: Any, dtype: Any) -> Tensor:
    x = lift(x)
    dtype = np.dtype(dtype)
    return x if dtype == x.dtype else _cast(x, dtype=dtype)


def squeeze(x: Any, axis: Any = None) -> Tensor:
    x = lift(x)
    if axis is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    axes = _norm_axis(axis, x.ndim)
    for a in axes:
        if x.shape[a] != 1:
            raise ShapeError(f"squeeze: axis {a} has size {x.shape[a]}, not 1 (shape {x.shape})")
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if i not in axes))


def unsqueeze(x: Any, axis: int) -> Tensor:
    x = lift(x)
    axis = axis % (x.ndim + 1)
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def flatten(x: Any, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    x = lift(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = start_axis % x.ndim, end_axis % x.ndim
    return reshape(x, x.shape[:s] + (-1,) + x.shape[e + 1:])


def flip(x: Any, axis: Any = None) -> Tensor:
    x = lift(x)
    return _flip(x, axis=_norm_axis(axis, x.ndim))


def pad(x: Any, pad_width: Any, value: float = 0.0) -> Tensor:
    """Constant padding; ``pad_width`` as in ``np.pad`` (an int, a pair, or a pair per axis)."""
    x = lift(x)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
    if (widths < 0).any():
        raise ValueError(f"pad: widths must be non-negative, got {pad_width}")
    return _pad(x, widths=tuple(map(tuple, widths.tolist())), value=value)


def _concat_vjp(i: int, g: Tensor, y: Tensor, *xs: Tensor, axis: int) -> Tensor:
    start = int(np.sum([x.shape[axis] for x in xs[:i]], dtype=int))
    key = (slice(None),) * axis + (slice(start, start + xs[i].shape[axis]),)
    return getitem(g, key)


def _concat_jvp(i: int, t: Tensor, y: Tensor, *xs: Tensor, axis: int) -> Tensor:
    before = int(np.sum([x.shape[axis] for x in xs[:i]], dtype=int))
    after = y.shape[axis] - before - xs[i].shape[axis]
    widths = [(0, 0)] * y.ndim
    widths[axis] = (before, after)
    return _pad(t, widths=tuple(widths), value=0.0)


_concatenate = prim("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis),
                    vjp=_Each(_concat_vjp), jvp=_Each(_concat_jvp))


def concatenate(tensors: Any, axis: int = 0) -> Tensor:
    ts = [lift(t) for t in tensors]
    if not ts:
        raise ValueError("concatenate: need at least one tensor")
    return _concatenate(*ts, axis=_norm_axis(axis, ts[0].ndim)[0])


cat = concatenate


def stack(tensors: Any, axis: int = 0) -> Tensor:
    ts = [lift(t) for t in tensors]
    if not ts:
        raise ValueError("stack: need at least one tensor")
    shapes = {t.shape for t in ts}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return concatenate([unsqueeze(t, axis) for t in ts], axis=axis % (ts[0].ndim + 1))


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """Split along ``axis`` as ``np.split``: a number of equal parts or a list of cut points."""
    x = lift(x)
    axis = _norm_axis(axis, x.ndim)[0]
    n = x.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        if n % indices_or_sections:
            raise ShapeError(f"split: axis {axis} of size {n} does not divide into "
                             f"{indices_or_sections} equal parts")
        step = n // indices_or_sections
        cuts = list(range(step, n, step))
    else:
        cuts = list(indices_or_sections)
    bounds = [0, *cuts, n]
    lead = (slice(None),) * axis
    return [getitem(x, lead + (slice(lo, hi),)) for lo, hi in zip(bounds[:-1], bounds[1:])]


# --------------------------------------------------------------------------- indexing


def _is_basic(key: tuple) -> bool:
    return all(k is None or k is Ellipsis or isinstance(k, (slice, int, np.integer))
               for k in key)


def _add_at(buf: np.ndarray, g: np.ndarray, key: tuple) -> None:
    """buf[key] += g, with repeated advanced indices adding up."""
    if _is_basic(key):
        buf[key] += g
    else:
        np.add.at(buf, key, g)


def _scatter_np(g: np.ndarray, key: tuple, shape: tuple) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    _add_at(out, g, key)
    return out


_getitem = Primitive("getitem", lambda x, key: x[key],
                     vjp=lambda g, y, x, key: _scatter(g, key=key, shape=x.shape),
                     jvp=lambda t, y, x, key: _getitem(t, key=key), accumulate=_add_at)
# The transpose of indexing: add the values into a zero tensor at ``key``.
_scatter = prim("scatter_add", _scatter_np,
                vjp=lambda g, y, x, key, shape: _getitem(g, key=key),
                jvp=lambda t, y, x, key, shape: _scatter(t, key=key, shape=shape))


def _index_part(k: Any) -> Any:
    if isinstance(k, Tensor):
        k = k.data
    if isinstance(k, list):
        k = np.asarray(k)
    return k


def getitem(x: Any, key: Any) -> Tensor:
    """``x[key]`` with NumPy's basic and advanced indexing; repeated indices add up in the
    gradient (the transpose is ``scatter_add``)."""
    x = lift(x)
    key = tuple(_index_part(k) for k in key) if isinstance(key, tuple) else (_index_part(key),)
    return _getitem(x, key=key)


def scatter_add(values: Any, key: Any, shape: Any) -> Tensor:
    """A zero tensor of ``shape`` with ``values`` added at ``key`` (duplicates accumulate)."""
    key = tuple(_index_part(k) for k in key) if isinstance(key, tuple) else (_index_part(key),)
    return _scatter(lift(values), key=key, shape=tuple(shape))


# --------------------------------------------------------------------------- einsum

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(subscripts: str, shapes: list[tuple]) -> tuple[list[str], str]:
    """Explicit subscripts with '...' replaced by letters and the output made explicit."""
    s = subscripts.replace(" ", "")
    lhs, arrow, rhs = s.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ShapeError(f"einsum: '{subscripts}' names {len(ins)} operands, got {len(shapes)}")
    used = set(c for c in s if c.isalpha())
    free = [c for c in _LETTERS if c not in used]
    nell = builtins.max([len(sh) - len(sub.replace("...", "")) for sub, sh in
                         zip(ins, shapes) if "..." in sub] or [0])
    ell = "".join(free[:nell])
    fixed = []
    for sub, sh in zip(ins, shapes):
        if "..." in sub:
            k = len(sh) - len(sub.replace("...", ""))
            sub = sub.replace("...", ell[nell - k:] if k else "")
        if len(sub) != len(sh):
            raise ShapeError(f"einsum: subscripts '{sub}' do not fit an operand of shape {sh}")
        fixed.append(sub)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts = {c: "".join(fixed).count(c) for c in set("".join(fixed))}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return fixed, out


def _einsum_vjp(i: int, g: Tensor, y: Tensor, *xs: Tensor, ins: tuple, out: str) -> Tensor:
    target = ins[i]
    if len(set(target)) != len(target):
        raise NotImplementedError(f"einsum: no gradient for a repeated index within one "
                                  f"operand ('{target}', a diagonal or trace)")
    others = [s for j, s in enumerate(ins) if j != i]
    present = set(out).union(*others) if others else set(out)
    kept = "".join(c for c in target if c in present)
    spec = ",".join([out, *others]) + "->" + kept
    gi = einsum(spec, g, *[x for j, x in enumerate(xs) if j != i])
    if kept != target:  # letters summed only inside operand i: broadcast back over them
        shape = tuple(xs[i].shape[k] if c in present else 1 for k, c in enumerate(target))
        gi = broadcast_to(reshape(gi, shape), xs[i].shape)
    return gi


def _einsum_jvp(i: int, t: Tensor, y: Tensor, *xs: Tensor, ins: tuple, out: str) -> Tensor:
    ops_ = list(xs)
    ops_[i] = t
    return _einsum(*ops_, ins=ins, out=out)


_einsum = prim("einsum", lambda *xs, ins, out: np.einsum(",".join(ins) + "->" + out, *xs,
                                                          optimize=len(xs) > 2),
               vjp=_Each(_einsum_vjp), jvp=_Each(_einsum_jvp))


def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Einstein summation as ``np.einsum`` (explicit or implicit output, '...' allowed)."""
    ts = [lift(t) for t in operands]
    ins, out = _parse_einsum(subscripts, [t.shape for t in ts])
    return _einsum(*ts, ins=tuple(ins), out=out)


# --------------------------------------------------------------------------- convolution
#
# Images are (N, C, H, W). ``unfold`` is a movement op: a view of every k×k window laid out
# as (N, C, kh, kw, Ho, Wo), made with stride tricks; ``fold`` is its transpose (windows
# added back into an image). ``conv2d`` (and ``conv2d_bias``, with the bias added in the
# same pass) is fused for speed — im2col copies and batched matrix multiplies, a few images
# at a time — and its rules are written with unfold, fold and matmul, so they are
# differentiable again; when no graph of the gradient is being recorded (``_plain``) the
# rules take a first-order fast path through the same NumPy kernels as the forward.
# ``max_pool2d`` is fused too: its forward takes the maximum of kh*kw strided slices
# instead of reducing a 6-D view, and so does its first-order backward.


def _out_size(size: int, k: int, s: int, d: int) -> int:
    return (size - d * (k - 1) - 1) // s + 1


def _unfold_np(x: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple,
               padding: tuple) -> np.ndarray:
    if any(p for pair in padding for p in pair):
        x = np.pad(x, ((0, 0), (0, 0)) + padding)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    shape = (n, c, kh, kw, _out_size(h, kh, sh, dh), _out_size(w, kw, sw, dw))
    s0, s1, s2, s3 = x.strides
    return np.lib.stride_tricks.as_strided(
        x, shape, (s0, s1, s2 * dh, s3 * dw, s2 * sh, s3 * sw), writeable=False)


def _window(a: int, b: int, out: tuple, stride: tuple, dilation: tuple) -> tuple:
    """The slice of a padded image that kernel position (a, b) sees at every output."""
    (ho, wo), (sh, sw), (dh, dw) = out, stride, dilation
    return (slice(None), slice(None), slice(a * dh, a * dh + sh * (ho - 1) + 1, sh),
            slice(b * dw, b * dw + sw * (wo - 1) + 1, sw))


def _fold_np(cols: np.ndarray, shape: tuple, kernel: tuple, stride: tuple, dilation: tuple,
             padding: tuple) -> np.ndarray:
    n, c, h, w = shape
    (pt, pb), (pl, pr) = padding
    kh, kw, ho, wo = cols.shape[2:]
    if stride == kernel and dilation == (1, 1) and (kh * ho, kw * wo) == (h + pt + pb,
                                                                         w + pl + pr):
        # windows tile the image exactly: folding is a transpose, no additions
        out = cols.transpose(0, 1, 4, 2, 5, 3).reshape(n, c, kh * ho, kw * wo)
        return out[:, :, pt:pt + h, pl:pl + w]
    out = np.zeros((n, c, h + pt + pb, w + pl + pr), dtype=cols.dtype)
    for a in range(kernel[0]):
        for b in range(kernel[1]):
            out[_window(a, b, cols.shape[4:], stride, dilation)] += cols[:, :, a, b]
    return out[:, :, pt:pt + h, pl:pl + w]


def _fold_vjp(g: Tensor, y: Tensor, cols: Tensor, shape: tuple, **p: Any) -> Tensor:
    win = _unfold(g, **p)
    ho, wo = cols.shape[4:]
    if win.shape[4:] != (ho, wo):  # extra end padding (output_padding) fits more windows
        win = getitem(win, (Ellipsis, slice(0, ho), slice(0, wo)))
    return win


_unfold = prim("unfold", _unfold_np,
               vjp=lambda g, y, x, **p: _fold(g, shape=x.shape, **p),
               jvp=lambda t, y, x, **p: _unfold(t, **p))
_fold = prim("fold", _fold_np, vjp=_fold_vjp,
             jvp=lambda t, y, cols, shape, **p: _fold(t, shape=shape, **p))


# The fused convolution's NumPy kernels work on a few images at a time: the im2col matrix
# (C·kh·kw values per output pixel) of a chunk of about CONV_WORKSPACE_BYTES stays in cache,
# buffers are reused from chunk to chunk, and a large batch never holds C·kh·kw copies of
# its input at once. The padded images are kept as flat rows of Wp pixels: with stride 1
# along W, what kernel offset (a, b) sees along an output row is then a contiguous run of
# Wp pixels (the last Wp - Wo of them "wrap around" into the next row and are computed
# and dropped), so im2col and its transpose, the fold, copy long runs instead of Wo-pixel
# pieces. Other strides read windows of exactly Wo pixels.

CONV_WORKSPACE_BYTES = 1 << 20


class _ConvPlan:
    """Where a convolution's windows lie in the flat padded rows (see above)."""

    def __init__(self, x_shape: tuple, kernel: tuple, stride: tuple, dilation: tuple,
                 padding: tuple, channels_out: int, out: tuple | None = None) -> None:
        self.c, self.h, self.w = x_shape[1:]
        (self.kh, self.kw), self.stride, self.dilation = kernel, stride, dilation
        ((self.pt, _), (self.pl, _)) = padding
        self.hp = self.h + padding[0][0] + padding[0][1]
        self.wp = self.w + padding[1][0] + padding[1][1]
        self.full = (_out_size(self.hp, self.kh, stride[0], dilation[0]),
                     _out_size(self.wp, self.kw, stride[1], dilation[1]))
        # ``out``: fewer windows than fit (conv_transpose2d's output_padding adds pixels
        # at the end that no window of its input's cotangent reaches)
        self.ho, self.wo = self.full if out is None else out
        # width of an output row as computed: Wp (wrap-around) when it wastes little and
        # the faster im2col copy (C·kh·kw rows) outweighs the cost of copying the result
        # (O rows) out of the wrap-around layout (measured: 1->8 3x3 and 1->32 5x5 convs
        # are faster without, 8->16 3x3 and 16->8 5x5 with)
        wrap = (stride[1] == 1 and 2 * self.wp <= 3 * self.wo
                and self.c * self.kh * self.kw >= 3 * channels_out)
        self.wq = self.wp if wrap else self.wo
        # the last window's wrap-around reads (kw-1)·dw pixels past the padded image
        self.flat = self.hp * self.wp + (self.kw - 1) * dilation[1]

    def chunk(self, rows: int, itemsize: int) -> int:
        """Images per chunk for buffers of ``rows`` × Ho·Wq values per image in all."""
        return builtins.max(1, CONV_WORKSPACE_BYTES // (rows * self.ho * self.wq * itemsize))

    def pad_into(self, x: np.ndarray, buf: np.ndarray) -> np.ndarray:
        """Images x (m, C, H, W) into zero-bordered flat rows buf[:m] (borders stay 0)."""
        m = x.shape[0]
        inner = buf[:m, :, :self.hp * self.wp].reshape(m, self.c, self.hp, self.wp)
        inner[:, :, self.pt:self.pt + self.h, self.pl:self.pl + self.w] = x
        return buf[:m]

    def crop(self, flat: np.ndarray) -> np.ndarray:
        """The image part of flat padded rows (m, C, flat) -> (m, C, H, W) (a view)."""
        m = flat.shape[0]
        inner = flat[:, :, :self.hp * self.wp].reshape(m, self.c, self.hp, self.wp)
        return inner[:, :, self.pt:self.pt + self.h, self.pl:self.pl + self.w]

    def windows(self, flat: np.ndarray, a: int | None = None, b: int | None = None,
                writeable: bool = False) -> np.ndarray:
        """im2col as a view of flat rows: (m, C, kh, kw, Ho, Wq), or the (m, C, Ho, Wq)
        slice of kernel offset (a, b)."""
        (sh, sw), (dh, dw), it = self.stride, self.dilation, flat.itemsize
        sn, sc = flat.strides[:2]
        out_shape, out_strides = (self.ho, self.wq), (sh * self.wp * it, sw * it)
        if a is not None and sh == 1 and self.wq == self.wp:  # a plain slice will do
            start = a * dh * self.wp + b * dw
            return flat[:, :, start:start + self.ho * self.wp].reshape(
                flat.shape[:2] + out_shape)
        if a is None:
            return np.lib.stride_tricks.as_strided(
                flat, (flat.shape[0], self.c, self.kh, self.kw) + out_shape,
                (sn, sc, dh * self.wp * it, dw * it) + out_strides, writeable=writeable)
        return np.lib.stride_tricks.as_strided(
            flat[:, :, a * dh * self.wp + b * dw:], (flat.shape[0], self.c) + out_shape,
            (sn, sc) + out_strides, writeable=writeable)

    def rows(self, g: np.ndarray, buf: np.ndarray) -> np.ndarray:
        """An output-shaped g (m, O, Ho, Wo) as (m, O, Ho·Wq), zeros in wrap-around columns."""
        m, o = g.shape[:2]
        if self.wq == self.wo:
            return g.reshape(m, o, -1)
        out = buf[:m]
        out.reshape(m, o, self.ho, self.wq)[..., :self.wo] = g
        return out


def _conv_np(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple,
             dilation: tuple, padding: tuple, groups: int) -> np.ndarray:
    """Forward: per chunk of images, im2col copy, one batched matmul, bias added on the way
    out. x (N, C, H, W), w (O, C/G, kh, kw), b (O,) or None -> (N, O, Ho, Wo)."""
    o, cg, kh, kw = w.shape
    n, c = x.shape[:2]
    plan = _ConvPlan(x.shape, (kh, kw), stride, dilation, padding, o)
    ho, wo, wq = plan.ho, plan.wo, plan.wq
    dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
    y = np.empty((n, o, ho, wo), dtype)
    step = builtins.min(n, plan.chunk(c * kh * kw + o, x.itemsize))  # cols and ym
    flat = np.zeros((step, c, plan.flat), x.dtype)
    cols = np.empty((step, c, kh, kw, ho, wq), x.dtype)
    wm = w.reshape(groups, o // groups, cg * kh * kw)
    # the product lands in y itself, or in ym when wrap-around columns are to be dropped
    ym = np.empty((step, groups, o // groups, ho * wq), dtype) if wq != wo else None
    bias = None if b is None else b.reshape(o, 1, 1)
    for n0 in range(0, n, step):
        m = builtins.min(step, n - n0)
        np.copyto(cols[:m], plan.windows(plan.pad_into(x[n0:n0 + m], flat)))
        cm = cols[:m].reshape(m, groups, cg * kh * kw, ho * wq)
        if ym is None:
            np.matmul(wm, cm, out=y[n0:n0 + m].reshape(m, groups, o // groups, ho * wo))
            if bias is not None:
                y[n0:n0 + m] += bias
        else:
            out = np.matmul(wm, cm, out=ym[:m]).reshape(m, o, ho, wq)[..., :wo]
            if bias is None:
                y[n0:n0 + m] = out
            else:
                np.add(out, bias, out=y[n0:n0 + m])
    return y


def _conv_grad_w_np(g: np.ndarray, x: np.ndarray, w_shape: tuple, stride: tuple,
                    dilation: tuple, padding: tuple, groups: int) -> np.ndarray:
    """Weight cotangent sum_n g[n] @ im2col(x)[n]^T, the im2col rebuilt chunk by chunk."""
    o, cg, kh, kw = w_shape
    n, c = x.shape[:2]
    plan = _ConvPlan(x.shape, (kh, kw), stride, dilation, padding, o)
    ho, wq = plan.ho, plan.wq
    step = builtins.min(n, plan.chunk(c * kh * kw + o, x.itemsize))  # cols and gbuf
    flat = np.zeros((step, c, plan.flat), x.dtype)
    cols = np.empty((step, c, kh, kw, ho, wq), x.dtype)
    gbuf = np.zeros((step, o, ho * wq), g.dtype)
    # accumulated transposed, (G, C/G·kh·kw, O/G): cols @ g^T, a tall product with few
    # columns, runs about twice as fast in BLAS as g @ cols^T when O is small
    dw_t = np.zeros((groups, cg * kh * kw, o // groups), np.result_type(g, x))
    for n0 in range(0, n, step):
        m = builtins.min(step, n - n0)
        np.copyto(cols[:m], plan.windows(plan.pad_into(x[n0:n0 + m], flat)))
        gm = plan.rows(g[n0:n0 + m], gbuf).reshape(m, groups, o // groups, ho * wq)
        cm = cols[:m].reshape(m, groups, cg * kh * kw, ho * wq)
        if m == 1:
            dw_t += np.matmul(cm[0], gm[0].swapaxes(-1, -2))
        else:
            dw_t += np.matmul(cm, gm.swapaxes(-1, -2)).sum(axis=0)
    return dw_t.swapaxes(-1, -2).reshape(w_shape)


def _flipped_transpose(w: np.ndarray, groups: int) -> np.ndarray:
    """(O, C/G, kh, kw) -> (C, O/G, kh, kw), each kernel rotated by 180°: the weight of the
    convolution that maps an output cotangent back to the input (stride 1)."""
    o, cg, kh, kw = w.shape
    wt = w.reshape(groups, o // groups, cg, kh, kw).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(wt[..., ::-1, ::-1]).reshape(groups * cg, o // groups, kh, kw)


def _conv_grad_x_np(g: np.ndarray, w: np.ndarray, x_shape: tuple, stride: tuple,
                    dilation: tuple, padding: tuple, groups: int) -> np.ndarray:
    """Input cotangent. With stride 1 it is a convolution of g with the flipped,
    transposed kernel (padded by the kernel's extent minus the forward padding): an im2col
    copy of g instead of kh·kw additions, measured faster for every shape we train.
    Otherwise (strides, padding wider than the kernel, output_padding): per chunk, the
    column cotangent w^T @ g (C·kh·kw rows), folded back by kh·kw shifted additions."""
    o, cg, kh, kw = w.shape
    n, c = x_shape[:2]
    plan = _ConvPlan(x_shape, (kh, kw), stride, dilation, padding, o, out=g.shape[2:])
    (dh, dw), ((pt, pb), (pl, pr)) = dilation, padding
    back_pad = ((dh * (kh - 1) - pt, dh * (kh - 1) - pb), (dw * (kw - 1) - pl,
                                                           dw * (kw - 1) - pr))
    if (stride == (1, 1) and builtins.min(back_pad[0] + back_pad[1]) >= 0
            and plan.full == g.shape[2:]):
        return _conv_np(g, _flipped_transpose(w, groups), None, stride, dilation, back_pad,
                        groups)
    ho, wq = plan.ho, plan.wq
    dtype = np.result_type(g, w)
    dx = np.empty(x_shape, dtype)
    step = builtins.min(n, plan.chunk(c * kh * kw + o + c, np.dtype(dtype).itemsize))
    wt = w.reshape(groups, o // groups, cg * kh * kw).swapaxes(-1, -2)  # (G, C/G·kh·kw, O/G)
    gbuf = np.zeros((step, o, ho * wq), g.dtype)
    cols = np.empty((step, groups, cg * kh * kw, ho * wq), dtype)
    flat = np.empty((step, c, plan.flat), dtype)
    for n0 in range(0, n, step):
        m = builtins.min(step, n - n0)
        gm = plan.rows(g[n0:n0 + m], gbuf).reshape(m, groups, o // groups, ho * wq)
        np.matmul(wt, gm, out=cols[:m])  # zero in the wrap-around columns, as gm
        c6 = cols[:m].reshape(m, c, kh, kw, ho, wq)
        fm = flat[:m]
        fm.fill(0)
        for a in range(kh):
            for b in range(kw):
                plan.windows(fm, a, b, writeable=True)[...] += c6[:, :, a, b]
        dx[n0:n0 + m] = plan.crop(fm)
    return dx


def _plain(*ts: Tensor) -> bool:
    """True when nothing records operations on ``ts``: no reverse-mode graph (grad mode is
    off, as in a backward without create_graph, or none of them requires grad) and no
    forward-mode tangent. A rule may then compute with NumPy directly: its first-order
    fast path, the same numbers as its differentiable form without recording a graph."""
    if state.grad_enabled and builtins.any(t._rg for t in ts):
        return False
    return not (state.fw_level and not state.fw_paused
                and builtins.any(t._tangent is not None for t in ts))


def _conv_geometry(w: Tensor, p: dict) -> dict:
    return {"kernel": w.shape[2:], "stride": p["stride"], "dilation": p["dilation"],
            "padding": p["padding"]}


def _conv_vjp_x(g: Tensor, y: Tensor, x: Tensor, w: Tensor, **p: Any) -> Tensor:
    if _plain(g, w):  # first-order fast path: chunked NumPy, no graph
        return _const(_conv_grad_x_np(g.data, w.data, x.shape, **p))
    groups, (o, cg, kh, kw) = p["groups"], w.shape
    n, _, ho, wo = g.shape
    gm = reshape(g, (n, groups, o // groups, ho * wo))
    cols = matmul(swapaxes(reshape(w, (groups, o // groups, cg * kh * kw)), -1, -2), gm)
    cols = reshape(cols, (n, groups * cg, kh, kw, ho, wo))
    return _fold(cols, shape=x.shape, **_conv_geometry(w, p))


def _conv_vjp_w(g: Tensor, y: Tensor, x: Tensor, w: Tensor, **p: Any) -> Tensor:
    if _plain(g, x):  # first-order fast path: chunked NumPy, no graph
        return _const(_conv_grad_w_np(g.data, x.data, w.shape, **p))
    groups, (o, cg, kh, kw) = p["groups"], w.shape
    n, _, ho, wo = g.shape
    cols = reshape(_unfold(x, **_conv_geometry(w, p)), (n, groups, cg * kh * kw, ho * wo))
    gm = reshape(g, (n, groups, o // groups, ho * wo))
    return reshape(_sum(matmul(gm, swapaxes(cols, -1, -2)), axis=(0,), keepdims=False),
                   w.shape)


_conv2d = prim("conv2d", lambda x, w, **p: _conv_np(x, w, None, **p),
               vjp=(_conv_vjp_x, _conv_vjp_w),
               jvp=(lambda t, y, x, w, **p: _conv2d(t, w, **p),
                    lambda t, y, x, w, **p: _conv2d(x, t, **p)))

# conv2d + bias (O,) in one node: no (N, O, Ho, Wo) temporary before the bias, nor its
# cotangent. Gradchecked against conv2d + reshape(bias) in tests/nn/test_conv.py.
_conv2d_bias = prim(
    "conv2d_bias", _conv_np,
    vjp=(lambda g, y, x, w, b, **p: _conv_vjp_x(g, y, x, w, **p),
         lambda g, y, x, w, b, **p: _conv_vjp_w(g, y, x, w, **p),
         lambda g, y, x, w, b, **p: _sum(g, axis=(0, 2, 3), keepdims=False)),
    jvp=(lambda t, y, x, w, b, **p: _conv2d(t, w, **p),
         lambda t, y, x, w, b, **p: _conv2d(x, t, **p),
         lambda t, y, x, w, b, **p: reshape(t, (1, -1, 1, 1))))


def _max_pool_np(x: np.ndarray, kernel: tuple, stride: tuple) -> np.ndarray:
    out = (_out_size(x.shape[2], kernel[0], stride[0], 1),
           _out_size(x.shape[3], kernel[1], stride[1], 1))
    y = None
    for a in range(kernel[0]):
        for b in range(kernel[1]):
            view = x[_window(a, b, out, stride, (1, 1))]
            y = view.copy() if y is None else np.maximum(y, view, out=y)
    return y


def _tiles_exactly(x: Tensor, y: Tensor, kernel: tuple, stride: tuple) -> bool:
    return tuple(stride) == tuple(kernel) and x.shape[2:] == (
        y.shape[2] * kernel[0], y.shape[3] * kernel[1])


def _max_pool_weights(y: Tensor, x: Tensor, kernel: tuple, stride: tuple) -> Tensor:
    """Share of each input element in its window's max: 1/(number of tied maxima) or 0.

    Laid out as (N, C, Ho, kh, Wo, kw) when the windows tile the image exactly (a reshape
    of x's own layout), else as unfold's (N, C, kh, kw, Ho, Wo).
    """
    yd, xd = y.data, x.data
    n, c, ho, wo = yd.shape
    (kh, kw) = kernel
    tiled = _tiles_exactly(x, y, kernel, stride)
    if tiled:
        weights = (xd.reshape(n, c, ho, kh, wo, kw) == yd[:, :, :, None, :, None]).astype(
            xd.dtype)
        slots = [weights[:, :, :, a, :, b] for a in range(kh) for b in range(kw)]
    else:
        weights = np.empty((n, c, kh, kw, ho, wo), dtype=xd.dtype)
        for a in range(kh):
            for b in range(kw):
                np.equal(xd[_window(a, b, (ho, wo), stride, (1, 1))], yd,
                         out=weights[:, :, a, b], casting="unsafe")
        slots = [weights[:, :, a, b] for a in range(kh) for b in range(kw)]
    counts = np.add.reduce(slots) if len(slots) > 1 else slots[0]  # adds k*k slices
    if counts.max(initial=0) > 1:
        weights /= counts[:, :, :, None, :, None] if tiled else counts[:, :, None, None]
    return _const(weights)


def _max_pool_grad_np(g: np.ndarray, y: np.ndarray, x: np.ndarray, kernel: tuple,
                      stride: tuple) -> np.ndarray:
    """The vjp below in NumPy (same tie sharing), one strided slice per kernel offset:
    6-D broadcasts over k×k windows run NumPy's inner loops k elements at a time."""
    out = y.shape[2:]
    wins = [_window(a, b, out, stride, (1, 1)) for a in range(kernel[0])
            for b in range(kernel[1])]
    hits = [x[win] == y for win in wins]  # where each offset holds its window's max
    counts = np.zeros(y.shape, np.uint8 if len(wins) < 256 else np.int32)
    for hit in hits:
        counts += hit
    share = np.divide(g, counts, dtype=np.result_type(g, x))  # the cotangent of each max
    if _tiles_exactly(x, y, kernel, stride):  # every input pixel in exactly one window
        dx = np.empty(x.shape, share.dtype)
        for win, hit in zip(wins, hits):
            np.multiply(hit, share, out=dx[win])
        return dx
    dx = np.zeros(x.shape, share.dtype)
    for win, hit in zip(wins, hits):
        dx[win] += hit * share
    return dx


def _max_pool_vjp(g: Tensor, y: Tensor, x: Tensor, kernel: tuple, stride: tuple) -> Tensor:
    if _plain(g):  # first-order fast path (the rule is linear in g; x, y are constants)
        return _const(_max_pool_grad_np(g.data, y.data, x.data, kernel, stride))
    n, c, ho, wo = g.shape
    weights = _max_pool_weights(y, x, kernel, stride)
    if _tiles_exactly(x, y, kernel, stride):  # no folding: scale the upsampled cotangent
        return reshape(reshape(g, (n, c, ho, 1, wo, 1)) * weights, x.shape)
    return _fold(reshape(g, (n, c, 1, 1, ho, wo)) * weights, shape=x.shape, kernel=kernel,
                 stride=stride, dilation=(1, 1), padding=((0, 0), (0, 0)))


def _max_pool_jvp(t: Tensor, y: Tensor, x: Tensor, kernel: tuple, stride: tuple) -> Tensor:
    weights = _max_pool_weights(y, x, kernel, stride)
    if _tiles_exactly(x, y, kernel, stride):
        n, c, ho, wo = y.shape
        return _sum(reshape(t, (n, c, ho, kernel[0], wo, kernel[1])) * weights, axis=(3, 5),
                    keepdims=False)
    win = _unfold(t, kernel=kernel, stride=stride, dilation=(1, 1), padding=((0, 0), (0, 0)))
    return _sum(win * weights, axis=(2, 3), keepdims=False)


# Max over k×k windows; ties share the gradient. Gradchecked against max(unfold(x)).
max_pool2d_ = prim("max_pool2d", _max_pool_np, vjp=_max_pool_vjp, jvp=_max_pool_jvp)


def _pair(v: Any, name: str, op: str) -> tuple[int, int]:
    pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(pair) != 2 or not all(isinstance(i, (int, np.integer)) for i in pair):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    return int(pair[0]), int(pair[1])


def conv_padding(padding: Any, size: tuple, kernel: tuple, stride: tuple, dilation: tuple,
                 op: str = "conv2d") -> tuple:
    """((top, bottom), (left, right)) from an int, a pair, "valid" or "same".

    "same" follows TensorFlow: the output has ceil(size / stride) positions and any odd
    padding goes at the end.
    """
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        out = []
        for n, k, s, d in zip(size, kernel, stride, dilation):
            total = builtins.max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
            out.append((total // 2, total - total // 2))
        return tuple(out)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int, a pair, 'same' or 'valid', got "
                         f"{padding!r}")
    ph, pw = _pair(padding, "padding", op)
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: padding must be >= 0, got {padding!r}")
    return ((ph, ph), (pw, pw))


def conv2d(x: Any, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch).

    x: (N, C, H, W); weight: (O, C/groups, kh, kw); bias: (O,). Returns (N, O, Ho, Wo) with
    Ho = (H + pad - dilation*(kh-1) - 1) // stride + 1.
    """
    x, weight = lift(x), lift(weight)
    if x.ndim != 4 or weight.ndim != 4:
        raise ShapeError(f"conv2d: expected input (N, C, H, W) and weight (O, C/groups, kh, "
                         f"kw), got shapes {x.shape} and {weight.shape}")
    stride, dilation = _pair(stride, "stride", "conv2d"), _pair(dilation, "dilation", "conv2d")
    if builtins.min(stride) < 1 or builtins.min(dilation) < 1:
        raise ValueError(f"conv2d: stride and dilation must be >= 1, got stride {stride}, "
                         f"dilation {dilation}")
    o, cg = weight.shape[:2]
    if groups < 1 or x.shape[1] != cg * groups or o % groups:
        raise ShapeError(f"conv2d: input with {x.shape[1]} channels does not fit a weight of "
                         f"shape {weight.shape} with groups={groups} (expected "
                         f"{cg * groups} input channels and out channels divisible by groups)")
    pad = conv_padding(padding, x.shape[2:], weight.shape[2:], stride, dilation)
    for size, (lo, hi), k, d, axis in zip(x.shape[2:], pad, weight.shape[2:], dilation, "HW"):
        if size + lo + hi < d * (k - 1) + 1:
            raise ShapeError(f"conv2d: kernel {tuple(weight.shape[2:])} (dilation {dilation}) "
                             f"is larger than the padded input {axis} = {size + lo + hi} "
                             f"(input shape {x.shape})")
    params = {"stride": stride, "dilation": dilation, "padding": pad, "groups": int(groups)}
    if bias is None:
        return _conv2d(x, weight, **params)
    bias = lift(bias)
    if bias.shape != (o,):
        raise ShapeError(f"conv2d: bias of shape {bias.shape} does not fit {o} output "
                         f"channels (expected ({o},))")
    return _conv2d_bias(x, weight, bias, **params)


def conv_transpose2d(x: Any, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, dilation: Any = 1,
                     groups: int = 1) -> Tensor:
    """Transposed convolution (the gradient of conv2d w.r.t. its input), PyTorch layout.

    x: (N, C_in, H, W); weight: (C_in, C_out/groups, kh, kw). Output size
    (H - 1)*stride - 2*padding + dilation*(kh - 1) + output_padding + 1.
    """
    x, weight = lift(x), lift(weight)
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[0]:
        raise ShapeError(f"conv_transpose2d: expected input (N, C_in, H, W) and weight "
                         f"(C_in, C_out/groups, kh, kw) with matching C_in, got shapes "
                         f"{x.shape} and {weight.shape}")
    stride, dilation = _pair(stride, "stride", "conv_transpose2d"), _pair(
        dilation, "dilation", "conv_transpose2d")
    (ph, pw), (oph, opw) = _pair(padding, "padding", "conv_transpose2d"), _pair(
        output_padding, "output_padding", "conv_transpose2d")
    if builtins.min(*stride, *dilation) < 1 or builtins.min(ph, pw, oph, opw) < 0:
        raise ValueError("conv_transpose2d: stride, dilation must be >= 1 and paddings >= 0")
    kh, kw = weight.shape[2:]
    n, c_in, h, w = x.shape
    out_hw = [(s_in - 1) * s - 2 * p + d * (k - 1) + op + 1 for s_in, s, p, d, k, op in
              zip((h, w), stride, (ph, pw), dilation, (kh, kw), (oph, opw))]
    if builtins.min(out_hw) < 1:
        raise ShapeError(f"conv_transpose2d: output size {tuple(out_hw)} is not positive")
    c_out = weight.shape[1] * groups
    pad = ((ph, ph + oph), (pw, pw + opw))
    out_shape = (n, c_out, *out_hw)
    # conv2d's input gradient with a weight of layout (O=C_in, C_out/groups, kh, kw):
    y = _conv_vjp_x(x, None, _make(np.empty(out_shape, x.dtype)), weight, stride=stride,
                    dilation=dilation, padding=pad, groups=int(groups))
    if bias is not None:
        y = y + reshape(bias, (1, -1, 1, 1))
    return y


def unfold(x: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1) -> Tensor:
    """Every sliding window as a view: (N, C, H, W) -> (N, C, kh, kw, Ho, Wo)."""
    x = lift(x)
    if x.ndim != 4:
        raise ShapeError(f"unfold: expected (N, C, H, W), got {x.shape}")
    k = _pair(kernel_size, "kernel_size", "unfold")
    s, d = _pair(stride, "stride", "unfold"), _pair(dilation, "dilation", "unfold")
    pad = conv_padding(padding, x.shape[2:], k, s, d, "unfold")
    return _unfold(x, kernel=k, stride=s, dilation=d, padding=pad)


# --------------------------------------------------------------------------- recurrent gates


def _lstm_gates_np(z: np.ndarray) -> np.ndarray:
    """sigmoid on the i, f, o quarters of the last axis, tanh on g (PyTorch's i, f, g, o).

    One tanh pass for all four: sigmoid(x) = 0.5 tanh(x/2) + 0.5 (overflow-free; its
    absolute error is at the dtype's rounding level, which is what gates need).
    """
    h = z.shape[-1] // 4
    half = np.full(z.shape[-1], 0.5, dtype=z.dtype)
    half[2 * h:3 * h] = 1
    out = np.tanh(z * half)
    out *= half
    out += 1 - half
    return out


def _lstm_gates_slope(y: Tensor) -> Tensor:
    """Derivative from the output: y(1 - y) for the sigmoid quarters, 1 - y^2 for tanh."""
    h = y.shape[-1] // 4
    is_tanh = np.zeros(y.shape[-1], dtype=bool)
    is_tanh[2 * h:3 * h] = True
    return where(is_tanh, 1 - y * y, y * (1 - y))


# The four LSTM gate nonlinearities in one pass (checked against sigmoid/tanh of slices).
lstm_gates = prim("lstm_gates", _lstm_gates_np,
                  vjp=lambda g, y, z: g * _lstm_gates_slope(y),
                  jvp=lambda t, y, z: t * _lstm_gates_slope(y))


# --------------------------------------------------------------------------- LSTM scan
#
# A whole LSTM layer's time loop as one primitive, for speed: the forward loop and
# backpropagation through time run in NumPy with one matrix multiply per step, and the
# recurrent weight's gradient is ONE matrix multiply over all steps. Its rules are
# first-order only (they compute in NumPy): for second derivatives use
# LSTM(..., fused=False), built from LSTMCell steps of differentiable primitives. The scan
# is checked against that composite, and by gradcheck, in tests/nn/test_recurrent.py.
#
# Output: the stacked sequences (2, batch, time, H) — out[0] the h_t, out[1] the c_t.
#
# Layout. Inside, every step works on contiguous feature-major blocks: the gates of step
# t are a (4H, batch) block, the state an (H, batch) block, because OpenBLAS computes
# W_hh (4H, H) @ h (H, B) in about a third less time than h (B, H) @ W_hh^T at the sizes
# of a typical layer (B = 32, H = 256), and the four gate quarters are then row blocks.
# The price is a few transposing copies at the edges: the output back to batch-major,
# the incoming cotangent to feature-major, the gates' cotangents to (4H, time, batch).
# Everything backward needs (gate activations, tanh(c_t), the states) lives in ONE
# workspace array, and the output is a view of it: the rules find the saved values as
# ``y.data.base`` (no recomputation, no extra outputs). ``xw`` (batch, time, 4H) may have
# any strides; LSTM passes a transposed view of a (4H, time, batch) array, the layout in
# which the input projection and its weight gradient are single matrix multiplies.


def _scan_shapes(b: int, t: int, h: int) -> tuple[tuple[int, ...], ...]:
    """The parts of a scan's workspace, in order (see _scan_views)."""
    return (2, b, t, h), (t, 4 * h, b), (t + 1, h, b), (t + 1, h, b), (t, h, b)


def _scan_size(b: int, t: int, h: int) -> int:
    return builtins.sum(math.prod(shape) for shape in _scan_shapes(b, t, h))


def _scan_views(ws: np.ndarray, b: int, t: int, h: int) -> list[np.ndarray]:
    """Cut the 1-D workspace into its parts, all C-ordered views:

    out (2, B, T, H)  the primitive's output: h_1..h_T and c_1..c_T, batch-major
    act (T, 4H, B)    gate activations of every step: i, f, g, o row blocks
    hs  (T+1, H, B)   h_0..h_T
    cs  (T+1, H, B)   c_0..c_T
    tc  (T, H, B)     tanh(c_1..c_T)
    """
    views, start = [], 0
    for shape in _scan_shapes(b, t, h):
        n = math.prod(shape)
        views.append(ws[start:start + n].reshape(shape))
        start += n
    return views


def _scan_saved(y: Tensor, xw: Tensor) -> list[np.ndarray]:
    """The workspace behind a scan's output ``y`` (see _scan_views)."""
    b, t, four_h = xw.shape
    ws = y.data.base
    if ws is None or ws.ndim != 1 or ws.size != _scan_size(b, t, four_h // 4):
        raise RuntimeError("lstm_scan: the output's array was replaced, so the values saved "
                           "for backward are gone")
    return _scan_views(ws, b, t, four_h // 4)


def _lstm_scan_np(xw: np.ndarray, h0: np.ndarray, c0: np.ndarray, w: np.ndarray,
                  mask: np.ndarray | None) -> np.ndarray:
    b, t_steps, four_h = xw.shape
    hid = four_h // 4
    dtype = np.result_type(xw, h0, c0, w)
    ws = np.empty(_scan_size(b, t_steps, hid), dtype=dtype)
    out, act, hs, cs, tc = _scan_views(ws, b, t_steps, hid)
    hs[0] = h0.T
    cs[0] = c0.T
    xw_f = xw.transpose(2, 1, 0)  # (4H, T, B): step t's input is the block xw_f[:, t]
    w = w.astype(dtype, copy=False)
    ig = np.empty((hid, b), dtype=dtype)
    for t in range(t_steps):
        a = act[t]
        np.matmul(w, hs[t], out=a)  # W_hh h_{t-1}, written straight into its place
        a += xw_f[:, t]
        i, f, g, o = a[:hid], a[hid:2 * hid], a[2 * hid:3 * hid], a[3 * hid:]
        # The gates as in _lstm_gates_np: one tanh pass over the whole (4H, B) block, with
        # sigmoid(x) = 0.5 tanh(x/2) + 0.5 on the i, f (one block) and o rows.
        a[:2 * hid] *= 0.5
        o *= 0.5
        np.tanh(a, out=a)
        for sig in (a[:2 * hid], o):
            sig *= 0.5
            sig += 0.5
        c, h = cs[t + 1], hs[t + 1]
        np.multiply(f, cs[t], out=c)  # c_t = f c_{t-1} + i g
        np.multiply(i, g, out=ig)
        c += ig
        np.tanh(c, out=tc[t])  # h_t = o tanh(c_t)
        np.multiply(o, tc[t], out=h)
        if mask is not None and not mask[:, t].all():  # padded columns: state carried, act 0
            pad = ~mask[:, t]
            np.copyto(c, cs[t], where=pad)
            np.copyto(h, hs[t], where=pad)
            a *= mask[:, t]
    out[0] = hs[1:].transpose(2, 0, 1)  # back to (batch, time, H) for the caller
    out[1] = cs[1:].transpose(2, 0, 1)
    return out


_FIRST_ORDER = ("the fused LSTM layer (lstm_scan) has first-order derivatives only; for "
                "higher ones use LSTM(..., fused=False), built from differentiable LSTMCell "
                "steps")


def _refuse(*_: Any, **__: Any) -> None:
    raise NotImplementedError(_FIRST_ORDER)


# Marks a tangent computed outside the graph: differentiating it raises instead of
# silently treating it as a constant.
_first_order = Primitive("first_order_only", lambda v, *xs: v, vjp=_Each(_refuse),
                         jvp=_Each(_refuse))


def _no_second_order() -> None:
    """Refuse a backward whose result would itself be differentiated."""
    if state.grad_enabled or (state.fw_level and not state.fw_paused):
        raise NotImplementedError(_FIRST_ORDER)


def _lstm_scan_vjp(g: Tensor, y: Tensor, xw: Tensor, h0: Tensor, c0: Tensor, w: Tensor,
                   mask: np.ndarray | None) -> tuple:
    """Backpropagation through time on the forward loop's (T, ·, B) blocks."""
    _no_second_order()
    _, act, hs, cs, tc = _scan_saved(y, xw)
    t_steps, four_h, b = act.shape
    hid = four_h // 4
    dtype = act.dtype
    # the cotangents of the h_t, and of the c_t if any (usually none), as (T, H, B)
    g_h = np.ascontiguousarray(g.data[0].transpose(1, 2, 0))
    g_c = (np.ascontiguousarray(g.data[1].transpose(1, 2, 0)) if np.count_nonzero(g.data[1])
           else None)
    # The gates' cotangents, (T, 4H, B). First, for all steps at once, each gate's factor
    # known from the forward pass (d gate = dc_t * factor; dh_t * factor for o), in place
    # of the cotangent: the loop then only multiplies by dc_t and dh_t.
    dgates = np.empty_like(act)
    i, f, gg, o = (act[:, k * hid:(k + 1) * hid] for k in range(4))  # each (T, H, B)
    di, df, dg, do = (dgates[:, k * hid:(k + 1) * hid] for k in range(4))
    np.subtract(1, i, out=di)  # i (1 - i) g
    di *= i
    di *= gg
    np.subtract(1, f, out=df)  # f (1 - f) c_{t-1}
    df *= f
    df *= cs[:-1]
    np.multiply(gg, gg, out=dg)  # (1 - g^2) i
    np.subtract(1, dg, out=dg)
    dg *= i
    np.subtract(1, o, out=do)  # o (1 - o) tanh(c_t)
    do *= o
    do *= tc
    dh_dc = tc * tc  # o (1 - tanh^2 c_t) = d h_t / d c_t
    np.subtract(1, dh_dc, out=dh_dc)
    dh_dc *= o
    wt = np.ascontiguousarray(w.data.T, dtype=dtype)  # (H, 4H)
    dh, dc = np.empty((hid, b), dtype=dtype), np.zeros((hid, b), dtype=dtype)
    rec = np.zeros((hid, b), dtype=dtype)  # W_hh^T dgates_{t+1}: h_t's share from step t+1
    tmp = np.empty((hid, b), dtype=dtype)
    for t in range(t_steps - 1, -1, -1):
        np.add(rec, g_h[t], out=dh)  # d h_t
        np.multiply(dh, dh_dc[t], out=tmp)  # d c_t: from c_{t+1} (already in dc) and h_t
        dc += tmp
        if g_c is not None:
            dc += g_c[t]
        d = dgates[t]
        ifg = d[:3 * hid].reshape(3, hid, b)  # the i, f, g rows scale by dc_t, o by dh_t
        np.multiply(ifg, dc, out=ifg)
        np.multiply(d[3 * hid:], dh, out=d[3 * hid:])
        np.matmul(wt, d, out=rec)
        if mask is not None and not mask[:, t].all():  # padded columns pass dh, dc through
            np.copyto(rec, dh, where=~mask[:, t])
            np.multiply(dc, f[t], out=dc, where=mask[:, t])
        else:
            dc *= f[t]  # c_{t-1}'s share
    # xw's cotangent and dW_hh = sum_t dgates_t h_{t-1}^T want all steps side by side,
    # (4H, T*B): one copy, then ONE matrix multiply for dW_hh
    dgates = np.ascontiguousarray(dgates.transpose(1, 0, 2))
    h_prev = np.ascontiguousarray(hs[:-1].transpose(1, 0, 2))
    dw = dgates.reshape(four_h, -1) @ h_prev.reshape(hid, -1).T
    return (_const(dgates.transpose(2, 1, 0)), _const(np.ascontiguousarray(rec.T)),
            _const(np.ascontiguousarray(dc.T)), _const(dw))


def _lstm_scan_jvp(k: int, tan: Tensor, y: Tensor, xw: Tensor, h0: Tensor, c0: Tensor,
                   w: Tensor, mask: np.ndarray | None) -> Tensor:
    """Tangent of the scan for a tangent on argument k (0 xw, 1 h0, 2 c0, 3 w)."""
    out, act, hs, cs, tc = _scan_saved(y, xw)
    t_steps, four_h, b = act.shape
    hid = four_h // 4
    wd, td = w.data, tan.data
    slope = act * (1 - act)  # d act / d pre-activation: sigmoid rows ...
    slope[:, 2 * hid:3 * hid] = 1 - act[:, 2 * hid:3 * hid] ** 2  # ... and tanh for g
    dout = np.empty_like(out)
    dh = td.T if k == 1 else np.zeros((hid, b), dtype=out.dtype)  # (H, B) blocks, as in
    dc = td.T if k == 2 else np.zeros((hid, b), dtype=out.dtype)  # the forward loop
    for t in range(t_steps):
        dz = wd @ dh
        if k == 0:
            dz = dz + td[:, t].T
        elif k == 3:
            dz = dz + td @ hs[t]
        da = dz * slope[t]
        i, f, g, o = (act[t, j * hid:(j + 1) * hid] for j in range(4))
        di, df, dg, do = (da[j * hid:(j + 1) * hid] for j in range(4))
        dc_new = df * cs[t] + f * dc + di * g + i * dg
        dh_new = do * tc[t] + o * (1 - tc[t] * tc[t]) * dc_new
        if mask is not None and not mask[:, t].all():
            dc_new = np.where(mask[:, t], dc_new, dc)
            dh_new = np.where(mask[:, t], dh_new, dh)
        dout[0][:, t], dout[1][:, t] = dh_new.T, dc_new.T
        dh, dc = dh_new, dc_new
    if not _plain(tan, xw, h0, c0, w):  # (inside a jvp rule tangents are paused)
        return _first_order(_const(dout), tan, xw, h0, c0, w)
    return _const(dout)


lstm_scan = Primitive("lstm_scan", _lstm_scan_np, vjp=Joint(_lstm_scan_vjp),
                      jvp=_Each(_lstm_scan_jvp))


# --------------------------------------------------------------------------- not differentiable


def _compare(name: str, fn: Any) -> Any:
    p = nondiff(name, fn)

    def compare(a: Any, b: Any) -> Tensor:
        return p(*_lift2(a, b))

    compare.__name__ = name
    return compare


equal = _compare("equal", np.equal)
not_equal = _compare("not_equal", np.not_equal)
less = _compare("less", np.less)
less_equal = _compare("less_equal", np.less_equal)
greater = _compare("greater", np.greater)
greater_equal = _compare("greater_equal", np.greater_equal)
_argmax = nondiff("argmax", lambda x, axis, keepdims: np.argmax(x, axis=axis, keepdims=keepdims))
_argmin = nondiff("argmin", lambda x, axis, keepdims: np.argmin(x, axis=axis, keepdims=keepdims))


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return _argmax(lift(x), axis=axis, keepdims=keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return _argmin(lift(x), axis=axis, keepdims=keepdims)


# --------------------------------------------------------------------------- composites

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def selu(x: Any) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al."""
    return elu(lift(x), alpha=SELU_ALPHA) * SELU_SCALE


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x * Phi(x) (exact, with erf) or its tanh approximation (``approximate="tanh"``)."""
    x = lift(x)
    if approximate == "tanh":
        c = math.sqrt(2 / math.pi)
        return 0.5 * x * (1 + tanh(c * (x + 0.044715 * x * x * x)))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * x * (1 + erf(x * (1 / math.sqrt(2))))


def log_sigmoid(x: Any) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return -softplus(-lift(x))


def silu(x: Any) -> Tensor:
    """x * sigmoid(x) (Swish)."""
    x = lift(x)
    return x * sigmoid(x)


def stop_gradient(x: Any) -> Tensor:
    """The same values, treated as a constant by differentiation."""
    return _make(lift(x).data)


def zeros(shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(shape, dtype=dtype or get_default_dtype()), requires_grad=requires_grad)


def ones(shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(shape, dtype=dtype or get_default_dtype()), requires_grad=requires_grad)


def zeros_like(x: Any) -> Tensor:
    return _make(np.zeros_like(_to_array(x)))


def ones_like(x: Any) -> Tensor:
    return _make(np.ones_like(_to_array(x)))


PRIMITIVES: dict[str, Primitive] = {
    v.name: v for v in list(globals().values()) if isinstance(v, Primitive)}
