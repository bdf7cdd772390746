"""Dataset, ArrayDataset, Subset, random_split and DataLoader."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from chainrule.data import ArrayDataset, DataLoader, Dataset, Subset, collate, random_split


def make_xy(n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return x, y


class CountingDataset(ArrayDataset):
    """Records every __getitem__ call and what index it got."""

    def __init__(self, *arrays: np.ndarray) -> None:
        super().__init__(*arrays)
        self.calls: list[object] = []

    def __getitem__(self, index: object) -> tuple[np.ndarray, ...]:
        self.calls.append(index)
        return super().__getitem__(index)


class ListDataset(Dataset):
    """A plain dataset without a vectorized get_batch of its own."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return np.full(2, index, dtype=np.float32), index


# --------------------------------------------------------------------------- ArrayDataset


def test_array_dataset_int_and_array_indexing() -> None:
    x, y = make_xy()
    ds = ArrayDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi, x[3])
    assert yi == 3
    xb, yb = ds[np.array([4, 1, 7])]
    assert xb.shape == (3, 3) and yb.tolist() == [4, 1, 7]


def test_array_dataset_keeps_the_arrays_without_copying() -> None:
    x, y = make_xy()
    ds = ArrayDataset(x, y)
    assert ds.arrays[0] is x and ds.arrays[1] is y


def test_array_dataset_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match=r"first dimension.*\(10, 3\).*\(9,\)"):
        ArrayDataset(np.zeros((10, 3)), np.zeros(9))


def test_array_dataset_rejects_no_arrays_and_scalars() -> None:
    with pytest.raises(ValueError, match="at least one array"):
        ArrayDataset()
    with pytest.raises(ValueError, match="0-d"):
        ArrayDataset(np.float32(1.0))


def test_dataset_is_abstract() -> None:
    with pytest.raises(TypeError):
        Dataset()  # type: ignore[abstract]


def test_collate_stacks_fields() -> None:
    xb, yb = collate([(np.zeros(2), 1), (np.ones(2), 2)])
    assert xb.shape == (2, 2) and yb.tolist() == [1, 2]
    with pytest.raises(ValueError):
        collate([])


# --------------------------------------------------------------------------- DataLoader


def test_len_is_number_of_batches() -> None:
    ds = ArrayDataset(*make_xy(10))
    assert len(DataLoader(ds, batch_size=3)) == 4
    assert len(DataLoader(ds, batch_size=3, drop_last=True)) == 3
    assert len(DataLoader(ds, batch_size=10)) == 1
    assert len(DataLoader(ds, batch_size=20)) == 1
    assert len(DataLoader(ds, batch_size=20, drop_last=True)) == 0


def test_unshuffled_batches_are_in_order_and_last_is_short() -> None:
    x, y = make_xy(10)
    batches = list(DataLoader(ArrayDataset(x, y), batch_size=4))
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert all(isinstance(b, tuple) and len(b) == 2 for b in batches)
    np.testing.assert_array_equal(batches[0][0], x[:4])
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64


def test_drop_last_skips_the_short_batch() -> None:
    batches = list(DataLoader(ArrayDataset(*make_xy(10)), batch_size=4, drop_last=True))
    assert [len(b[1]) for b in batches] == [4, 4]


def test_shuffle_is_deterministic_for_a_seed_and_each_epoch_differs() -> None:
    ds = ArrayDataset(*make_xy(50))

    def epochs(loader: DataLoader, n: int) -> list[list[int]]:
        return [np.concatenate([y for _, y in loader]).tolist() for _ in range(n)]

    a = epochs(DataLoader(ds, batch_size=7, shuffle=True, seed=123), 3)
    b = epochs(DataLoader(ds, batch_size=7, shuffle=True, seed=123), 3)
    assert a == b
    assert a[0] != a[1] != a[2]
    for epoch in a:
        assert sorted(epoch) == list(range(50))
    c = epochs(DataLoader(ds, batch_size=7, shuffle=True, seed=124), 1)
    assert c[0] != a[0]


