"""data.synthetic_text: embedded Reber strings and dates as Hands-On ML generates them."""

from datetime import datetime

import numpy as np
import pytest

from chainrule.data.synthetic_text import (
    DATE_INPUT_CHARS,
    DATE_OUTPUT_CHARS,
    REBER_CHARS,
    date_dataset,
    decode_ids,
    embedded_reber_string,
    encode_dates,
    is_embedded_reber,
    random_dates,
    reber_dataset,
    reber_string,
)


def test_generated_reber_strings_follow_the_grammar():
    rng = np.random.default_rng(0)
    for _ in range(300):
        s = embedded_reber_string(rng)
        assert is_embedded_reber(s)
        assert s[1] == s[-2] and s[1] in "TP" and s[2] == "B" and s[-3] == "E"
    inner = reber_string(1)
    assert is_embedded_reber("BT" + inner + "TE") and not is_embedded_reber("BT" + inner + "PE")


def test_the_books_tricky_strings():
    assert not is_embedded_reber("BPBTSSSSSSSXXTTVPXVPXTTTTTVVETE")
    assert is_embedded_reber("BPBTSSSSSSSXXTTVPXVPXTTTTTVVEPE")


def test_reber_dataset_half_valid_half_one_character_replaced():
    x, y = reber_dataset(400, seed=42)
    assert len(x) == 400 and y.sum() == 200 and np.all(y[:200] == 1) and np.all(y[200:] == 0)
    strings = ["".join(REBER_CHARS[i] for i in s) for s in x]
    assert all(is_embedded_reber(s) for s in strings[:200])
    invalid = [not is_embedded_reber(s) for s in strings[200:]]
    assert np.mean(invalid) > 0.9  # a replacement can, rarely, give another valid string
    x2, y2 = reber_dataset(400, seed=42)
    assert x2 == x and np.array_equal(y2, y)
    with pytest.raises(ValueError, match="size"):
        reber_dataset(0)


def test_dates_as_the_book_writes_them():
    src, tgt = random_dates(500, seed=3)
    years = []
    for s, t in zip(src, tgt):
        d = datetime.strptime(s, "%B %d, %Y").date()
        assert d.isoformat() == t
        years.append(d.year)
    assert 1000 <= min(years) and max(years) <= 9999 and max(years) - min(years) > 8000
    assert any(s.split()[1].startswith("0") for s in src)  # the day is zero-padded (%d)


def test_date_ids_round_trip():
    x, y = date_dataset(50, seed=1)
    src, tgt = random_dates(50, seed=1)
    assert x.shape == (50, 18) and y.shape == (50, 10)
    assert [decode_ids(r, DATE_INPUT_CHARS) for r in x] == src
    assert [decode_ids(r, DATE_OUTPUT_CHARS) for r in y] == tgt
    assert np.array_equal(encode_dates(tgt, DATE_OUTPUT_CHARS), y)
    with pytest.raises(ValueError, match="longer"):
        encode_dates(["September 30, 2019"], DATE_INPUT_CHARS, 10)
