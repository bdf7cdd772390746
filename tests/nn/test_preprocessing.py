"""Preprocessing layers (issue 20): Keras semantics, adapt, state saved with the model."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule import io, nn
from chainrule.data import from_arrays


def _np(t):
    return np.asarray(t.data if hasattr(t, "data") else t)


def test_normalization_adapt_matches_numpy_and_streams():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(500, 4))
    layer = nn.Normalization().adapt(x)
    assert np.allclose(layer.mean, x.mean(0), rtol=1e-6)
    assert np.allclose(layer.variance, x.var(0), rtol=1e-6) and int(layer.count) == 500
    out = _np(layer(x.astype(np.float32)))
    assert np.allclose(out, (x - x.mean(0)) / x.std(0), atol=1e-4)
    streamed = nn.Normalization().adapt(from_arrays(x).batch(64))  # batches combined exactly
    assert np.allclose(streamed.mean, layer.mean) and np.allclose(streamed.variance,
                                                                  layer.variance)
    back = nn.Normalization(mean=layer.mean, variance=layer.variance, invert=True)
    assert np.allclose(_np(back(out)), x, atol=1e-4)
    # Keras: a constant feature has std floored at 1e-7, not a division by zero
    const = nn.Normalization().adapt(np.ones((5, 1)))
    assert np.all(np.isfinite(_np(const(np.ones((2, 1))))))
    with pytest.raises(RuntimeError, match="adapt"):
        nn.Normalization()(x)


def test_normalization_state_is_nontrainable_and_saved(tmp_path):
    x = np.random.default_rng(1).normal(size=(100, 8))
    model = nn.Sequential(nn.Normalization().adapt(x), nn.Linear(8, 1))
    assert model.num_parameters() == 9
    state = model.state_dict()
    assert {"0.mean", "0.variance", "0.count"} <= set(state)
    assert sum(np.size(v) for k, v in state.items() if k.startswith("0.")) == 17  # book
    io.save(dict(state), tmp_path / "m.npz")
    fresh = nn.Sequential(nn.Normalization(), nn.Linear(8, 1))
    fresh.load_state_dict(io.load(tmp_path / "m.npz"))
    assert np.allclose(_np(fresh(x[:3].astype(np.float32))), _np(model(x[:3].astype(np.float32))))


def test_discretization_bins_as_keras():
    layer = nn.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
    assert _np(layer(np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 3.0]))).tolist() == [0, 1, 1, 2, 3, 3]
    adapted = nn.Discretization(num_bins=4).adapt(np.arange(1, 101, dtype=float))
    assert np.allclose(adapted.bin_boundaries, np.quantile(np.arange(1, 101), [.25, .5, .75]))
    counts = np.bincount(_np(adapted(np.arange(1, 101, dtype=float))))
    assert counts.tolist() == [25, 25, 25, 25]
    with pytest.raises(ValueError, match="exactly one"):
        nn.Discretization()


def test_category_encoding_modes_as_keras():
    count = nn.CategoryEncoding(4, output_mode="count")
    assert _np(count(np.array([[0, 1, 1], [3, 3, 2]]))).tolist() == [[1, 2, 0, 0], [0, 0, 1, 2]]
    one = nn.CategoryEncoding(4, output_mode="one_hot")
    assert _np(one(np.array([[0], [3]]))).tolist() == [[1, 0, 0, 0], [0, 0, 0, 1]]
    assert _np(one(np.array([0, 3]))).tolist() == [[1, 0, 0, 0], [0, 0, 0, 1]]
    multi = nn.CategoryEncoding(4)
    assert _np(multi(np.array([0, 3]))).tolist() == [1, 0, 0, 1]  # rank 1: one sample
    assert _np(multi(np.array([[0, 0], [2, 1]]))).tolist() == [[1, 0, 0, 0], [0, 1, 1, 0]]
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        multi(np.array([[4]]))


def test_string_lookup_vocabulary_order_oov_and_modes():
    layer = nn.StringLookup().adapt(np.array(["b", "a", "b", "c", "a", "b", "d"]))
    assert layer.get_vocabulary() == ["[UNK]", "b", "a", "c", "d"]
    assert _np(layer(np.array(["a", "zz", "b"]))).tolist() == [2, 0, 1]
    hot = nn.StringLookup(vocabulary=["x", "y"], output_mode="one_hot")
    assert _np(hot(np.array(["y", "q"]))).tolist() == [[0, 0, 1], [1, 0, 0]]
    masked = nn.StringLookup(vocabulary=["x", "y"], mask_token="", num_oov_indices=2)
    assert masked.get_vocabulary() == ["", "[UNK]", "[UNK]", "x", "y"]
    ids = _np(masked(np.array(["", "x", "unknown-1", "unknown-2"])))
    assert ids[0] == 0 and ids[1] == 3 and set(ids[2:].tolist()) <= {1, 2}
    inv = nn.StringLookup(vocabulary=["x", "y"], invert=True)
    assert inv(np.array([2, 0])).tolist() == ["y", "[UNK]"]
    small = nn.StringLookup(max_tokens=3).adapt(np.array(["b", "a", "b", "c", "a", "b"]))
    assert small.get_vocabulary() == ["[UNK]", "b", "a"]


def test_integer_lookup_and_embedding_of_categories():
    layer = nn.IntegerLookup().adapt(np.array([7, 3, 7, 9]))
    assert layer.get_vocabulary() == [-1, 7, 3, 9]
    idx = layer(np.array([[3], [9], [42]]))
    assert _np(idx).tolist() == [[2], [3], [0]]
    emb = nn.Embedding(layer.vocabulary_size(), 2)
    assert _np(emb(idx)).shape == (3, 1, 2)


def test_lookup_vocabulary_saved_with_the_model(tmp_path):
    layer = nn.StringLookup().adapt(np.array(["near bay", "inland", "inland", "island"]))
    model = nn.Sequential(layer)
    io.save(dict(model.state_dict()), tmp_path / "lookup.npz")
    fresh = nn.Sequential(nn.StringLookup())
    fresh.load_state_dict(io.load(tmp_path / "lookup.npz"))
    x = np.array(["island", "inland", "ocean"])
    assert _np(fresh(x)).tolist() == _np(model(x)).tolist() == [3, 1, 0]


def test_hashing_is_stable_and_in_range():
    h = nn.Hashing(num_bins=10)
    words = np.array(["cat", "dog", "cat", "fish"])
    out = _np(h(words))
    assert out.min() >= 0 and out.max() < 10 and out[0] == out[2]
    assert _np(nn.Hashing(10)(words)).tolist() == out.tolist()
    masked = _np(nn.Hashing(5, mask_value="")(np.array(["", "cat"])))
    assert masked[0] == 0 and 1 <= masked[1] < 5
    salted = _np(nn.Hashing(1000, salt=3)(words))
    assert salted.tolist() != _np(nn.Hashing(1000)(words)).tolist()  # the salt moves buckets
    ints = _np(nn.Hashing(7)(np.array([1, 2, 1])))
    assert ints[0] == ints[2]


def test_text_vectorization_int_and_tf_idf():
    corpus = np.array(["The cat sat.", "the dog, the cat"])
    tv = nn.TextVectorization().adapt(corpus)
    assert tv.get_vocabulary() == ["", "[UNK]", "the", "cat", "sat", "dog"]
    out = _np(tv(np.array(["the cat the bird", "dog"])))
    assert out.tolist() == [[2, 3, 2, 1], [5, 0, 0, 0]]
    fixed = nn.TextVectorization(output_sequence_length=2, vocabulary=["the", "cat"])
    assert _np(fixed(np.array(["cat the cat", "x"]))).tolist() == [[3, 2], [1, 0]]
    small = nn.TextVectorization(max_tokens=4).adapt(corpus)
    assert small.get_vocabulary() == ["", "[UNK]", "the", "cat"]
    tfidf = nn.TextVectorization(output_mode="tf_idf").adapt(corpus)
    vocab = tfidf.get_vocabulary()
    assert vocab == ["[UNK]", "the", "cat", "sat", "dog"]
    idf = {"the": np.log1p(2 / 3), "cat": np.log1p(2 / 3), "sat": np.log1p(2 / 2),
           "dog": np.log1p(2 / 2)}
    row = _np(tfidf(np.array(["the cat the bird"])))[0]
    mean_idf = np.mean(list(idf.values()))
    assert np.allclose(row, [mean_idf, 2 * idf["the"], idf["cat"], 0, 0], rtol=1e-6)
    counts = nn.TextVectorization(output_mode="count").adapt(corpus)
    assert _np(counts(np.array(["the the dog"]))).tolist() == [[0, 2, 0, 0, 1]]
    bigrams = nn.TextVectorization(ngrams=2).adapt(np.array(["a b a b"]))
    assert "a b" in bigrams.get_vocabulary() and "b a" in bigrams.get_vocabulary()
