"""PyTorch as an independent oracle for every public op, in float64.

For each row of ``CASES`` — (id, chainrule fn, torch fn, input shapes, domain) — we compare

* the forward value;
* first-order gradients: ``y.backward(gradient=g)`` for a random upstream ``g``, and the same
  through ``engine.grad(..., create_graph=True)``;
* second order, reverse over reverse: the gradient of ``sum_i <grad_i, v_i>`` (``v`` random);
* second order, forward over reverse: ``cr.hvp`` of ``<f(x), g>`` along ``v`` (same quantity);
* forward mode: ``cr.jvp`` against ``torch.func.jvp`` along random tangents,

against ``torch.autograd`` / ``torch.func``. Inputs avoid non-differentiable points (ties,
0 for abs/relu, clip bounds); the conventions at those points get their own tests at the end,
which document where chainrule and PyTorch agree and where they deliberately differ.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import chainrule as cr  # noqa: E402
import chainrule.nn.functional as crF  # noqa: E402
from chainrule.autograd import engine  # noqa: E402

RTOL, ATOL = 1e-7, 1e-10
# torch.func / F.gelu touch torch.jit.script, which warns about its own deprecation
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")


# --------------------------------------------------------------------------- the harness


def _draw(rng: np.random.Generator, shape: tuple, domain: str) -> np.ndarray:
    if domain == "real":
        return rng.standard_normal(shape)
    if domain == "pos":  # away from 0, moderate
        return rng.uniform(0.5, 2.0, shape)
    if domain == "nz":  # either sign, away from 0 (abs, sign, div, prod)
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 1.5, shape)
    if domain == "zeros":  # like "nz" with exact zeros: one in some groups, two in others
        x = _draw(rng, shape, "nz")
        x.reshape(-1)[[0, 3, 7, 8, -1]] = 0.0
        return x
    if domain == "unit":  # inside (-1, 1): tan, log1p
        return rng.uniform(-0.9, 0.9, shape)
    if domain == "prob":  # rows on the simplex (last axis)
        p = rng.uniform(0.1, 1.0, shape)
        return p / p.sum(axis=-1, keepdims=True)
    raise ValueError(domain)


def _np(t: Any, like: np.ndarray) -> np.ndarray:
    """Tensor / torch tensor / None (= zero) as an ndarray of ``like``'s shape."""
    if t is None:
        return np.zeros_like(like)
    if isinstance(t, torch.Tensor):
        return t.detach().numpy(force=True)
    return np.asarray(t.data if isinstance(t, cr.Tensor) else t)


def _close(actual: Any, desired: Any, what: str) -> None:
    a, d = _np(actual, None), _np(desired, None)
    assert a.shape == d.shape, f"{what}: shape {a.shape} vs torch {d.shape}"
    np.testing.assert_allclose(a, d, rtol=RTOL, atol=ATOL, err_msg=what)


def _torch_second_order(t_fn: Callable, arrays: list, g: np.ndarray, vs: list
                        ) -> tuple[list, list]:
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    yt = t_fn(*ts)
    g1 = torch.autograd.grad(yt, ts, torch.tensor(g), create_graph=True, allow_unused=True)
    first = [_np(gi, a) for gi, a in zip(g1, arrays)]
    s = sum((gi * torch.tensor(v)).sum() for gi, v in zip(g1, vs) if gi is not None)
    if isinstance(s, torch.Tensor) and s.requires_grad:
        g2 = torch.autograd.grad(s, ts, allow_unused=True)
        second = [_np(gi, a) for gi, a in zip(g2, arrays)]
    else:  # the first derivative does not depend on the inputs: a linear op
        second = [np.zeros_like(a) for a in arrays]
    return first, second


def check_against_torch(cr_fn: Callable, t_fn: Callable, arrays: list[np.ndarray],
                        seed: int = 0, second: bool = True, forward: bool = True) -> None:
    rng = np.random.default_rng(seed)

    # forward value and dtype
    xs = [cr.tensor(a.copy(), requires_grad=True) for a in arrays]
    y = cr_fn(*xs)
    with torch.no_grad():
        yt = t_fn(*[torch.tensor(a) for a in arrays])
    assert y.dtype == np.float64, f"float64 in, {y.dtype} out"
    _close(y, yt, "forward")

    # first order through the public backward()
    g = rng.standard_normal(y.shape)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    t_first, t_second = _torch_second_order(t_fn, arrays, g, vs)
    y.backward(gradient=g)
    for i, (x, want) in enumerate(zip(xs, t_first)):
        assert x.grad is None or x.grad.shape == x.shape, f"grad {i} shape"
        _close(_np(x.grad, arrays[i]), want, f"backward: grad of input {i}")
    if not second:
        return

    # the same first derivative, built differentiably; then reverse over reverse
    xs = [cr.tensor(a.copy(), requires_grad=True) for a in arrays]
    gxs = engine.grad([cr_fn(*xs)], xs, [g], create_graph=True)
    for i, (gx, want) in enumerate(zip(gxs, t_first)):
        _close(_np(gx, arrays[i]), want, f"create_graph: grad of input {i}")
    terms = [(gx * v).sum() for gx, v in zip(gxs, vs) if gx is not None and gx.requires_grad]
    if terms:
        s = terms[0]
        for t in terms[1:]:
            s = s + t
        s.backward()
    for i, (x, want) in enumerate(zip(xs, t_second)):
        _close(_np(x.grad, arrays[i]), want, f"second order (rev-over-rev): input {i}")

    if not forward:
        return
    # second order, forward over reverse
    hv = cr.hvp(lambda *a: (cr_fn(*a) * g).sum(), arrays, vs)
    hv = (hv,) if len(arrays) == 1 else hv
    for i, (h, want) in enumerate(zip(hv, t_second)):
        _close(h, want, f"hvp (fwd-over-rev): input {i}")

    # forward mode against torch.func.jvp
    tans = [rng.standard_normal(a.shape) for a in arrays]
    out, tan = cr.jvp(cr_fn, arrays, tans)
    t_out, t_tan = torch.func.jvp(t_fn, tuple(torch.tensor(a) for a in arrays),
                                  tuple(torch.tensor(t) for t in tans))
    _close(out, t_out, "jvp: primal out")
    _close(tan, t_tan, "jvp: tangent out")


