"""The character GPT on a text (tinyshakespeare): data, evaluation, training, checkpoints,
sampling. The model itself is :class:`chainrule.models.gpt.GPT`.

    from chainrule.data import load_text
    from chainrule.models.chargpt import GPTConfig, load_checkpoint, sample, train_chargpt

    model, vocab, history = train_chargpt(load_text("tinyshakespeare"), GPTConfig(),
                                          minutes=30, checkpoint="runs/gpt.npz")
    model, vocab, _ = load_checkpoint("runs/gpt.npz")
    print(sample(model, vocab, 500, prompt="ROMEO:", temperature=0.8, top_k=10))

- Split and vocabulary as the char-LSTM's (:func:`~chainrule.models.charlm.split_text`,
  :class:`~chainrule.models.charlm.Vocab`): the first 90 % of the characters train, the
  last 10 % validate, so the two models' losses are comparable.
- :class:`RandomWindows` — each batch is ``batch`` windows of ``context + 1`` characters
  at uniformly random offsets of the training text (inputs and targets shifted by one).
- :func:`evaluate` — validation cross-entropy in nats per character: the validation text
  cut into consecutive windows of ``context`` characters, every position predicted from
  the window's characters before it (as nanoGPT measures it; the LSTM instead carries its
  state across the whole text).
- :func:`train_chargpt` — the library's :class:`~chainrule.train.Trainer` (AdamW with
  weight decay on the matrices only, global gradient-norm clipping) with a
  :class:`~chainrule.Budget`, validation every ``eval_every`` steps, the best
  weights kept, and a warmup-then-cosine learning rate over the budget
  (:class:`CosineOverBudget`).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .. import nn
from ..autograd.mode import no_grad
from ..optim import AdamW
from ..random import manual_seed
from ..train import BestModel, Budget, PeriodicEvaluation, Trainer
from ..train.callbacks import Callback
from .charlm import Vocab, read_char_checkpoint, text_ids
from .gpt import GPT, generate
from .registry import create_model, save_model

__all__ = ["CosineOverBudget", "GPTConfig", "RandomWindows", "evaluate", "load_checkpoint",
           "sample", "save_checkpoint", "train_chargpt"]


@dataclass
class GPTConfig:
    """Hyperparameters of a run (stored in the checkpoint)."""

    context: int = 128
    layers: int = 4
    heads: int = 4
    width: int = 128
    dropout: float = 0.0
    activation: str = "relu"  # ~10 % faster per step than the fused GELU (bench_transformer)
    batch: int = 16
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup: int = 100
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.99)
    clip: float = 1.0
    train_fraction: float = 0.9
    eval_every: int = 250
    steps_per_epoch: int = 500
    seed: int = 0


class RandomWindows:
    """``steps`` batches ``(x, y)`` of shape (batch, context) per iteration: windows of the
    ids at uniformly random offsets, ``y`` the same shifted by one character."""

    def __init__(self, ids: np.ndarray, batch: int, context: int, steps: int = 500,
                 rng: np.random.Generator | None = None) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if batch < 1 or context < 1 or steps < 1:
            raise ValueError(f"RandomWindows: batch, context and steps must be positive, got "
                             f"{batch}, {context}, {steps}")
        if len(ids) < context + 1:
            raise ValueError(f"RandomWindows: {len(ids)} characters are too few for a context "
                             f"of {context}")
        self.ids, self.batch, self.context, self.steps = ids, batch, context, steps
        self.rng = rng if rng is not None else np.random.default_rng(0)

    def draw(self) -> tuple[np.ndarray, np.ndarray]:
        """One batch."""
        starts = self.rng.integers(0, len(self.ids) - self.context, self.batch)
        rows = self.ids[starts[:, None] + np.arange(self.context + 1)]
        return rows[:, :-1], rows[:, 1:]

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return (self.draw() for _ in range(self.steps))

    def __len__(self) -> int:
        return self.steps


def evaluate(model: GPT, ids: np.ndarray, batch: int = 32) -> float:
    """Mean cross-entropy (nats per character) of predicting ``ids[1:]`` from ``ids[:-1]``
    in consecutive windows of ``model.context`` (the last, shorter window included)."""
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) < 2:
        raise ValueError(f"evaluate: {len(ids)} characters are too few")
    n = model.context
    full = (len(ids) - 1) // n
    windows = [(ids[i * n:(i + 1) * n], ids[i * n + 1:(i + 1) * n + 1]) for i in range(full)]
    if (len(ids) - 1) % n:
        windows.append((ids[full * n:-1], ids[full * n + 1:]))
    total, count = 0.0, 0
    with nn.evaluating(model), no_grad():
        for i in range(0, len(windows), batch):
            chunk = windows[i:i + batch]
            for group in ([w for w in chunk if len(w[0]) == n], [w for w in chunk
                                                                 if len(w[0]) != n]):
                if not group:
                    continue
                x = np.stack([w[0] for w in group])
                y = np.stack([w[1] for w in group])
                total += float(nn.functional.cross_entropy(model(x), y, "sum").item())
                count += y.size
    return total / count


class CosineOverBudget(Callback):
    """Learning rate per step: linear warmup over ``warmup`` steps, then a cosine from the
    base rate down to ``min_lr`` over the budget — the fraction of ``minutes`` elapsed, or
    of ``steps`` taken, whichever is further along. A Trainer callback."""

    def __init__(self, optimizer: Any, base_lr: float, min_lr: float, warmup: int,
                 minutes: float | None, steps: int | None) -> None:
        self.optimizer, self.base, self.min = optimizer, base_lr, min_lr
        self.warmup, self.minutes, self.steps = warmup, minutes, steps
        self.step, self._start = 0, time.perf_counter()

    def progress(self) -> float:
        """The fraction of the budget used, in [0, 1]."""
        done = 0.0
        if self.minutes:
            done = (time.perf_counter() - self._start) / (60.0 * self.minutes)
        if self.steps:
            done = max(done, self.step / self.steps)
        return min(1.0, done)

    def lr(self) -> float:
        if self.step < self.warmup:
            return self.base * (self.step + 1) / self.warmup
        return self.min + 0.5 * (self.base - self.min) * (1 + math.cos(math.pi * self.progress()))

    def on_train_begin(self, logs: Any = None) -> None:
        self._start, self.step = time.perf_counter(), 0

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "elapsed": time.perf_counter() - self._start}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue a resumed run where it stopped: its step and its time spent."""
        self.step = int(state["step"])
        self._start = time.perf_counter() - float(state["elapsed"])

    def on_batch_begin(self, batch: int, logs: Any = None) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr()

    def on_batch_end(self, batch: int, logs: Any = None) -> None:
        self.step += 1


