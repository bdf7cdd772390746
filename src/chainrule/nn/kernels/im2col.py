"""The convolution's NumPy kernels: im2col planning, unfold/fold, conv forward and both
cotangents, max pooling forward and backward. Arrays in, arrays out; no Tensors.

Images are (N, C, H, W). The fused convolution's kernels work on a few images at a time:
the im2col matrix (C·kh·kw values per output pixel) of a chunk of about
CONV_WORKSPACE_BYTES stays in cache, buffers are reused from chunk to chunk, and a large
batch never holds C·kh·kw copies of its input at once. The padded images are kept as flat
rows of Wp pixels: with stride 1 along W, what kernel offset (a, b) sees along an output
row is then a contiguous run of Wp pixels (the last Wp - Wo of them "wrap around" into the
next row and are computed and dropped), so im2col and its transpose, the fold, copy long
runs instead of Wo-pixel pieces. Other strides read windows of exactly Wo pixels.

Few output channels (kh·O <= C·kw, stride 1, no groups: the DLFS ch. 7 CNN's 16 -> 8 5×5)
take the "row" path instead (``conv_rows_np``, ``conv_rows_grad_w_np``): im2col over the
kw offsets only (C·kw rows, a kh-th of the full copy), one product with the kh kernel rows
stacked (kh·O outputs per pixel), and kh shifted additions of O rows. It moves less memory
and gives BLAS a taller product. Its weight gradient copies no im2col at all: kh products
read the padded images in place (see ``conv_rows_grad_w_np``). Measured 2.3× (forward)
and 2.0× (weight gradient) faster than im2col there, slower where O is large or C small
(benchmarks/bench_compile.py --part kernels).
"""

from __future__ import annotations

from typing import Any

import numpy as np

CONV_WORKSPACE_BYTES = 1 << 20


def out_size(size: int, k: int, s: int, d: int) -> int:
    """Windows of extent d*(k-1)+1 at stride s that fit in ``size``."""
    return (size - d * (k - 1) - 1) // s + 1


def unfold_np(x: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple,
              padding: tuple) -> np.ndarray:
    """Every window as a read-only view: (N, C, H, W) -> (N, C, kh, kw, Ho, Wo)."""
    if any(p for pair in padding for p in pair):
        x = np.pad(x, ((0, 0), (0, 0)) + padding)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    shape = (n, c, kh, kw, out_size(h, kh, sh, dh), out_size(w, kw, sw, dw))
    s0, s1, s2, s3 = x.strides
    return np.lib.stride_tricks.as_strided(
        x, shape, (s0, s1, s2 * dh, s3 * dw, s2 * sh, s3 * sw), writeable=False)


def window(a: int, b: int, out: tuple, stride: tuple, dilation: tuple) -> tuple:
    """The slice of a padded image that kernel position (a, b) sees at every output."""
    (ho, wo), (sh, sw), (dh, dw) = out, stride, dilation
    return (slice(None), slice(None), slice(a * dh, a * dh + sh * (ho - 1) + 1, sh),
            slice(b * dw, b * dw + sw * (wo - 1) + 1, sw))


def fold_np(cols: np.ndarray, shape: tuple, kernel: tuple, stride: tuple, dilation: tuple,
            padding: tuple) -> np.ndarray:
    """unfold's transpose: windows (N, C, kh, kw, Ho, Wo) added back into (N, C, H, W)."""
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
            out[window(a, b, cols.shape[4:], stride, dilation)] += cols[:, :, a, b]
    return out[:, :, pt:pt + h, pl:pl + w]


