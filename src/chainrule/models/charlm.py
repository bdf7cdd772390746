"""A character-level language model: Embedding -> multi-layer LSTM -> Linear over the vocabulary.

The pieces, each usable on its own:

- :class:`Vocab` — the characters of a text, sorted (tinyshakespeare has 65), with
  ``encode``/``decode``; unknown characters raise a clear ``ValueError``.
- :func:`split_text` — the documented split: the first ``train_fraction`` of the characters
  (default 90 %) for training, the rest for validation, contiguous (no shuffling).
- :class:`StreamBatcher` — truncated backpropagation through time over contiguous batches:
  the training ids are cut into ``batch`` parallel streams; batch ``i`` holds characters
  ``[i*seq, (i+1)*seq)`` of every stream (inputs) and the same shifted by one (targets), so
  row ``b`` of batch ``i+1`` continues row ``b`` of batch ``i`` and the final LSTM state is
  carried (detached) from one batch to the next. An epoch starts at a random offset in
  ``[0, seq)`` so the cut points differ between epochs; the state is reset each epoch.
- :class:`CharLSTM` — the model; ``forward(ids, state) -> (logits (B, T, V), state)``.
- :func:`evaluate` — validation cross-entropy in nats per character over a whole text,
  with the state carried across windows (as the model is trained to be used).
- :func:`train_charlm` — the training loop (Adam, global gradient-norm clipping, a time
  or step budget, periodic validation, checkpointing).
- :func:`sample` — generation with a temperature, seeded and deterministic.
- :func:`save_checkpoint` / :func:`load_checkpoint` — via :func:`chainrule.save` (no pickle).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .. import nn
from ..autograd.mode import no_grad
from ..autograd.tensor import Tensor
from ..io import load, save
from ..optim import Adam, clip_grad_norm_
from ..random import manual_seed

__all__ = [
    "CharLMConfig",
    "CharLSTM",
    "StreamBatcher",
    "Vocab",
    "evaluate",
    "load_checkpoint",
    "sample",
    "save_checkpoint",
    "split_text",
    "train_charlm",
]


# --------------------------------------------------------------------------- data
class Vocab:
    """The sorted set of characters of a text; ids are positions in that order."""

    def __init__(self, chars: str) -> None:
        if not chars:
            raise ValueError("Vocab: the text is empty")
        self.chars = "".join(sorted(set(chars)))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """The ids of ``text`` (int64); a character outside the vocabulary is an error."""
        unknown = sorted({c for c in text if c not in self.index})
        if unknown:
            shown = ", ".join(repr(c) for c in unknown[:10])
            raise ValueError(f"characters not in the model's vocabulary ({len(self)} chars): "
                             f"{shown}")
        return np.fromiter((self.index[c] for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids: Any) -> str:
        return "".join(self.chars[int(i)] for i in np.asarray(ids).ravel())


def split_text(text: str, train_fraction: float = 0.9) -> tuple[str, str]:
    """First ``train_fraction`` of the characters for training, the rest for validation."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    cut = int(len(text) * train_fraction)
    return text[:cut], text[cut:]


