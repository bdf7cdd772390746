"""Train the 2-layer character LSTM on tinyshakespeare and print samples (issue 6).

    OPENBLAS_NUM_THREADS=2 python experiments/char_lstm.py --minutes 21 \
        --checkpoint runs/char_lstm.npz [--data-dir DIR]

Split: the first 90 % of the characters train, the last 10 % validate (contiguous).
Validation is cross-entropy in nats per character (uniform over 65 chars = 4.174).
"""

from __future__ import annotations

import argparse
import json
import time

from chainrule.data import get_data_dir, load_text
from chainrule.models.charlm import CharLMConfig, sample, train_charlm


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(get_data_dir()),
                   help="folder with text/tinyshakespeare.txt (default $CHAINRULE_DATA)")
    p.add_argument("--corpus", default=None, help="a text file instead of tinyshakespeare")
    p.add_argument("--minutes", type=float, default=21.0)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=100)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--checkpoint", default="runs/char_lstm.npz")
    p.add_argument("--history", default="runs/char_lstm_history.json")
    args = p.parse_args()
    cfg = CharLMConfig(hidden=args.hidden, layers=2, embed=64, dropout=args.dropout,
                       seq=args.seq, batch=args.batch, lr=args.lr, clip=5.0,
                       eval_every=args.eval_every, lr_decay=0.95)
    t0 = time.perf_counter()
    text = load_text(args.corpus) if args.corpus else \
        load_text("tinyshakespeare", data_dir=args.data_dir)
    model, vocab, hist = train_charlm(text, cfg, minutes=args.minutes,
                                      steps=args.steps, checkpoint=args.checkpoint)
    print(f"best validation {hist['best_val']:.4f} nats/char after {hist['steps']} steps, "
          f"{(time.perf_counter() - t0) / 60:.1f} min")
    with open(args.history, "w") as f:
        json.dump(hist, f, indent=1)
    for temp in (0.5, 1.0):
        print(f"\n--- temperature {temp} (seed 0, prompt 'ROMEO:') ---")
        print("ROMEO:" + sample(model, vocab, 400, prompt="ROMEO:", temperature=temp, seed=0))


if __name__ == "__main__":
    main()
