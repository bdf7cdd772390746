"""chainrule.distributed in one plain process (no mpirun, mpi4py not needed): size 1."""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pytest

import chainrule.distributed as dist
from chainrule import Tensor, nn, optim
from chainrule.data import ArrayDataset, DataLoader
from chainrule.distributed import _mpi
from chainrule.random import manual_seed
from chainrule.train import CSVLogger, TBPTTTrainer, Trainer

LAUNCH = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")


@pytest.fixture
def fresh(monkeypatch):
    """A process that is not under mpirun, with a communicator not yet started."""
    for var in LAUNCH:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setitem(_mpi._state, "local", None)
    monkeypatch.setitem(_mpi._state, "comm", None)
    yield
    monkeypatch.setitem(_mpi._state, "local", None)


def test_one_plain_process_is_rank_0_of_1(fresh):
    dist.init()
    assert (dist.rank(), dist.size(), dist.local_rank(), dist.local_size()) == (0, 1, 0, 1)
    assert dist.is_primary() and dist.comm() is None and not dist.launched_by_mpi()
    assert dist.allreduce_mean(2.5) == 2.5
    assert dist.allreduce_mean({"loss": 1.0, "tag": "a"}) == {"loss": 1.0, "tag": "a"}
    a = np.arange(4.0)
    assert dist.allreduce_(a) is a and a.tolist() == [0, 1, 2, 3]
    assert dist.broadcast_object({"x": 1}) == {"x": 1}
    assert dist.allgather_object(7) == [7]
    dist.barrier()


def test_under_mpirun_without_mpi4py_the_error_names_the_extra(fresh, monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import fails
    with pytest.raises(ImportError, match=r'pip install "chainrule\[mpi\]"'):
        dist.init()


def test_agree_raises_the_message(fresh):
    dist.agree(None, "check")
    with pytest.raises(ValueError, match="check: bad on rank 0"):
        dist.agree("bad on rank 0", "check")


def _train(opt_wrap, steps=5):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 2))
    model = nn.Sequential(nn.Dense(3, 2))
    model.load_state_dict({"0.weight": np.full((2, 3), 0.1, np.float32),
                           "0.bias": np.zeros(2, np.float32)})
    opt = opt_wrap(optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    for _ in range(steps):
        opt.zero_grad()
        (((model(Tensor(x)) - Tensor(y)) ** 2).mean()).backward()
        opt.step()
    return model, opt


def test_distributed_optimizer_with_one_rank_is_the_optimizer(fresh):
    plain, _ = _train(lambda o: o)
    wrapped, opt = _train(dist.DistributedOptimizer)
    for a, b in zip(plain.parameters(), wrapped.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert opt.bytes_sent == 0  # nothing is copied with one process
    assert opt.param_groups[0]["lr"] == 0.1
    opt.param_groups[0]["lr"] = 0.05  # schedules reach the wrapped optimizer
    assert opt.optimizer.param_groups[0]["lr"] == 0.05
    assert set(opt.state_dict()) == {"state", "param_groups"}
    assert "DistributedOptimizer(" in repr(opt)


def test_distributed_optimizer_rejects_bad_arguments():
    sgd = optim.SGD(nn.Dense(2, 2).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="compression"):
        dist.DistributedOptimizer(sgd, compression="int8")
    with pytest.raises(TypeError, match="param_groups"):
        dist.DistributedOptimizer(object())


def test_broadcasts_are_no_ops_with_one_rank(fresh):
    model, opt = _train(dist.DistributedOptimizer, steps=1)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    dist.broadcast_parameters(model)
    dist.broadcast_optimizer_state(opt)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_sampler_shards_are_disjoint_strided_and_cover_the_epoch():
    shards = [dist.DistributedSampler(10, rank=r, size=3, seed=4) for r in range(3)]
    for s in shards:
        s.set_epoch(1)
    order = shards[0].global_order()
    assert len(order) == 12 and set(order) == set(range(10))  # padded with the first two
    for r, s in enumerate(shards):
        assert len(s) == 4 and s.indices().tolist() == order[r::3].tolist()
    again = dist.DistributedSampler(10, rank=0, size=3, seed=4)
    again.set_epoch(1)
    assert again.indices().tolist() == shards[0].indices().tolist()
    again.set_epoch(2)
    assert again.indices().tolist() != shards[0].indices().tolist()
    cut = dist.DistributedSampler(10, rank=2, size=3, seed=4, drop_last=True)
    assert len(cut) == 3 and len(cut.global_order()) == 9
    assert list(dist.DistributedSampler(5, rank=1, size=2, shuffle=False)) == [1, 3, 0]


def test_sampler_rejects_bad_ranks_and_sizes():
    with pytest.raises(ValueError, match="rank must be in"):
        dist.DistributedSampler(10, rank=2, size=2)
    with pytest.raises(ValueError, match="at least one sample"):
        dist.DistributedSampler(0, rank=0, size=1)
    with pytest.raises(ValueError, match="cannot be split"):
        dist.DistributedSampler(1, rank=0, size=2, drop_last=True)


def test_loader_walks_the_epochs_and_matches_a_bigger_batch():
    x = np.arange(24.0).reshape(12, 2)
    data = ArrayDataset(x, np.arange(12))
    halves = [dist.DistributedLoader(data, 3, seed=1, rank=r, size=2) for r in range(2)]
    whole = dist.DistributedLoader(data, 6, seed=1, rank=0, size=1)
    assert len(halves[0]) == 2 and len(whole) == 2
    for _epoch in range(2):
        for (xa, ya), (xb, yb), (xw, yw) in zip(*halves, whole):
            assert sorted(ya.tolist() + yb.tolist()) == sorted(yw.tolist())
            assert ya.tolist() == yw[0::2].tolist() and yb.tolist() == yw[1::2].tolist()
            np.testing.assert_array_equal(np.concatenate([xa, xb]),
                                          np.concatenate([xw[0::2], xw[1::2]]))
    assert halves[0].epochs == 2
    assert "rank=1, size=2" in repr(halves[1])
    with pytest.raises(ValueError, match="batch_size"):
        dist.DistributedLoader(data, 0)
    with pytest.raises(ValueError, match="needs a seed"):
        dist.DistributedLoader(data, 2, seed=None)


def test_one_rank_loader_yields_the_data_loaders_batches():
    data = ArrayDataset(np.arange(20.0).reshape(10, 2), np.arange(10))
    mine = dist.DistributedLoader(data, 4, seed=7, rank=0, size=1)
    theirs = DataLoader(data, 4, shuffle=True, seed=7)
    for _epoch in range(3):
        for (xa, ya), (xb, yb) in zip(mine, theirs, strict=True):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)


def _problem(n=48):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4))
    return x, (x @ rng.normal(size=(4, 3))).argmax(1)