class StreamBatcher:
    """Contiguous (B, T) input/target windows for truncated BPTT (see the module docstring)."""

    def __init__(self, ids: np.ndarray, batch: int, seq: int,
                 rng: np.random.Generator | None = None) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if batch < 1 or seq < 1:
            raise ValueError(f"StreamBatcher: batch and seq must be positive, got {batch}, {seq}")
        if len(ids) < batch * (seq + 1) + seq:
            raise ValueError(f"StreamBatcher: {len(ids)} characters are too few for batch "
                             f"{batch} x seq {seq}")
        self.ids, self.batch, self.seq = ids, batch, seq
        self.rng = rng if rng is not None else np.random.default_rng(0)

    def epoch(self, offset: int | None = None) -> Any:
        """Yield ``(x, y)`` int64 pairs of shape (batch, seq), consecutive along each row."""
        if offset is None:
            offset = int(self.rng.integers(0, self.seq))
        data = self.ids[offset:]
        width = (len(data) - 1) // self.batch
        steps = width // self.seq
        usable = steps * self.seq
        x = data[:self.batch * width].reshape(self.batch, width)[:, :usable]
        y = data[1:self.batch * width + 1].reshape(self.batch, width)[:, :usable]
        for i in range(steps):
            window = slice(i * self.seq, (i + 1) * self.seq)
            yield x[:, window], y[:, window]

    def __len__(self) -> int:
        return ((len(self.ids) - self.seq) // self.batch) // self.seq


# --------------------------------------------------------------------------- model
@dataclass
class CharLMConfig:
    """Hyperparameters of a run (stored in the checkpoint)."""

    hidden: int = 256
    layers: int = 2
    embed: int = 64
    dropout: float = 0.2
    seq: int = 100
    batch: int = 64
    lr: float = 2e-3
    clip: float = 5.0
    train_fraction: float = 0.9
    eval_every: int = 200
    seed: int = 0
    lr_decay: float = 1.0  # multiply lr by this after each epoch
    extra: dict[str, Any] = field(default_factory=dict)


class CharLSTM(nn.Module):
    """Embedding(V, embed) -> LSTM(embed, hidden, layers, dropout between layers)
    -> Linear(hidden, V). ``forward(ids (B, T), state) -> (logits (B, T, V), (h, c))``."""

    def __init__(self, vocab_size: int, hidden: int = 256, layers: int = 2, embed: int = 64,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.vocab_size, self.hidden, self.layers = vocab_size, hidden, layers
        self.embed = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, dropout=dropout,
                            return_sequences=True, return_state=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids: Any, state: Any = None) -> tuple[Tensor, Any]:
        seq, state = self.lstm(self.embed(ids), initial_state=state)
        return self.head(seq), state


def _detach(state: Any) -> Any:
    return tuple(s.detach() for s in state)


# --------------------------------------------------------------------------- evaluation
def evaluate(model: CharLSTM, ids: np.ndarray, batch: int = 32, seq: int = 200) -> float:
    """Mean cross-entropy (nats per character) of predicting ``ids[1:]`` from ``ids[:-1]``,
    over ``batch`` contiguous streams with the state carried across windows (the tail that
    does not fill the streams evenly is dropped — under ``batch`` characters)."""
    ids = np.asarray(ids, dtype=np.int64)
    batch = max(1, min(batch, (len(ids) - 1) // 2))
    width = (len(ids) - 1) // batch
    if width < 1:
        raise ValueError(f"evaluate: {len(ids)} characters are too few")
    x = ids[:batch * width].reshape(batch, width)
    y = ids[1:batch * width + 1].reshape(batch, width)
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        with no_grad():
            for start in range(0, width, seq):
                xb, yb = x[:, start:start + seq], y[:, start:start + seq]
                logits, state = model(xb, state)
                loss = nn.functional.cross_entropy(logits, yb, "sum")
                total += float(loss.item())
                count += yb.size
    finally:
        model.train(was_training)
    return total / count


# --------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: str | os.PathLike[str], model: CharLSTM, vocab: Vocab,
                    config: CharLMConfig | None = None, history: dict[str, Any] | None = None
                    ) -> None:
    """Write model weights, vocabulary, architecture and history with :func:`chainrule.save`."""
    save({
        "kind": "char-lstm",
        "vocab": vocab.chars,
        "arch": {"vocab_size": model.vocab_size, "hidden": model.hidden,
                 "layers": model.layers, "embed": model.embed.embedding_dim},
        "config": {k: v for k, v in asdict(config).items() if k != "extra"} if config else {},
        "history": history or {},
        "state": dict(model.state_dict()),
    }, path)


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[CharLSTM, Vocab, dict[str, Any]]:
    """Rebuild ``(model, vocab, checkpoint_dict)`` from :func:`save_checkpoint`'s file.

    Raises ``FileNotFoundError`` (no file) or ``ValueError`` (not a char-lstm checkpoint)."""
    ckpt = load(path)
    if ckpt.get("kind") != "char-lstm" or "state" not in ckpt or "vocab" not in ckpt:
        raise ValueError(f"{path}: not a char-lstm checkpoint")
    arch = {k: int(v) for k, v in ckpt["arch"].items()}
    model = CharLSTM(arch["vocab_size"], arch["hidden"], arch["layers"], arch["embed"])
    model.load_state_dict(ckpt["state"])
    model.eval()
    return model, Vocab(str(ckpt["vocab"])), ckpt


# --------------------------------------------------------------------------- sampling
def sample(model: CharLSTM, vocab: Vocab, length: int, prompt: str = "\n",
           temperature: float = 1.0, seed: int | None = 0) -> str:
    """Generate ``length`` characters after ``prompt`` (returned without the prompt).

    Each next character is drawn from softmax(logits / temperature); lower temperature is
    more conservative. ``seed`` makes the draw repeatable (its own generator)."""
    if not temperature > 0 or not math.isfinite(temperature):
        raise ValueError(f"temperature must be a positive number, got {temperature}")
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    if not prompt:
        raise ValueError("the prompt must have at least one character")
    ids = vocab.encode(prompt)
    rng = np.random.default_rng(seed)
    was_training = model.training
    model.eval()
    out: list[int] = []
    try:
        with no_grad():
            logits, state = model(ids[None, :], None)
            last = logits.numpy()[0, -1].astype(np.float64)
            for _ in range(length):
                z = last / temperature
                p = np.exp(z - z.max())
                p /= p.sum()
                nxt = int(rng.choice(len(p), p=p))
                out.append(nxt)
                logits, state = model(np.array([[nxt]], dtype=np.int64), state)
                last = logits.numpy()[0, -1].astype(np.float64)
    finally:
        model.train(was_training)
    return vocab.decode(out)


# --------------------------------------------------------------------------- training
def train_charlm(text: str, config: CharLMConfig | None = None, *, minutes: float | None = None,
                 steps: int | None = None, checkpoint: str | os.PathLike[str] | None = None,
                 log: Callable[[str], None] | None = print, eval_chars: int | None = None,
                 ) -> tuple[CharLSTM, Vocab, dict[str, Any]]:
    """Train a :class:`CharLSTM` on ``text`` until ``minutes`` of wall time or ``steps``
    optimizer steps (whichever first; at least one must be given).

    Validation cross-entropy (nats/char) is measured every ``config.eval_every`` steps and
    at the end on the last ``1 - train_fraction`` of the text (or its first ``eval_chars``
    characters). The best-validation weights are the ones saved to ``checkpoint`` and
    returned. History: ``step``, ``seconds``, ``train_loss`` (mean since the last eval),
    ``val_loss``.
    """
    cfg = config or CharLMConfig()
    if minutes is None and steps is None:
        raise ValueError("train_charlm: give minutes or steps (a budget)")
    say = log or (lambda _msg: None)
    manual_seed(cfg.seed)
    vocab = Vocab(text)
    train_text, val_text = split_text(text, cfg.train_fraction)
    train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    if eval_chars is not None:
        val_ids = val_ids[:eval_chars]
    model = CharLSTM(len(vocab), cfg.hidden, cfg.layers, cfg.embed, cfg.dropout)
    opt = Adam(model.parameters(), lr=cfg.lr)
    batcher = StreamBatcher(train_ids, cfg.batch, cfg.seq, np.random.default_rng(cfg.seed))
    loss_fn = nn.CrossEntropyLoss()
    say(f"char-lstm: vocab {len(vocab)}, train {len(train_ids):,} / val {len(val_ids):,} chars, "
        f"{model.num_parameters():,} parameters, {len(batcher)} steps/epoch; "
        f"uniform = ln {len(vocab)} = {math.log(len(vocab)):.3f} nats/char")
    history: dict[str, list[float]] = {"step": [], "seconds": [], "train_loss": [],
                                       "val_loss": []}
    best, best_state = math.inf, None
    start = time.perf_counter()
    deadline = None if minutes is None else start + 60.0 * minutes
    step, epoch, running, nrun = 0, 0, 0.0, 0

    def out_of_budget() -> bool:
        return ((steps is not None and step >= steps)
                or (deadline is not None and time.perf_counter() >= deadline))

    def validate() -> None:
        nonlocal best, best_state, running, nrun
        val = evaluate(model, val_ids)
        elapsed = time.perf_counter() - start
        tr = running / max(nrun, 1)
        for key, v in zip(history, (step, elapsed, tr, val), strict=True):
            history[key].append(float(v))
        say(f"step {step:5d}  epoch {epoch}  {elapsed / 60:6.2f} min  train {tr:.4f}  "
            f"val {val:.4f} nats/char")
        running, nrun = 0.0, 0
        if val < best:
            best, best_state = val, {k: v.copy() for k, v in model.state_dict().items()}
            if checkpoint is not None:
                save_checkpoint(checkpoint, model, vocab, cfg, history)

    model.train()
    while not out_of_budget():
        state = None
        for x, y in batcher.epoch():
            logits, state = model(x, state)
            loss = loss_fn(logits, y)
            opt.zero_grad()
            loss.backward()
            clip_grad_norm_(model.parameters(), cfg.clip)
            opt.step()
            state = _detach(state)
            running += float(loss.item())
            nrun += 1
            step += 1
            if step % cfg.eval_every == 0:
                validate()
            if out_of_budget():
                break
        else:
            epoch += 1  # a full pass: count it and decay the learning rate
        if out_of_budget():
            break
        if cfg.lr_decay != 1.0:
            for group in opt.param_groups:
                group["lr"] *= cfg.lr_decay
    if nrun:
        validate()
    if best_state is not None:
        model.load_state_dict(best_state)
    if checkpoint is not None:
        save_checkpoint(checkpoint, model, vocab, cfg, history)
    history_out: dict[str, Any] = dict(history)
    history_out.update(best_val=best, steps=step, seconds=time.perf_counter() - start)
    return model, vocab, history_out