def test_each_batch_is_one_fancy_index_not_a_loop() -> None:
    ds = CountingDataset(*make_xy(10))
    loader = DataLoader(ds, batch_size=4, shuffle=True, seed=0)
    batches = list(loader)
    assert len(ds.calls) == len(loader) == 3
    assert all(isinstance(c, np.ndarray) and c.dtype.kind == "i" for c in ds.calls)
    assert [len(c) for c in ds.calls] == [4, 4, 2]
    assert sum(len(b[0]) for b in batches) == 10


def test_an_epoch_never_copies_the_whole_dataset() -> None:
    x = np.zeros((20_000, 100), dtype=np.float32)  # 8 MB
    y = np.zeros(20_000, dtype=np.int64)
    loader = DataLoader(ArrayDataset(x, y), batch_size=100, shuffle=True, seed=0)
    tracemalloc.start()
    try:
        for _ in loader:
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, f"peak {peak} bytes: the loader copied more than a few batches"


def test_transform_gets_the_whole_batch_tuple() -> None:
    seen = []

    def transform(batch: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        seen.append(batch)
        x, y = batch
        return x * 2, y + 100

    x, y = make_xy(6)
    out = list(DataLoader(ArrayDataset(x, y), batch_size=4, transform=transform))
    assert len(seen) == 2 and isinstance(seen[0], tuple) and seen[0][0].shape == (4, 3)
    np.testing.assert_array_equal(out[0][0], x[:4] * 2)
    assert out[1][1].tolist() == [104, 105]


def test_generic_dataset_is_collated_sample_by_sample() -> None:
    batches = list(DataLoader(ListDataset(5), batch_size=2))
    assert [b[1].tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    assert batches[0][0].shape == (2, 2)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3", None])
def test_bad_batch_size_is_a_clear_value_error(bad: object) -> None:
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(ArrayDataset(*make_xy()), batch_size=bad)  # type: ignore[arg-type]


def test_numpy_int_batch_size_is_accepted() -> None:
    assert len(DataLoader(ArrayDataset(*make_xy()), batch_size=np.int64(5))) == 2


def test_empty_dataset_and_bad_transform_are_value_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        DataLoader(ArrayDataset(np.zeros((0, 3))))
    with pytest.raises(ValueError, match="transform must be callable"):
        DataLoader(ArrayDataset(*make_xy()), transform=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="__len__"):
        DataLoader(42)


# --------------------------------------------------------------------------- random_split


def test_random_split_by_fractions_is_disjoint_complete_and_seeded() -> None:
    ds = ArrayDataset(*make_xy(101))
    train, test = random_split(ds, [0.8, 0.2], seed=0)
    assert isinstance(train, Subset) and (len(train), len(test)) == (81, 20)
    all_indices = np.concatenate([train.indices, test.indices])
    assert sorted(all_indices.tolist()) == list(range(101))
    again = random_split(ds, [0.8, 0.2], seed=0)
    np.testing.assert_array_equal(again[0].indices, train.indices)
    other = random_split(ds, [0.8, 0.2], seed=1)
    assert not np.array_equal(other[0].indices, train.indices)


def test_random_split_by_lengths_and_subset_indexing() -> None:
    x, y = make_xy(10)
    a, b, c = random_split(ArrayDataset(x, y), [5, 3, 2], seed=3)
    assert [len(a), len(b), len(c)] == [5, 3, 2]
    xi, yi = b[0]
    assert yi == b.indices[0]
    xs, ys = b[np.array([2, 0])]
    assert ys.tolist() == [b.indices[2], b.indices[0]]
    batches = list(DataLoader(a, batch_size=2))
    assert np.concatenate([yb for _, yb in batches]).tolist() == a.indices.tolist()


@pytest.mark.parametrize("parts", [[0.5, 0.4], [6, 5], [-1, 11], [], [0.5, 0.6]])
def test_random_split_rejects_bad_parts(parts: list[float]) -> None:
    with pytest.raises(ValueError, match="random_split"):
        random_split(ArrayDataset(*make_xy(10)), parts, seed=0)


def test_subset_checks_indices() -> None:
    ds = ArrayDataset(*make_xy(4))
    with pytest.raises(IndexError):
        Subset(ds, [0, 4])
    with pytest.raises(ValueError):
        Subset(ds, [[0, 1]])
