"""Shape and index composites (roll, repeat_interleave, diag family, meshgrid, take,
index_add/copy/fill, masked_scatter, scatter_reduce, unfold, movedim, stacking, splits,
tensordot, kron, trace, cdist, cross, block_diag) against NumPy, with gradients."""

import numpy as np
import pytest

import rustensor as torch
from conftest import LAYOUTS, assert_close, random_array
from test_autograd_gradcheck import run
from test_ops_sorting import make_tensor

F32 = torch.float32


def rnd(shape, seed=0, dtype=F32):
    return random_array(np.random.default_rng(seed), shape, dtype)


# ------------------------------------------------------------------ roll, repeat_interleave, unflatten

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shifts,dims", [(1, None), (-3, None), (2, 0), ((1, -2), (0, 1)), (7, -1), (0, 1)])
def test_roll(layout, shifts, dims):
    a = rnd((3, 4))
    t, ref = make_tensor(a, layout)
    assert_close(torch.roll(t, shifts, dims), np.roll(ref, shifts, dims))
    assert_close(t.roll(shifts, dims), np.roll(ref, shifts, dims))


def test_roll_edge_cases_and_grad():
    assert_close(torch.roll(torch.zeros(0, 3), 2, 0), np.zeros((0, 3), np.float32))
    assert_close(torch.roll(torch.tensor(5.0), 3), np.array(5.0, np.float32))
    with pytest.raises(RuntimeError, match="roll"):
        torch.roll(torch.zeros(3, 3), (1, 2), 0)
    run(lambda x: x.roll(1, 1), [((3, 4), "any")], "transposed")
    run(lambda x: torch.roll(x, -2), [((3, 4), "any")])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_repeat_interleave(layout):
    a = rnd((3, 4), 1)
    t, ref = make_tensor(a, layout)
    assert_close(t.repeat_interleave(2), np.repeat(ref, 2))
    assert_close(torch.repeat_interleave(t, 3, dim=1), np.repeat(ref, 3, axis=1))
    reps = np.array([1, 0, 2])
    assert_close(torch.repeat_interleave(t, torch.tensor(reps), dim=0), np.repeat(ref, reps, axis=0))
    assert_close(torch.repeat_interleave(torch.tensor([2, 0, 3])), np.repeat(np.arange(3), [2, 0, 3]))
    assert_close(torch.repeat_interleave(torch.tensor(2.0), 3), np.repeat(np.float32(2.0), 3))
    with pytest.raises(IndexError):
        torch.kthvalue(torch.zeros(2, 0), 1)
    with pytest.raises(RuntimeError, match="repeat_interleave"):
        t.repeat_interleave(torch.tensor([1, 2]), dim=0)
    run(lambda x: x.repeat_interleave(torch.tensor([2, 1, 0]), dim=0), [((3, 2), "any")])
    run(lambda x: x.repeat_interleave(2, dim=1), [((2, 3), "any")], layout if layout != "expanded" else "contiguous")


def test_unflatten_movedim_swapaxes():
    a = rnd((2, 12, 3))
    t = torch.tensor(a)
    assert_close(t.unflatten(1, (3, 4)), a.reshape(2, 3, 4, 3))
    assert_close(torch.unflatten(t, -2, (-1, 6)), a.reshape(2, 2, 6, 3))
    with pytest.raises(RuntimeError):
        t.unflatten(1, (5, 3))
    for src, dst in [(0, -1), ((0, 1), (2, 0)), (-1, 0), ([0, 1, 2], [0, 1, 2])]:
        assert_close(torch.movedim(t, src, dst), np.moveaxis(a, src, dst))
        assert_close(t.moveaxis(src, dst), np.moveaxis(a, src, dst))
    assert_close(torch.swapaxes(t, 0, 2), np.swapaxes(a, 0, 2))
    assert_close(t.swapdims(1, -1), np.swapaxes(a, 1, -1))
    with pytest.raises(RuntimeError, match="movedim"):
        torch.movedim(t, (0, 0), (1, 2))
    run(lambda x: torch.movedim(x, 0, -1), [((2, 3, 4), "any")])


# ------------------------------------------------------------------ diag family, meshgrid, indices

