"""Date translation (Hands-On ML chapter 16, exercise 9): docs/attention.md result 2.

    nice -n 10 python experiments/date_translation.py --models luong plain --seeds 0 1 2 \
        --epochs 10 --json runs/dates_rnn.json --figure docs/figures/date_attention.png
    nice -n 10 python experiments/date_translation.py --models transformer --seeds 0 1 2 \
        --epochs 10 --json runs/dates_transformer.json

"April 22, 2019" -> "2019-04-22"; dates uniform over the years 1000-9999, generated as the
book does (``data_seed`` 42), split 10,000 / 2,000 / 2,000. Targets end with an end token.
Models: ``plain`` (LSTM encoder -> LSTM decoder started from the encoder's final state),
``luong`` (the same with Luong attention), ``bahdanau``, and ``transformer`` (a small
encoder-decoder Transformer: d_model 64, 4 heads, 2 + 2 layers, feed-forward 128, dropout
0.1). Training:
Adam (lr 3e-3, times 0.9 after each epoch, gradient norm clipped at 5),
batches of 32, teacher forcing, cross-entropy per character. After every epoch the whole-date
exact-match accuracy of greedy decoding and the cross-entropy on the VALIDATION split are
measured, and the weights of the best epoch are kept (highest exact match, ties broken by
the lower loss); the test split is decoded once, at the end, with
greedy and beam search.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import chainrule as cr
import chainrule.nn as nn
from chainrule.data.synthetic_text import (
    DATE_INPUT_CHARS,
    DATE_OUTPUT_CHARS,
    date_dataset,
    decode_ids,
)
from chainrule.models.seq2seq import Seq2Seq, beam_search, greedy_decode
from chainrule.optim import Adam, clip_grad_norm_
from chainrule.optim.lr_finder import set_lr

SOS, EOS = 0, len(DATE_OUTPUT_CHARS) + 1   # target ids: 0 start, 1..11 characters, 12 end
SRC_VOCAB, TGT_VOCAB = len(DATE_INPUT_CHARS) + 1, len(DATE_OUTPUT_CHARS) + 2
MAX_LEN = 11                                # 10 characters and the end token


def splits(data_seed: int = 42, sizes: tuple[int, int, int] = (10_000, 2_000, 2_000)) -> dict:
    x, y = date_dataset(sum(sizes), seed=data_seed)
    out, start = {}, 0
    for name, n in zip(("train", "valid", "test"), sizes):
        out[name] = (x[start:start + n], y[start:start + n])
        start += n
    return out


def teacher_forcing(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decoder inputs (start token, then the date) and targets (the date, then end)."""
    n = len(y)
    return (np.concatenate([np.full((n, 1), SOS), y], axis=1),
            np.concatenate([y, np.full((n, 1), EOS)], axis=1))


def build(kind: str, hidden: int = 128, d_model: int = 64) -> nn.Module:
    if kind in ("plain", "luong", "bahdanau"):
        return Seq2Seq(SRC_VOCAB, TGT_VOCAB, embed_dim=32, hidden=hidden,
                       attention=None if kind == "plain" else kind, sos=SOS, eos=EOS)
    if kind == "transformer":
        from chainrule.models.seq2seq_transformer import TransformerSeq2Seq

        return TransformerSeq2Seq(SRC_VOCAB, TGT_VOCAB, d_model=d_model, nhead=4,
                                  num_encoder_layers=2, num_decoder_layers=2,
                                  dim_feedforward=2 * d_model, max_len=32, sos=SOS, eos=EOS)
    raise SystemExit(f"date_translation.py: unknown model {kind!r}")


def exact_match(tokens: np.ndarray, y: np.ndarray) -> float:
    want = [decode_ids(t, DATE_OUTPUT_CHARS) for t in y]
    got = [decode_ids(t[:list(t).index(EOS)] if EOS in t else t, DATE_OUTPUT_CHARS)
           for t in tokens]
    return float(np.mean([a == b for a, b in zip(got, want)]))


def loss_on(model: nn.Module, x: np.ndarray, y: np.ndarray, batch: int = 500) -> float:
    """Teacher-forced cross-entropy per character (eval mode, no graph)."""
    dec_in, dec_out = teacher_forcing(y)
    total = 0.0
    with nn.evaluating(model):
        for i in range(0, len(x), batch):
            logits = model(x[i:i + batch], dec_in[i:i + batch])
            total += float(nn.functional.cross_entropy(
                logits.reshape(-1, TGT_VOCAB), dec_out[i:i + batch].ravel(),
                reduction="sum").data)
    return total / dec_out.size


def decode(model: nn.Module, x: np.ndarray, beam: int = 0, batch: int = 500) -> np.ndarray:
    parts = []
    for i in range(0, len(x), batch):
        xb = x[i:i + batch]
        tok = beam_search(model, xb, beam, MAX_LEN)[0] if beam else \
            greedy_decode(model, xb, MAX_LEN)[0]
        parts.append(tok)
    return np.concatenate(parts)


