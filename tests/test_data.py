"""utils.data: datasets, samplers, default_collate/default_convert, DataLoader batching and
shuffling, and (a few, small) worker-process runs: the same batches with workers on and off,
worker_init_fn and get_worker_info, iterable sharding, persistent workers, a worker that raises."""

import collections
import os

import numpy as np
import pytest

import rustensor as torch
from rustensor.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    StackDataset,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
)

try:
    import torch as _real_torch

    if getattr(_real_torch, "__file__", "").startswith(os.path.dirname(torch.__file__)):
        _real_torch = None
except Exception:
    _real_torch = None

needs_torch = pytest.mark.skipif(_real_torch is None, reason="torch not importable")

Point = collections.namedtuple("Point", "x y")


def _ds(n=10):
    x = torch.arange(2 * n, dtype=torch.float32).reshape(n, 2)
    return TensorDataset(x, torch.arange(n))


# ---------------------------------------------------------------------------- datasets

def test_tensor_dataset_and_errors():
    ds = _ds(5)
    assert len(ds) == 5
    x, y = ds[3]
    assert x.tolist() == [6.0, 7.0] and y.item() == 3
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(torch.zeros(3), torch.zeros(4))


def test_concat_subset_stack_chain():
    a, b = list(range(3)), list(range(10, 15))

    class L(Dataset):
        def __init__(self, v):
            self.v = v

        def __len__(self):
            return len(self.v)

        def __getitem__(self, i):
            return self.v[i]

    c = L(a) + L(b)
    assert isinstance(c, ConcatDataset) and len(c) == 8
    assert [c[i] for i in range(8)] == a + b and c[-1] == 14 and c.cumulative_sizes == [3, 8]
    with pytest.raises(ValueError, match="absolute value of index should not exceed dataset length"):
        c[-9]
    s = Subset(c, [7, 0, 4])
    assert len(s) == 3 and [s[i] for i in range(3)] == [14, 0, 11] and s.__getitems__([0, 2]) == [14, 11]
    st = StackDataset(L(a), L([5, 6, 7]))
    assert st[1] == (1, 6) and len(st) == 3
    assert StackDataset(p=L(a), q=L(a))[2] == {"p": 2, "q": 2}
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        StackDataset(L(a), L(b))

    class It(IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

    assert list(It(2) + It(3)) == [0, 1, 0, 1, 2]
    assert isinstance(It(1) + It(1), ChainDataset)


def test_random_split_lengths_fractions_and_generator():
    ds = list(range(10))
    parts = random_split(ds, [3, 7], generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    again = random_split(ds, [3, 7], generator=torch.Generator().manual_seed(0))
    assert again[0].indices == parts[0].indices
    # fractions: floors, then the remainder one each from the first split on (torch's rule)
    assert [len(p) for p in random_split(range(11), [0.5, 0.25, 0.25])] == [6, 3, 2]
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length of the input dataset!"):
        random_split(ds, [3, 3])
    torch.manual_seed(5)
    a = random_split(ds, [5, 5])[0].indices
    torch.manual_seed(5)
    assert random_split(ds, [5, 5])[0].indices == a


# ---------------------------------------------------------------------------- samplers

def test_sequential_and_batch_sampler():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    assert list(BatchSampler(range(7), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3 and len(BatchSampler(range(7), 3, True)) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but got batch_size=0"):
        BatchSampler(range(3), 0, False)


def test_random_sampler_permutation_replacement_and_num_samples():
    g = torch.Generator().manual_seed(1)
    perm = list(RandomSampler(range(9), generator=g))
    assert sorted(perm) == list(range(9))
    assert list(RandomSampler(range(9), generator=torch.Generator().manual_seed(1))) == perm
    long = list(RandomSampler(range(4), num_samples=10, generator=g))
    assert len(long) == 10 and sorted(long[:4]) == [0, 1, 2, 3] and sorted(long[4:8]) == [0, 1, 2, 3]
    rep = list(RandomSampler(range(3), replacement=True, num_samples=70, generator=g))
    assert len(rep) == 70 and set(rep) == {0, 1, 2}
    with pytest.raises(ValueError, match="num_samples should be a positive integer value, but got num_samples=0"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(range(3), replacement=1)


def test_subset_and_weighted_samplers():
    idx = [10, 20, 30, 40]
    out = list(SubsetRandomSampler(idx, generator=torch.Generator().manual_seed(0)))
    assert sorted(out) == idx
    w = WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 400, generator=torch.Generator().manual_seed(0))
    draws = np.array(list(w))
    assert set(draws.tolist()) <= {1, 3} and 0.65 < (draws == 3).mean() < 0.85 and len(w) == 400
    no_rep = list(WeightedRandomSampler([1.0, 1.0, 1.0], 3, replacement=False))
    assert sorted(no_rep) == [0, 1, 2]
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1.0]], 1)


# ---------------------------------------------------------------------------- collate

def test_default_collate_nested_structures():
    batch = [
        {"img": np.full((2, 3), i, dtype=np.float32), "label": i, "w": 0.5 * i, "name": f"s{i}",
         "pair": (torch.tensor([i, i]), Point(i, np.int64(2 * i))), "lst": [i, i + 1]}
        for i in range(3)
    ]
    out = default_collate(batch)
    assert set(out) == {"img", "label", "w", "name", "pair", "lst"}
    assert out["img"].dtype == torch.float32 and tuple(out["img"].shape) == (3, 2, 3)
    np.testing.assert_array_equal(out["img"].numpy()[:, 0, 0], [0, 1, 2])
    assert out["label"].dtype == torch.int64 and out["label"].tolist() == [0, 1, 2]
    assert out["w"].dtype == torch.float64 and out["w"].tolist() == [0.0, 0.5, 1.0]
    assert out["name"] == ["s0", "s1", "s2"]
    t, p = out["pair"]  # tuples come back as lists, namedtuples keep their type (torch's rules)
    assert isinstance(out["pair"], list) and t.tolist() == [[0, 0], [1, 1], [2, 2]]
    assert isinstance(p, Point) and p.x.tolist() == [0, 1, 2] and p.y.tolist() == [0, 2, 4]
    assert [v.tolist() for v in out["lst"]] == [[0, 1, 2], [1, 2, 3]]
    assert default_collate([np.float32(1.5), np.float32(2.5)]).dtype == torch.float32
    assert tuple(default_collate([torch.tensor(1.0), torch.tensor(2.0)]).shape) == (2,)  # 0-d samples
    assert tuple(default_collate([torch.zeros(0, 2), torch.zeros(0, 2)]).shape) == (2, 0, 2)  # empty samples


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found <class 'object'>"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="found <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal size, but got \[2\] at entry 0 and \[3\] at entry 1"):
        default_collate([torch.zeros(2), torch.zeros(3)])


def test_default_convert():
    out = default_convert({"a": np.arange(3), "b": (np.float64(2.0), "s"), "c": Point(np.ones(1), 3)})
    assert out["a"].dtype == torch.int64 and out["a"].tolist() == [0, 1, 2]
    assert isinstance(out["b"], list) and out["b"][0].dtype == torch.float64 and out["b"][1] == "s"
    assert isinstance(out["c"], Point) and out["c"].x.tolist() == [1.0] and out["c"].y == 3
    assert default_convert(7) == 7


# ---------------------------------------------------------------------------- DataLoader (this process)

def test_batches_and_drop_last_and_len():
    dl = DataLoader(_ds(10), batch_size=4)
    batches = list(dl)
    assert len(dl) == 3 and [tuple(b[0].shape) for b in batches] == [(4, 2), (4, 2), (2, 2)]
    assert torch.cat([b[1] for b in batches]).tolist() == list(range(10))
    dl = DataLoader(_ds(10), batch_size=4, drop_last=True)
    assert len(dl) == 2 and len(list(dl)) == 2
    # batch_size=None: samples one at a time, converted but not stacked
    x, y = next(iter(DataLoader(_ds(3), batch_size=None)))
    assert tuple(x.shape) == (2,) and y.item() == 0


def test_shuffle_reproducible_with_seeded_generator_and_manual_seed():
    def epoch(dl):
        return [b[1].tolist() for b in dl]

    a = epoch(DataLoader(_ds(12), batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(7)))
    b = epoch(DataLoader(_ds(12), batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(7)))
    assert a == b and sorted(sum(a, [])) == list(range(12)) and sum(a, []) != list(range(12))
    dl = DataLoader(_ds(12), batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(7))
    assert epoch(dl) == a and epoch(dl) != a  # the generator advances: the next epoch differs
    torch.manual_seed(3)
    c = epoch(DataLoader(_ds(12), batch_size=5, shuffle=True))
    torch.manual_seed(3)
    assert epoch(DataLoader(_ds(12), batch_size=5, shuffle=True)) == c


def test_sampler_batch_sampler_and_collate_fn_options():
    dl = DataLoader(_ds(6), sampler=[5, 4, 3], batch_size=2)
    assert [b[1].tolist() for b in dl] == [[5, 4], [3]]
    dl = DataLoader(_ds(6), batch_sampler=[[0, 2], [1, 3, 5]])
    assert [b[1].tolist() for b in dl] == [[0, 2], [1, 3, 5]] and len(dl) == 2
    dl = DataLoader(list(range(5)), batch_size=2, collate_fn=lambda b: sum(b))
    assert list(dl) == [1, 5, 4]
    dl = DataLoader(_ds(4), batch_size=2, pin_memory=True)
    assert len(list(dl)) == 2


def test_dataloader_argument_errors():
    ds = _ds(4)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified in multiprocessing"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="batch_size=None option disables auto-batching and is mutually exclusive with drop_last"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="expected unspecified shuffle option, but got shuffle=True"):
        DataLoader(_Stream(3), shuffle=True)
    dl = DataLoader(ds)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
        dl.batch_size = 3


class _Stream(IterableDataset):
    """0..n-1, each worker taking every num_workers-th item (sharded by get_worker_info)."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n


def test_iterable_dataset_in_process():
    assert [b.tolist() for b in DataLoader(_Stream(5), batch_size=2)] == [[0, 1], [2, 3], [4]]
    assert [b.tolist() for b in DataLoader(_Stream(5), batch_size=2, drop_last=True)] == [[0, 1], [2, 3]]
    assert len(DataLoader(_Stream(5), batch_size=2)) == 3
    assert get_worker_info() is None


@needs_torch
def test_collate_matches_torch():
    T = _real_torch
    batch = [{"a": np.ones((2,), np.float32) * i, "b": (i, 1.5 * i), "s": "x"} for i in range(3)]
    mine = default_collate(batch)
    theirs = T.utils.data.default_collate(batch)
    assert str(mine["a"].dtype).split(".")[-1] == str(theirs["a"].dtype).split(".")[-1]
    np.testing.assert_array_equal(mine["a"].numpy(), theirs["a"].numpy())
    assert type(mine["b"]) is type(theirs["b"])
    for m, t in zip(mine["b"], theirs["b"]):
        assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1] and m.tolist() == t.tolist()


# ---------------------------------------------------------------------------- worker processes
# Few and small: each DataLoader with workers starts processes (about a second on 2 cores).

class _Failing(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 3:
            raise KeyError(f"sample {i} is missing")
        return np.float32(i)


def _record_worker(worker_id):
    info = get_worker_info()
    assert info is not None and info.id == worker_id and info.num_workers == 2
    np.random.seed(info.seed % 2**32)


def test_workers_give_the_same_batches_as_the_main_process():
    # the main process has used the engine's thread pool first: workers must still start safely
    x = torch.randn(256, 256)
    (x @ x).sum().item()
    ds = _ds(23)
    kw = dict(batch_size=4, shuffle=True)
    single = [(b[0].numpy().copy(), b[1].tolist()) for b in DataLoader(ds, generator=torch.Generator().manual_seed(11), **kw)]
    dl = DataLoader(ds, generator=torch.Generator().manual_seed(11), num_workers=2, worker_init_fn=_record_worker,
                    prefetch_factor=3, persistent_workers=True, **kw)
    multi = [(b[0].numpy().copy(), b[1].tolist()) for b in dl]
    assert [m[1] for m in multi] == [s[1] for s in single]
    for (mx, _), (sx, _) in zip(multi, single):
        np.testing.assert_array_equal(mx, sx)
    # persistent workers serve a second epoch (a new shuffle from the advanced generator)
    second = [b[1].tolist() for b in dl]
    assert sorted(sum(second, [])) == list(range(23)) and second != [m[1] for m in multi]
    # an iterable dataset sharded with get_worker_info: each item once, interleaved by worker
    assert [b.tolist() for b in DataLoader(_Stream(7), batch_size=2, num_workers=2)] == [[0, 2], [1, 3], [4, 6], [5]]


def test_worker_exception_reraises_with_traceback():
    dl = DataLoader(_Failing(), batch_size=2, num_workers=2)
    with pytest.raises(KeyError) as ei:
        list(dl)
    msg = str(ei.value)
    assert "Caught KeyError in DataLoader worker process 1." in msg
    assert "Original Traceback (most recent call last):" in msg and "sample 3 is missing" in msg
    assert "__getitem__" in msg


def test_unpicklable_collate_fn_explains_the_start_method():
    dl = DataLoader(_ds(4), batch_size=2, num_workers=1, collate_fn=lambda b: b)
    with pytest.raises(RuntimeError, match="must be picklable .* multiprocessing_context='fork'"):
        next(iter(dl))


class _SlowFirst(Dataset):
    """Sample 0 takes a second; the others are immediate."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 0:
            import time

            time.sleep(1.0)
        return i


def test_in_order_false_and_timeout():
    out = [b.item() for b in DataLoader(_SlowFirst(), batch_size=1, num_workers=2, in_order=False)]
    assert sorted(out) == [0, 1, 2, 3] and out[0] != 0  # the slow sample does not hold the others back
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        list(DataLoader(_SlowFirst(), batch_size=1, num_workers=1, timeout=0.3))


def _sum_batch(batch):
    return sum(int(b[1]) for b in batch)


def test_explicit_fork_context_after_the_thread_pool_ran():
    # workers drop to one engine thread, so a forked child does not wait on the parent's pool
    x = torch.randn(256, 256)
    (x @ x).sum().item()
    dl = DataLoader(_ds(6), batch_size=3, num_workers=1, multiprocessing_context="fork", timeout=20,
                    collate_fn=lambda b: _sum_batch(b))  # a lambda: only a forked worker can run it
    assert list(dl) == [0 + 1 + 2, 3 + 4 + 5]