@pytest.mark.parametrize("offset", [-2, -1, 0, 1, 3])
def test_diag_family(offset):
    v = rnd((4,), 2)
    assert_close(torch.diag(torch.tensor(v), offset), np.diag(v, offset))
    m = rnd((4, 5), 3)
    tm, ref = make_tensor(m, "transposed")
    assert_close(torch.diag(tm, offset), np.diag(ref, offset))
    assert_close(torch.diagflat(torch.tensor(m[:2, :2]), offset), np.diagflat(m[:2, :2], offset))
    b = rnd((2, 3), 4)
    e = torch.diag_embed(torch.tensor(b), offset)
    ref = np.stack([np.diag(r, offset) for r in b])
    assert_close(e, ref)
    e2 = torch.diag_embed(torch.tensor(b), offset, dim1=0, dim2=2)
    assert_close(e2, np.moveaxis(np.moveaxis(ref, -2, 0), -1, 2))
    run(lambda x: torch.diag_embed(x, offset), [((2, 3), "any")])
    run(lambda x: torch.diag(x, offset), [((4,), "any")])


def test_meshgrid_and_cartesian_prod():
    a, b, c = np.arange(3.0, dtype=np.float32), np.arange(4.0, dtype=np.float32) * 2, np.array([5.0, 6.0], np.float32)
    for indexing in ("ij", "xy"):
        got = torch.meshgrid(torch.tensor(a), torch.tensor(b), torch.tensor(c), indexing=indexing)
        ref = np.meshgrid(a, b, c, indexing=indexing)
        for g, r in zip(got, ref):
            assert_close(g, r)
    got = torch.meshgrid([torch.tensor(a), torch.tensor(b)])
    for g, r in zip(got, np.meshgrid(a, b, indexing="ij")):
        assert_close(g, r)
    cp = torch.cartesian_prod(torch.tensor(a), torch.tensor(b))
    assert_close(cp, np.array([[x, y] for x in a for y in b], np.float32))
    with pytest.raises(RuntimeError):
        torch.meshgrid(torch.tensor(a), indexing="zz")


@pytest.mark.parametrize("row,col,offset", [(3, 3, 0), (4, 2, 1), (3, 5, -1), (0, 3, 0), (3, 4, -5)])
def test_tril_triu_indices(row, col, offset):
    assert_close(torch.tril_indices(row, col, offset), np.stack(np.tril_indices(row, offset, col)).reshape(2, -1).astype(np.int64))
    assert_close(torch.triu_indices(row, col, offset), np.stack(np.triu_indices(row, offset, col)).reshape(2, -1).astype(np.int64))


# ------------------------------------------------------------------ take, index ops, masked_scatter

def test_take_and_take_along_dim():
    a = rnd((3, 4), 5)
    t, ref = make_tensor(a, "transposed")
    idx = np.array([[0, 11], [-1, 5]])
    assert_close(torch.take(t, torch.tensor(idx)), np.take(ref, idx))
    with pytest.raises(IndexError):
        torch.take(t, torch.tensor([12]))
    order = np.argsort(ref, 1)
    assert_close(torch.take_along_dim(t, torch.tensor(order), 1), np.take_along_axis(ref, order, 1))
    assert_close(torch.take_along_dim(t, torch.tensor(order[:1]), 1), np.take_along_axis(ref, order[:1].repeat(3, 0), 1))
    assert_close(t.take_along_dim(torch.tensor([0, 5])), ref.reshape(-1)[[0, 5]])
    run(lambda x: torch.take(x, torch.tensor([[0, 3], [3, 5]])), [((2, 3), "any")], "transposed")
    run(lambda x: torch.take_along_dim(x, torch.tensor([[0, 2], [1, 1]]), 1), [((2, 3), "any")])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_add_copy_fill(dim):
    a = rnd((4, 5), 6)
    t = torch.tensor(a)
    n = a.shape[dim]
    index = np.array([0, n - 1, 1])
    shape = list(a.shape)
    shape[dim] = 3
    src = rnd(shape, 7)
    ref = a.copy()
    np.add.at(np.moveaxis(ref, dim, 0), index, np.moveaxis(src, dim, 0) * 2)
    assert_close(torch.index_add(t, dim, torch.tensor(index), torch.tensor(src), alpha=2), ref)
    # duplicates accumulate
    dup = np.array([1, 1, 0])
    ref = a.copy()
    np.add.at(np.moveaxis(ref, dim, 0), dup, np.moveaxis(src, dim, 0))
    assert_close(t.index_add(dim, torch.tensor(dup), torch.tensor(src)), ref)
    ref = a.copy()
    np.moveaxis(ref, dim, 0)[index] = np.moveaxis(src, dim, 0)
    assert_close(t.index_copy(dim, torch.tensor(index), torch.tensor(src)), ref)
    ref = a.copy()
    np.moveaxis(ref, dim, 0)[index] = -3.5
    assert_close(t.index_fill(dim, torch.tensor(index), -3.5), ref)
    assert_close(t.index_fill(dim, torch.tensor(index), torch.tensor(-3.5)), ref)
    c = t.clone()
    assert c.index_fill_(dim, torch.tensor(index), -3.5) is c
    assert_close(c, ref)
    c = t.clone()
    c.index_add_(dim, torch.tensor(index), torch.tensor(src))
    ref = a.copy()
    np.add.at(np.moveaxis(ref, dim, 0), index, np.moveaxis(src, dim, 0))
    assert_close(c, ref)


