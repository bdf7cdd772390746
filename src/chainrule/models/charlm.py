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
- :func:`train_charlm` — training with the library's one loop: a
  :class:`~chainrule.train.TBPTTTrainer` (Adam, global gradient-norm clipping, the state
  carried across batches) with callbacks for the time or step budget, validation every
  ``eval_every`` steps and the best weights.
- :func:`sample` — generation with a temperature, seeded and deterministic.
- :func:`save_checkpoint` / :func:`load_checkpoint` — the library's checkpoint format
  (:func:`chainrule.save_model`; the vocabulary, configuration and history as metadata),
  so ``chainrule.load_model`` rebuilds the model too.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .. import io, nn
from ..autograd.mode import no_grad
from ..autograd.tensor import Tensor
from ..errors import CheckpointError
from ..optim import Adam
from ..random import manual_seed
from .registry import create_model, model_from_checkpoint, register_model, save_model

__all__ = [
    "CharLMConfig",
    "CharLSTM",
    "StreamBatcher",
    "Vocab",
    "evaluate",
    "load_checkpoint",
    "sample",
    "save_checkpoint",
    "read_char_checkpoint",
    "split_text",
    "text_ids",
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


def text_ids(text: str, train_fraction: float = 0.9, eval_chars: int | None = None
             ) -> tuple[Vocab, np.ndarray, np.ndarray]:
    """``(vocab, train_ids, val_ids)`` of a character model's run: the vocabulary of the
    whole text, :func:`split_text`, and the validation ids cut to ``eval_chars``."""
    vocab = Vocab(text)
    train_text, val_text = split_text(text, train_fraction)
    train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    return vocab, train_ids, val_ids if eval_chars is None else val_ids[:eval_chars]


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

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One epoch (a fresh random offset), so a Trainer can iterate it every epoch."""
        return iter(self.epoch())

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


@register_model("char-lstm", kind="language-model")
class CharLSTM(nn.Module):
    """Embedding(V, embed) -> LSTM(embed, hidden, layers, dropout between layers)
    -> Linear(hidden, V). ``forward(ids (B, T), state) -> (logits (B, T, V), (h, c))``."""

    def __init__(self, vocab_size: int, hidden: int = 256, layers: int = 2, embed: int = 64,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.vocab_size, self.hidden, self.layers = vocab_size, hidden, layers
        self.dropout = dropout
        self.embed = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, dropout=dropout,
                            return_sequences=True, return_state=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids: Any, state: Any = None) -> tuple[Tensor, Any]:
        seq, state = self.lstm(self.embed(ids), initial_state=state)
        return self.head(seq), state


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
def _arguments(model: CharLSTM) -> dict[str, Any]:
    return {"vocab_size": model.vocab_size, "hidden": model.hidden, "layers": model.layers,
            "embed": model.embed.embedding_dim, "dropout": float(model.dropout)}


def save_checkpoint(path: str | os.PathLike[str], model: CharLSTM, vocab: Vocab,
                    config: CharLMConfig | None = None, history: dict[str, Any] | None = None
                    ) -> None:
    """Write the model in the library's checkpoint format (:func:`chainrule.save_model`),
    with the vocabulary, the run's configuration and its history as metadata."""
    save_model(model, path, architecture="char-lstm", arguments=_arguments(model),
               vocab=vocab.chars,
               config={k: v for k, v in asdict(config).items() if k != "extra"}
               if config else {},
               history=history or {})


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[CharLSTM, Vocab, dict[str, Any]]:
    """Rebuild ``(model, vocab, checkpoint_dict)`` from :func:`save_checkpoint`'s file
    (the model in evaluation mode; ``checkpoint_dict["kind"]`` is ``"char-lstm"``).

    Raises ``FileNotFoundError`` (no file) or :class:`~chainrule.errors.CheckpointError`
    (a ``ValueError``: not a char-lstm checkpoint, or one in the old format — retrain)."""
    model, vocab, ckpt = read_char_checkpoint(path, "char-lstm", "char-lstm")
    return model, vocab, {"kind": "char-lstm", **ckpt}


def read_char_checkpoint(path: str | os.PathLike[str], architecture: str, label: str
                         ) -> tuple[nn.Module, Vocab, dict[str, Any]]:
    """``(model, vocab, checkpoint_dict)`` of a character model's checkpoint of
    ``architecture`` (the model in evaluation mode); a :class:`CheckpointError` naming
    ``label`` for any other file."""
    ckpt = io.read_checkpoint(path)
    name = (ckpt.get("architecture") or {}).get("name")
    if name != architecture or "vocab" not in ckpt:
        what = name or "no architecture"
        raise CheckpointError(f"{path}: not a {label} checkpoint (it holds {what}"
                              f"{'' if 'vocab' in ckpt else ', no vocabulary'})")
    return model_from_checkpoint(ckpt, path), Vocab(str(ckpt["vocab"])), ckpt


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
                 epochs: int | None = None, callbacks: Sequence[Any] = (),
                 resume_from: str | os.PathLike[str] | None = None, verbose: bool = False,
                 ) -> tuple[CharLSTM, Vocab, dict[str, Any]]:
    """Train a :class:`CharLSTM` on ``text`` until ``minutes`` of wall time, ``steps``
    optimizer steps or ``epochs`` passes (whichever first; at least one must be given).
    ``callbacks`` are added to the Trainer's (e.g. a :class:`~chainrule.train.Checkpoint`,
    after which ``resume_from`` continues the run); ``verbose`` shows the Trainer's progress
    within epochs.

    Validation cross-entropy (nats/char) is measured every ``config.eval_every`` steps and
    at the end on the last ``1 - train_fraction`` of the text (or its first ``eval_chars``
    characters). The best-validation weights are the ones saved to ``checkpoint`` and
    returned. History: ``step``, ``seconds``, ``train_loss`` (mean since the last eval),
    ``val_loss``.

    The loop is the library's :class:`~chainrule.train.TBPTTTrainer` with the
    :class:`~chainrule.train.PeriodicEvaluation`, :class:`~chainrule.train.BestModel`
    and :class:`~chainrule.train.Budget` callbacks (and a learning-rate decay per epoch).
    """
    from .. import train  # the loop lives in the train layer

    cfg = config or CharLMConfig()
    if minutes is None and steps is None and epochs is None:
        raise ValueError("train_charlm: give minutes, steps or epochs (a budget)")
    say = log or (lambda _msg: None)
    manual_seed(cfg.seed)
    vocab, train_ids, val_ids = text_ids(text, cfg.train_fraction, eval_chars)
    model = create_model("char-lstm", len(vocab), cfg.hidden, cfg.layers, cfg.embed,
                         cfg.dropout)
    batcher = StreamBatcher(train_ids, cfg.batch, cfg.seq, np.random.default_rng(cfg.seed))
    say(f"char-lstm: vocab {len(vocab)}, train {len(train_ids):,} / val {len(val_ids):,} chars, "
        f"{model.num_parameters():,} parameters, {len(batcher)} steps/epoch; "
        f"uniform = ln {len(vocab)} = {math.log(len(vocab)):.3f} nats/char")

    def report(row: dict[str, float]) -> None:
        say(f"step {int(row['step']):5d}  epoch {check.epoch}  {row['seconds'] / 60:6.2f} min  "
            f"train {row['train_loss']:.4f}  val {row['val_loss']:.4f} nats/char")

    def save(m: CharLSTM) -> None:
        if checkpoint is not None:
            save_checkpoint(checkpoint, m, vocab, cfg, check.history)

    check = train.PeriodicEvaluation(cfg.eval_every, lambda m: {"val_loss": evaluate(m, val_ids)},
                                     report)
    best = train.BestModel("val_loss", mode="min", save=save)
    budget = None if steps is None and minutes is None else \
        train.Budget(steps=steps, minutes=minutes)
    cbs: list[Any] = [check, best, *([budget] if budget else [])]
    if cfg.lr_decay != 1.0:  # multiply the lr by lr_decay after each full pass
        cbs.append(train.LearningRateScheduler(
            lambda epoch, lr: lr if epoch == 0 else lr * cfg.lr_decay))
    trainer = train.TBPTTTrainer(model, nn.CrossEntropyLoss(),
                                 Adam(model.parameters(), lr=cfg.lr), clip=cfg.clip)
    start = time.perf_counter()
    trainer.fit(batcher, epochs=epochs, callbacks=[*cbs, *callbacks], verbose=verbose,
                resume_from=resume_from)
    save(model)
    history: dict[str, Any] = {k: check.history.get(k, [])
                               for k in ("step", "seconds", "train_loss", "val_loss")}
    history.update(best_val=best.best, steps=trainer.global_step,
                   seconds=budget.seconds if budget else time.perf_counter() - start)
    return model, vocab, history