def _fit(trainer_cls, seed=5, **fit):
    manual_seed(0)
    model = nn.Sequential(nn.Dense(4, 8), nn.ReLU(), nn.Dense(8, 3))
    trainer = trainer_cls(model, nn.CrossEntropyLoss(),
                          optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    history = trainer.fit(_problem(), epochs=2, batch_size=8, seed=seed, verbose=False, **fit)
    return model, trainer, history


def test_distributed_trainer_with_one_rank_trains_as_the_trainer(fresh, tmp_path):
    plain, _, h1 = _fit(Trainer)
    log = tmp_path / "log.csv"
    model, trainer, h2 = _fit(dist.DistributedTrainer, callbacks=[CSVLogger(log)])
    assert isinstance(trainer.optimizer, dist.DistributedOptimizer)
    for a, b in zip(plain.parameters(), model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert h1.history["loss"] == h2.history["loss"]
    assert log.is_file()  # the primary rank keeps the writers


def test_shard_splits_arrays_alike():
    x, y = np.arange(7), np.arange(7) * 10
    xs, ys = dist.shard((x, y), rank=1, size=3)
    assert xs.tolist() == [1, 4] and ys.tolist() == [10, 40]


def test_trainer_distributed_keyword_builds_the_distributed_trainer(fresh):
    plain, _, h1 = _fit(Trainer)
    model, trainer, h2 = _fit(lambda *a, **k: Trainer(*a, distributed=True, **k))
    assert type(trainer) is dist.DistributedTrainer
    assert isinstance(trainer.optimizer, dist.DistributedOptimizer)
    for a, b in zip(plain.parameters(), model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert h1.history["loss"] == h2.history["loss"]
    assert type(Trainer(model, nn.CrossEntropyLoss(), distributed=False)) is Trainer
    assert type(dist.DistributedTrainer(model, distributed=True)) is dist.DistributedTrainer
    with pytest.raises(TypeError, match="only Trainer itself has a data-parallel version"):
        TBPTTTrainer(model, nn.CrossEntropyLoss(), distributed=True)
    # help(Trainer) still shows the arguments (the class has a __new__ for the keyword)
    params = list(inspect.signature(Trainer).parameters)
    assert params[:3] == ["model", "loss", "optimizer"] and params[-1] == "distributed"


def test_trainer_distributed_keyword_without_the_package_names_it():
    # in a fresh interpreter that never imported chainrule.distributed
    code = ("from chainrule import nn\nfrom chainrule.train import Trainer\n"
            "try:\n    Trainer(nn.Dense(2, 1), distributed=True)\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "needs chainrule.distributed" in out and 'pip install "chainrule[mpi]"' in out


def test_sync_batchnorm_with_one_rank_is_batch_norm(fresh):
    cr_x = np.random.default_rng(0).normal(size=(8, 3, 4, 4))
    manual_seed(1)
    plain = nn.Sequential(nn.Conv2d(3, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Dense(8, 2),
                          nn.BatchNorm1d(2))
    manual_seed(1)
    synced = dist.convert_sync_batchnorm(
        nn.Sequential(nn.Conv2d(3, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Dense(8, 2),
                      nn.BatchNorm1d(2)))
    assert [type(m).__name__ for m in synced.modules()].count("SyncBatchNorm") == 2
    a, b = plain(Tensor(cr_x)), synced(Tensor(cr_x))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    for k, v in plain.state_dict().items():
        np.testing.assert_array_equal(v, synced.state_dict()[k])  # running statistics too
    with pytest.raises(ValueError, match="channels"):
        dist.SyncBatchNorm(5)(Tensor(np.ones((2, 4))))


def test_a_sparse_gradient_is_refused_with_a_clear_message():
    from chainrule.distributed.overlap import GradientBucket

    emb = nn.Embedding(10, 3, sparse=True)
    emb(Tensor(np.array([1, 2, 2]))).sum().backward()
    bucket = GradientBucket([emb.weight], np.dtype(np.float32), fp16=False)
    with pytest.raises(TypeError, match="sparse=False"):
        bucket.pack(2)