def test_index_ops_errors_and_grads():
    t = torch.zeros(3, 4)
    with pytest.raises(RuntimeError, match="out of bounds"):  # torch: RuntimeError for index_add
        t.index_add(0, torch.tensor([3]), torch.ones(1, 4))
    with pytest.raises(IndexError, match="out of bounds"):
        t.index_copy(0, torch.tensor([3]), torch.ones(1, 4))
    with pytest.raises(IndexError):
        torch.repeat_interleave(torch.tensor(1.0), 2, dim=0)
    with pytest.raises(IndexError):
        torch.diag_embed(torch.tensor(1.0))
    with pytest.raises(RuntimeError):
        torch.tensor_split(torch.tensor(1.0), 2)
    with pytest.raises(RuntimeError):
        t.index_add(0, torch.tensor([0, 1]), torch.ones(1, 4))
    with pytest.raises(RuntimeError):
        t.index_copy(0, torch.tensor([0]), torch.ones(1, 4, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="vector"):
        t.index_fill(1, torch.tensor([[0]]), 1.0)
    idx = torch.tensor([2, 0])
    run(lambda x, s: x.index_add(1, idx, s, alpha=0.5), [((3, 4), "any"), ((3, 2), "any")])
    run(lambda x, s: x.index_copy(0, idx, s), [((3, 4), "any"), ((2, 4), "any")])
    run(lambda x: x.index_fill(1, idx, 2.0), [((3, 4), "any")], "transposed")


def test_masked_scatter():
    a = rnd((3, 4), 8)
    mask = np.random.default_rng(9).random((3, 4)) < 0.5
    src = rnd((12,), 10)
    ref = a.copy()
    ref[mask] = src[: mask.sum()]
    assert_close(torch.tensor(a).masked_scatter(torch.tensor(mask), torch.tensor(src)), ref)
    # a broadcast mask
    row = np.array([True, False, True, False])
    ref = a.copy()
    ref[np.broadcast_to(row, a.shape)] = src[:6]
    assert_close(torch.masked_scatter(torch.tensor(a), torch.tensor(row), torch.tensor(src)), ref)
    with pytest.raises(RuntimeError):
        torch.tensor(a).masked_scatter(torch.tensor(mask), torch.tensor(src[:1]))
    m = torch.tensor(mask)
    run(lambda x, s: x.masked_scatter(m, s), [((3, 4), "any"), ((12,), "any")])


# ------------------------------------------------------------------ scatter forms

def _ref_scatter_reduce(a, dim, index, src, reduce, include_self):
    out = a.astype(np.float64).copy()
    acc = {}
    for pos in np.ndindex(*index.shape):
        tgt = list(pos)
        tgt[dim] = index[pos]
        acc.setdefault(tuple(tgt), []).append(float(src[pos]))
    for tgt, vals in acc.items():
        vs = ([float(a[tgt])] if include_self else []) + vals
        out[tgt] = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}[reduce](vs)
    return out


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dim", [0, 1])
def test_scatter_reduce_values(reduce, include_self, dim):
    rng = np.random.default_rng(11)
    a = np.array(rng.integers(-3, 4, size=(3, 4)), dtype=np.float64)
    index = np.array(rng.integers(0, a.shape[dim], size=(2, 3)), dtype=np.int64)
    src = np.array(rng.integers(-3, 4, size=(2, 3)), dtype=np.float64)
    got = torch.tensor(a).scatter_reduce(dim, torch.tensor(index), torch.tensor(src), reduce, include_self=include_self)
    assert_close(got, _ref_scatter_reduce(a, dim, index, src, reduce, include_self))