class Case(NamedTuple):
    id: str
    cr_fn: Callable
    t_fn: Callable
    shapes: tuple  # one shape per differentiable input
    domain: Any = "real"  # one domain for all inputs, or a tuple of them


CASES: list[Case] = []


def case(id: str, cr_fn: Callable, t_fn: Callable, *shapes: tuple, domain: Any = "real"
         ) -> None:
    CASES.append(Case(id, cr_fn, t_fn, shapes, domain))


def _arrays(c: Case) -> list[np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(c.id.encode()))
    doms = c.domain if isinstance(c.domain, tuple) else (c.domain,) * len(c.shapes)
    return [_draw(rng, s, d) for s, d in zip(c.shapes, doms)]


# --------------------------------------------------------------------------- arithmetic

BROADCAST_PAIRS = [((3, 1, 4), (2, 4)), ((5,), (5,)), ((), (2, 3)), ((2, 1), (1, 3)),
                   ((4, 1), ())]
for sa, sb in BROADCAST_PAIRS:
    tag = f"{sa}x{sb}"
    case(f"add{tag}", cr.add, torch.add, sa, sb)
    case(f"sub{tag}", cr.sub, torch.sub, sa, sb)
    case(f"mul{tag}", cr.mul, torch.mul, sa, sb)
    case(f"div{tag}", cr.div, torch.div, sa, sb, domain=("real", "nz"))
    case(f"pow{tag}", cr.pow, torch.pow, sa, sb, domain=("pos", "real"))
    case(f"maximum{tag}", cr.maximum, torch.maximum, sa, sb)
    case(f"minimum{tag}", cr.minimum, torch.minimum, sa, sb)
    case(f"operators{tag}", lambda a, b: (a + b) * a - b / (a * a + 1) + a ** b.abs(),
         lambda a, b: (a + b) * a - b / (a * a + 1) + a ** b.abs(), sa, sb, domain="pos")

case("radd", lambda x: 2.5 + x, lambda x: 2.5 + x, (3, 4))
case("rsub", lambda x: 1.5 - x, lambda x: 1.5 - x, (3, 4))
case("sub_scalar", lambda x: x - 1.5, lambda x: x - 1.5, (3, 4))
case("rmul", lambda x: 3.0 * x, lambda x: 3.0 * x, (3, 4))
case("div_scalar", lambda x: x / 2.0, lambda x: x / 2.0, (3, 4))
case("rdiv", lambda x: 2.0 / x, lambda x: 2.0 / x, (3, 4), domain="nz")
case("neg", cr.neg, torch.neg, (3, 4))
case("pow_int3", lambda x: x ** 3, lambda x: x ** 3, (3, 4))
case("pow_int2", lambda x: cr.pow(x, 2), lambda x: torch.pow(x, 2), (3, 4))
case("pow_2.5", lambda x: x ** 2.5, lambda x: x ** 2.5, (3, 4), domain="pos")
case("pow_-1.5", lambda x: x ** -1.5, lambda x: x ** -1.5, (3, 4), domain="pos")
case("pow_0.5", lambda x: cr.pow(x, 0.5), lambda x: torch.pow(x, 0.5), (3, 4), domain="pos")
case("rpow", lambda x: 2.0 ** x, lambda x: 2.0 ** x, (3, 4))
case("pow_self", lambda x: x ** x, lambda x: x ** x, (3, 4), domain="pos")

# --------------------------------------------------------------------------- matmul, linear

MATMUL_SHAPES = [
    ((4,), (4,)),  # dot -> scalar
    ((4,), (4, 3)),  # vector @ matrix
    ((3, 4), (4,)),  # matrix @ vector
    ((3, 4), (4, 5)),
    ((2, 3, 4), (4,)),  # batch @ vector
    ((4,), (2, 4, 3)),  # vector @ batch
    ((2, 3, 4), (2, 4, 5)),  # batch @ batch
    ((2, 3, 4), (4, 5)),  # batch @ matrix (b broadcast)
    ((3, 4), (2, 4, 5)),  # matrix @ batch (a broadcast)
    ((2, 1, 3, 4), (5, 4, 2)),  # broadcast batch dims (2,1) x (5,) -> (2,5)
    ((1, 3, 4), (6, 4, 2)),
]
for sa, sb in MATMUL_SHAPES:
    case(f"matmul{sa}@{sb}", cr.matmul, torch.matmul, sa, sb)
    case(f"matmul_op{sa}@{sb}", lambda a, b: a @ b, lambda a, b: a @ b, sa, sb)

for sx in [(4,), (3, 4), (2, 3, 4)]:
    case(f"linear_bias{sx}", crF.linear, F.linear, sx, (5, 4), (5,))
    case(f"linear_nobias{sx}", lambda x, w: crF.linear(x, w), F.linear, sx, (5, 4))

# --------------------------------------------------------------------------- elementwise

