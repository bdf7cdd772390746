"""Helpers shared by the trainer tests (a uniquely named module, unlike conftest)."""

from __future__ import annotations

from chainrule import nn, optim
from chainrule.random import manual_seed
from chainrule.train import Trainer


def make_classifier(n_in: int = 4, n_out: int = 3, hidden: int = 16, dropout: float = 0.3,
                    seed: int = 0) -> nn.Module:
    """A small MLP with dropout (so the library RNG matters), built after seeding."""
    manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, n_out))


def make_trainer(model: nn.Module, lr: float = 0.05, **kw) -> Trainer:
    """A Trainer with cross-entropy and SGD."""
    return Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=lr), **kw)
