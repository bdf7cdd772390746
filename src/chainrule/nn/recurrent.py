"""Recurrent layers: RNN, GRU and LSTM cells and sequence layers, and Embedding.

Gate equations (weights laid out as PyTorch's, so weights can be copied across):

RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
GRU   r = σ(W_ir x + b_ir + W_hr h + b_hr)          rows 0:H   of weight_ih / weight_hh
      z = σ(W_iz x + b_iz + W_hz h + b_hz)          rows H:2H
      n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))  rows 2H:3H
      h' = (1 − z) ⊙ n + z ⊙ h
LSTM  i, f, g, o = σ, σ, tanh, σ of (W_ih x + b_ih + W_hh h + b_hh)   rows in that order
      c' = f ⊙ c + i ⊙ g;   h' = o ⊙ tanh(c')

A layer projects the inputs of all time steps at once (x @ W_ih^T + b_ih + b_hh, one
matrix multiply), then each step does ONE matrix multiply for all gates, h @ W_hh^T (4H
wide for an LSTM). Backward is backpropagation through time by the engine and mirrors
that: per step one matmul for the cotangent of h and one for W_hh; W_ih's gradient is one
matmul over the whole sequence.

Sequences are (batch, time, features) with ``batch_first=True`` (the default). Padded
steps are masked: the state is carried through them unchanged and their outputs are 0, so
padding changes neither the result nor the gradients.

Parameters have PyTorch's names (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``,
``bias_hh_l0``, ``..._reverse`` for the backward direction), so a PyTorch ``state_dict``
loads as it is; checkpoints with the old names (``cell_l0.weight_ih``) still load, with a
DeprecationWarning. ``stateful=True`` carries the final state of one call into the next
(Keras's stateful RNN) until ``reset_states()``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..autograd import ops
from ..autograd.mode import state as mode_state
from ..autograd.ops import ShapeError
from ..autograd.tensor import Tensor, get_default_dtype
from ..random import get_rng
from . import functional as F
from .kernels import lstm_gates, lstm_scan
from .module import Module, Parameter
from .sparse_grad import embedding_sparse

_GATES = {"rnn": 1, "gru": 3, "lstm": 4}
_PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class _Cell(Module):
    kind = "rnn"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        name = type(self).__name__
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}: {what} must be a positive integer, got {v!r}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        rows = _GATES[self.kind] * hidden_size
        bound = 1.0 / math.sqrt(hidden_size)  # PyTorch's default: U(-1/sqrt(H), 1/sqrt(H))
        dt = get_default_dtype()

        def uniform(*shape: int) -> Parameter:
            return Parameter(get_rng().uniform(-bound, bound, shape).astype(dt))

        self.weight_ih = uniform(rows, input_size)
        self.weight_hh = uniform(rows, hidden_size)
        self.bias_ih = uniform(rows) if bias else None
        self.bias_hh = uniform(rows) if bias else None

    def project(self, x: Tensor) -> Tensor:
        """W_ih x + b_ih + b_hh for inputs (..., input_size): all time steps at once."""
        b = None if self.bias_ih is None else self.bias_ih + self.bias_hh
        return ops.linear(x, self.weight_ih, b)

    def recur(self, h: Tensor) -> Tensor:
        """W_hh h: the one matrix multiply of a step."""
        return ops.linear(h, self.weight_hh)

    def check_input(self, x: Tensor) -> None:
        if x.ndim != 2 or x.shape[-1] != self.input_size:
            raise ShapeError(f"{self.label()}: expected input (batch, {self.input_size}), got "
                             f"shape "
                             f"{x.shape}")

    def forward(self, x: Any, h: Any = None) -> Tensor:
        """One step: x (batch, input_size), h (batch, hidden_size) or None for zeros."""
        x = ops.lift(x)
        self.check_input(x)
        h = _zeros_state(x, self.hidden_size) if h is None else ops.lift(h)
        return self.step(self.project(x), h)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class RNNCell(_Cell):
    """One step of an Elman RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh)."""

    kind = "rnn"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh") -> None:
        super().__init__(input_size, hidden_size, bias)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        self.nonlinearity = nonlinearity

    def step(self, xw: Tensor, h: Tensor) -> Tensor:
        pre = xw + self.recur(h)
        return ops.tanh(pre) if self.nonlinearity == "tanh" else ops.relu(pre)


class GRUCell(_Cell):
    """One GRU step (PyTorch's gate layout r, z, n)."""

    kind = "gru"

    def project(self, x: Tensor) -> Tensor:
        # n's recurrent part (with b_hn) is gated by r, so b_hh stays with W_hh h
        return ops.linear(x, self.weight_ih, self.bias_ih)

    def recur(self, h: Tensor) -> Tensor:
        return ops.linear(h, self.weight_hh, self.bias_hh)

    def step(self, xw: Tensor, h: Tensor) -> Tensor:
        hw = self.recur(h)
        H = self.hidden_size
        rz = ops.sigmoid(xw[:, :2 * H] + hw[:, :2 * H])
        r, z = rz[:, :H], rz[:, H:]
        n = ops.tanh(xw[:, 2 * H:] + r * hw[:, 2 * H:])
        return n + z * (h - n)


class LSTMCell(_Cell):
    """One LSTM step (PyTorch's gate layout i, f, g, o); state is (h, c)."""

    kind = "lstm"

    def step(self, xw: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h, c = state
        act = lstm_gates(xw + self.recur(h))  # σ(i), σ(f), tanh(g), σ(o) in one op
        H = self.hidden_size
        i, f, g, o = act[:, :H], act[:, H:2 * H], act[:, 2 * H:3 * H], act[:, 3 * H:]
        c = f * c + i * g
        return o * ops.tanh(c), c

    def forward(self, x: Any, state: Any = None) -> tuple[Tensor, Tensor]:
        x = ops.lift(x)
        self.check_input(x)
        if state is None:
            z = _zeros_state(x, self.hidden_size)
            state = (z, z)
        return self.step(self.project(x), (ops.lift(state[0]), ops.lift(state[1])))


def _zeros_state(x: Tensor, hidden: int) -> Tensor:
    return Tensor(np.zeros((x.shape[0], hidden), dtype=x.dtype))


_CELLS = {"rnn": RNNCell, "gru": GRUCell, "lstm": LSTMCell}


class _Recurrent(Module):
    kind = "rnn"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = True, dropout: float = 0.0,
                 bidirectional: bool = False, return_sequences: bool = True,
                 return_state: bool = False, stateful: bool = False, **cell_kw: Any) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(num_layers, (int, np.integer)) or num_layers < 1:
            raise ValueError(f"{name}: num_layers must be a positive integer, got {num_layers!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.batch_first, self.dropout, self.bidirectional = batch_first, dropout, bidirectional
        self.return_sequences, self.return_state = return_sequences, return_state
        self.stateful = bool(stateful)
        self._state: list[Any] | None = None  # the carried state of a stateful layer
        dirs = 2 if bidirectional else 1
        cells = []
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * dirs
            for d in range(dirs):
                cell = _CELLS[self.kind](width, hidden_size, bias, **cell_kw)
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                # The step module ``cell_l0`` shares its parameters with the layer, which
                # owns them under PyTorch's names: the cell is not a registered sub-module.
                object.__setattr__(self, "cell" + suffix, cell)
                for name in _PARAM_NAMES:
                    if getattr(cell, name) is not None:
                        setattr(self, name + suffix, getattr(cell, name))
                cells.append(cell)
        self._cells = cells

    def _upgrade_state_dict(self, state: dict[str, Any], prefix: str) -> dict[str, Any]:
        """Rename the weights of old checkpoints (``cell_l0.weight_ih`` ->
        ``weight_ih_l0``), warning that the old names are deprecated."""
        old = [k for k in state if k.startswith(prefix + "cell_l") and "." in k[len(prefix):]]
        if not old:
            return state
        warnings.warn(f"{self.label()}: the weights are stored under the old names "
                      f"({old[0]!r}, ...); they now have PyTorch's names ('weight_ih_l0', ...). "
                      f"Save the model again to update the checkpoint.", DeprecationWarning,
                      stacklevel=4)
        new = {}
        for k, v in state.items():
            if k in old:
                suffix, name = k[len(prefix) + len("cell"):].split(".", 1)
                k = prefix + name + suffix
            new[k] = v
        return new

    def _forget_state(self) -> None:
        """``reset_states()`` (``Module``'s): the next call of a stateful layer starts from
        zeros, with any batch size."""
        self._state = None

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
                + (", bidirectional=True" if self.bidirectional else "")
                + (", stateful=True" if self.stateful else ""))

    # ------------------------------------------------------------------ inputs
    def _mask(self, x: Tensor, mask: Any, lengths: Any) -> np.ndarray | None:
        b, t = x.shape[:2]
        if mask is not None and lengths is not None:
            raise ValueError(f"{self.label()}: give mask or lengths, not both")
        if lengths is not None:
            lengths = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
            if lengths.shape != (b,) or lengths.dtype.kind not in "iu":
                raise ShapeError(f"{self.label()}: lengths must be {b} integers (one per "
                                 f"sequence), "
                                 f"got {lengths.dtype} of shape {lengths.shape}")
            if lengths.min(initial=1) < 1 or lengths.max(initial=0) > t:
                raise ValueError(f"{self.label()}: lengths must lie in [1, {t}] (the time axis has "
                                 f"{t} steps), got range [{lengths.min()}, {lengths.max()}]")
            return np.arange(t)[None, :] < lengths[:, None]
        if mask is None:
            return None
        mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if mask.shape != (b, t):
            raise ShapeError(f"{self.label()}: mask must have shape (batch, time) = {(b, t)}, got "
                             f"{mask.shape}")
        return mask.astype(bool)

    def _check(self, x: Tensor) -> None:
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            layout = "(batch, time, features)" if self.batch_first else \
                "(time, batch, features)"
            raise ShapeError(f"{self.label()}: expected input {layout} with {self.input_size} "
                             f"features, got shape {x.shape}")

    # ------------------------------------------------------------------ the loop
    def _run_direction(self, cell: _Cell, x: Tensor, state: Any, mask: np.ndarray | None,
                       reverse: bool) -> tuple[Tensor, Any]:
        """One layer in one direction; x: (batch, time, features) -> (batch, time, hidden)
        with zeros at padded steps, and the final state."""
        if self.kind == "lstm" and self.fused:
            return self._scan(cell, x, state, mask, reverse)
        xw = cell.project(x)  # every step's input projection in one matrix multiply
        t_steps = x.shape[1]
        order = range(t_steps - 1, -1, -1) if reverse else range(t_steps)
        outs: list[Tensor | None] = [None] * t_steps
        for t in order:
            new = cell.step(xw[:, t], state)
            if mask is not None:
                keep = mask[:, t:t + 1]
                if not keep.all():
                    new = _carry(new, state, keep)
            state = new
            h = state[0] if isinstance(state, tuple) else state
            outs[t] = h if mask is None or mask[:, t].all() else ops.where(
                mask[:, t:t + 1], h, 0.0)
        return ops.stack(outs, axis=1), state

    def _scan(self, cell: _Cell, x: Tensor, state: tuple, mask: np.ndarray | None,
              reverse: bool) -> tuple[Tensor, tuple]:
        """The fused LSTM loop (``kernels.lstm_scan``): first-order derivatives only."""
        xw = _project_feature_major(cell, x)
        if reverse:
            xw = ops.flip(xw, 1)
            mask = None if mask is None else mask[:, ::-1]
        y = lstm_scan(xw, state[0], state[1], cell.weight_hh, mask=mask)  # (2, B, T, H)
        final = (y[0, :, -1], y[1, :, -1])
        seq = y[0]
        if reverse:
            seq = ops.flip(seq, 1)
            mask = None if mask is None else mask[:, ::-1]
        if mask is not None and not mask.all():
            seq = ops.where(mask[:, :, None], seq, 0.0)
        return seq, final

    def forward(self, x: Any, initial_state: Any = None, mask: Any = None,
                lengths: Any = None) -> Any:
        """Run the sequence. ``initial_state``: h0 of shape (layers*dirs, batch, hidden)
        (for an LSTM a pair (h0, c0)); ``mask`` (batch, time) booleans or ``lengths``
        (batch,) integers mark the valid steps of right-padded sequences.

        Returns the outputs (batch, time, dirs*hidden) — or only the last one (batch,
        dirs*hidden) with ``return_sequences=False`` — and with ``return_state=True`` also
        the final state(s), shaped like ``initial_state``.
        """
        x = ops.lift(x)
        self._check(x)
        if not self.batch_first:
            x = ops.swapaxes(x, 0, 1)
        valid = self._mask(x, mask, lengths)
        if self.stateful and initial_state is None and self._state is not None:
            states = self._carried(x)
        else:
            states = self._initial(x, initial_state)
        dirs = 2 if self.bidirectional else 1
        finals = []
        seq = x
        for layer in range(self.num_layers):
            seqs = []
            for d in range(dirs):
                cell = self._cells[layer * dirs + d]
                out_seq, final = self._run_direction(cell, seq, states[layer * dirs + d],
                                                     valid, reverse=bool(d))
                seqs.append(out_seq)
                finals.append(final)
            seq = seqs[0] if dirs == 1 else ops.concatenate(seqs, axis=-1)
            if self.dropout and layer < self.num_layers - 1:
                seq = F.dropout(seq, self.dropout, self.training)
        if self.stateful:  # the next call starts here, without backpropagating into this one
            self._state = [tuple(t.detach() for t in f) if isinstance(f, tuple) else f.detach()
                           for f in finals]
        out = seq if self.return_sequences else self._last(seq, valid, dirs)
        if self.return_sequences and not self.batch_first:
            out = ops.swapaxes(out, 0, 1)
        if not self.return_state:
            return out
        return out, self._stack_states(finals)

    def _last(self, seq: Tensor, valid: np.ndarray | None, dirs: int) -> Tensor:
        """The output at each sequence's last valid step (the reverse direction's at t=0)."""
        b, t = seq.shape[:2]
        last = np.full(b, t - 1) if valid is None else valid.sum(axis=1) - 1
        fwd = seq[np.arange(b), last]
        if dirs == 1:
            return fwd
        h = self.hidden_size
        return ops.concatenate([fwd[:, :h], seq[:, 0, h:]], axis=-1)

    def _initial(self, x: Tensor, initial_state: Any) -> list[Any]:
        n = self.num_layers * (2 if self.bidirectional else 1)
        b, h = x.shape[0], self.hidden_size
        zeros = Tensor(np.zeros((b, h), dtype=x.dtype))
        if initial_state is None:
            return [(zeros, zeros) if self.kind == "lstm" else zeros for _ in range(n)]
        parts = initial_state if self.kind == "lstm" else (initial_state,)
        if self.kind == "lstm" and (not isinstance(parts, (tuple, list)) or len(parts) != 2):
            raise ValueError(f"{self.label()}: an LSTM's initial_state is a pair (h0, c0)")
        parts = [ops.lift(p) for p in parts]
        for p in parts:
            if p.shape != (n, b, h):
                raise ShapeError(f"{self.label()}: initial state must have shape (layers*dirs, "
                                 f"batch, hidden) = {(n, b, h)}, got {p.shape}")
        if self.kind == "lstm":
            return [(parts[0][k], parts[1][k]) for k in range(n)]
        return [parts[0][k] for k in range(n)]

    def _carried(self, x: Tensor) -> list[Any]:
        """The state a stateful layer carried over, checked against this batch."""
        first = self._state[0][0] if self.kind == "lstm" else self._state[0]
        if first.shape[0] != x.shape[0]:
            raise ShapeError(f"{self.label()}: stateful layer got a batch of {x.shape[0]} "
                             f"sequences but carries the state of {first.shape[0]}; keep the "
                             f"batch size between calls, or call reset_states() first")
        return self._state

    def _stack_states(self, finals: list[Any]) -> Any:
        if self.kind == "lstm":
            return (ops.stack([f[0] for f in finals]), ops.stack([f[1] for f in finals]))
        return ops.stack(finals)


def _project_feature_major(cell: _Cell, x: Tensor) -> Tensor:
    """W_ih x_t + b for every step as ONE matrix multiply, W_ih (4H, in) @ x^T (in, T*B), laid
    out (4H, time, batch) and returned as its (batch, time, 4H) transposed view: the layout
    ``lstm_scan`` works in, so each step's (4H, batch) block is read without a copy, and
    the weight's gradient is again one matrix multiply."""
    b, t, n_in = x.shape
    xt = ops.reshape(ops.transpose(x, (1, 0, 2)), (t * b, n_in))  # rows in (time, batch) order
    w = cell.weight_ih
    if cell.bias_ih is not None:  # the bias as the weight of one more input, always 1:
        w = ops.concatenate([w, ops.reshape(cell.bias_ih + cell.bias_hh, (-1, 1))], axis=1)
        xt = ops.concatenate([xt, ops.ones((t * b, 1), dtype=x.dtype)], axis=1)
    xw = ops.matmul(w, ops.transpose(xt))  # (4H, T*B); BLAS reads xt transposed in place
    return ops.transpose(ops.reshape(xw, (-1, t, b)), (2, 1, 0))


def _carry(new: Any, old: Any, keep: np.ndarray) -> Any:
    """The new state where ``keep`` (batch, 1) is true, else the old one (padded steps)."""
    if isinstance(new, tuple):
        return tuple(ops.where(keep, n, o) for n, o in zip(new, old))
    return ops.where(keep, new, old)


class RNN(_Recurrent):
    """Elman RNN layer(s) over (batch, time, features); see the module docstring."""

    kind = "rnn"


class GRU(_Recurrent):
    """GRU layer(s) over (batch, time, features); see the module docstring."""

    kind = "gru"


class LSTM(_Recurrent):
    """LSTM layer(s) over (batch, time, features); see the module docstring.

    ``fused=True`` (the default) runs each layer's time loop as one primitive
    (``kernels.lstm_scan``) with first-order derivatives; ``fused=False`` builds it from
    LSTMCell steps, differentiable to any order but slower.
    """

    kind = "lstm"

    def __init__(self, *args: Any, fused: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fused = fused


class Embedding(Module):
    """A lookup table: integer indices (...) -> vectors (..., embedding_dim).

    The gradient adds up over repeated indices; ``padding_idx`` rows get no gradient.
    ``sparse=True``: ``weight.grad`` is a :class:`~chainrule.nn.sparse_grad.SparseGrad` of
    the rows used (for ``SGD`` and ``SparseAdam``; see ``nn/sparse_grad.py``).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: int | None = None, sparse: bool = False) -> None:
        super().__init__()
        if num_embeddings < 1 or embedding_dim < 1:
            raise ValueError("Embedding: num_embeddings and embedding_dim must be positive")

        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx
        self.sparse = bool(sparse)
        w = get_rng().standard_normal((num_embeddings, embedding_dim))
        if padding_idx is not None:
            w[padding_idx] = 0
        self.weight = Parameter(w.astype(get_default_dtype()))

    def forward(self, idx: Any) -> Tensor:
        idx = np.asarray(idx.data if isinstance(idx, Tensor) else idx)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"{self.label()}: indices must be integers, got {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            raise IndexError(f"{self.label()}: indices must lie in [0, {self.num_embeddings}), got "
                             f"range [{idx.min()}, {idx.max()}]")
        if self.sparse and self.weight._rg and _sparse_ok():
            return embedding_sparse(self.weight, idx, self.padding_idx)
        out = self.weight[idx]
        if self.padding_idx is not None:
            out = out * Tensor((idx != self.padding_idx)[..., None].astype(out.dtype))
        return out

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}" + (", sparse=True"
                                                                  if self.sparse else "")


def _sparse_ok() -> bool:
    """A sparse lookup needs a recorded reverse pass, not a jvp or a graph trace."""
    return mode_state.grad_enabled and not mode_state.fw_level and not mode_state.tracing
