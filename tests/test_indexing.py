"""Advanced indexing and writes: integer/bool indexes, __setitem__, gather, where, cat, stack, ..."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rustensor as torch
from conftest import (ALL_DTYPES, LAYOUTS, NUMERIC_DTYPES, assert_close, np_dtype, rand_tensor, random_array,
                      shapes, tensors, to_np)


def pair(shape, dtype=torch.float32, seed=0, layout="contiguous"):
    return rand_tensor(shape, dtype, layout, seed=seed)


# ---------------------------------------------------------------------------------------------
# integer-tensor and list indexing

INT_INDEXES = [
    lambda T: T([0, 2]),
    lambda T: T([-1, 0, -1]),
    lambda T: T([[0, 1], [2, 0]]),
    lambda T: (slice(None), T([3, 0])),
    lambda T: (T([0, 1]), T([1, 2])),
    lambda T: (slice(1, None), T([0, 2])),
    lambda T: (T([[0], [2]]), T([1, 3])),  # broadcast index tensors
    lambda T: (Ellipsis, T([1])),
    lambda T: (T([1, 1, 1]),),
    lambda T: (T([], ), ),
    lambda T: (1, T([0, 3])),
    lambda T: (T([2, 0]), None),
]


# A bare nested list (case 2) is read as a tuple of indexes by torch but as one array by numpy,
# so that case runs with tensors only.
@pytest.mark.parametrize(
    "k, form", [(k, f) for k in range(len(INT_INDEXES)) for f in ("tensor", "list") if (k, f) != (2, "list")]
)
def test_int_indexing(k, form):
    x, a = pair((3, 4))
    if form == "tensor":
        idx = INT_INDEXES[k](lambda v: torch.tensor(v, dtype=torch.int64))
    else:
        idx = INT_INDEXES[k](lambda v: v)
    np_idx = INT_INDEXES[k](lambda v: np.array(v, dtype=np.int64))
    assert_close(x[idx], a[np_idx])


def test_int_indexing_3d_separated_indexes_go_first():
    x, a = pair((2, 3, 4))
    i, j = [0, 1], [1, 0]
    assert_close(x[i, :, j], a[i, :, j])
    assert_close(x[:, i, j], a[:, i, j])
    assert_close(x[torch.tensor(i), 1:, torch.tensor(j)], a[np.array(i), 1:, np.array(j)])


def test_int_indexing_returns_a_copy():
    x, a = pair((3, 4))
    y = x[torch.tensor([0, 1])]
    y.fill_(0)
    assert_close(x, a)


def test_int_indexing_with_int32_index():
    x, a = pair((3, 4))
    assert_close(x[torch.tensor([2, 0], dtype=torch.int32)], a[[2, 0]])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_int_indexing_any_layout_and_dtype(layout, dtype):
    x, a = pair((4, 5), dtype, layout=layout)
    idx = [3, 0, 0, -2]
    assert_close(x[torch.tensor(idx)], a[idx])
    assert_close(x[:, torch.tensor(idx)], a[:, idx])


@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, min_side=1))
def test_int_indexing_random(data, shape):
    x, a = pair(shape, torch.float64, seed=data.draw(st.integers(0, 100)))
    dim = data.draw(st.integers(0, len(shape) - 1))
    n = shape[dim]
    idx_shape = data.draw(shapes(max_dims=2, max_side=4))
    idx = np.random.default_rng(1).integers(-n, n, size=idx_shape)
    key = (slice(None),) * dim + (torch.tensor(idx),)
    np_key = (slice(None),) * dim + (idx,)
    assert_close(x[key], a[np_key])


@pytest.mark.parametrize("idx", [[3], [-4], [0, 3], [[0], [7]]])
def test_int_index_out_of_range_is_index_error(idx):
    x = torch.zeros(3, 4)
    with pytest.raises(IndexError):
        x[torch.tensor(idx)]
    with pytest.raises(IndexError):
        x[idx]


def test_float_index_tensor_is_index_error():
    with pytest.raises(IndexError):
        torch.zeros(3)[torch.tensor([1.0])]


# ---------------------------------------------------------------------------------------------
# boolean masks

def test_bool_mask_full_shape():
    x, a = pair((3, 4))
    assert_close(x[x > 0], a[a > 0])
    assert_close(x[torch.tensor(a < -10)], a[a < -10])  # empty result


def test_bool_mask_leading_dims():
    x, a = pair((3, 4, 2))
    m = np.array([True, False, True])
    assert_close(x[torch.tensor(m)], a[m])
    m2 = np.array([[True, False, False, True], [False] * 4, [True] * 4])
    assert_close(x[torch.tensor(m2)], a[m2])
    assert_close(x[:, torch.tensor([False, True, True, False])], a[:, [False, True, True, False]])


def test_bool_list_is_a_mask():
    x, a = pair((3, 2))
    assert_close(x[[True, False, True]], a[[True, False, True]])


@given(data=tensors(torch.float32, shape=shapes(max_dims=3)), seed=st.integers(0, 1000))
def test_bool_mask_random(data, seed):
    t, ref = data
    m = np.random.default_rng(seed).random(ref.shape) < 0.5
    assert_close(t[torch.tensor(m)], ref[m])


def test_bool_mask_wrong_shape_is_index_error():
    x = torch.zeros(3, 4)
    with pytest.raises(IndexError):
        x[torch.tensor([True, False])]
    with pytest.raises(IndexError):
        x[torch.ones(3, 3, dtype=torch.bool)]


# ---------------------------------------------------------------------------------------------
# __setitem__

SETITEM_CASES = [
    (lambda T: 0, lambda T: 5.0),
    (lambda T: (slice(None), 1), lambda T: 2.5),
    (lambda T: slice(1, None), lambda T: T([1.0, 2.0, 3.0, 4.0])),       # broadcast a row
    (lambda T: (Ellipsis, 0), lambda T: T([7.0, 8.0, 9.0])),
    (lambda T: (slice(None), slice(None, None, 2)), lambda T: T([[1.0], [2.0], [3.0]])),
    (lambda T: T([0, 2]), lambda T: -1.0),
    (lambda T: T([0, 2]), lambda T: T([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])),
    (lambda T: (T([0, 1]), T([3, 2])), lambda T: T([10.0, 20.0])),
    (lambda T: (1, 2), lambda T: 42.0),
    (lambda T: (), lambda T: 0.5),
    (lambda T: Ellipsis, lambda T: T([1.0, 2.0, 3.0, 4.0])),
]


@pytest.mark.parametrize("k", range(len(SETITEM_CASES)))
def test_setitem(k):
    key_f, val_f = SETITEM_CASES[k]
    x, a = pair((3, 4))
    to_t = lambda v: torch.tensor(v) if isinstance(v, list) else v  # noqa: E731
    x[key_f(to_t)] = val_f(to_t)
    a[key_f(lambda v: np.array(v))] = val_f(lambda v: np.array(v, np.float32))
    assert_close(x, a)


def test_setitem_bool_mask():
    x, a = pair((3, 4))
    x[x < 0] = 0.0
    a[a < 0] = 0.0
    assert_close(x, a)
    x, a = pair((3, 4))
    m = a > 1
    x[torch.tensor(m)] = torch.arange(int(m.sum()), dtype=torch.float32)
    a[m] = np.arange(m.sum())
    assert_close(x, a)
    x, a = pair((3, 4))
    x[torch.tensor([True, False, True])] = torch.tensor([9.0, 8.0, 7.0, 6.0])
    a[[True, False, True]] = [9.0, 8.0, 7.0, 6.0]
    assert_close(x, a)


def test_setitem_on_view_writes_base():
    x, a = pair((3, 4))
    v = x.t()
    v[1] = 3.0
    a.T[1] = 3.0
    assert_close(x, a)
    v[v > 2] = -2.0
    a.T[a.T > 2] = -2.0
    assert_close(x, a)


@pytest.mark.parametrize("layout", LAYOUTS[:3])
def test_setitem_into_non_contiguous(layout):
    x, a = pair((4, 5), layout=layout)
    x[1:3, ::2] = torch.tensor([1.0, 2.0, 3.0])
    a[1:3, ::2] = [1.0, 2.0, 3.0]
    assert_close(x, a)


def test_setitem_converts_value_dtype():
    x = torch.zeros(2, 3, dtype=torch.int64)
    x[0] = 2.7
    x[1, 1:] = torch.tensor([1.9, -1.9])
    assert_close(x, np.array([[2, 2, 2], [0, 1, -1]]))
    y = torch.zeros(3)
    y[1] = torch.tensor(5.0, dtype=torch.float64)
    y[2] = True
    assert_close(y, np.array([0.0, 5.0, 1.0], np.float32))


def test_setitem_shape_mismatch_is_runtime_error():
    x = torch.zeros(2, 3)
    with pytest.raises(RuntimeError):
        x[0] = torch.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError):
        x[[0, 1]] = torch.tensor([1.0, 2.0])


def test_setitem_out_of_range_is_index_error():
    x = torch.zeros(3)
    with pytest.raises(IndexError):
        x[5] = 1.0
    with pytest.raises(IndexError):
        x[torch.tensor([5])] = 1.0


# ---------------------------------------------------------------------------------------------
# gather / index_select / masked_fill

@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_gather(dim, layout):
    x, a = pair((3, 4), layout=layout)
    rng = np.random.default_rng(dim + 5)
    idx_shape = list(a.shape)
    idx_shape[dim] = 5
    idx = rng.integers(0, a.shape[dim], size=idx_shape)
    ref = np.take_along_axis(a, idx, axis=dim)
    assert_close(torch.gather(x, dim, torch.tensor(idx)), ref)
    assert_close(x.gather(dim, torch.tensor(idx)), ref)


def test_gather_smaller_index():
    # torch allows index.size(d) <= input.size(d) on the other dims.
    x, a = pair((3, 4))
    idx = np.array([[0, 2], [1, 1]])
    ref = np.array([[a[0, 0], a[0, 2]], [a[1, 1], a[1, 1]]])
    assert_close(x.gather(1, torch.tensor(idx)), ref)


def test_gather_3d_and_empty():
    x, a = pair((2, 3, 4))
    idx = np.random.default_rng(0).integers(0, 3, size=(2, 2, 4))
    assert_close(x.gather(1, torch.tensor(idx)), np.take_along_axis(a, idx, 1))
    assert x.gather(1, torch.zeros(2, 0, 4, dtype=torch.int64)).shape == (2, 0, 4)


def test_gather_errors():
    x = torch.zeros(3, 4)
    with pytest.raises(RuntimeError):
        x.gather(1, torch.tensor([[4]]))
    with pytest.raises(RuntimeError):
        x.gather(1, torch.tensor([[1.0]]))
    with pytest.raises(IndexError):
        x.gather(2, torch.tensor([[1]]))


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_index_select(dim, dtype):
    x, a = pair((3, 4), dtype, layout="transposed")
    idx = [2, 0, 0, 1]
    assert_close(torch.index_select(x, dim, torch.tensor(idx)), np.take(a, idx, axis=dim))
    assert_close(x.index_select(dim, torch.tensor(idx)), np.take(a, idx, axis=dim))
    assert_close(x.index_select(dim, torch.tensor([], dtype=torch.int64)), np.take(a, [], axis=dim))


def test_index_select_errors():
    x = torch.zeros(3, 4)
    with pytest.raises(IndexError):
        x.index_select(0, torch.tensor([3]))
    with pytest.raises(IndexError):
        x.index_select(0, torch.tensor([[0]]))


@pytest.mark.parametrize("mask_shape", [(3, 4), (4,), (3, 1), (1, 1), ()])
@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=str)
def test_masked_fill(mask_shape, dtype):
    x, a = pair((3, 4), dtype, layout="sliced")
    m = np.random.default_rng(3).random(mask_shape) < 0.5
    ref = np.where(m, np.array(2, np_dtype(dtype)), a)
    assert_close(x.masked_fill(torch.tensor(m), 2), ref)
    assert_close(torch.masked_fill(x, torch.tensor(m), 2), ref)
    assert_close(x, a)  # out of place
    assert_close(x.masked_fill(torch.tensor(m), torch.tensor(2)), ref)


def test_masked_fill_in_place_and_value_cast():
    x = torch.arange(6).reshape(2, 3)
    r = x.masked_fill_(torch.tensor([True, False, True]), 2.5)
    assert_close(x, np.array([[2, 1, 2], [2, 4, 2]]))
    assert r is x or to_np(r).tolist() == to_np(x).tolist()
    y = torch.zeros(3)
    y.masked_fill_(torch.tensor([False, True, False]), float("-inf"))
    assert_close(y, np.array([0, -np.inf, 0], np.float32))


def test_masked_fill_errors():
    x = torch.zeros(3, 4)
    with pytest.raises(RuntimeError):
        x.masked_fill(torch.tensor([1, 0, 1, 0]), 0.0)
    with pytest.raises(RuntimeError):
        x.masked_fill(torch.tensor([True, False]), 0.0)


# ---------------------------------------------------------------------------------------------
# where

@given(shapes3=st.tuples(shapes(max_dims=3, max_side=3), shapes(max_dims=3, max_side=3)), seed=st.integers(0, 1000))
def test_where_broadcast_random(shapes3, seed):
    rng = np.random.default_rng(seed)
    s1, s2 = shapes3
    try:
        out_shape = np.broadcast_shapes(s1, s2)
    except ValueError:
        return
    c = rng.random(out_shape[1:] if out_shape else ()) < 0.5
    a = random_array(rng, s1, torch.float32)
    b = random_array(rng, s2, torch.float32)
    assert_close(torch.where(torch.tensor(c), torch.tensor(a), torch.tensor(b)), np.where(c, a, b))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_where_non_contiguous(layout):
    x, a = pair((3, 4), layout=layout)
    y, b = pair((3, 4), layout=layout, seed=9)
    c = a > b
    assert_close(torch.where(torch.tensor(c), x, y), np.maximum(a, b))
    assert_close(x.where(torch.tensor(c), y), np.where(c, a, b))


def test_where_scalars_and_promotion():
    c = torch.tensor([True, False, True])
    assert_close(torch.where(c, 1.0, 0.0), np.array([1.0, 0.0, 1.0], np.float32))
    assert_close(torch.where(c, torch.tensor([1, 2, 3]), 0.5), np.array([1.0, 0.5, 3.0], np.float32))
    assert_close(torch.where(c, torch.tensor([1, 2, 3], dtype=torch.int32), 5), np.array([1, 5, 3], np.int32))
    assert_close(torch.where(c, torch.tensor([1, 2, 3]), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)),
                 np.array([1.0, 2.0, 3.0]))
    assert_close(torch.where(c, torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0, 0, 0])),
                 np.array([1.0, 0.0, 3.0], np.float32))


def test_where_condition_must_be_bool():
    with pytest.raises(RuntimeError):
        torch.where(torch.tensor([1, 0]), torch.zeros(2), torch.ones(2))


# ---------------------------------------------------------------------------------------------
# cat / stack

@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_cat(dim, layout):
    shapes_ = [(2, 3, 4), (2, 3, 4), (2, 3, 4)]
    ts, arrs = [], []
    for i, s in enumerate(shapes_):
        s = list(s)
        s[dim] = i + 1
        t, r = pair(tuple(s), seed=i, layout=layout)
        ts.append(t)
        arrs.append(r)
    assert_close(torch.cat(ts, dim), np.concatenate(arrs, axis=dim))
    assert_close(torch.cat(tuple(ts), dim=dim), np.concatenate(arrs, axis=dim))


def test_cat_default_dim_single_and_empty_pieces():
    x, a = pair((2, 3))
    assert_close(torch.cat([x]), a)
    e = torch.zeros(0, 3)
    assert_close(torch.cat([x, e, x]), np.concatenate([a, np.zeros((0, 3), np.float32), a]))


def test_cat_is_a_copy():
    x, a = pair((2, 3))
    y = torch.cat([x, x])
    y.fill_(0)
    assert_close(x, a)


def test_cat_promotes_dtypes():
    r = torch.cat([torch.tensor([1, 2]), torch.tensor([0.5])])
    assert_close(r, np.array([1.0, 2.0, 0.5], np.float32))
    r = torch.cat([torch.tensor([1], dtype=torch.int32), torch.tensor([2], dtype=torch.int64)])
    assert_close(r, np.array([1, 2], np.int64))


def test_cat_errors():
    with pytest.raises(RuntimeError):
        torch.cat([torch.zeros(2, 3), torch.zeros(2, 4)])
    with pytest.raises(RuntimeError):
        torch.cat([torch.zeros(2, 3), torch.zeros(2, 3, 1)])
    with pytest.raises(RuntimeError):
        torch.cat([torch.tensor(1.0), torch.tensor(2.0)])
    with pytest.raises((RuntimeError, ValueError)):
        torch.cat([])
    with pytest.raises(IndexError):
        torch.cat([torch.zeros(2), torch.zeros(2)], dim=1)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_stack(dim, dtype):
    ts, arrs = zip(*[pair((2, 3), dtype, seed=i, layout=LAYOUTS[i]) for i in range(4)])
    assert_close(torch.stack(list(ts), dim), np.stack(arrs, axis=dim))
    assert_close(torch.stack(ts, dim=dim), np.stack(arrs, axis=dim))


def test_stack_0d_and_errors():
    assert_close(torch.stack([torch.tensor(1.0), torch.tensor(2.0)]), np.array([1.0, 2.0], np.float32))
    with pytest.raises(RuntimeError):
        torch.stack([torch.zeros(2), torch.zeros(3)])
    with pytest.raises((RuntimeError, ValueError)):
        torch.stack([])
    with pytest.raises(IndexError):
        torch.stack([torch.zeros(2), torch.zeros(2)], dim=3)


# ---------------------------------------------------------------------------------------------
# repeat / flip / triu / tril

@pytest.mark.parametrize("reps", [(2, 1), (1, 3), (2, 2), (3, 1, 2), (0, 2), (1, 1, 1, 1)])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_repeat(reps, layout):
    x, a = pair((2, 3), layout=layout)
    assert_close(x.repeat(*reps), np.tile(a, reps))
    assert_close(x.repeat(reps), np.tile(a, reps))


def test_repeat_0d_and_errors():
    assert_close(torch.tensor(2).repeat(3), np.array([2, 2, 2]))
    with pytest.raises(RuntimeError):
        torch.zeros(2, 3).repeat(2)


@pytest.mark.parametrize("dims", [(0,), (1,), (-1,), (0, 1), (0, 2), (2, 1, 0)])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_flip(dims, layout):
    x, a = pair((2, 3, 4), layout=layout)
    assert_close(torch.flip(x, dims), np.flip(a, dims))
    assert_close(x.flip(*dims), np.flip(a, dims))
    assert_close(x.flip(list(dims)), np.flip(a, dims))


def test_flip_is_a_copy_and_bad_dim():
    x, a = pair((3,))
    y = x.flip(0)
    y.fill_(0)
    assert_close(x, a)
    with pytest.raises(IndexError):
        x.flip(1)


@pytest.mark.parametrize("k", [-3, -1, 0, 1, 2, 5])
@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3), (2, 3, 4), (0, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.bool], ids=str)
def test_triu_tril(k, shape, dtype):
    x, a = pair(shape, dtype, layout="transposed")
    assert_close(torch.triu(x, k), np.triu(a, k))
    assert_close(torch.tril(x, k), np.tril(a, k))
    assert_close(x.triu(diagonal=k), np.triu(a, k))
    assert_close(x.tril(k), np.tril(a, k))


def test_triu_default_and_1d_error():
    x, a = pair((3, 3))
    assert_close(x.triu(), np.triu(a))
    assert_close(x.tril(), np.tril(a))
    with pytest.raises(RuntimeError):
        torch.triu(torch.zeros(3))


# ---------------------------------------------------------------------------------------------
# basic keys (ints and slices) take a fast path in the bindings; they must agree with NumPy


def _basic_item(draw, size):
    if draw(st.booleans()):
        return draw(st.integers(-size, size - 1)) if size else slice(None)
    bound = st.one_of(st.none(), st.integers(-size - 2, size + 2))
    return slice(draw(bound), draw(bound), draw(st.one_of(st.none(), st.integers(1, 3))))


@st.composite
def basic_keys(draw):
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))
    n = draw(st.integers(1, len(shape)))
    key = tuple(_basic_item(draw, shape[d]) for d in range(n))
    return shape, (key[0] if n == 1 and draw(st.booleans()) else key)


@given(case=basic_keys(), layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**16))
def test_basic_int_and_slice_keys_match_numpy(case, layout, seed):
    shape, key = case
    x, a = pair(shape, torch.float64, seed, layout)
    r = x[key]
    np.testing.assert_array_equal(to_np(r), a[key])
    assert r.shape == a[key].shape
    # a view: writing through it changes the base (an expanded base refuses writes, as in torch)
    if r.numel() and layout != "expanded":
        r.fill_(7.0)
        assert (to_np(x)[key] == 7.0).all()


def test_bool_key_adds_a_dim_as_torch():
    x = torch.arange(6).reshape(2, 3)
    assert x[True].shape == (1, 2, 3)
    assert x[False].shape == (0, 2, 3)
    assert x[True, 1].tolist() == [[3, 4, 5]]