def run(kind: str, seed: int, epochs: int = 20, data: dict | None = None, lr: float = 3e-3,
        lr_decay: float = 0.9, batch: int = 32, beams: tuple[int, ...] = (3,),
        verbose: bool = True, **build_kw: object) -> tuple[dict, nn.Module]:
    data = splits() if data is None else data
    x_train, y_train = data["train"]
    x_valid, y_valid = data["valid"]
    dec_in, dec_out = teacher_forcing(y_train)
    cr.manual_seed(seed)
    model = build(kind, **build_kw)
    opt = Adam(model.parameters(), lr=lr)
    order_rng = np.random.default_rng(seed)
    history, best, best_state, t0 = [], (-1.0, 0.0), None, time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        order, losses = order_rng.permutation(len(x_train)), []
        for i in range(0, len(x_train), batch):
            idx = order[i:i + batch]
            logits = model(x_train[idx], dec_in[idx])
            loss = nn.functional.cross_entropy(logits.reshape(-1, TGT_VOCAB),
                                               dec_out[idx].ravel())
            opt.zero_grad()
            loss.backward()
            clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            losses.append(float(loss.data))
        set_lr(opt, lr * lr_decay ** epoch)
        val, val_loss = exact_match(decode(model, x_valid), y_valid), loss_on(model, x_valid,
                                                                              y_valid)
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_exact": val,
                        "val_loss": val_loss, "seconds": time.perf_counter() - t0})
        if (val, -val_loss) > best:  # exact match first; the loss breaks ties at 100 %
            best, best_state = (val, -val_loss), model.state_dict()
        if verbose:
            print(f"{kind} seed {seed} epoch {epoch:2d}  loss {history[-1]['loss']:.4f}  "
                  f"val exact {val:.4f}  val loss {val_loss:.5f}  "
                  f"{history[-1]['seconds']:.0f} s", flush=True)
    train_seconds = time.perf_counter() - t0
    model.load_state_dict(best_state)
    model.eval()
    x_test, y_test = data["test"]
    result = {"model": kind, "seed": seed, "history": history, "train_seconds": train_seconds,
              "best_epoch": max(history, key=lambda h: (h["val_exact"], -h["val_loss"]))[
                  "epoch"],
              "val_exact": best[0], "val_loss": -best[1],
              "parameters": model.num_parameters(),
              "test_greedy": exact_match(decode(model, x_test), y_test)}
    for k in beams:
        result[f"test_beam{k}"] = exact_match(decode(model, x_test, beam=k), y_test)
    return result, model


def attention_figure(model: Seq2Seq, text: str, path: str) -> str:
    """Heat map of the Luong weights while greedily translating ``text`` (drawn by
    ``chainrule.viz.attention.plot_attention``)."""
    from chainrule.data.synthetic_text import encode_dates
    from chainrule.viz.attention import plot_attention

    src = encode_dates([text], DATE_INPUT_CHARS, 18)
    tokens, _, weights = greedy_decode(model, src, MAX_LEN, return_attention=True)
    out = [DATE_OUTPUT_CHARS[t - 1] if 0 < t <= len(DATE_OUTPUT_CHARS) else "<end>"
           for t in tokens[0][:weights.shape[1]]]
    translation = "".join(o for o in out if o != "<end>")
    keys = ["␣" if c == " " else c for c in text]
    plot_attention(weights[0][:, :len(text)], path, out, keys,
                   title=f"Luong attention: {text!r} -> {translation!r}")
    return path


def table(results: list[dict], beams: list[int]) -> str:
    """The Markdown table of docs/attention.md."""
    beam_cols = "".join(f" test exact, beam {k} |" for k in beams)
    lines = ["| model | seed | parameters | first epoch at 100 % valid | best epoch (valid) | "
             f"valid exact | test exact, greedy |{beam_cols} training wall-clock |",
             "|---" * (8 + len(beams)) + "|"]
    for r in results:
        first = next((h["epoch"] for h in r["history"] if h["val_exact"] == 1.0), "never")
        beam_vals = "".join(f" {100 * r[f'test_beam{k}']:.2f} % |" for k in beams)
        lines.append(f"| {r['model']} | {r['seed']} | {r['parameters']:,} | {first} | "
                     f"{r['best_epoch']} of {len(r['history'])} | {100 * r['val_exact']:.2f} % | "
                     f"{100 * r['test_greedy']:.2f} % |{beam_vals} "
                     f"{r['train_seconds'] / 60:.1f} min |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["plain", "luong", "transformer"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--beams", type=int, nargs="+", default=[3, 5])
    p.add_argument("--json", default=None)
    p.add_argument("--figure", default=None, help="attention map of the first Luong model")
    p.add_argument("--sizes", type=int, nargs=3, default=[10_000, 2_000, 2_000],
                   metavar=("TRAIN", "VALID", "TEST"))
    p.add_argument("--hidden", type=int, default=128, help="LSTM width")
    p.add_argument("--d-model", type=int, default=64, help="Transformer width")
    p.add_argument("--table-from", nargs="+", default=None, metavar="JSON",
                   help="print the table of earlier runs (their --json files) and stop")
    args = p.parse_args(argv)
    if args.table_from:
        results = [r for path in args.table_from for r in json.load(open(path))]
        print(table(results, args.beams))
        return results
    data, results = splits(sizes=tuple(args.sizes)), []
    for kind in args.models:
        for seed in args.seeds:
            r, model = run(kind, seed, args.epochs, data, beams=tuple(args.beams),
                           hidden=args.hidden, d_model=args.d_model)
            results.append(r)
            print(json.dumps({k: v for k, v in r.items() if k != "history"}), flush=True)
            if args.figure and kind == "luong" and seed == args.seeds[0]:
                attention_figure(model, "April 22, 2019", args.figure)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(results, f, indent=1)
    print(table(results, args.beams))
    return results


if __name__ == "__main__":
    main()