SQRT1_2 = 0.7071067811865476
UNARY = [
    ("exp", cr.exp, torch.exp, "real"),
    ("log", cr.log, torch.log, "pos"),
    ("log1p", cr.log1p, torch.log1p, "unit"),
    ("expm1", cr.expm1, torch.expm1, "real"),
    ("sqrt", cr.sqrt, torch.sqrt, "pos"),
    ("sin", cr.sin, torch.sin, "real"),
    ("cos", cr.cos, torch.cos, "real"),
    ("tan", cr.tan, torch.tan, "unit"),
    ("tanh", cr.tanh, torch.tanh, "real"),
    ("sinh", cr.sinh, torch.sinh, "real"),
    ("cosh", cr.cosh, torch.cosh, "real"),
    ("asin", cr.asin, torch.asin, "unit"),
    ("acos", cr.acos, torch.acos, "unit"),
    ("atan", cr.atan, torch.atan, "real"),
    ("asinh", cr.asinh, torch.asinh, "real"),
    ("sigmoid", cr.sigmoid, torch.sigmoid, "real"),
    ("relu", cr.relu, torch.relu, "nz"),
    ("leaky_relu", cr.leaky_relu, F.leaky_relu, "nz"),
    ("leaky_relu_0.2", lambda x: cr.leaky_relu(x, slope=0.2),
     lambda x: F.leaky_relu(x, 0.2), "nz"),
    ("elu", cr.elu, F.elu, "nz"),
    ("elu_0.5", lambda x: cr.elu(x, alpha=0.5), lambda x: F.elu(x, alpha=0.5), "nz"),
    ("selu", cr.selu, F.selu, "nz"),
    ("softplus", cr.softplus, F.softplus, "real"),
    ("gelu", cr.gelu, F.gelu, "real"),
    ("gelu_tanh", lambda x: cr.gelu(x, approximate="tanh"),
     lambda x: F.gelu(x, approximate="tanh"), "real"),
    ("erf", cr.erf, torch.erf, "real"),
    ("silu", cr.silu, F.silu, "real"),
    ("log_sigmoid", cr.log_sigmoid, F.logsigmoid, "real"),
    ("abs", cr.abs, torch.abs, "nz"),
    ("abs_op", lambda x: abs(x), lambda x: abs(x), "nz"),
    ("sign", lambda x: cr.sign(x) * x * x, lambda x: torch.sign(x) * x * x, "nz"),
    ("clip", lambda x: cr.clip(x, -0.7, 0.8), lambda x: torch.clamp(x, -0.7, 0.8), "real"),
    ("clip_min", lambda x: cr.clip(x, min=0.1), lambda x: torch.clamp(x, min=0.1), "real"),
    ("clip_max", lambda x: cr.clip(x, max=-0.2), lambda x: torch.clamp(x, max=-0.2), "real"),
    ("clamp_method", lambda x: x.clamp(-0.5, 0.5), lambda x: x.clamp(-0.5, 0.5), "real"),
    ("stop_gradient", lambda x: x * cr.stop_gradient(x) ** 2,
     lambda x: x * x.detach() ** 2, "real"),
]
for name, f, tf, dom in UNARY:
    case(name, f, tf, (3, 4), domain=dom)
    case(name + "_0d", f, tf, (), domain=dom)

# where: the condition is a constant; values broadcast (3,1,4) with (2,4) and (3,2,1)
COND = np.random.default_rng(7).random((3, 1, 4)) > 0.5
case("where", lambda a, b: cr.where(COND, a, b),
     lambda a, b: torch.where(torch.tensor(COND), a, b), (2, 4), (3, 2, 1))
case("where_scalar_branch", lambda a: cr.where(COND, a, 0.0),
     lambda a: torch.where(torch.tensor(COND), a, 0.0), (2, 4))
case("where_tensor_cond", lambda a, b: cr.where(cr.tensor(COND), a, b),
     lambda a, b: torch.where(torch.tensor(COND), a, b), (3, 1, 4), (3, 1, 4))

# --------------------------------------------------------------------------- reductions


def _dims(axis: Any, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in ((axis,) if isinstance(axis, int) else axis))


def _t_reduce(name: str, axis: Any, keepdims: bool, **kw: Any) -> Callable:
    def f(x: Any) -> Any:
        dims = _dims(axis, x.ndim)
        if name == "prod":  # torch.prod takes one dim at a time
            y = x
            for d in dims:
                y = torch.prod(y, d, keepdim=True)
            return y if keepdims else y.squeeze(dims)
        return getattr(torch, name)(x, dim=dims, keepdim=keepdims, **kw)

    return f


REDUCTIONS = [
    ("sum", cr.sum, "sum", {}, "real"),
    ("mean", cr.mean, "mean", {}, "real"),
    ("var_c1", cr.var, "var", {"correction": 1}, "real"),
    ("var_c0", lambda x, a, k: cr.var(x, a, k, correction=0), "var", {"correction": 0},
     "real"),
    ("std_c1", cr.std, "std", {"correction": 1}, "real"),
    ("std_c0", lambda x, a, k: cr.std(x, a, k, correction=0), "std", {"correction": 0},
     "real"),
    ("max", cr.max, "amax", {}, "real"),
    ("min", cr.min, "amin", {}, "real"),
    ("prod", cr.prod, "prod", {}, "nz"),
    ("logsumexp", cr.logsumexp, "logsumexp", {}, "real"),
    ("norm", cr.norm, "norm", {}, "real"),
]
for name, f, tname, kw, dom in REDUCTIONS:
    for axis in [None, 0, -1, (0, 2), (1,), (0, 1, 2)]:
        for keep in [False, True]:
            tf = (_t_reduce(tname, axis, keep, **kw) if tname != "norm" else
                  (lambda x, a=axis, k=keep: torch.linalg.vector_norm(
                      x, dim=_dims(a, x.ndim), keepdim=k)))
            case(f"{name}[axis={axis},keep={keep}]",
                 lambda x, f=f, a=axis, k=keep: f(x, a, k), tf, (3, 4, 5), domain=dom)
    case(f"{name}_1d", lambda x, f=f: f(x, 0, False), _t_reduce(tname, 0, False, **kw)
         if tname != "norm" else (lambda x: torch.linalg.vector_norm(x)), (6,), domain=dom)

for axis in [None, 0, -1, (0, 2)]:  # prod through zeros (the product-of-others path)
    case(f"prod_zeros[axis={axis}]", lambda x, a=axis: cr.prod(x, a),
         _t_reduce("prod", axis, False), (3, 4, 5), domain="zeros")