@pytest.mark.parametrize("reduce", ["sum", "mean", "amax", "amin", "prod"])
def test_scatter_reduce_gradients(reduce):
    index = torch.tensor([[0, 1, 0], [2, 0, 0]])
    for include_self in (True, False):
        run(lambda x, s: x.scatter_reduce(0, index, s, reduce, include_self=include_self), [((3, 3), "any"), ((2, 3), "any")])


def test_scatter_reduce_grad_with_ties_and_zeros():
    # amax ties split the gradient evenly (torch's rule); prod with zero factors stays finite
    x = torch.tensor([1.0, 5.0], dtype=torch.float64, requires_grad=True)
    s = torch.tensor([5.0, 5.0, 2.0], dtype=torch.float64, requires_grad=True)
    out = x.scatter_reduce(0, torch.tensor([1, 1, 0]), s, "amax")
    out.sum().backward()
    assert x.grad.tolist() == [0.0, 1 / 3] and s.grad.tolist() == [1 / 3, 1 / 3, 1.0]
    x = torch.tensor([2.0, 3.0], dtype=torch.float64, requires_grad=True)
    s = torch.tensor([0.0, 4.0, 0.0], dtype=torch.float64, requires_grad=True)
    out = x.scatter_reduce(0, torch.tensor([0, 0, 1]), s, "prod")
    out.sum().backward()
    assert out.tolist() == [0.0, 0.0]
    assert x.grad.tolist() == [0.0, 0.0] and s.grad.tolist() == [8.0, 0.0, 3.0]


