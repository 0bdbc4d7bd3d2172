"""Sorting and selection (sort, argsort, topk, kthvalue, median, mode, unique, bincount,
histc, searchsorted, bucketize, multinomial) against NumPy references, with gradients."""

import numpy as np
import pytest

import rustensor as torch
from conftest import LAYOUTS, assert_close, random_array
from conftest import make_tensor as _make_tensor
from test_autograd_gradcheck import run


def make_tensor(a, layout="contiguous"):
    # conftest.make_tensor passes 0-d arrays through np.ascontiguousarray, which makes them 1-d
    if np.ndim(a) == 0:
        return torch.tensor(np.asarray(a)), np.asarray(a).copy()
    return _make_tensor(a, layout)

SHAPES = [(), (0,), (5,), (3, 4), (2, 0, 3), (2, 3, 4)]


def _dims(shape):
    return [None] if not shape else list(range(-len(shape), len(shape)))


def _arr(shape, dtype=torch.float32, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    if ties:
        return np.array(rng.integers(0, 3, size=shape), dtype=np.float32 if dtype == torch.float32 else np.int64)
    return random_array(rng, shape, dtype)


def _ref_sort(a, axis, descending):
    """A stable sort with torch's tie order (original order kept) and NaN as the largest."""
    if descending:
        n = a.shape[axis]
        order = (n - 1) - np.flip(np.argsort(np.flip(a, axis), axis=axis, kind="stable"), axis)
    else:
        order = np.argsort(a, axis=axis, kind="stable")
    return np.take_along_axis(a, order, axis), order


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("descending", [False, True])
def test_sort_matches_stable_numpy(shape, layout, descending):
    a = _arr(shape, ties=True)
    t, ref = make_tensor(a, layout)
    for d in _dims(shape):
        if not shape:
            v, i = torch.sort(t, descending=descending)
            assert_close(v, ref)
            assert_close(i, np.array(0))
            continue
        v, i = t.sort(d, descending=descending, stable=True)
        rv, ri = _ref_sort(ref, d, descending)
        assert_close(v, rv)
        assert_close(i, ri)
        assert_close(torch.argsort(t, d, descending=descending), ri)


def test_sort_places_nan_as_largest_and_int_dtypes():
    t = torch.tensor([3.0, float("nan"), 1.0, 2.0])
    assert np.isnan(t.sort().values.numpy()[-1]) and np.isnan(t.sort(descending=True).values.numpy()[0])
    assert t.sort(descending=True).indices.tolist() == [1, 0, 3, 2]
    i = torch.tensor([[3, 1, 2], [0, -5, 7]], dtype=torch.int32)
    v, idx = i.sort(1)
    assert v.dtype == torch.int32 and v.tolist() == [[1, 2, 3], [-5, 0, 7]] and idx.dtype == torch.int64
    b = torch.tensor([True, False, True])
    assert b.sort().values.tolist() == [False, True, True]


@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_sort_topk_gradients(layout):
    run(lambda x: x.sort(-1)[0], [((3, 4), "any")], layout)
    run(lambda x: x.sort(0, descending=True).values, [((3, 4), "any")], layout)
    run(lambda x: torch.topk(x, 2, dim=1).values, [((3, 4), "any")], layout)
    run(lambda x: x.kthvalue(2, 0).values, [((3, 4), "any")], layout)
    run(lambda x: x.median(1).values, [((3, 5), "any")], layout)
    run(lambda x: x.median(), [((3, 4), "any")], layout)


@pytest.mark.parametrize("shape,dim", [((6,), 0), ((3, 5), 1), ((3, 5), 0), ((2, 3, 4), -1)])
@pytest.mark.parametrize("largest", [True, False])
def test_topk(shape, dim, largest):
    a = _arr(shape, seed=3)
    t = torch.tensor(a)
    for k in range(0, shape[dim] + 1):
        v, i = torch.topk(t, k, dim, largest)
        rv, ri = _ref_sort(a, dim, largest)
        sl = [slice(None)] * len(shape)
        sl[dim] = slice(0, k)
        assert_close(v, rv[tuple(sl)])
        np.testing.assert_array_equal(np.take_along_axis(a, i.numpy(), dim), v.numpy())
    with pytest.raises(RuntimeError, match="topk"):
        t.topk(shape[dim] + 1, dim)


def test_kthvalue_and_median_lower():
    rng = np.random.default_rng(5)
    a = np.array(rng.standard_normal((4, 6)), dtype=np.float32)
    t = torch.tensor(a)
    for k in range(1, 7):
        v, i = torch.kthvalue(t, k, 1)
        assert_close(v, np.sort(a, 1)[:, k - 1])
        np.testing.assert_array_equal(a[np.arange(4), i.numpy()], v.numpy())
    # torch's median is the lower of the two middle values for an even count
    assert_close(t.median(), np.array(np.sort(a.reshape(-1))[(a.size - 1) // 2]))
    v, i = t.median(dim=1, keepdim=True)
    assert_close(v, np.sort(a, 1)[:, 2:3])
    assert tuple(i.shape) == (4, 1)
    v, i = torch.median(t, 0)
    assert_close(v, np.sort(a, 0)[1])
    with pytest.raises(RuntimeError, match="kthvalue"):
        t.kthvalue(7, 1)
    with pytest.raises(IndexError):
        torch.zeros(2, 0).median(1)
    assert np.isnan(torch.zeros(0).median().item())


def test_median_nan_and_nanmedian():
    t = torch.tensor([[1.0, float("nan"), 3.0, 2.0], [4.0, 1.0, 2.0, 3.0]])
    v, i = t.median(1)
    assert np.isnan(v[0].item()) and i[0].item() == 1 and v[1].item() == 2.0
    v, i = torch.nanmedian(t, 1)
    assert v.tolist() == [2.0, 2.0]
    assert np.isnan(t.median().item())
    assert torch.nanmedian(t).item() == 2.0


def _ref_mode(line):
    vals, counts = np.unique(line, return_counts=True)
    best = vals[np.argmax(counts)]
    return best, np.nonzero(line == best)[0][-1]


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_mode(dim):
    a = np.array(np.random.default_rng(2).integers(0, 4, size=(5, 7)), dtype=np.int64)
    t = torch.tensor(a)
    v, i = torch.mode(t, dim)
    m = np.moveaxis(a, dim, -1)
    ref = [_ref_mode(line) for line in m.reshape(-1, m.shape[-1])]
    np.testing.assert_array_equal(v.numpy(), [r[0] for r in ref])
    np.testing.assert_array_equal(i.numpy(), [r[1] for r in ref])
    assert torch.tensor(3.0).mode().values.item() == 3.0


@pytest.mark.parametrize("shape", SHAPES)
def test_unique(shape):
    a = _arr(shape, ties=True, seed=7)
    t, ref = make_tensor(a, "transposed" if len(shape) >= 2 else "contiguous")
    u, inv, cnt = torch.unique(t, return_inverse=True, return_counts=True)
    ru, rinv, rcnt = np.unique(ref, return_inverse=True, return_counts=True)
    assert_close(u, ru)
    assert_close(inv, rinv.reshape(ref.shape))
    assert_close(cnt, rcnt)
    assert_close(t.unique(), ru)


def test_unique_dim_and_consecutive():
    a = np.array([[1, 2], [0, 1], [1, 2], [0, 1], [3, 3]], dtype=np.int64)
    t = torch.tensor(a)
    u, inv, cnt = torch.unique(t, dim=0, return_inverse=True, return_counts=True)
    ru, rinv, rcnt = np.unique(a, axis=0, return_inverse=True, return_counts=True)
    assert_close(u, ru)
    assert_close(inv, rinv.reshape(-1))
    assert_close(cnt, rcnt)
    x = torch.tensor([1, 1, 2, 2, 3, 1, 1, 2])
    out, inv, cnt = torch.unique_consecutive(x, return_inverse=True, return_counts=True)
    assert out.tolist() == [1, 2, 3, 1, 2] and inv.tolist() == [0, 0, 1, 1, 2, 3, 3, 4] and cnt.tolist() == [2, 2, 1, 2, 1]
    m = torch.tensor([[1, 1], [1, 1], [2, 0], [1, 1]])
    assert torch.unique_consecutive(m, dim=0).tolist() == [[1, 1], [2, 0], [1, 1]]


def test_bincount():
    rng = np.random.default_rng(0)
    a = np.array(rng.integers(0, 6, size=20), dtype=np.int64)
    w = np.array(rng.standard_normal(20), dtype=np.float32)
    t = torch.tensor(a)
    assert_close(torch.bincount(t), np.bincount(a))
    assert_close(t.bincount(minlength=10), np.bincount(a, minlength=10))
    assert_close(torch.bincount(t, torch.tensor(w)), np.bincount(a, w).astype(np.float32), rtol=1e-5, atol=1e-5)
    assert_close(torch.bincount(torch.zeros(0, dtype=torch.int64)), np.zeros(0, np.int64))
    with pytest.raises(RuntimeError, match="bincount"):
        torch.bincount(torch.tensor([-1, 2]))
    with pytest.raises(RuntimeError, match="bincount"):
        torch.bincount(torch.tensor([[1, 2]]))
    with pytest.raises(NotImplementedError):
        torch.bincount(torch.tensor([1.0, 2.0]))
    run(lambda w_: torch.bincount(torch.tensor([0, 2, 2, 1]), w_), [((4,), "any")])


def test_histc():
    rng = np.random.default_rng(1)
    a = np.array(rng.uniform(-2, 3, size=50), dtype=np.float32)
    t = torch.tensor(a)
    assert_close(torch.histc(t, 7, -1, 2), np.histogram(a[(a >= -1) & (a <= 2)], 7, (-1, 2))[0].astype(np.float32))
    ref = np.histogram(a, 10, (a.min(), a.max()))[0].astype(np.float32)
    assert_close(t.histc(10), ref)
    assert_close(torch.histc(torch.tensor([1.0, 1.0]), 4), np.array([0, 0, 2, 0], np.float32))
    with pytest.raises(NotImplementedError):
        torch.histc(torch.tensor([1, 2]))


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_and_bucketize(right):
    rng = np.random.default_rng(4)
    seq = np.sort(np.array(rng.integers(0, 10, size=8), dtype=np.float32))
    vals = np.array(rng.integers(-1, 11, size=(3, 5)), dtype=np.float32)
    side = "right" if right else "left"
    r = torch.searchsorted(torch.tensor(seq), torch.tensor(vals), right=right)
    assert_close(r, np.searchsorted(seq, vals, side=side))
    assert_close(torch.searchsorted(torch.tensor(seq), torch.tensor(vals), side=side), np.searchsorted(seq, vals, side=side))
    assert_close(torch.bucketize(torch.tensor(vals), torch.tensor(seq), right=right), np.searchsorted(seq, vals, side=side))
    # batched sequences: one sorted row per row of values
    seq2 = np.sort(np.array(rng.standard_normal((3, 6)), dtype=np.float32), 1)
    v2 = np.array(rng.standard_normal((3, 4)), dtype=np.float32)
    r2 = torch.searchsorted(torch.tensor(seq2), torch.tensor(v2), right=right)
    assert_close(r2, np.stack([np.searchsorted(s, v, side=side) for s, v in zip(seq2, v2)]))
    assert torch.searchsorted(torch.tensor(seq), torch.tensor(vals), out_int32=True).dtype == torch.int32
    with pytest.raises(RuntimeError):
        torch.searchsorted(torch.tensor(seq), torch.tensor(vals), side="left", right=True)


def test_multinomial_with_generator():
    p = torch.tensor([[0.1, 0.0, 0.6, 0.3], [0.0, 0.5, 0.5, 0.0]])
    g = torch.Generator().manual_seed(3)
    a = torch.multinomial(p, 200, replacement=True, generator=g)
    b = torch.multinomial(p, 200, replacement=True, generator=torch.Generator().manual_seed(3))
    assert a.dtype == torch.int64 and tuple(a.shape) == (2, 200)
    assert a.tolist() == b.tolist()
    assert not (a[0] == 1).any() and not (a[1] == 0).any() and not (a[1] == 3).any()
    freq = np.bincount(a[0].numpy(), minlength=4) / 200
    assert abs(freq[2] - 0.6) < 0.15
    w = torch.multinomial(p, 2, generator=g)
    for row, probs in zip(w.tolist(), p.tolist()):
        assert len(set(row)) == 2 and all(probs[c] > 0 for c in row)
    assert tuple(torch.multinomial(torch.tensor([1.0, 2.0, 3.0]), 3).shape) == (3,)
    with pytest.raises(RuntimeError, match="multinomial"):
        torch.multinomial(p, 3)
    with pytest.raises(RuntimeError, match="multinomial"):
        torch.multinomial(torch.tensor([-1.0, 2.0]), 1)
    torch.manual_seed(11)
    x = torch.multinomial(torch.tensor([0.2, 0.3, 0.5]), 10, True)
    torch.manual_seed(11)
    assert x.tolist() == torch.multinomial(torch.tensor([0.2, 0.3, 0.5]), 10, True).tolist()


# ------------------------------------------------------------------ random shapes and layouts (hypothesis)

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import tensors  # noqa: E402


@given(st.sampled_from([torch.float32, torch.int64]).flatmap(lambda dt: tensors(dt, low=-2, high=2)), st.booleans(), st.data())
def test_sort_random_shapes(pair, descending, data):
    t, ref = pair
    if ref.ndim == 0:
        return
    d = data.draw(st.integers(-ref.ndim, ref.ndim - 1))
    v, i = t.sort(d, descending=descending)
    rv, ri = _ref_sort(ref, d, descending)
    assert_close(v, rv)
    assert_close(i, ri)
    k = data.draw(st.integers(0, ref.shape[d]))
    tv, ti = t.topk(k, d, largest=descending)
    np.testing.assert_array_equal(tv.numpy(), np.take(rv, range(k), axis=d))
    u, c = torch.unique(t, return_counts=True)
    ru, rc = np.unique(ref, return_counts=True)
    assert_close(u, ru)
    assert_close(c, rc)