case("sum_method", lambda x: x.sum(axis=1, keepdims=True),
     lambda x: x.sum(dim=1, keepdim=True), (3, 4))
case("mean_method", lambda x: x.mean((0, 1)), lambda x: x.mean((0, 1)), (3, 4, 2))
case("var_method", lambda x: x.var(1), lambda x: x.var(1), (3, 4))
case("std_method", lambda x: x.std(0, correction=0), lambda x: x.std(0, correction=0), (3, 4))

# --------------------------------------------------------------------------- softmax family

for axis in [0, 1, -1]:
    case(f"softmax[{axis}]", lambda x, a=axis: cr.softmax(x, a),
         lambda x, a=axis: torch.softmax(x, a), (3, 4, 5))
    case(f"log_softmax[{axis}]", lambda x, a=axis: cr.log_softmax(x, a),
         lambda x, a=axis: torch.log_softmax(x, a), (3, 4, 5))
case("softmax_method", lambda x: x.softmax(), lambda x: x.softmax(-1), (3, 4))
case("log_softmax_1d", cr.log_softmax, lambda x: torch.log_softmax(x, 0), (5,))

_rng = np.random.default_rng(11)
IDX_2D = _rng.integers(0, 5, (6,))
IDX_3D = _rng.integers(0, 5, (2, 3))
IDX_0D = np.int64(3)


def _t_ce(z: Any, t: Any) -> Any:
    """torch.cross_entropy with classes on the last axis (torch wants them on axis 1)."""
    if z.ndim > 2:
        z = z.movedim(-1, 1)
        t = t.movedim(-1, 1) if t.is_floating_point() else t
    return F.cross_entropy(z, t, reduction="none")


case("sce_index(6,5)", lambda z: cr.softmax_cross_entropy(z, IDX_2D),
     lambda z: _t_ce(z, torch.tensor(IDX_2D)), (6, 5))
case("sce_index(2,3,5)", lambda z: cr.softmax_cross_entropy(z, IDX_3D),
     lambda z: _t_ce(z, torch.tensor(IDX_3D)), (2, 3, 5))
case("sce_index(5,)", lambda z: cr.softmax_cross_entropy(z, IDX_0D),
     lambda z: _t_ce(z, torch.tensor(IDX_0D)), (5,))
case("sce_index_tensor", lambda z: cr.softmax_cross_entropy(z, cr.tensor(IDX_2D)),
     lambda z: _t_ce(z, torch.tensor(IDX_2D)), (6, 5))
# probability targets, differentiated too (torch differentiates the target as well)
case("sce_probs(6,5)", cr.softmax_cross_entropy, _t_ce, (6, 5), (6, 5), domain=("real", "prob"))
case("sce_probs(2,3,5)", cr.softmax_cross_entropy, _t_ce, (2, 3, 5), (2, 3, 5),
     domain=("real", "prob"))
_P_CONST = _draw(np.random.default_rng(12), (6, 5), "prob")
case("sce_probs_const_target", lambda z: cr.softmax_cross_entropy(z, _P_CONST),
     lambda z: _t_ce(z, torch.tensor(_P_CONST)), (6, 5))

# --------------------------------------------------------------------------- movement

case("reshape", lambda x: cr.reshape(x, (2, 6)), lambda x: x.reshape(2, 6), (3, 4))
case("reshape_-1", lambda x: cr.reshape(x, (-1, 4)), lambda x: x.reshape(-1, 4), (2, 3, 4))
case("reshape_method", lambda x: x.reshape(4, 3), lambda x: x.reshape(4, 3), (2, 6))
case("view_method", lambda x: x.view(6), lambda x: x.view(6), (2, 3))
case("transpose_reverse", cr.transpose, lambda x: x.permute(2, 1, 0), (2, 3, 4))
case("transpose_axes", lambda x: cr.transpose(x, (1, 2, 0)), lambda x: x.permute(1, 2, 0),
     (2, 3, 4))
case("permute", lambda x: cr.permute(x, (2, 0, 1)), lambda x: x.permute(2, 0, 1), (2, 3, 4))
case("permute_method", lambda x: x.permute(0, 2, 1), lambda x: x.permute(0, 2, 1), (2, 3, 4))
case("transpose_method_pair", lambda x: x.transpose(0, 2), lambda x: x.transpose(0, 2),
     (2, 3, 4))
case("swapaxes", lambda x: cr.swapaxes(x, -1, 0), lambda x: x.swapaxes(-1, 0), (2, 3, 4))
case("T", lambda x: x.T, lambda x: x.T, (3, 4))
case("broadcast_to", lambda x: cr.broadcast_to(x, (2, 3, 4)), lambda x: x.expand(2, 3, 4),
     (3, 1))
case("broadcast_to_scalar", lambda x: cr.broadcast_to(x, (2, 3)), lambda x: x.expand(2, 3), ())
case("expand", lambda x: cr.expand(x, (5, 2, 4)), lambda x: x.expand(5, 2, 4), (2, 1))
case("expand_method", lambda x: x.expand(3, 2, 4), lambda x: x.expand(3, 2, 4), (1, 4))
case("sum_to", lambda x: cr.sum_to(x, (3, 1)), lambda x: x.sum_to_size(3, 1), (2, 3, 4))
for ax in [None, 1, (1, 3), -1]:
    case(f"squeeze[{ax}]", lambda x, a=ax: cr.squeeze(x, a),
         lambda x, a=ax: x.squeeze() if a is None else x.squeeze(a), (3, 1, 4, 1))
for ax in [0, -1, 2]:
    case(f"unsqueeze[{ax}]", lambda x, a=ax: cr.unsqueeze(x, a),
         lambda x, a=ax: x.unsqueeze(a), (3, 4))
for s, e in [(0, -1), (1, 2), (1, -1), (0, 1)]:
    case(f"flatten[{s},{e}]", lambda x, s=s, e=e: cr.flatten(x, s, e),
         lambda x, s=s, e=e: torch.flatten(x, s, e), (2, 3, 4, 5))
