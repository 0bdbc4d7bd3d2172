"""Views: layout changes over shared storage (view, reshape, transpose, permute, expand, slicing...)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rustensor as torch
from conftest import ALL_DTYPES, LAYOUTS, assert_close, np_dtype, rand_tensor, shapes, tensors


def base_pair(shape, dtype=torch.float32, seed=0):
    """A contiguous rustensor tensor and a numpy array with the same values (no shared memory)."""
    a = np.random.default_rng(seed).uniform(-3, 3, size=shape).astype(np_dtype(dtype))
    return torch.tensor(a), a


def check_view(x, a, fn_t, fn_np, sentinel=-7.0):
    """fn_t(x) must equal fn_np(a) and be a view: writes go through both ways.

    fn_np must return a writeable numpy view of `a`, so that the same writes land in the reference.
    """
    v = fn_t(x)
    r = fn_np(a)
    assert_close(v, r)
    # base -> view
    x.add_(1)
    a += 1
    assert_close(v, r)
    # view -> base
    v.fill_(sentinel)
    r[...] = sentinel
    assert_close(x, a)
    return v


# ---------------------------------------------------------------------------------------------
# view / reshape

@pytest.mark.parametrize(
    "shape, target",
    [((2, 3), (6,)), ((2, 3), (3, 2)), ((2, 3), (-1,)), ((2, 3), (1, 6, 1)), ((2, 3, 4), (4, -1)),
     ((6,), (2, 3)), ((), (1,)), ((1,), ()), ((0, 3), (3, 0)), ((0, 3), (-1,)), ((4,), (2, -1))],
)
def test_view_contiguous_shares(shape, target):
    x, a = base_pair(shape)
    check_view(x, a, lambda t: t.view(*target) if target else t.view(()), lambda n: n.reshape(target))


def test_view_tuple_and_varargs_agree():
    x, a = base_pair((2, 6))
    assert_close(x.view((3, 4)), a.reshape(3, 4))
    assert_close(x.view(3, 4), a.reshape(3, 4))
    assert_close(x.view([3, 4]), a.reshape(3, 4))


def test_view_compatible_non_contiguous():
    x, a = base_pair((4, 6))
    # Rows 0 and 2 stay contiguous inside each row: splitting the last dim is a view.
    check_view(x, a, lambda t: t[::2].view(2, 2, 3), lambda n: n[::2].reshape(2, 2, 3))
    x, a = base_pair((4, 6))
    check_view(x, a, lambda t: t[:, :3].view(4, 3, 1), lambda n: n[:, :3].reshape(4, 3, 1))
    x, a = base_pair((2, 3))
    check_view(x, a, lambda t: t.t().view(3, 2), lambda n: n.T)


@pytest.mark.parametrize(
    "make, target",
    [(lambda t: t.t(), (6,)), (lambda t: t[:, ::2], (-1,)), (lambda t: t.t(), (2, 3))],
    ids=["transposed", "strided", "transposed-2d"],
)
def test_view_forbidden_by_strides_is_runtime_error(make, target):
    v = make(torch.arange(6.0).reshape(2, 3))
    with pytest.raises(RuntimeError):
        v.view(*target)


def test_view_wrong_numel_and_two_minus_ones_are_runtime_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(RuntimeError):
        x.view(4)
    with pytest.raises(RuntimeError):
        x.view(-1, 4)
    with pytest.raises(RuntimeError):
        x.view(-1, -1)


def test_reshape_contiguous_is_a_view():
    x, a = base_pair((2, 3, 4))
    check_view(x, a, lambda t: t.reshape(6, 4), lambda n: n.reshape(6, 4))
    x, a = base_pair((2, 3, 4))
    check_view(x, a, lambda t: t.reshape(-1), lambda n: n.reshape(-1))


def test_reshape_non_contiguous_copies():
    x, a = base_pair((3, 4))
    r = x.t().reshape(-1)
    assert_close(r, a.T.reshape(-1))
    r.fill_(0)
    assert_close(x, a)


@given(data=tensors(torch.float32), perm_seed=st.integers(0, 1000))
def test_reshape_any_layout_matches_numpy(data, perm_seed):
    t, ref = data
    n = ref.size
    # Target: a random factorisation of numel with a -1 somewhere.
    rng = np.random.default_rng(perm_seed)
    dims = []
    rest = n
    for _ in range(rng.integers(0, 3)):
        divs = [d for d in range(1, 5) if rest % d == 0] if rest else [0, 1, 2]
        d = int(rng.choice(divs))
        dims.append(d)
        rest = rest // d if d else rest
    if n == 0 and 0 not in dims:
        dims.append(0)
    target = tuple(dims) + ((-1,) if n else ())
    if n and 0 in target:
        target = (-1,)
    expected = ref.reshape(target) if target else ref.reshape(())
    assert_close(t.reshape(target), expected)
    assert_close(t.reshape(*target) if target else t.reshape(()), expected)


def test_reshape_wrong_numel_is_runtime_error():
    with pytest.raises(RuntimeError):
        torch.zeros(2, 3).reshape(4)


def test_view_as_and_reshape_as():
    x, a = base_pair((2, 3))
    y = torch.zeros(3, 2)
    assert_close(x.view_as(y), a.reshape(3, 2))
    assert_close(x.t().reshape_as(y), a.T)


def test_flatten():
    x, a = base_pair((2, 3, 4))
    check_view(x, a, lambda t: t.flatten(), lambda n: n.reshape(-1))
    x, a = base_pair((2, 3, 4))
    check_view(x, a, lambda t: t.flatten(1), lambda n: n.reshape(2, 12))
    x, a = base_pair((2, 3, 4))
    check_view(x, a, lambda t: torch.flatten(t, 0, 1), lambda n: n.reshape(6, 4))
    x, a = base_pair((2, 3, 4))
    check_view(x, a, lambda t: t.flatten(-2, -1), lambda n: n.reshape(2, 12))
    assert torch.flatten(torch.tensor(3.0)).shape == (1,)
    assert_close(torch.arange(6).reshape(2, 3).t().flatten(), np.arange(6).reshape(2, 3).T.reshape(-1))


# ---------------------------------------------------------------------------------------------
# transpose family

def test_transpose_and_t():
    x, a = base_pair((2, 3))
    v = check_view(x, a, lambda t: t.transpose(0, 1), lambda n: n.T)
    assert v.stride() == (1, 3)
    x, a = base_pair((2, 3))
    check_view(x, a, lambda t: t.t(), lambda n: n.T)
    x, a = base_pair((2, 3))
    check_view(x, a, lambda t: t.T, lambda n: n.T)
    x, a = base_pair((2, 3, 4))
    check_view(x, a, lambda t: t.transpose(-1, 0), lambda n: np.swapaxes(n, -1, 0))
    x, a = base_pair((2, 3, 4))
    check_view(x, a, lambda t: torch.transpose(t, 1, 2), lambda n: np.swapaxes(n, 1, 2))


def test_t_of_0d_and_1d_is_identity():
    x, a = base_pair((3,))
    assert_close(x.t(), a)
    assert_close(torch.tensor(2.0).t(), np.float32(2.0))


def test_t_of_3d_is_runtime_error():
    with pytest.raises(RuntimeError):
        torch.zeros(2, 3, 4).t()


def test_mT():
    x, a = base_pair((5, 2, 3))
    check_view(x, a, lambda t: t.mT, lambda n: np.swapaxes(n, -1, -2))
    with pytest.raises(RuntimeError):
        torch.zeros(3).mT


@pytest.mark.parametrize("perm", [(0, 1, 2), (2, 0, 1), (1, 2, 0), (2, 1, 0), (-1, 0, -2)])
def test_permute(perm):
    x, a = base_pair((2, 3, 4))
    check_view(x, a, lambda t: t.permute(*perm), lambda n: np.transpose(n, perm))
    x, a = base_pair((2, 3, 4))
    check_view(x, a, lambda t: t.permute(perm), lambda n: np.transpose(n, perm))
    x, a = base_pair((2, 3, 4))
    check_view(x, a, lambda t: torch.permute(t, perm), lambda n: np.transpose(n, perm))


@pytest.mark.parametrize("perm", [(0, 0, 1), (0, 1), (0, 1, 2, 3), (0, 1, 3)])
def test_permute_bad_dims(perm):
    with pytest.raises((RuntimeError, IndexError)):
        torch.zeros(2, 3, 4).permute(*perm)


@given(data=tensors(torch.float64, shape=shapes(min_dims=1)), seed=st.integers(0, 1000))
def test_permute_any_layout(data, seed):
    t, ref = data
    perm = tuple(np.random.default_rng(seed).permutation(ref.ndim).tolist())
    assert_close(t.permute(perm), np.transpose(ref, perm))
    assert_close(t.permute(perm).contiguous(), np.transpose(ref, perm))


# ---------------------------------------------------------------------------------------------
# unsqueeze / squeeze

@pytest.mark.parametrize("dim", [-4, -3, -2, -1, 0, 1, 2, 3])
def test_unsqueeze(dim):
    x, a = base_pair((2, 3, 4))
    check_view(x, a, lambda t: t.unsqueeze(dim), lambda n: np.expand_dims(n, dim))


def test_unsqueeze_0d_and_function_form():
    assert_close(torch.tensor(2.0).unsqueeze(0), np.array([2.0], np.float32))
    assert_close(torch.unsqueeze(torch.tensor(2.0), -1), np.array([2.0], np.float32))


@pytest.mark.parametrize("dim", [-5, 4])
def test_unsqueeze_out_of_range_is_index_error(dim):
    with pytest.raises(IndexError):
        torch.zeros(2, 3, 4).unsqueeze(dim)


def test_squeeze():
    x, a = base_pair((1, 2, 1, 3))
    check_view(x, a, lambda t: t.squeeze(), lambda n: n.reshape(2, 3))
    x, a = base_pair((1, 2, 1, 3))
    check_view(x, a, lambda t: t.squeeze(2), lambda n: n.reshape(1, 2, 3))
    x, a = base_pair((1, 2, 1, 3))
    check_view(x, a, lambda t: t.squeeze(-2), lambda n: n.reshape(1, 2, 3))
    x, a = base_pair((1, 2, 1, 3))
    check_view(x, a, lambda t: t.squeeze(1), lambda n: n.reshape(1, 2, 1, 3))  # size != 1: no-op
    x, a = base_pair((1, 2, 1, 3))
    check_view(x, a, lambda t: t.squeeze((0, 2)), lambda n: n.reshape(2, 3))
    x, a = base_pair((1, 1))
    check_view(x, a, lambda t: torch.squeeze(t), lambda n: n.reshape(()))


def test_squeeze_out_of_range_is_index_error():
    with pytest.raises(IndexError):
        torch.zeros(1, 2).squeeze(2)


def test_squeeze_empty():
    assert torch.zeros(0, 1, 3).squeeze().shape == (0, 3)


# ---------------------------------------------------------------------------------------------
# expand / broadcast_to

def test_expand():
    x, a = base_pair((3, 1))
    v = x.expand(3, 4)
    assert_close(v, np.broadcast_to(a, (3, 4)))
    assert v.stride() == (1, 0)
    x.add_(1)
    assert_close(v, np.broadcast_to(a + 1, (3, 4)))


def test_expand_forms():
    x, a = base_pair((3, 1))
    ref = np.broadcast_to(a, (2, 3, 4))
    assert_close(x.expand(2, 3, 4), ref)
    assert_close(x.expand((2, 3, 4)), ref)
    assert_close(x.expand(2, -1, 4), ref)
    assert_close(x.expand_as(torch.zeros(2, 3, 4)), ref)
    assert_close(torch.broadcast_to(x, (2, 3, 4)), ref)
    assert_close(x.broadcast_to((2, 3, 4)), ref)
    assert_close(torch.tensor(5.0).expand(2, 2), np.full((2, 2), 5.0, np.float32))
    assert x.expand(0, 3, 4).shape == (0, 3, 4)


def test_expand_stride_zero_for_new_dims():
    x = torch.zeros(3)
    assert x.expand(2, 3).stride() == (0, 1)
    assert not x.expand(2, 3).is_contiguous()


@pytest.mark.parametrize("target", [(3, 4), (2,), (4, 3, 2)])
def test_expand_non_singleton_is_runtime_error(target):
    with pytest.raises(RuntimeError):
        torch.zeros(2, 3).expand(*target)


@given(shapes_=st.lists(st.integers(1, 4), min_size=0, max_size=3), seed=st.integers(0, 1000))
def test_expand_random(shapes_, seed):
    rng = np.random.default_rng(seed)
    src_shape = tuple(1 if rng.random() < 0.5 else n for n in shapes_)
    lead = tuple(rng.integers(0, 4, size=rng.integers(0, 2)).tolist())
    target = lead + tuple(shapes_)
    x, a = base_pair(src_shape, seed=seed)
    assert_close(x.expand(*target) if target else x.expand(()), np.broadcast_to(a, target))


# ---------------------------------------------------------------------------------------------
# narrow / unbind / chunk / split / diagonal

def test_narrow():
    x, a = base_pair((4, 6))
    check_view(x, a, lambda t: t.narrow(1, 2, 3), lambda n: n[:, 2:5])
    x, a = base_pair((4, 6))
    v = check_view(x, a, lambda t: t.narrow(0, 1, 2), lambda n: n[1:3])
    assert v.storage_offset() == 6
    x, a = base_pair((4, 6))
    check_view(x, a, lambda t: torch.narrow(t, -1, -2, 2), lambda n: n[:, -2:])
    x, a = base_pair((4, 6))
    check_view(x, a, lambda t: t.narrow(1, 6, 0), lambda n: n[:, 6:6])


def test_narrow_out_of_range():
    x = torch.zeros(4, 6)
    with pytest.raises((RuntimeError, IndexError)):
        x.narrow(1, 4, 3)
    with pytest.raises(IndexError):
        x.narrow(1, 7, 0)
    with pytest.raises(IndexError):
        x.narrow(2, 0, 1)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unbind(dim):
    x, a = base_pair((3, 4))
    parts = x.unbind(dim)
    assert isinstance(parts, tuple)
    assert len(parts) == a.shape[dim]
    for i, p in enumerate(parts):
        assert_close(p, np.take(a, i, axis=dim))
    parts[1].fill_(0)
    idx = [slice(None)] * 2
    idx[dim] = 1
    a[tuple(idx)] = 0
    assert_close(x, a)
    assert len(torch.unbind(x, dim)) == a.shape[dim]


@pytest.mark.parametrize("size, chunks", [(6, 3), (6, 4), (5, 3), (5, 2), (2, 5), (6, 1), (0, 2), (7, 7)])
def test_chunk(size, chunks):
    x, a = base_pair((size, 2))
    parts = x.chunk(chunks)
    # torch's rule: each chunk holds ceil(size / chunks) rows, the last one the rest.
    step = -(-size // chunks) if size else 0
    # An empty dim gives `chunks` empty pieces.
    expected = [a[i:i + step] for i in range(0, size, step)] if size else [a] * chunks
    assert isinstance(parts, tuple)
    assert len(parts) == len(expected)
    for p, e in zip(parts, expected):
        assert_close(p, e)
    if size:
        parts[-1].fill_(42)
        expected[-1][...] = 42
        assert_close(x, a)


def test_chunk_dim_and_function_form():
    x, a = base_pair((2, 7))
    parts = torch.chunk(x, 3, dim=1)
    for p, e in zip(parts, [a[:, 0:3], a[:, 3:6], a[:, 6:7]]):
        assert_close(p, e)
    assert len(parts) == 3
    with pytest.raises(RuntimeError):
        x.chunk(0)


def test_split_int_and_sizes():
    x, a = base_pair((7, 3))
    parts = x.split(3)
    assert [tuple(p.shape) for p in parts] == [(3, 3), (3, 3), (1, 3)]
    for p, e in zip(parts, [a[0:3], a[3:6], a[6:7]]):
        assert_close(p, e)
    parts = torch.split(x, [2, 0, 5])
    for p, e in zip(parts, [a[0:2], a[2:2], a[2:7]]):
        assert_close(p, e)
    parts = x.split([1, 2], dim=1)
    for p, e in zip(parts, [a[:, :1], a[:, 1:]]):
        assert_close(p, e)
    parts[1].fill_(0)
    a[:, 1:] = 0
    assert_close(x, a)


def test_split_sizes_must_sum():
    with pytest.raises(RuntimeError):
        torch.zeros(6).split([2, 3])


@pytest.mark.parametrize("offset", [-2, -1, 0, 1, 2, 5])
def test_diagonal_2d(offset):
    x, a = base_pair((3, 4))
    d = x.diagonal(offset)
    ref = np.diagonal(a, offset).copy()
    assert_close(d, ref)
    if ref.size:
        d.fill_(100)
        rows = np.arange(ref.size) + max(-offset, 0)
        cols = np.arange(ref.size) + max(offset, 0)
        a[rows, cols] = 100
        assert_close(x, a)


def test_diagonal_dims():
    x, a = base_pair((2, 3, 4))
    assert_close(x.diagonal(0, 1, 2), np.diagonal(a, 0, 1, 2))
    assert_close(torch.diagonal(x, 1, 0, 2), np.diagonal(a, 1, 0, 2))
    assert_close(x.diagonal(offset=-1, dim1=-1, dim2=-2), np.diagonal(a, -1, -1, -2))
    assert x.diagonal(0, 1, 2).stride() == (12, 5)


# ---------------------------------------------------------------------------------------------
# basic indexing

BASIC_INDEXES = [
    1, -1, (0, 2), (1, slice(None)), (slice(None), 1), (slice(1, None), slice(None, None, 2)),
    (Ellipsis, None), (None,), (None, Ellipsis, None), (Ellipsis, 1), (1, Ellipsis, 2),
    (slice(None), None, slice(1, 3)), slice(None, None, 3), (), (slice(10, None),),
    (slice(-2, None), slice(-100, 100)), (slice(None), slice(None), slice(None, None, 2)),
    (slice(3, 1),), (0, 0, 0), (Ellipsis,), (-3, Ellipsis, -1, None),
]


@pytest.mark.parametrize("idx", BASIC_INDEXES, ids=repr)
def test_basic_indexing_is_a_view(idx):
    x, a = base_pair((3, 4, 5))
    np_idx = idx if isinstance(idx, tuple) else (idx,)
    if Ellipsis not in np_idx:
        np_idx = np_idx + (Ellipsis,)  # so numpy returns a 0-d view, not a scalar, for all-int indexes
    check_view(x, a, lambda t: t[idx], lambda n: n[np_idx])


@st.composite
def basic_index(draw, shape):
    items = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "full"] if n else ["slice", "full"]))
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            bound = st.none() | st.integers(-n - 2, n + 2)
            items.append(slice(draw(bound), draw(bound), draw(st.none() | st.integers(1, 3))))
        else:
            items.append(slice(None))
    # Leave some trailing dims implicit, or hide a run of dims behind an Ellipsis.
    mode = draw(st.sampled_from(["all", "prefix", "ellipsis"]))
    if mode == "prefix":
        items = items[: draw(st.integers(0, len(items)))]
    elif mode == "ellipsis":
        p = draw(st.integers(0, len(items)))
        m = draw(st.integers(0, len(items) - p))
        items = items[:p] + [Ellipsis] + items[p + m:]
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    return tuple(items)


@given(data=st.data(), shape=shapes(max_dims=4))
def test_basic_indexing_random(data, shape):
    idx = data.draw(basic_index(shape))
    x, a = base_pair(shape, dtype=torch.float64)
    np_idx = idx if Ellipsis in idx else idx + (Ellipsis,)
    v = x[idx]
    r = a[np_idx]
    assert_close(v, r)
    if r.size:
        offset = (r.__array_interface__["data"][0] - a.__array_interface__["data"][0]) // a.itemsize
        assert v.storage_offset() == offset
        assert v.data_ptr() == x.data_ptr() + offset * a.itemsize
    v.fill_(-1.0)
    r[...] = -1.0
    assert_close(x, a)


@given(data=st.data(), layout=st.sampled_from(LAYOUTS), shape=shapes(min_dims=1, max_dims=3))
def test_basic_indexing_of_non_contiguous(data, layout, shape):
    t, ref = rand_tensor(shape, torch.float32, layout, seed=1)
    idx = data.draw(basic_index(shape))
    assert_close(t[idx], ref[idx if Ellipsis in idx else idx + (Ellipsis,)])


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_indexing_keeps_dtype(dtype):
    t = torch.zeros(3, 4, dtype=dtype)
    assert t[1].dtype == dtype
    assert t[1, 2].dtype == dtype
    assert t[1, 2].shape == ()


def test_int_index_out_of_range_is_index_error():
    x = torch.zeros(2, 3)
    with pytest.raises(IndexError):
        x[2]
    with pytest.raises(IndexError):
        x[-3]
    with pytest.raises(IndexError):
        x[:, 3]
    with pytest.raises(IndexError):
        x[0, 0, 0]
    with pytest.raises(IndexError):
        torch.tensor(1.0)[0]


def test_negative_step_is_value_error():
    with pytest.raises(ValueError):
        torch.arange(5)[::-1]


def test_iterating_over_first_dim():
    x, a = base_pair((3, 2))
    rows = list(x)
    assert len(rows) == 3
    for r, e in zip(rows, a):
        assert_close(r, e)
    with pytest.raises(TypeError):
        list(torch.tensor(1.0))


# ---------------------------------------------------------------------------------------------
# contiguous / is_contiguous / stride / storage_offset / data_ptr

@given(shape=shapes())
def test_contiguous_strides(shape):
    t = torch.zeros(shape)
    expected = tuple(s // 4 for s in np.zeros(shape, np.float32).strides)
    if 0 in shape:
        return  # numpy and torch both use row-major strides, but empties may differ in the 0-dim stride
    assert t.stride() == expected
    assert t.is_contiguous()
    assert t.storage_offset() == 0
    for d in range(len(shape)):
        assert t.stride(d) == expected[d]
        assert t.stride(d - len(shape)) == expected[d]


@pytest.mark.parametrize(
    "make, strides, offset, contiguous",
    [
        (lambda t: t, (12, 4, 1), 0, True),
        (lambda t: t.transpose(0, 2), (1, 4, 12), 0, False),
        (lambda t: t.permute(1, 2, 0), (4, 1, 12), 0, False),
        (lambda t: t[1:], (12, 4, 1), 12, True),
        (lambda t: t[:, 1:], (12, 4, 1), 4, False),
        (lambda t: t[:, :, ::2], (12, 4, 2), 0, False),
        (lambda t: t[1, 2], (1,), 20, True),
        (lambda t: t[1, :, 3], (4,), 15, False),
        (lambda t: t.narrow(2, 1, 2), (12, 4, 1), 1, False),
        (lambda t: t[0].unsqueeze(0).expand(5, 3, 4), (0, 4, 1), 0, False),
    ],
)
def test_strides_offsets_contiguity(make, strides, offset, contiguous):
    v = make(torch.zeros(2, 3, 4))
    assert v.stride() == strides
    assert v.storage_offset() == offset
    assert v.is_contiguous() == contiguous


def test_is_contiguous_ignores_size_one_dims_and_empties():
    assert torch.zeros(3, 1).t().is_contiguous()
    assert torch.zeros(0, 3).t().is_contiguous()
    assert torch.zeros(1, 1).expand(1, 1).is_contiguous()
    assert not torch.zeros(3, 1).expand(3, 4).is_contiguous()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_contiguous(layout):
    t, ref = rand_tensor((3, 4), torch.float32, layout)
    c = t.contiguous()
    assert c.is_contiguous()
    assert c.stride() == (4, 1)
    assert_close(c, ref)
    if not t.is_contiguous():
        c.fill_(0)  # a copy: the original is untouched
        assert_close(t, ref)


def test_contiguous_of_contiguous_shares():
    x, a = base_pair((2, 3))
    check_view(x, a, lambda t: t.contiguous(), lambda n: n)


def test_data_ptr_of_views():
    x = torch.zeros(4, 5, dtype=torch.float64)
    assert x.data_ptr() != 0
    assert x.view(-1).data_ptr() == x.data_ptr()
    assert x.t().data_ptr() == x.data_ptr()
    assert x[1:].data_ptr() == x.data_ptr() + 5 * 8
    assert x[:, 2].data_ptr() == x.data_ptr() + 2 * 8
    assert x.clone().data_ptr() != x.data_ptr()


def test_detach_shares_storage():
    x, a = base_pair((2, 3))
    check_view(x, a, lambda t: t.detach(), lambda n: n)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_views_keep_dtype(dtype):
    x = torch.zeros(2, 3, dtype=dtype)
    for v in (x.t(), x.view(6), x[:, 1:], x.unsqueeze(0), x.expand(4, 2, 3), x.permute(1, 0)):
        assert v.dtype == dtype


def test_view_keeps_base_alive():
    v = torch.arange(10.0).reshape(2, 5)[1]
    import gc

    gc.collect()
    assert_close(v, np.arange(5.0, 10.0, dtype=np.float32))