def _optimizer(model: GPT, cfg: GPTConfig) -> AdamW:
    """AdamW with decay on the weight matrices only (not biases, LayerNorms, embeddings'
    rows are matrices and decay, as in nanoGPT), clipped to a global norm."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    rest = [p for p in model.parameters() if p.ndim < 2]
    return AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                  {"params": rest, "weight_decay": 0.0}], lr=cfg.lr, betas=cfg.betas,
                 global_clipnorm=cfg.clip)


# --------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: str | os.PathLike[str], model: GPT, vocab: Vocab,
                    config: GPTConfig | None = None, history: dict[str, Any] | None = None
                    ) -> None:
    """The library's checkpoint (:func:`chainrule.save_model`) with the vocabulary, the
    configuration and the history as metadata."""
    save_model(model, path, architecture="gpt", arguments=model.arguments(),
               vocab=vocab.chars, config=asdict(config) if config else {},
               history=history or {})


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[GPT, Vocab, dict[str, Any]]:
    """``(model, vocab, checkpoint_dict)`` from :func:`save_checkpoint`'s file, the model in
    evaluation mode. Raises :class:`~chainrule.errors.CheckpointError` for a file that is
    not a character-GPT checkpoint."""
    return read_char_checkpoint(path, "gpt", "character-GPT")


def sample(model: GPT, vocab: Vocab, length: int, prompt: str = "\n",
           temperature: float = 1.0, top_k: int | None = None, seed: int | None = 0,
           use_cache: bool = True) -> str:
    """``length`` characters generated after ``prompt`` (returned without it); see
    :func:`chainrule.models.gpt.generate`. A prompt character outside the vocabulary is a
    ``ValueError`` naming it."""
    if not prompt:
        raise ValueError("sample: the prompt must have at least one character")
    try:
        ids = vocab.encode(prompt)
    except ValueError as exc:
        raise ValueError(f"GPT prompt {prompt[:40]!r}: {exc}") from None
    return vocab.decode(generate(model, ids, length, temperature, top_k, seed, use_cache))


# --------------------------------------------------------------------------- training
def train_chargpt(text: str, config: GPTConfig | None = None, *, minutes: float | None = None,
                  steps: int | None = None, checkpoint: str | os.PathLike[str] | None = None,
                  log: Callable[[str], None] | None = print, eval_chars: int | None = None,
                  callbacks: Sequence[Any] = (), resume_from: str | os.PathLike[str] | None = None,
                  verbose: bool = False) -> tuple[GPT, Vocab, dict[str, Any]]:
    """Train a :class:`~chainrule.models.gpt.GPT` on ``text`` for ``minutes`` of wall time
    or ``steps`` optimizer steps (whichever first; at least one).

    Validation (nats/char, :func:`evaluate`) every ``config.eval_every`` steps and at the
    end, on the last ``1 - train_fraction`` of the text (or its first ``eval_chars``
    characters). The best-validation weights are returned and saved to ``checkpoint``.
    History: ``step``, ``seconds`` (wall), ``cpu_seconds`` (this process's CPU time, which
    a busy machine does not inflate), ``train_loss`` (mean since the last validation),
    ``val_loss``, ``lr`` (lists, one entry per validation); and ``best_val``, ``steps``,
    ``total_seconds``, ``parameters``. ``callbacks`` are added to the Trainer's (e.g. a
    :class:`~chainrule.train.Checkpoint`, after which ``resume_from`` continues the run);
    ``verbose`` shows the Trainer's progress within epochs.
    """
    cfg = config or GPTConfig()
    if minutes is None and steps is None:
        raise ValueError("train_chargpt: give minutes or steps (a budget)")
    say = log or (lambda _msg: None)
    manual_seed(cfg.seed)
    vocab, train_ids, val_ids = text_ids(text, cfg.train_fraction, eval_chars)
    model = create_model("gpt", len(vocab), context=cfg.context, layers=cfg.layers,
                         heads=cfg.heads, width=cfg.width, dropout=cfg.dropout,
                         activation=cfg.activation)
    batches = RandomWindows(train_ids, cfg.batch, cfg.context, cfg.steps_per_epoch,
                            np.random.default_rng(cfg.seed))
    optimizer = _optimizer(model, cfg)
    schedule = CosineOverBudget(optimizer, cfg.lr, cfg.min_lr, cfg.warmup, minutes, steps)
    say(f"gpt: vocab {len(vocab)}, train {len(train_ids):,} / val {len(val_ids):,} chars, "
        f"{model.num_parameters():,} parameters ({cfg.layers} layers x {cfg.heads} heads x "
        f"width {cfg.width}, context {cfg.context}, batch {cfg.batch}); uniform = "
        f"ln {len(vocab)} = {math.log(len(vocab)):.3f} nats/char")

    cpu_start = time.process_time()

    def measure(m: GPT) -> dict[str, float]:
        cpu = time.process_time() - cpu_start  # this process's CPU time, before validating
        return {"val_loss": evaluate(m, val_ids), "lr": optimizer.param_groups[0]["lr"],
                "cpu_seconds": cpu}

    def report(row: dict[str, float]) -> None:
        say(f"step {int(row['step']):5d}  {row['seconds'] / 60:6.2f} min  (CPU "
            f"{row['cpu_seconds'] / 60:6.2f} min)  lr {row['lr']:.2e}  train "
            f"{row['train_loss']:.4f}  val {row['val_loss']:.4f} nats/char")

    def save(m: GPT) -> None:
        if checkpoint is not None:
            save_checkpoint(checkpoint, m, vocab, cfg, check.history)

    check = PeriodicEvaluation(cfg.eval_every, measure, report)
    best = BestModel("val_loss", mode="min", save=save)
    budget = Budget(steps=steps, minutes=minutes)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optimizer, metrics=())
    trainer.fit(batches, epochs=None, callbacks=[schedule, check, best, budget, *callbacks],
                verbose=verbose, resume_from=resume_from)
    save(model)
    history: dict[str, Any] = {k: check.history.get(k, [])
                               for k in ("step", "seconds", "cpu_seconds", "train_loss",
                                         "val_loss", "lr")}
    history.update(best_val=best.best, steps=trainer.global_step, total_seconds=budget.seconds,
                   parameters=model.num_parameters())
    return model, vocab, history