case("flatten_method", lambda x: x.flatten(), lambda x: x.flatten(), (2, 3))
case("concatenate_0", lambda a, b, c: cr.concatenate([a, b, c]),
     lambda a, b, c: torch.cat([a, b, c]), (2, 3), (4, 3), (1, 3))
case("concatenate_-1", lambda a, b: cr.concatenate([a, b], axis=-1),
     lambda a, b: torch.cat([a, b], -1), (2, 3), (2, 1))
case("cat_1", lambda a, b: cr.cat([a, b], 1), lambda a, b: torch.cat([a, b], 1),
     (2, 3, 4), (2, 2, 4))
case("cat_same_tensor", lambda a: cr.cat([a, a * 2.0, a], 0),
     lambda a: torch.cat([a, a * 2.0, a], 0), (2, 3))
for ax in [0, 1, -1]:
    case(f"stack[{ax}]", lambda a, b, c, ax=ax: cr.stack([a, b, c], ax),
         lambda a, b, c, ax=ax: torch.stack([a, b, c], ax), (2, 3), (2, 3), (2, 3))


def _weighted_pieces(pieces: list, cat: Callable, flat: Callable) -> Any:
    """Join split pieces with distinct weights, so each piece's gradient is identifiable."""
    return cat([flat(p) * (i + 1.0) for i, p in enumerate(pieces)])


for spec, ax in [(3, 0), ([1, 4], 0), (2, 1), ([1], -1)]:
    case(f"split[{spec},{ax}]",
         lambda x, s=spec, a=ax: _weighted_pieces(cr.split(x, s, a), cr.concatenate,
                                                  cr.flatten),
         lambda x, s=spec, a=ax: _weighted_pieces(list(torch.tensor_split(x, s, a)), torch.cat,
                                                  torch.flatten), (6, 4))


def _torch_pad_widths(widths: list) -> tuple:
    """np.pad's per-axis (before, after) pairs -> F.pad's flat list, LAST axis first."""
    return tuple(w for pair in reversed(widths) for w in pair)


for shape, widths, value in [((2, 3), [(1, 2), (0, 3)], 0.0), ((2, 3), [(1, 2), (0, 3)], 1.5),
                             ((2, 3, 4), [(0, 0), (2, 1), (1, 0)], -2.0), ((4,), [(2, 0)], 0.0)]:
    case(f"pad{widths}={value}", lambda x, w=widths, v=value: cr.pad(x, w, value=v),
         lambda x, w=widths, v=value: F.pad(x, _torch_pad_widths(w), value=v), shape)
case("pad_int", lambda x: cr.pad(x, 1), lambda x: F.pad(x, (1, 1, 1, 1)), (2, 3))
case("pad_pair", lambda x: cr.pad(x, (2, 1)), lambda x: F.pad(x, (2, 1, 2, 1)), (2, 3))
for ax in [None, 0, (0, 2), -1]:
    case(f"flip[{ax}]", lambda x, a=ax: cr.flip(x, a),
         lambda x, a=ax: torch.flip(x, _dims(a, x.ndim)), (2, 3, 4))
case("flip_method", lambda x: x.flip(1), lambda x: x.flip(1), (2, 3))

# --------------------------------------------------------------------------- indexing

MASK = np.random.default_rng(3).random((4, 5, 6)) > 0.4
ROWMASK = np.array([True, False, True, True])
REPEATS = np.array([0, 2, 0, 0, 3])
IDX2D = np.array([[0, 1], [1, 1], [3, 0]])
INDEXING = [
    ("basic_slices", lambda x: x[1:3, ::2], lambda x: x[1:3, ::2]),
    ("ellipsis_int", lambda x: x[..., 1], lambda x: x[..., 1]),
    ("newaxis_neg", lambda x: x[None, :, -1], lambda x: x[None, :, -1]),
    ("int", lambda x: x[-1], lambda x: x[-1]),
    ("scalar_element", lambda x: x[1, 2, 3], lambda x: x[1, 2, 3]),
    ("negative_step", lambda x: x[::-1, 1:4, ::-2],  # torch has no negative steps
     lambda x: torch.flip(x, (0,))[:, 1:4].flip(2)[:, :, ::2]),
    ("int_array_repeats", lambda x: x[REPEATS], lambda x: x[torch.tensor(REPEATS)]),
    ("int_list_repeats", lambda x: x[[1, 1, 3]], lambda x: x[[1, 1, 3]]),
    ("int_array_axis1", lambda x: x[:, [1, 1, 4, 1]], lambda x: x[:, [1, 1, 4, 1]]),
    ("int_array_2d", lambda x: x[IDX2D], lambda x: x[torch.tensor(IDX2D)]),
    ("int_array_pairs", lambda x: x[[0, 1, 0], [2, 2, 2]],
     lambda x: x[[0, 1, 0], [2, 2, 2]]),
    ("int_array_mixed", lambda x: x[1:, [0, 0], 2], lambda x: x[1:, [0, 0], 2]),
    ("int_tensor_index", lambda x: x[cr.tensor(REPEATS)], lambda x: x[torch.tensor(REPEATS)]),
    ("bool_mask_full", lambda x: x[MASK], lambda x: x[torch.tensor(MASK)]),
    ("bool_mask_rows", lambda x: x[ROWMASK], lambda x: x[torch.tensor(ROWMASK)]),
    ("bool_mask_tensor", lambda x: x[x > 0.0], lambda x: x[x > 0.0]),
    ("getitem_fn", lambda x: cr.getitem(x, (slice(None), 2)), lambda x: x[:, 2]),
]
for name, f, tf in INDEXING:
    case(f"getitem_{name}", f, tf, (4, 5, 6))

case("scatter_add", lambda v: cr.scatter_add(v, (REPEATS,), (4, 3)),
     lambda v: torch.zeros(4, 3, dtype=v.dtype).index_put((torch.tensor(REPEATS),), v,
                                                          accumulate=True), (5, 3))