def test_scatter_value_reduce_and_dtype_check():
    t = torch.zeros(2, 4)
    idx = torch.tensor([[1, 3], [0, 0]])
    ref = np.zeros((2, 4), np.float32)
    ref[0, [1, 3]] = 7
    ref[1, 0] = 7
    assert_close(t.scatter(1, idx, 7.0), ref)
    assert_close(t.scatter(1, idx, value=7.0), ref)
    assert_close(torch.scatter(t, 1, idx, 7.0), ref)
    src = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    ref = np.ones((2, 4), np.float32)
    ref[0, [1, 3]] += [1, 2]
    ref[1, 0] += 7
    assert_close(torch.ones(2, 4).scatter(1, idx, src, reduce="add"), ref)
    ref = np.full((2, 4), 2.0, np.float32)
    ref[0, [1, 3]] *= [1, 2]
    ref[1, 0] *= 12
    assert_close(torch.full((2, 4), 2.0).scatter(1, idx, src, reduce="multiply"), ref)
    c = torch.zeros(2, 4)
    c.scatter_(1, idx, src)
    assert c[0, 3].item() == 2.0
    with pytest.raises(RuntimeError, match="dtype"):
        torch.zeros(3).scatter(0, torch.tensor([0]), torch.ones(1, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="reduce"):
        t.scatter(1, idx, src, reduce="max")


# ------------------------------------------------------------------ unfold, stacking, splitting

@pytest.mark.parametrize("size,step", [(2, 1), (3, 2), (4, 4), (1, 3)])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_unfold(size, step, layout):
    a = rnd((3, 5), 12)
    t, ref = make_tensor(a, layout)
    for d in (0, 1):
        n = ref.shape[d]
        if size > n:
            with pytest.raises(RuntimeError):
                t.unfold(d, size, step)
            continue
        wins = np.lib.stride_tricks.sliding_window_view(ref, size, axis=d)
        sl = [slice(None)] * 3
        sl[d] = slice(None, None, step)
        assert_close(t.unfold(d, size, step), wins[tuple(sl)])
    run(lambda x: x.unfold(1, 2, 1), [((2, 4), "any")])
    assert_close(torch.tensor(3.0).unfold(0, 1, 1), np.array([3.0], np.float32))


def test_atleast_and_stacks():
    s, v, m = torch.tensor(1.0), torch.tensor([1.0, 2.0]), torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    for f, nf in [(torch.atleast_1d, np.atleast_1d), (torch.atleast_2d, np.atleast_2d), (torch.atleast_3d, np.atleast_3d)]:
        for x in (s, v, m):
            assert_close(f(x), nf(x.numpy()))
        got = f(s, v)
        assert isinstance(got, tuple) and len(got) == 2
    a, b = rnd((2, 3), 1), rnd((2, 3), 2)
    ta, tb = torch.tensor(a), torch.tensor(b)
    assert_close(torch.hstack([ta, tb]), np.hstack([a, b]))
    assert_close(torch.vstack((ta, tb)), np.vstack([a, b]))
    assert_close(torch.row_stack((ta, tb)), np.vstack([a, b]))
    assert_close(torch.dstack([ta, tb]), np.dstack([a, b]))
    assert_close(torch.column_stack([ta[0], tb[0], ta.t()]), np.column_stack([a[0], b[0], a.T]))
    assert_close(torch.hstack([ta[0], tb[1]]), np.hstack([a[0], b[1]]))
    with pytest.raises(RuntimeError):
        torch.hstack([])
    run(lambda x, y: torch.vstack([x, y]), [((3,), "any"), ((2, 3), "any")])


@pytest.mark.parametrize("ios", [1, 2, 3, 5, [1, 3], [0, 2, 2, 10], [-2]])
def test_tensor_split(ios):
    a = rnd((4, 7), 13)
    t = torch.tensor(a)
    for d in (0, 1):
        got = torch.tensor_split(t, ios, d)
        ref = np.array_split(a, ios, axis=d)
        assert len(got) == len(ref)
        for g, r in zip(got, ref):
            assert_close(g, r)
    assert len(t.tensor_split(torch.tensor([1, 2]), 1)) == 3
    assert [tuple(x.shape) for x in torch.hsplit(t, [3])] == [(4, 3), (4, 4)]
    assert [tuple(x.shape) for x in torch.vsplit(t, 2)] == [(2, 7), (2, 7)]


# ------------------------------------------------------------------ products and geometry

@pytest.mark.parametrize("dims", [0, 1, 2, ([1, 0], [0, 1]), ([2], [0])])
def test_tensordot(dims):
    a, b = rnd((2, 3, 4), 14), rnd((3, 2, 4), 15)
    if dims in (1, 2):
        b = rnd((3, 4, 5), 15) if dims == 2 else rnd((4, 5), 15)
    if dims == ([2], [0]):
        b = rnd((4, 5), 15)
    got = torch.tensordot(torch.tensor(a), torch.tensor(b), dims)
    assert_close(got, np.tensordot(a.astype(np.float64), b.astype(np.float64), dims).astype(np.float32), rtol=1e-5, atol=1e-5)
    run(lambda x, y: torch.tensordot(x, y, ([1], [0])), [((2, 3), "any"), ((3, 2), "any")], "transposed")


@pytest.mark.parametrize("sa,sb", [((2, 3), (3, 2)), ((2,), (3,)), ((2, 2), (3,)), ((1, 2, 2), (2, 1, 3))])
def test_kron(sa, sb):
    a, b = rnd(sa, 16), rnd(sb, 17)
    assert_close(torch.kron(torch.tensor(a), torch.tensor(b)), np.kron(a, b))
    run(lambda x, y: torch.kron(x, y), [(sa, "any"), (sb, "any")])


def test_trace():
    a = rnd((3, 4), 18)
    t, ref = make_tensor(a, "transposed")
    assert_close(torch.trace(t), np.array(np.trace(ref), np.float32))
    assert torch.trace(torch.tensor([[1, 2], [3, 4]], dtype=torch.int32)).dtype == torch.int64
    with pytest.raises(RuntimeError):
        torch.trace(torch.ones(2, 2, 2))
    run(lambda x: x.trace(), [((3, 3), "any")])


@pytest.mark.parametrize("p", [0.0, 1.0, 2.0, 3.0, float("inf")])
def test_cdist(p):
    x1, x2 = rnd((2, 4, 3), 19), rnd((2, 5, 3), 20)
    d = np.abs(x1[:, :, None, :] - x2[:, None, :, :]).astype(np.float64)
    if p == 0:
        ref = (d != 0).sum(-1)
    elif np.isinf(p):
        ref = d.max(-1)
    else:
        ref = (d ** p).sum(-1) ** (1 / p)
    got = torch.cdist(torch.tensor(x1), torch.tensor(x2), p)
    assert_close(got, ref.astype(np.float32), rtol=1e-5, atol=1e-5)
    if p > 0:
        run(lambda a, b: torch.cdist(a, b, p), [((3, 2), "any"), ((4, 2), "any")])


def test_cdist_zero_distance_has_zero_gradient():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64, requires_grad=True)
    torch.cdist(x, x.detach()).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    with pytest.raises(RuntimeError):
        torch.cdist(torch.ones(2, 3), torch.ones(2, 4))


