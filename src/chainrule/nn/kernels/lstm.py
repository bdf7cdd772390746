"""The LSTM as fused primitives: the four gate nonlinearities in one pass, and a whole
layer's time loop (``lstm_scan``).

A whole LSTM layer's time loop as one primitive, for speed: the forward loop and
backpropagation through time run in NumPy with one matrix multiply per step, and the
recurrent weight's gradient is ONE matrix multiply over all steps. Its rules are
first-order only (they compute in NumPy): for second derivatives use
LSTM(..., fused=False), built from LSTMCell steps of differentiable primitives. The scan
is checked against that composite, and by gradcheck, in tests/nn/test_recurrent.py.

Output: the stacked sequences (2, batch, time, H) — out[0] the h_t, out[1] the c_t.

Layout. Inside, every step works on contiguous feature-major blocks: the gates of step
t are a (4H, batch) block, the state an (H, batch) block, because OpenBLAS computes
W_hh (4H, H) @ h (H, B) in about a third less time than h (B, H) @ W_hh^T at the sizes
of a typical layer (B = 32, H = 256), and the four gate quarters are then row blocks.
The price is a few transposing copies at the edges: the output back to batch-major,
the incoming cotangent to feature-major, the gates' cotangents to (4H, time, batch).
Everything backward needs (gate activations, tanh(c_t), the states) lives in ONE
workspace array, and the output is a view of it: the rules find the saved values as
``y.data.base`` (no recomputation, no extra outputs). ``xw`` (batch, time, 4H) may have
any strides; LSTM passes a transposed view of a (4H, time, batch) array, the layout in
which the input projection and its weight gradient are single matrix multiplies.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...autograd.mode import state
from ...autograd.ops import where
from ...autograd.primitive import Each, Joint, const, elementwise, prim, unrecorded
from ...autograd.tensor import Tensor


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
lstm_gates = elementwise("lstm_gates", _lstm_gates_np, lambda y, z: _lstm_gates_slope(y))


def _scan_shapes(b: int, t: int, h: int) -> tuple[tuple[int, ...], ...]:
    """The parts of a scan's workspace, in order (see _scan_views)."""
    return (2, b, t, h), (t, 4 * h, b), (t + 1, h, b), (t + 1, h, b), (t, h, b)


def _scan_size(b: int, t: int, h: int) -> int:
    return sum(math.prod(shape) for shape in _scan_shapes(b, t, h))


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
    # every step's input block in its place first, (T, 4H, B), in one copy: added per
    # step from a (4H, T, B) view it would be 4H rows of B values, a slow strided addition
    act[...] = xw.transpose(1, 2, 0)
    w = w.astype(dtype, copy=False)
    ig = np.empty((hid, b), dtype=dtype)
    rec = np.empty((four_h, b), dtype=dtype)
    for t in range(t_steps):
        a = act[t]
        a += np.matmul(w, hs[t], out=rec)  # + W_hh h_{t-1}
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
_first_order = prim("first_order_only", lambda v, *xs: v, vjp=Each(_refuse),
                    jvp=Each(_refuse))


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
    dif, i_f = dgates[:, :2 * hid], act[:, :2 * hid]  # the adjacent i and f blocks
    np.subtract(1, i_f, out=dif)  # i (1 - i) g and f (1 - f) c_{t-1}
    dif *= i_f
    di *= gg
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
    return (const(dgates.transpose(2, 1, 0)), const(np.ascontiguousarray(rec.T)),
            const(np.ascontiguousarray(dc.T)), const(dw))


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
    if not unrecorded(tan, xw, h0, c0, w):  # (inside a jvp rule tangents are paused)
        return _first_order(const(dout), tan, xw, h0, c0, w)
    return const(dout)


lstm_scan = prim("lstm_scan", _lstm_scan_np, vjp=Joint(_lstm_scan_vjp),
                 jvp=Each(_lstm_scan_jvp))