# --------------------------------------------------------------------------- einsum

EINSUMS = [
    ("ij,jk->ik", (3, 4), (4, 5)),
    ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
    ("i,i->", (4,), (4,)),
    ("i,j->ij", (3,), (4,)),
    ("ij->ji", (3, 4)),
    ("ij->", (3, 4)),
    ("ij->j", (3, 4)),
    ("ij,jk", (3, 4), (4, 5)),  # implicit output
    ("ijk,ik->j", (2, 3, 4), (2, 4)),
    ("ij,k->i", (3, 4), (5,)),  # k summed inside one operand only
    ("ij,jk,kl->il", (2, 3), (3, 4), (4, 5)),
    ("...ij,...jk->...ik", (2, 3, 4), (2, 4, 5)),
    ("...ij,jk->...ik", (2, 2, 3, 4), (4, 5)),
    ("...i,i->...", (2, 3, 4), (4,)),
    ("i...->...", (3, 2, 4)),
    ("bhqd,bhkd->bhqk", (2, 2, 3, 4), (2, 2, 5, 4)),
    ("...ij,...jk->...ik", (2, 1, 3, 4), (5, 4, 2)),  # ellipsis dims broadcast
    ("...ij,...jk", (3, 1, 2, 3), (4, 3, 2)),  # implicit, broadcasting ellipsis
    ("i,...->...i", (3,), (2, 4)),
]
for spec, *shapes in EINSUMS:
    case(f"einsum[{spec}]{shapes}", lambda *xs, s=spec: cr.einsum(s, *xs),
         lambda *xs, s=spec: torch.einsum(s, *xs), *shapes)


# --------------------------------------------------------------------------- the table test


def test_table_ids_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_op_matches_torch(c: Case) -> None:
    check_against_torch(c.cr_fn, c.t_fn, _arrays(c), seed=zlib.crc32(c.id.encode()) + 1)


# --------------------------------------------------------------------------- transforms


def _f2(x: Any, w: Any) -> Any:
    """A small nonlinear vector function of two arguments, written once for both libraries."""
    h = (w @ x).tanh()
    return h * h + (x[:2] if x.ndim == 1 else x) * 0.5


def _scalar(x: Any) -> Any:
    """A scalar function with a dense, non-diagonal Hessian."""
    if isinstance(x, cr.Tensor):
        return cr.logsumexp(x * x.sum(0, keepdims=True)) + (x ** 3).sum() * 0.1
    return torch.logsumexp((x * x.sum(0, keepdim=True)).flatten(), 0) + (x ** 3).sum() * 0.1


@pytest.fixture
def xw() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    return rng.standard_normal(3), rng.standard_normal((2, 3))


def test_jvp_matches_torch_func_jvp(xw: tuple) -> None:
    x, w = xw
    rng = np.random.default_rng(6)
    tx, tw = rng.standard_normal(x.shape), rng.standard_normal(w.shape)
    out, tan = cr.jvp(_f2, (x, w), (tx, tw))
    t_out, t_tan = torch.func.jvp(_f2, (torch.tensor(x), torch.tensor(w)),
                                  (torch.tensor(tx), torch.tensor(tw)))
    _close(out, t_out, "jvp primal")
    _close(tan, t_tan, "jvp tangent")
    # tangent on one argument only (zeros for the other)
    _, tan_x = cr.jvp(lambda x_: _f2(x_, cr.tensor(w)), (x,), (tx,))
    _, t_tan_x = torch.func.jvp(lambda x_: _f2(x_, torch.tensor(w)), (torch.tensor(x),),
                                (torch.tensor(tx),))
    _close(tan_x, t_tan_x, "jvp tangent, x only")


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_jacobian_matches_torch(xw: tuple, mode: str) -> None:
    x, w = xw
    tj = torch.autograd.functional.jacobian(_f2, (torch.tensor(x), torch.tensor(w)))
    jx = cr.jacobian(_f2, 0, mode=mode)(x, w)
    _close(jx, tj[0], f"jacobian[{mode}] wrt x")
    jx2, jw = cr.jacobian(_f2, (0, 1), mode=mode)(x, w)
    _close(jx2, tj[0], f"jacobian[{mode}] argnums=(0,1), x")
    _close(jw, tj[1], f"jacobian[{mode}] argnums=(0,1), w")
    assert jw.shape == (2, 2, 3)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_jacobian_of_matrix_function(mode: str) -> None:
    a = np.random.default_rng(8).standard_normal((3, 4))
    f = (lambda x: cr.softmax(x, 0) @ x.T)
    tf = (lambda x: torch.softmax(x, 0) @ x.T)
    _close(cr.jacobian(f, mode=mode)(a), torch.autograd.functional.jacobian(tf, torch.tensor(a)),
           f"jacobian[{mode}] (3,4)->(4,4)")


def test_hessian_matches_torch() -> None:
    x = np.random.default_rng(9).standard_normal((3, 2))
    h = cr.hessian(_scalar)(x)
    th = torch.autograd.functional.hessian(_scalar, torch.tensor(x))
    assert h.shape == (3, 2, 3, 2)
    _close(h, th, "hessian")
    # reverse-over-reverse Jacobian of the gradient agrees too
    _close(cr.jacobian(cr.grad(_scalar), mode="rev")(x), th, "jacobian(grad) rev")


def test_hessian_of_two_argument_function_argnums() -> None:
    rng = np.random.default_rng(10)
    x, w = rng.standard_normal(3), rng.standard_normal((2, 3))

    def f(x_: Any, w_: Any) -> Any:
        return (_f2(x_, w_) ** 2).sum()

    tw = torch.tensor(w)
    th = torch.autograd.functional.hessian(lambda x_: f(x_, tw), torch.tensor(x))
    _close(cr.hessian(f, argnums=0)(x, w), th, "hessian argnums=0")
    tx = torch.tensor(x)
    th_w = torch.autograd.functional.hessian(lambda w_: f(tx, w_), torch.tensor(w))
    _close(cr.hessian(f, argnums=1)(x, w), th_w, "hessian argnums=1")


