"""Time-series forecasting as in Hands-On ML (2nd ed.), chapter 15 (issue 6).

Synthetic series (the book's ``generate_time_series``): each is
0.5 sin((t - o1)(10 f1 + 10)) + 0.2 sin((t - o2)(20 f2 + 20)) + 0.1 (U - 0.5), with
f1, f2, o1, o2 ~ U[0, 1) per series and t = linspace(0, 1, 60): 50 steps in, the next 1 or
10 to predict. 7,000 train / 2,000 validation / 1,000 test series (seed 42).

Models, for one step ahead and for 10 steps ahead (all 10 predicted at once,
sequence-to-vector):

- naive: repeat the last observed value;
- linear (trained): Flatten -> Linear(50, k), Adam, as the book's ``Dense`` baseline;
- linear (least squares): the same model solved in closed form — the best any linear
  predictor on the 50 inputs can do on the training set;
- LSTM: 2 layers of 32 units, the last output -> Linear(32, k), Adam from 5e-3, the
  learning rate times 0.9 after each epoch.

Every trained model keeps the weights of its best validation epoch; MSE is on the test set.

    OPENBLAS_NUM_THREADS=2 python experiments/forecast.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from chainrule import nn
from chainrule.autograd.mode import no_grad
from chainrule.optim import Adam
from chainrule.random import manual_seed

N_STEPS = 50


def generate_time_series(batch_size: int, n_steps: int, rng: np.random.Generator) -> np.ndarray:
    """The book's recipe: (batch_size, n_steps, 1) float32."""
    freq1, freq2, offsets1, offsets2 = rng.random((4, batch_size, 1))
    t = np.linspace(0, 1, n_steps)
    series = 0.5 * np.sin((t - offsets1) * (freq1 * 10 + 10))
    series += 0.2 * np.sin((t - offsets2) * (freq2 * 20 + 20))
    series += 0.1 * (rng.random((batch_size, n_steps)) - 0.5)
    return series[..., np.newaxis].astype(np.float32)


class LinearForecast(nn.Module):
    def __init__(self, ahead: int) -> None:
        super().__init__()
        self.fc = nn.Linear(N_STEPS, ahead)

    def forward(self, x):  # (B, 50, 1) -> (B, ahead)
        return self.fc(x.reshape(x.shape[0], N_STEPS))


class LSTMForecast(nn.Module):
    def __init__(self, ahead: int, hidden: int = 32, layers: int = 2) -> None:
        super().__init__()
        self.rnn = nn.LSTM(1, hidden, num_layers=layers, return_sequences=False)
        self.fc = nn.Linear(hidden, ahead)

    def forward(self, x):  # (B, 50, 1) -> (B, ahead)
        return self.fc(self.rnn(x))


def mse(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with no_grad():
        pred = model(x).numpy()
    model.train()
    return float(np.mean((pred - y) ** 2))


def fit(model: nn.Module, data: dict, epochs: int, lr: float, batch: int, seed: int,
        label: str, decay: float = 1.0) -> nn.Module:
    """Adam on the MSE (lr times ``decay`` after each epoch); keep the best-validation
    weights."""
    (xt, yt), (xv, yv) = data["train"], data["valid"]
    opt, rng = Adam(model.parameters(), lr=lr), np.random.default_rng(seed)
    best, best_state = np.inf, None
    for epoch in range(epochs):
        order = rng.permutation(len(xt))
        for i in range(0, len(xt), batch):
            idx = order[i:i + batch]
            diff = model(xt[idx]) - yt[idx]
            loss = (diff * diff).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        for group in opt.param_groups:
            group["lr"] *= decay
        val = mse(model, xv, yv)
        if val < best:
            best, best_state = val, {k: v.copy() for k, v in model.state_dict().items()}
        if epoch % 5 == 4 or epoch == epochs - 1:
            print(f"  {label} epoch {epoch + 1:3d}: valid MSE {val:.5f} (best {best:.5f})",
                  flush=True)
    model.load_state_dict(best_state)
    return model


def least_squares(data: dict) -> tuple[np.ndarray, np.ndarray]:
    x, y = data["train"]
    a = np.concatenate([x[:, :, 0], np.ones((len(x), 1), np.float32)], axis=1).astype(np.float64)
    coef, *_ = np.linalg.lstsq(a, y.astype(np.float64), rcond=None)
    return coef[:-1], coef[-1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--linear-epochs", type=int, default=20)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--n-train", type=int, default=7000)
    args = p.parse_args()
    rng = np.random.default_rng(42)
    series = generate_time_series(args.n_train + 3000, N_STEPS + 10, rng)
    n = args.n_train
    parts = {"train": series[:n], "valid": series[n:n + 2000], "test": series[n + 2000:]}
    rows = []
    for ahead in (1, 10):
        data = {k: (s[:, :N_STEPS], s[:, N_STEPS:N_STEPS + ahead, 0]) for k, s in parts.items()}
        xs, ys = data["test"]
        start = time.perf_counter()
        naive = float(np.mean((np.repeat(xs[:, -1], ahead, axis=1) - ys) ** 2))
        w, b = least_squares(data)
        lsq = float(np.mean((xs[:, :, 0] @ w + b - ys) ** 2))
        manual_seed(0)
        lin = fit(LinearForecast(ahead), data, args.linear_epochs, 1e-3, 32, 0,
                  f"linear/{ahead}")
        t_lin = time.perf_counter()
        manual_seed(0)
        rnn = fit(LSTMForecast(ahead, args.hidden), data, args.epochs, 5e-3, 32, 0,
                  f"lstm/{ahead}", decay=0.9)
        t_rnn = time.perf_counter() - t_lin
        rows.append((ahead, naive, mse(lin, xs, ys), lsq, mse(rnn, xs, ys), t_rnn,
                     time.perf_counter() - start))
    print("\n| steps ahead | naive (last value) | linear (Adam) | linear (least squares) "
          f"| LSTM 2x{args.hidden} | LSTM train s |")
    print("|---|---|---|---|---|---|")
    for ahead, naive, lin, lsq, rnn, t_rnn, _ in rows:
        print(f"| {ahead} | {naive:.5f} | {lin:.5f} | {lsq:.5f} | **{rnn:.5f}** | {t_rnn:.0f} |")
    for ahead, naive, lin, lsq, rnn, *_ in rows:
        verdict = "beats" if rnn < min(naive, lin, lsq) else "does NOT beat"
        print(f"{ahead} ahead: the LSTM {verdict} every baseline "
              f"(best baseline {min(naive, lin, lsq):.5f})")


if __name__ == "__main__":
    main()
