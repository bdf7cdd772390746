"""Synthetic sequence data of Hands-On ML chapter 16: embedded Reber strings and dates.

Both generators follow the book's exercise solutions (exercises 8 and 9) and draw from a
seeded ``numpy.random.Generator``, so a seed gives the same data on every machine.

Embedded Reber grammar (exercise 8)::

    x, y = reber_dataset(10_000, seed=42)   # half valid (y=1), half with one character
    x[0]                                    # replaced (y=0); lists of ids into REBER_CHARS

Dates (exercise 9)::

    src, tgt = random_dates(3, seed=0)      # ["April 22, 2019", ...], ["2019-04-22", ...]
    x, y = date_dataset(10_000, seed=42)    # padded id arrays, 0 = padding
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

__all__ = ["DATE_INPUT_CHARS", "DATE_OUTPUT_CHARS", "MONTHS", "REBER_CHARS",
           "date_dataset", "decode_ids", "embedded_reber_string", "encode_dates",
           "is_embedded_reber", "random_dates", "reber_dataset", "reber_string"]

REBER_CHARS = "BEPSTVX"

# state -> [(symbol, next state)]; None ends the string (the book's default grammar)
_REBER = [[("B", 1)], [("T", 2), ("P", 3)], [("S", 2), ("X", 4)], [("T", 3), ("V", 5)],
          [("X", 3), ("S", 6)], [("P", 4), ("V", 6)], [("E", None)]]
# the embedded grammar: B, then T or P, an inner Reber string, the same T or P again, E
_EMBEDDED = [[("B", 1)], [("T", 2), ("P", 3)], [(_REBER, 4)], [(_REBER, 5)],
             [("T", 6)], [("P", 6)], [("E", None)]]


def _generate(grammar: list, rng: np.random.Generator) -> str:
    out, state = [], 0
    while state is not None:
        choices = grammar[state]
        production, state = choices[int(rng.integers(len(choices)))]
        out.append(_generate(production, rng) if isinstance(production, list) else production)
    return "".join(out)


def _rng(seed: Any) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def reber_string(seed: Any = None) -> str:
    """One string of the Reber grammar (e.g. ``"BTSSXXTVVE"``)."""
    return _generate(_REBER, _rng(seed))


def embedded_reber_string(seed: Any = None) -> str:
    """One string of the embedded Reber grammar (e.g. ``"BTBPVVETE"``)."""
    return _generate(_EMBEDDED, _rng(seed))


def _accepts(grammar: list, s: str, state: int = 0) -> set[int]:
    """Every position in ``s`` where a walk of ``grammar`` from ``state`` can end."""
    ends: set[int] = set()
    frontier = {(state, 0)}
    seen = set()
    while frontier:
        st, pos = frontier.pop()
        if (st, pos) in seen:
            continue
        seen.add((st, pos))
        if st is None:
            ends.add(pos)
            continue
        for production, nxt in grammar[st]:
            if isinstance(production, list):
                for end in _accepts(production, s[pos:]):
                    frontier.add((nxt, pos + end))
            elif s.startswith(production, pos):
                frontier.add((nxt, pos + 1))
    return ends


def is_embedded_reber(s: str) -> bool:
    """True when ``s`` is a string of the embedded Reber grammar."""
    return len(s) in _accepts(_EMBEDDED, s)


def _corrupt(s: str, rng: np.random.Generator) -> str:
    """The book's corruption: one position, replaced by a different character."""
    i = int(rng.integers(len(s)))
    bad = sorted(set(REBER_CHARS) - {s[i]})
    return s[:i] + bad[int(rng.integers(len(bad)))] + s[i + 1:]


def reber_dataset(size: int, seed: Any = None) -> tuple[list[list[int]], np.ndarray]:
    """``size`` embedded Reber strings as id lists (into ``REBER_CHARS``) and labels.

    As the book: the first ``size // 2`` are valid (label 1), the rest are valid strings
    with one character replaced by another one (label 0; the replacement can, rarely,
    still be a valid string, as in the book).
    """
    if int(size) < 1:
        raise ValueError(f"reber_dataset: size must be a positive integer, got {size!r}")
    rng = _rng(seed)
    good = [embedded_reber_string(rng) for _ in range(size // 2)]
    bad = [_corrupt(embedded_reber_string(rng), rng) for _ in range(size - size // 2)]
    ids = [[REBER_CHARS.index(c) for c in s] for s in good + bad]
    y = np.array([1.0] * len(good) + [0.0] * len(bad))
    return ids, y


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
# id 0 is padding (and, for outputs, the start-of-sequence token): characters start at 1
DATE_INPUT_CHARS = "".join(sorted(set("".join(MONTHS) + "0123456789, ")))
DATE_OUTPUT_CHARS = "0123456789-"


def random_dates(n: int, seed: Any = None) -> tuple[list[str], list[str]]:
    """``n`` dates uniform over 1000-01-01 .. 9999-12-31 as the book writes them:
    ``"April 22, 2019"`` (day zero-padded, ``%d``) and ``"2019-04-22"``."""
    rng = _rng(seed)
    lo, hi = date(1000, 1, 1).toordinal(), date(9999, 12, 31).toordinal()
    days = rng.integers(lo, hi, size=n)
    dates = [date.fromordinal(int(d)) for d in days]
    src = [f"{MONTHS[d.month - 1]} {d.day:02d}, {d.year}" for d in dates]
    return src, [d.isoformat() for d in dates]


def encode_dates(texts: list[str], chars: str, length: int | None = None) -> np.ndarray:
    """Strings -> int64 ids (character index + 1), right-padded with 0 to one length."""
    length = max(len(t) for t in texts) if length is None else length
    out = np.zeros((len(texts), length), dtype=np.int64)
    for i, t in enumerate(texts):
        if len(t) > length:
            raise ValueError(f"encode_dates: {t!r} is longer than {length} characters")
        out[i, :len(t)] = [chars.index(c) + 1 for c in t]
    return out


def decode_ids(ids: Any, chars: str) -> str:
    """ids -> string (0 and ids past the alphabet, such as an end token, are dropped)."""
    return "".join(chars[i - 1] for i in np.asarray(ids).tolist() if 0 < i <= len(chars))


def date_dataset(n: int, seed: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random dates as padded input ids (n, 18) and output ids (n, 10)."""
    src, tgt = random_dates(n, seed)
    return encode_dates(src, DATE_INPUT_CHARS, 18), encode_dates(tgt, DATE_OUTPUT_CHARS, 10)