def test_hvp_matches_torch() -> None:
    rng = np.random.default_rng(12)
    x, v = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    _, thv = torch.autograd.functional.hvp(_scalar, torch.tensor(x), torch.tensor(v))
    _close(cr.hvp(_scalar, (x,), (v,)), thv, "hvp one primal")

    def f(a: Any, b: Any) -> Any:
        return ((a @ b).tanh() ** 2).sum() + (a * a).sum() * (b ** 3).sum()

    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    va, vb = rng.standard_normal(a.shape), rng.standard_normal(b.shape)
    _, (tha, thb) = torch.autograd.functional.hvp(
        f, (torch.tensor(a), torch.tensor(b)), (torch.tensor(va), torch.tensor(vb)))
    ha, hb = cr.hvp(f, (a, b), (va, vb))
    _close(ha, tha, "hvp two primals, a")
    _close(hb, thb, "hvp two primals, b")


def test_vjp_matches_torch(xw: tuple) -> None:
    x, w = xw
    u = np.random.default_rng(13).standard_normal(2)
    out, vjp_fn = cr.vjp(_f2, x, w)
    gx, gw = vjp_fn(u)
    t_out, t_vjp = torch.func.vjp(_f2, torch.tensor(x), torch.tensor(w))
    tgx, tgw = t_vjp(torch.tensor(u))
    _close(out, t_out, "vjp out")
    _close(gx, tgx, "vjp x")
    _close(gw, tgw, "vjp w")


def test_grad_of_grad_third_order() -> None:
    """Third derivative through nested cr.grad against nested torch.autograd.grad."""
    x = 0.7

    def f(t: Any) -> Any:
        return cr.sin(t) * t.exp() if isinstance(t, cr.Tensor) else torch.sin(t) * torch.exp(t)

    d3 = cr.grad(cr.grad(cr.grad(f)))(np.float64(x))
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (g1,) = torch.autograd.grad(f(tx), tx, create_graph=True)
    (g2,) = torch.autograd.grad(g1, tx, create_graph=True)
    (g3,) = torch.autograd.grad(g2, tx)
    _close(d3, g3, "third derivative")


# --------------------------------------------------------------------------- conventions
# At non-differentiable points the two libraries pick a subgradient; these tests record
# which, and where chainrule deliberately differs.