def test_cross():
    a, b = rnd((4, 3), 21), rnd((4, 3), 22)
    assert_close(torch.cross(torch.tensor(a), torch.tensor(b), dim=1), np.cross(a, b), rtol=1e-5, atol=1e-5)
    assert_close(torch.linalg.cross(torch.tensor(a), torch.tensor(b)), np.cross(a, b), rtol=1e-5, atol=1e-5)
    assert_close(torch.tensor(a.T.copy()).cross(torch.tensor(b.T.copy())), np.cross(a, b).T, rtol=1e-5, atol=1e-5)
    assert_close(torch.linalg.cross(torch.tensor(a), torch.tensor(b[:1])), np.cross(a, b[:1]), rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError):
        torch.linalg.cross(torch.ones(2, 4), torch.ones(2, 4))
    run(lambda x, y: torch.linalg.cross(x, y), [((2, 3), "any"), ((2, 3), "any")])


def test_block_diag():
    a, b, c = rnd((2, 3), 23), rnd((1, 1), 24), rnd((2,), 25)
    ref = np.zeros((4, 6), np.float32)
    ref[:2, :3] = a
    ref[2, 3] = b[0, 0]
    ref[3, 4:] = c
    assert_close(torch.block_diag(torch.tensor(a), torch.tensor(b), torch.tensor(c)), ref)
    run(lambda x, y: torch.block_diag(x, y), [((2, 2), "any"), ((1, 3), "any")])


# ------------------------------------------------------------------ random shapes and layouts (hypothesis)

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import tensors  # noqa: E402


@given(tensors(torch.float32, shape=st.tuples(st.integers(0, 4), st.integers(1, 4)) | st.tuples(st.integers(1, 3), st.integers(0, 3), st.integers(1, 3))), st.data())
def test_shape_ops_random_shapes(pair, data):
    t, ref = pair
    nd = ref.ndim
    d = data.draw(st.integers(-nd, nd - 1))
    s = data.draw(st.integers(-5, 5))
    assert_close(torch.roll(t, s, d), np.roll(ref, s, d))
    r = data.draw(st.integers(0, 3))
    assert_close(t.repeat_interleave(r, dim=d), np.repeat(ref, r, axis=d))
    k = data.draw(st.integers(1, 4))
    for g, e in zip(torch.tensor_split(t, k, d), np.array_split(ref, k, axis=d)):
        assert_close(g, e)
    dst = data.draw(st.integers(-nd, nd - 1))
    assert_close(torch.movedim(t, d, dst), np.moveaxis(ref, d, dst))
    idx = np.argsort(ref, axis=d)
    assert_close(torch.take_along_dim(t, torch.tensor(idx), d), np.take_along_axis(ref, idx, d))
