"""Embedded Reber grammar (Hands-On ML chapter 16, exercise 8): docs/attention.md result 1.

    nice -n 10 python experiments/reber.py --seeds 0 1 2 --epochs 20 \
        --json runs/reber.json

Data as the book: 10,000 training and 2,000 validation strings (``data_seed``, default 42),
half valid, half valid strings with one character replaced. Model as the book:
Embedding(7, 5) -> GRU(30) -> Dense(1) -> sigmoid, SGD (lr 0.02, Nesterov momentum
0.95), batches of 32, 20 epochs. Padded batches go through the GRU with their lengths, so
the GRU's state is the one after each string's last real character. The seeds change the
initial weights and the batch order; the data stay the same.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import chainrule as cr
import chainrule.nn as nn
from chainrule.data.synthetic_text import REBER_CHARS, reber_dataset
from chainrule.optim import SGD

# the book's two test strings: identical except the second-to-last character, which must
# repeat the second one (P) for the string to be valid
TRICKY = {"BPBTSSSSSSSXXTTVPXVPXTTTTTVVETE": 0, "BPBTSSSSSSSXXTTVPXVPXTTTTTVVEPE": 1}


class ReberClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(len(REBER_CHARS), 5)
        self.gru = nn.GRU(5, 30, return_sequences=False)
        self.out = nn.Linear(30, 1)

    def forward(self, ids: np.ndarray, lengths: np.ndarray) -> cr.Tensor:
        """Logits (batch,) for right-padded ids (batch, T) with their lengths."""
        return self.out(self.gru(self.embed(ids), lengths=lengths))[:, 0]


def pad(seqs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(s) for s in seqs])
    ids = np.zeros((len(seqs), lengths.max()), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = s
    return ids, lengths


def accuracy(model: ReberClassifier, x: list[list[int]], y: np.ndarray,
             batch: int = 500) -> float:
    right = 0
    with cr.no_grad():
        for i in range(0, len(x), batch):
            ids, lengths = pad(x[i:i + batch])
            right += int(np.sum((model(ids, lengths).data > 0) == (y[i:i + batch] > 0.5)))
    return right / len(x)


def run(seed: int, epochs: int = 20, n_train: int = 10_000, n_valid: int = 2_000,
        data_seed: int = 42, lr: float = 0.02, batch: int = 32,
        verbose: bool = True) -> dict:
    x_train, y_train = reber_dataset(n_train, seed=data_seed)
    x_valid, y_valid = reber_dataset(n_valid, seed=data_seed + 1)
    cr.manual_seed(seed)
    model = ReberClassifier()
    opt = SGD(model.parameters(), lr=lr, momentum=0.95, nesterov=True)
    order_rng = np.random.default_rng(seed)
    history, t0 = [], time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        order, losses = order_rng.permutation(n_train), []
        for i in range(0, n_train, batch):
            idx = order[i:i + batch]
            ids, lengths = pad([x_train[j] for j in idx])
            loss = nn.functional.binary_cross_entropy_with_logits(model(ids, lengths),
                                                                  y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.data))
        model.eval()
        acc = accuracy(model, x_valid, y_valid)
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_acc": acc,
                        "seconds": time.perf_counter() - t0})
        if verbose:
            print(f"seed {seed} epoch {epoch:2d}  loss {history[-1]['loss']:.4f}  "
                  f"val acc {acc:.4f}  {history[-1]['seconds']:.0f} s", flush=True)
    ids, lengths = pad([[REBER_CHARS.index(c) for c in s] for s in TRICKY])
    with cr.no_grad():
        proba = 1 / (1 + np.exp(-np.asarray(model(ids, lengths).data, dtype=np.float64)))
    perfect = [h["epoch"] for h in history if h["val_acc"] == 1.0]
    # the first epoch from which validation accuracy stays at 100 %
    stays = next((e for e in perfect if all(h["val_acc"] == 1.0 for h in history[e - 1:])),
                 None)
    return {"seed": seed, "history": history, "first_100": perfect[0] if perfect else None,
            "stays_100_from": stays, "final_val_acc": history[-1]["val_acc"],
            "tricky": {s: float(p) for s, p in zip(TRICKY, proba)},
            "tricky_correct": all((p > 0.5) == bool(lab)
                                  for p, lab in zip(proba, TRICKY.values())),
            "seconds": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--train", type=int, default=10_000)
    p.add_argument("--valid", type=int, default=2_000)
    p.add_argument("--json", default=None, help="write the results here")
    args = p.parse_args(argv)
    results = [run(s, args.epochs, args.train, args.valid) for s in args.seeds]
    print("\n| seed | first epoch at 100 % | 100 % from epoch | final val acc | "
          "P(valid) ...VVETE | P(valid) ...VVEPE | wall-clock |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        bad, good = r["tricky"].values()
        print(f"| {r['seed']} | {r['first_100']} | {r['stays_100_from']} | "
              f"{r['final_val_acc']:.4f} | {bad:.4f} | {good:.4f} | {r['seconds']:.0f} s |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
