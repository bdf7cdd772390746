"""Train the character GPT on tinyshakespeare, beside the char-LSTM (issue 15, result 3).

    OPENBLAS_NUM_THREADS=1 nice -n 10 python experiments/char_gpt.py --minutes 30 \
        --checkpoint runs/char_gpt.npz [--data-dir DIR]

Split, vocabulary and metric as experiments/char_lstm.py: the first 90 % of the characters
train, the last 10 % validate; validation cross-entropy in nats per character (uniform over
65 chars = 4.174), here over consecutive windows of the model's context. Training is
chainrule.train.Trainer with a Budget of --minutes (see chainrule.models.chargpt).
Writes the history (JSON) and, with --lstm-history, the two curves against wall-clock time.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, fields
from pathlib import Path

from chainrule.data import get_data_dir, load_text
from chainrule.models.chargpt import GPTConfig, sample, train_chargpt

# The char-LSTM's run in docs/rnn.md (experiments/char_lstm.py --minutes 21, 2 shared cores).
LSTM_RUN = {"seconds": [5.82 * 60, 8.19 * 60, 15.67 * 60, 21.31 * 60],
            "val_loss": [1.7979, 1.6379, 1.5799, 1.5575]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(get_data_dir()),
                   help="folder with text/tinyshakespeare.txt (default $CHAINRULE_DATA)")
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--steps", type=int, default=None)
    defaults = GPTConfig()
    for f in fields(GPTConfig):
        if f.name in ("betas",):
            continue
        p.add_argument("--" + f.name.replace("_", "-"), type=type(getattr(defaults, f.name)),
                       default=getattr(defaults, f.name))
    p.add_argument("--eval-chars", type=int, default=None,
                   help="validate on the first N validation characters only (quick runs)")
    p.add_argument("--checkpoint", default="runs/char_gpt.npz")
    p.add_argument("--history", default="runs/char_gpt_history.json")
    p.add_argument("--lstm-history", default=None,
                   help="the char-LSTM's history JSON (experiments/char_lstm.py) to plot "
                        "beside; default: its run recorded in docs/rnn.md")
    p.add_argument("--figure", default="runs/char_gpt_vs_lstm.png")
    p.add_argument("--profile", type=int, default=0, metavar="STEPS",
                   help="only time STEPS training steps by primitive (CPU clock) and exit")
    args = p.parse_args()
    cfg = GPTConfig(**{f.name: getattr(args, f.name) for f in fields(GPTConfig)
                       if f.name != "betas"})
    if args.profile:
        profile(cfg, args.profile)
        return
    Path(args.checkpoint).parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    text = load_text("tinyshakespeare", data_dir=args.data_dir)
    model, vocab, hist = train_chargpt(text, cfg, minutes=args.minutes, steps=args.steps,
                                       checkpoint=args.checkpoint, eval_chars=args.eval_chars,
                                       log=lambda m: print(m, flush=True))
    print(f"best validation {hist['best_val']:.4f} nats/char after {hist['steps']} steps, "
          f"{(time.perf_counter() - t0) / 60:.1f} min")
    with open(args.history, "w") as f:
        json.dump({**hist, "config": asdict(cfg)}, f, indent=1)
    lstm = (json.loads(Path(args.lstm_history).read_text()) if args.lstm_history
            else LSTM_RUN)
    try:
        plot(hist, lstm, args.figure)
    except ImportError as exc:  # matplotlib is optional
        print(f"no figure: {exc}")
    for temp in (0.5, 1.0):
        print(f"\n--- temperature {temp}, top_k 10 (seed 0, prompt 'ROMEO:') ---")
        print("ROMEO:" + sample(model, vocab, 400, prompt="ROMEO:", temperature=temp,
                                top_k=10, seed=0))


def profile(cfg: GPTConfig, steps: int) -> None:
    """CPU time of one training step by phase and by primitive (forward and backward rules
    run as primitives too), on random ids, after one warm-up step."""
    from collections import defaultdict

    import numpy as np

    from chainrule import nn
    from chainrule.autograd import primitive
    from chainrule.models import create_model
    from chainrule.models.chargpt import _optimizer
    from chainrule.random import manual_seed

    manual_seed(cfg.seed)
    model = create_model("gpt", 65, context=cfg.context, layers=cfg.layers, heads=cfg.heads,
                         width=cfg.width, dropout=cfg.dropout, activation=cfg.activation)
    opt = _optimizer(model, cfg)
    rng = np.random.default_rng(0)
    x, y = (rng.integers(0, 65, (cfg.batch, cfg.context)) for _ in range(2))
    loss_fn = nn.CrossEntropyLoss()
    ops: dict[tuple[str, str], float] = defaultdict(float)
    phases: dict[str, float] = defaultdict(float)
    phase = ["forward"]
    call = primitive.Primitive.__call__

    def timed(self, *a, **k):
        t = time.process_time()
        out = call(self, *a, **k)
        ops[phase[0], self.name] += time.process_time() - t
        return out

    def step(record: bool) -> None:
        marks = [time.process_time()]
        phase[0] = "forward"
        loss = loss_fn(model(x), y)
        marks.append(time.process_time())
        phase[0] = "backward"
        opt.zero_grad()
        loss.backward()
        marks.append(time.process_time())
        opt.step()
        marks.append(time.process_time())
        if record:
            for name, a, b in zip(("forward", "backward", "optimizer"), marks, marks[1:]):
                phases[name] += b - a

    step(False)
    primitive.Primitive.__call__ = timed
    try:
        for _ in range(steps):
            step(True)
    finally:
        primitive.Primitive.__call__ = call
    total = sum(phases.values())
    print(f"training step, batch {cfg.batch} x context {cfg.context}, {cfg.layers} layers x "
          f"width {cfg.width}, {cfg.activation}: {1e3 * total / steps:.0f} ms CPU per step "
          f"({cfg.batch * cfg.context * steps / total:,.0f} characters/s)")
    for name, t in phases.items():
        print(f"  {name:<9} {1e3 * t / steps:7.1f} ms  {100 * t / total:5.1f} %")
    print("  by primitive (forward / backward rules), the rest is graph bookkeeping:")
    for (ph, name), t in sorted(ops.items(), key=lambda kv: -kv[1])[:14]:
        print(f"    {ph:<9} {name:<30} {1e3 * t / steps:7.1f} ms  {100 * t / total:5.1f} %")


def plot(gpt: dict, lstm: dict, path: str) -> None:
    """Validation loss against wall-clock minutes, both models on one axis."""
    from chainrule.viz.figures import new_figure, save_figure

    fig = new_figure((6.4, 4.0), "the learning curves", layout="constrained")
    ax = fig.add_subplot()
    for name, h in (("char-GPT", gpt), ("char-LSTM", lstm)):
        ax.plot([s / 60 for s in h["seconds"]], h["val_loss"], marker="o", label=name)
    ax.axhline(1.55, color="gray", linestyle=":", label="goal 1.55")
    ax.set_xlabel("wall-clock minutes")
    ax.set_ylabel("validation nats/char")
    ax.legend()
    save_figure(fig, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