class ConvPlan:
    """Where a convolution's windows lie in the flat padded rows (see above)."""

    def __init__(self, x_shape: tuple, kernel: tuple, stride: tuple, dilation: tuple,
                 padding: tuple, channels_out: int, out: tuple | None = None) -> None:
        self.c, self.h, self.w = x_shape[1:]
        (self.kh, self.kw), self.stride, self.dilation = kernel, stride, dilation
        ((self.pt, _), (self.pl, _)) = padding
        self.hp = self.h + padding[0][0] + padding[0][1]
        self.wp = self.w + padding[1][0] + padding[1][1]
        self.full = (out_size(self.hp, self.kh, stride[0], dilation[0]),
                     out_size(self.wp, self.kw, stride[1], dilation[1]))
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
        return max(1, CONV_WORKSPACE_BYTES // (rows * self.ho * self.wq * itemsize))

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


def conv_np(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple,
             dilation: tuple, padding: tuple, groups: int) -> np.ndarray:
    """Forward: per chunk of images, im2col copy, one batched matmul, bias added on the way
    out. x (N, C, H, W), w (O, C/G, kh, kw), b (O,) or None -> (N, O, Ho, Wo)."""
    o, cg, kh, kw = w.shape
    n, c = x.shape[:2]
    if rows_path(w.shape, stride, groups):
        return conv_rows_np(x, w, b, dilation, padding)
    plan = ConvPlan(x.shape, (kh, kw), stride, dilation, padding, o)
    ho, wo, wq = plan.ho, plan.wo, plan.wq
    dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
    y = np.empty((n, o, ho, wo), dtype)
    step = min(n, plan.chunk(c * kh * kw + o, x.itemsize))  # cols and ym
    flat = np.zeros((step, c, plan.flat), x.dtype)
    cols = np.empty((step, c, kh, kw, ho, wq), x.dtype)
    wm = w.reshape(groups, o // groups, cg * kh * kw)
    # the product lands in y itself, or in ym when wrap-around columns are to be dropped
    ym = np.empty((step, groups, o // groups, ho * wq), dtype) if wq != wo else None
    bias = None if b is None else b.reshape(o, 1, 1)
    for n0 in range(0, n, step):
        m = min(step, n - n0)
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


def conv_grad_w_np(g: np.ndarray, x: np.ndarray, w_shape: tuple, stride: tuple,
                    dilation: tuple, padding: tuple, groups: int) -> np.ndarray:
    """Weight cotangent sum_n g[n] @ im2col(x)[n]^T, the im2col rebuilt chunk by chunk."""
    o, cg, kh, kw = w_shape
    n, c = x.shape[:2]
    if rows_path(w_shape, stride, groups):
        return conv_rows_grad_w_np(g, x, w_shape, dilation, padding)
    plan = ConvPlan(x.shape, (kh, kw), stride, dilation, padding, o)
    ho, wq = plan.ho, plan.wq
    step = min(n, plan.chunk(c * kh * kw + o, x.itemsize))  # cols and gbuf
    flat = np.zeros((step, c, plan.flat), x.dtype)
    cols = np.empty((step, c, kh, kw, ho, wq), x.dtype)
    gbuf = np.zeros((step, o, ho * wq), g.dtype)
    # accumulated transposed, (G, C/G·kh·kw, O/G): cols @ g^T, a tall product with few
    # columns, runs about twice as fast in BLAS as g @ cols^T when O is small
    dw_t = np.zeros((groups, cg * kh * kw, o // groups), np.result_type(g, x))
    for n0 in range(0, n, step):
        m = min(step, n - n0)
        np.copyto(cols[:m], plan.windows(plan.pad_into(x[n0:n0 + m], flat)))
        gm = plan.rows(g[n0:n0 + m], gbuf).reshape(m, groups, o // groups, ho * wq)
        cm = cols[:m].reshape(m, groups, cg * kh * kw, ho * wq)
        if m == 1:
            dw_t += np.matmul(cm[0], gm[0].swapaxes(-1, -2))
        else:
            dw_t += np.matmul(cm, gm.swapaxes(-1, -2)).sum(axis=0)
    return dw_t.swapaxes(-1, -2).reshape(w_shape)


def rows_path(w_shape: tuple, stride: tuple, groups: int) -> bool:
    """Whether a convolution takes the row path (see the module docstring): measured faster
    when the stacked kernel rows (kh·O) are no more than the im2col rows kept (C·kw)."""
    o, c, kh, kw = w_shape
    return groups == 1 and tuple(stride) == (1, 1) and kh * o <= c * kw


def _row_cols(plan: ConvPlan, x: np.ndarray, flat: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Images x (m, C, H, W) padded into ``flat`` and copied to cols[:m] as the (m, C·kw,
    Hp·Wp) partial im2col: row (c, b) is channel c's padded pixels shifted by b·dw."""
    m, it = x.shape[0], flat.itemsize
    fm = plan.pad_into(x, flat)
    view = np.lib.stride_tricks.as_strided(
        fm, (m, plan.c, plan.kw, plan.hp * plan.wp),
        fm.strides[:2] + (plan.dilation[1] * it, it), writeable=False)
    np.copyto(cols[:m].reshape(view.shape), view)
    return cols[:m]


def conv_rows_np(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, dilation: tuple,
                 padding: tuple) -> np.ndarray:
    """conv_np's row path (stride 1, one group): per chunk, z = W' @ cols with W' the
    (kh·O, C·kw) kernel rows stacked and cols the partial im2col; then output row block
    sum_a z[a-th O rows] shifted by a·dh padded rows."""
    o, c, kh, kw = w.shape
    n = x.shape[0]
    plan = ConvPlan(x.shape, (kh, kw), (1, 1), dilation, padding, o)
    ho, wo, wp, size = plan.ho, plan.wo, plan.wp, plan.hp * plan.wp
    dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
    y = np.empty((n, o, ho, wo), dtype)
    step = min(n, max(1, CONV_WORKSPACE_BYTES // ((c * kw + kh * o) * size * x.itemsize)))
    flat = np.zeros((step, c, plan.flat), x.dtype)
    cols = np.empty((step, c * kw, size), x.dtype)
    z = np.empty((step, kh * o, size), dtype)
    acc = np.empty((step, o, ho * wp), dtype)
    w_rows = np.ascontiguousarray(w.transpose(2, 0, 1, 3)).reshape(kh * o, c * kw)
    span = ho * wp
    for n0 in range(0, n, step):
        m = min(step, n - n0)
        zm = np.matmul(w_rows, _row_cols(plan, x[n0:n0 + m], flat, cols), out=z[:m])
        am = acc[:m]
        if b is None:
            np.copyto(am, zm[:, :o, :span])
        else:
            np.add(zm[:, :o, :span], b.reshape(o, 1), out=am)
        for a in range(1, kh):
            shift = a * dilation[0] * wp
            am += zm[:, a * o:(a + 1) * o, shift:shift + span]
        y[n0:n0 + m] = am.reshape(m, o, ho, wp)[..., :wo]
    return y


def _shifted_rows(g: np.ndarray, rows: np.ndarray, kw: int, dw: int, wp: int) -> np.ndarray:
    """Output cotangents g (m, O, Ho, Wo) copied kw times into the zero rows ``rows`` (at
    least m × kw·O × S): the b-th copy at rows b·O.., shifted by b·dw pixels, along output
    rows of Wp pixels. What is never written stays 0."""
    (m, o, ho, wo), it, span = g.shape, rows.itemsize, rows.shape[2]
    np.lib.stride_tricks.as_strided(rows, (m, o, ho, wo), (rows.strides[0], span * it,
                                                           wp * it, it), writeable=True)[...] = g
    for b in range(1, kw):  # the first copy's rows shifted (its zero gaps included)
        rows[:m, b * o:(b + 1) * o, b * dw:] = rows[:m, :o, :span - b * dw]
    return rows[:m]


def conv_rows_grad_w_np(g: np.ndarray, x: np.ndarray, w_shape: tuple, dilation: tuple,
                        padding: tuple) -> np.ndarray:
    """conv_grad_w_np's row path, with no im2col copy: the output cotangent is copied kw
    times into zero rows G (``_shifted_rows``), and for each kernel row a, dw[:, :, a, :]
    is one product of the padded images' flat rows, read in place from offset a·dh·Wp (a
    view BLAS takes as it is), with G^T: (C, S) @ (S, kw·O) per image, S = (Ho-1)·Wp + Wo
    + (kw-1)·dw. Summed over images."""
    o, c, kh, kw = w_shape
    n = x.shape[0]
    plan = ConvPlan(x.shape, (kh, kw), (1, 1), dilation, padding, o)
    (ho, wo), wp, (dh, dw) = g.shape[2:], plan.wp, dilation
    span = (ho - 1) * wp + wo + (kw - 1) * dw
    per_image = (c * plan.flat * x.itemsize + kw * o * span * g.itemsize)
    step = min(n, max(1, CONV_WORKSPACE_BYTES // per_image))
    flat = np.zeros((step, c, plan.flat), x.dtype)
    rows = np.zeros((step, kw * o, span), g.dtype)
    acc = np.zeros((kh, c, kw * o), np.result_type(g, x))
    for n0 in range(0, n, step):
        m = min(step, n - n0)
        fm = plan.pad_into(x[n0:n0 + m], flat)
        gt = _shifted_rows(g[n0:n0 + m], rows, kw, dw, wp).swapaxes(1, 2)
        for a in range(kh):
            xa = fm[:, :, a * dh * wp:a * dh * wp + span]
            if m == 1:
                acc[a] += xa[0] @ gt[0]
            else:
                acc[a] += np.matmul(xa, gt).sum(axis=0)
    return np.ascontiguousarray(acc.reshape(kh, c, kw, o).transpose(3, 1, 0, 2))


def _flipped_transpose(w: np.ndarray, groups: int) -> np.ndarray:
    """(O, C/G, kh, kw) -> (C, O/G, kh, kw), each kernel rotated by 180°: the weight of the
    convolution that maps an output cotangent back to the input (stride 1)."""
    o, cg, kh, kw = w.shape
    wt = w.reshape(groups, o // groups, cg, kh, kw).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(wt[..., ::-1, ::-1]).reshape(groups * cg, o // groups, kh, kw)


def conv_grad_x_np(g: np.ndarray, w: np.ndarray, x_shape: tuple, stride: tuple,
                    dilation: tuple, padding: tuple, groups: int) -> np.ndarray:
    """Input cotangent. With stride 1 it is a convolution of g with the flipped,
    transposed kernel (padded by the kernel's extent minus the forward padding): an im2col
    copy of g instead of kh·kw additions, measured faster for every shape we train.
    Otherwise (strides, padding wider than the kernel, output_padding): per chunk, the
    column cotangent w^T @ g (C·kh·kw rows), folded back by kh·kw shifted additions."""
    o, cg, kh, kw = w.shape
    n, c = x_shape[:2]
    plan = ConvPlan(x_shape, (kh, kw), stride, dilation, padding, o, out=g.shape[2:])
    (dh, dw), ((pt, pb), (pl, pr)) = dilation, padding
    back_pad = ((dh * (kh - 1) - pt, dh * (kh - 1) - pb), (dw * (kw - 1) - pl,
                                                           dw * (kw - 1) - pr))
    if (stride == (1, 1) and min(back_pad[0] + back_pad[1]) >= 0
            and plan.full == g.shape[2:]):
        return conv_np(g, _flipped_transpose(w, groups), None, stride, dilation, back_pad,
                        groups)
    ho, wq = plan.ho, plan.wq
    dtype = np.result_type(g, w)
    dx = np.empty(x_shape, dtype)
    step = min(n, plan.chunk(c * kh * kw + o + c, np.dtype(dtype).itemsize))
    wt = w.reshape(groups, o // groups, cg * kh * kw).swapaxes(-1, -2)  # (G, C/G·kh·kw, O/G)
    gbuf = np.zeros((step, o, ho * wq), g.dtype)
    cols = np.empty((step, groups, cg * kh * kw, ho * wq), dtype)
    flat = np.empty((step, c, plan.flat), dtype)
    for n0 in range(0, n, step):
        m = min(step, n - n0)
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


def max_pool_np(x: np.ndarray, kernel: tuple, stride: tuple) -> np.ndarray:
    """Max of kh*kw strided slices (no 6-D view reduced): (N, C, H, W) -> (N, C, Ho, Wo)."""
    out = (out_size(x.shape[2], kernel[0], stride[0], 1),
           out_size(x.shape[3], kernel[1], stride[1], 1))
    y = None
    for a in range(kernel[0]):
        for b in range(kernel[1]):
            view = x[window(a, b, out, stride, (1, 1))]
            y = view.copy() if y is None else np.maximum(y, view, out=y)
    return y


def tiles_exactly(x: Any, y: Any, kernel: tuple, stride: tuple) -> bool:
    """Whether pooling windows of input x and output y cover every pixel exactly once."""
    return tuple(stride) == tuple(kernel) and x.shape[2:] == (
        y.shape[2] * kernel[0], y.shape[3] * kernel[1])


def first_maxima(slots: list, y: np.ndarray) -> list:
    """For the values ``slots`` of each window's offsets (in row-major order) and the
    windows' maxima ``y``: boolean masks marking, per window, only the first offset that
    holds the maximum (ties and NaN go to the first, as PyTorch's max pooling)."""
    taken = np.zeros(y.shape, bool)
    nan = y.dtype.kind in "fc" and bool(np.isnan(y).any())
    hits = []
    for v in slots:
        hit = (v == y) | np.isnan(v) if nan else v == y
        hit &= ~taken
        taken |= hit
        hits.append(hit)
    return hits


def max_pool_grad_np(g: np.ndarray, y: np.ndarray, x: np.ndarray, kernel: tuple,
                     stride: tuple) -> np.ndarray:
    """max_pool2d's vjp (kernels.conv) in NumPy: each window's cotangent goes to its first
    maximum in row-major order (PyTorch's choice among tied maxima), one strided slice per
    kernel offset: 6-D broadcasts over k×k windows run NumPy's inner loops k at a time."""
    out = y.shape[2:]
    wins = [window(a, b, out, stride, (1, 1)) for a in range(kernel[0])
            for b in range(kernel[1])]
    hits = first_maxima([x[win] for win in wins], y)
    share = g.astype(np.result_type(g, x), copy=False)
    if tiles_exactly(x, y, kernel, stride):  # every input pixel in exactly one window
        dx = np.empty(x.shape, share.dtype)
        for win, hit in zip(wins, hits):
            np.multiply(hit, share, out=dx[win])
        return dx
    dx = np.zeros(x.shape, share.dtype)
    for win, hit in zip(wins, hits):
        dx[win] += hit * share
    return dx