def _grads(cr_fn: Callable, t_fn: Callable, *arrays: Any) -> tuple[list, list]:
    xs = [cr.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    cr_fn(*xs).sum().backward()
    ts = [torch.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    t_fn(*ts).sum().backward()
    return ([_np(x.grad, np.asarray(a, dtype=float)) for x, a in zip(xs, arrays)],
            [t.grad.numpy() for t in ts])


TIES = np.array([[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, 0.5, 0.5], [2.0, -1.0, 2.0, 0.0]])


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_max_min_ties_share_equally_like_amax(axis: Any) -> None:
    """chainrule max/min split the gradient equally over ties, exactly as torch.amax/amin."""
    for f, tf in [(cr.max, torch.amax), (cr.min, torch.amin)]:
        (c,), (t,) = _grads(lambda x, f=f: f(x, axis) * 1.0,
                            lambda x, tf=tf: tf(x, dim=_dims(axis, x.ndim)), TIES)
        np.testing.assert_allclose(c, t, rtol=RTOL)
    (c,), _ = _grads(lambda x: cr.max(x, 1), lambda x: torch.amax(x, 1), TIES)
    np.testing.assert_allclose(c[1], [0.25] * 4)


def test_max_ties_differ_from_torch_max_dim() -> None:
    """torch.max(x, dim) routes a tied maximum's gradient to ONE index; chainrule (like
    torch.amax) shares it. This is a deliberate difference from torch.max(dim)."""
    (c,), (t,) = _grads(lambda x: cr.max(x, 1), lambda x: torch.max(x, 1).values, TIES)
    np.testing.assert_allclose(c.sum(1), t.sum(1))  # the same total per row ...
    assert (np.count_nonzero(t, axis=1) == 1).all()  # ... torch: one winner per row
    np.testing.assert_allclose(c[1], [0.25] * 4)  # chainrule: shared
    # full reduction torch.max(x) (no dim) shares equally, like chainrule
    (c,), (t,) = _grads(cr.max, torch.max, TIES)
    np.testing.assert_allclose(c, t)


def test_maximum_minimum_ties_give_half_each() -> None:
    a, b = [1.0, 2.0, 3.0], [1.0, 0.0, 3.0]
    for f, tf in [(cr.maximum, torch.maximum), (cr.minimum, torch.minimum)]:
        (ca, cb), (ta, tb) = _grads(f, tf, a, b)
        np.testing.assert_allclose(ca, ta)
        np.testing.assert_allclose(cb, tb)
        np.testing.assert_allclose(ca[[0, 2]], 0.5)
        np.testing.assert_allclose(cb[[0, 2]], 0.5)


@pytest.mark.parametrize("name,cr_fn,t_fn,x", [
    ("relu'(0)=0", cr.relu, torch.relu, [0.0, -1.0, 1.0]),
    ("|x|'(0)=0", cr.abs, torch.abs, [0.0, -1.0, 1.0]),
    ("leaky_relu'(0)=slope", cr.leaky_relu, F.leaky_relu, [0.0]),
    ("elu'(0)=1", cr.elu, F.elu, [0.0]),
    ("clip passes the bounds (inclusive)", lambda x: cr.clip(x, -1.0, 1.0),
     lambda x: torch.clamp(x, -1.0, 1.0), [-1.0, 1.0, 0.5, 2.0, -3.0]),
    ("sqrt'(0)=+inf", cr.sqrt, torch.sqrt, [0.0, 4.0]),
    ("prod with one zero", cr.prod, torch.prod, [0.0, 2.0, 3.0]),
    ("prod with two zeros", cr.prod, torch.prod, [0.0, 0.0, 3.0]),
    ("std at zero spread", lambda x: cr.std(x), torch.std, [1.5, 1.5, 1.5]),
    ("norm at 0", cr.norm, torch.linalg.vector_norm, [0.0, 0.0]),
    ("x**2 at 0", lambda x: x ** 2, lambda x: x ** 2, [0.0]),
    ("x**1 at 0", lambda x: x ** 1, lambda x: x ** 1, [0.0]),
    ("0**b wrt b", lambda b: cr.pow(cr.tensor(np.zeros(2)), b),
     lambda b: torch.pow(torch.zeros(2, dtype=torch.float64), b), [1.0, 2.0]),
])
def test_subgradient_conventions_agree_with_torch(name: str, cr_fn: Callable, t_fn: Callable,
                                                  x: list) -> None:
    with np.errstate(divide="ignore", invalid="ignore"):
        (c,), (t,) = _grads(cr_fn, t_fn, x)
    np.testing.assert_array_equal(c, t, err_msg=name)


@pytest.mark.parametrize("p", [0, 1, 2, 3, 0.0, 2.0])
def test_pow_higher_derivatives_at_zero(p: Any) -> None:
    """d^k/dx^k x**p at x = 0 for k = 1..3. The derivatives of a monomial vanish past order
    p; torch masks the exponent-0 term ``0 * 0**-1`` to 0. A rule written as
    ``b * a ** (b - 1)`` gives 0 * inf = NaN there (x**0 at order 1, x**1 at order 2, ...)."""
    derivs = []
    f = lambda x: x ** p  # noqa: E731
    for _ in range(3):
        f = cr.grad(f)
        with np.errstate(divide="ignore", invalid="ignore"):
            derivs.append(float(f(np.float64(0.0))))
    tx = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    y, want = tx ** p, []
    for _ in range(3):
        (y,) = torch.autograd.grad(y, tx, create_graph=True) if y.requires_grad else (
            torch.zeros((), dtype=torch.float64),)
        want.append(float(y.detach()))
    np.testing.assert_array_equal(derivs, want)


def test_pow_negative_base_exponent_gradient_matches_torch() -> None:
    """d(a**b)/db = a**b log a is NaN for a < 0, as in PyTorch (more edge cases in
    test_torch_oracle_elementwise.py). The base's gradient agrees."""
    with np.errstate(invalid="ignore"):
        (ca, cb), (ta, tb) = _grads(cr.pow, torch.pow, [-2.0, 3.0], [2.0, 2.0])
    np.testing.assert_allclose(ca, ta)
    assert np.isnan(cb[0]) and np.isnan(tb[0])
    np.testing.assert_allclose(cb[1], tb[1])


def test_sign_gradient_is_zero_like_torch() -> None:
    """sign has zero derivative. PyTorch stores zeros in .grad; chainrule's engine carries
    zero cotangents as None, so backward leaves ``.grad`` as None (or zeros)."""
    x = cr.tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    cr.sign(x).sum().backward()
    assert x.grad is None or not np.any(x.grad.data)
    (c,), (t,) = _grads(lambda x: cr.sign(x) + x, lambda x: torch.sign(x) + x, [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(c, t)


def test_einsum_repeated_index_matches_torch() -> None:
    """A repeated index within one operand (trace / diagonal): forward and gradient as torch
    (the diagonal is taken first, by indexing, whose transpose scatters back)."""
    a = np.random.default_rng(14).standard_normal((3, 3))
    _close(cr.einsum("ii->i", cr.tensor(a)), torch.einsum("ii->i", torch.tensor(a)), "diag")
    _close(cr.einsum("ii", cr.tensor(a)), torch.einsum("ii", torch.tensor(a)), "trace")
    for spec in ("ii->", "ii->i"):
        (c,), (t,) = _grads(lambda x, s=spec: cr.einsum(s, x),
                            lambda x, s=spec: torch.einsum(s, x), a)
        np.testing.assert_allclose(c, t, rtol=RTOL, atol=ATOL, err_msg=spec)


# --------------------------------------------------------------------------- cross-entropy


def test_softmax_cross_entropy_unnormalized_probability_target() -> None:
    """The forward value is -sum(t * log_softmax(z)) for any t, as in torch; its gradient
    w.r.t. z is softmax(z) * sum(t) - t, which equals softmax(z) - t only when the rows
    of t sum to 1. Soft targets that do not sum to 1 (e.g. a masked / down-weighted row)
    must still get the gradient of the value that was computed."""
    rng = np.random.default_rng(15)
    z, t = rng.standard_normal((4, 5)), rng.uniform(0.0, 1.0, (4, 5))
    check_against_torch(lambda z_: cr.softmax_cross_entropy(z_, t),
                        lambda z_: _t_ce(z_, torch.tensor(t)), [z], second=False)


def test_softmax_cross_entropy_hessian_in_logits_and_target() -> None:
    """With the target differentiated, the Hessian of the loss in (logits, target) must be
    symmetric and match torch; a logits-gradient written as softmax(z) - t (dropping the
    sum(t) factor) breaks the mixed block d/dt (dL/dz)."""
    def f(w: Any) -> Any:
        if isinstance(w, cr.Tensor):
            return cr.softmax_cross_entropy(w[:3], w[3:])
        return F.cross_entropy(w[:3], w[3:])

    w = np.array([0.3, -0.2, 0.5, 0.2, 0.5, 0.3])  # target on the simplex
    h = cr.hessian(f)(w).numpy()
    th = torch.autograd.functional.hessian(f, torch.tensor(w)).numpy()
    np.testing.assert_allclose(th, th.T, rtol=1e-12)
    np.testing.assert_allclose(h, th, rtol=RTOL, atol=ATOL)
