"""Matrix products: matmul/@ (1-D, 2-D, batched with broadcast), mm, bmm, mv, dot, outer, einsum."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rustensor as torch
from conftest import assert_close, assert_mentions_shapes, dtype_name, make_tensor, np_dtype, random_array

F32, F64, I32, I64 = torch.float32, torch.float64, torch.int32, torch.int64
MATMUL_DTYPES = [F32, F64, I64, I32]


def mm_tol(dtype, k):
    """Tolerance for k-term dot products of O(1) values."""
    if dtype_name(dtype) == "float32":
        return dict(rtol=1e-5, atol=2e-6 * max(k, 1))
    if dtype_name(dtype) == "float64":
        return dict(rtol=1e-12, atol=1e-13 * max(k, 1))
    return {}


def operands(s1, s2, dtype, layouts=("contiguous", "contiguous"), seed=0):
    rng = np.random.default_rng(seed)
    x, a = make_tensor(random_array(rng, s1, dtype), layouts[0])
    y, b = make_tensor(random_array(rng, s2, dtype), layouts[1])
    return x, a, y, b


MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)),
    ((5, 1, 2, 3), (4, 3, 2)),
    ((1, 2, 3), (7, 3, 2)),
    ((3,), (5, 3, 4)),
    ((5, 2, 3), (3,)),
    ((0, 3), (3, 4)),
    ((2, 0), (0, 4)),
    ((2, 3), (3, 0)),
    ((0, 2, 3), (3, 4)),
    ((1, 1), (1, 1)),
    ((1,), (1, 5)),
]


@pytest.mark.parametrize("s1, s2", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", MATMUL_DTYPES, ids=str)
def test_matmul_shapes(s1, s2, dtype):
    x, a, y, b = operands(s1, s2, dtype)
    ref = np.matmul(a, b)
    tol = mm_tol(dtype, s1[-1])
    assert_close(torch.matmul(x, y), ref, dtype, **tol)
    assert_close(x @ y, ref, dtype, **tol)
    assert_close(x.matmul(y), ref, dtype, **tol)


@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
@given(
    m=st.integers(1, 9), k=st.integers(0, 9), n=st.integers(1, 9),
    batch=st.sampled_from([((), ()), ((3,), ()), ((), (2,)), ((2, 1), (3,)), ((4,), (4,)), ((1, 2), (2, 1))]),
    layouts=st.tuples(st.sampled_from(["contiguous", "transposed", "sliced", "expanded"]),
                      st.sampled_from(["contiguous", "transposed", "sliced", "expanded"])),
    vec=st.sampled_from([None, "left", "right"]),
    seed=st.integers(0, 2**16),
)
def test_matmul_random(dtype, m, k, n, batch, layouts, vec, seed):
    s1 = batch[0] + (m, k) if vec != "left" else (k,)
    s2 = batch[1] + (k, n) if vec != "right" else (k,)
    x, a, y, b = operands(s1, s2, dtype, layouts, seed)
    assert_close(x @ y, np.matmul(a, b), dtype, **mm_tol(dtype, k))


@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_matmul_transposed_views_larger(dtype, ta, tb):
    # Sizes past any blocking threshold, odd so that edge tiles are exercised.
    rng = np.random.default_rng(1)
    m, k, n = 67, 131, 45
    a = random_array(rng, (k, m) if ta else (m, k), dtype)
    b = random_array(rng, (n, k) if tb else (k, n), dtype)
    x, y = torch.tensor(a), torch.tensor(b)
    x, a = (x.t(), a.T) if ta else (x, a)
    y, b = (y.t(), b.T) if tb else (y, b)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    assert_close(x @ y, ref.astype(np_dtype(dtype)), dtype, **mm_tol(dtype, k))


# Past the size where the CPU splits one product over the threads (about 1M multiply-adds): the
# split is along the longer output dim in bands of whole 16-row/col tiles, the last one ragged.
BANDED = [(130, 300, 40), (40, 300, 130), (33, 1000, 35), (300, 47, 300), (17, 4000, 17)]


@pytest.mark.parametrize("m, k, n", BANDED, ids=str)
@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
@pytest.mark.parametrize("layouts", [("contiguous", "contiguous"), ("transposed", "sliced"), ("sliced", "transposed")], ids=str)
def test_matmul_split_over_threads(m, k, n, dtype, layouts):
    x, a, y, b = operands((m, k), (k, n), dtype, layouts, seed=m + n)
    ref = (a.astype(np.float64) @ b.astype(np.float64)).astype(np_dtype(dtype))
    old = torch.get_num_threads()
    for threads in (1, 2, 3):
        torch.set_num_threads(threads)
        try:
            assert_close(x @ y, ref, dtype, **mm_tol(dtype, k))
            # one batch matrix broadcast against two: split inside each, then over the batch
            assert_close(x @ y.expand(2, k, n), np.broadcast_to(ref, (2, m, n)), dtype, **mm_tol(dtype, k))
        finally:
            torch.set_num_threads(old)


def test_matmul_split_empty_inner_dim_is_zero():
    x, y = torch.ones(1500, 0), torch.ones(0, 1200)
    out = x @ y
    assert out.shape == (1500, 1200) and not out.abs().sum().item()


def test_matmul_sliced_and_offset_views():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((40, 50))
    b = rng.standard_normal((60, 30))
    x, y = torch.tensor(a), torch.tensor(b)
    assert_close(x[3:20:2, 1::3] @ y[10:27, ::2], a[3:20:2, 1::3] @ b[10:27, ::2], **mm_tol(F64, 17))
    assert_close(x[5] @ y[:50], a[5] @ b[:50], **mm_tol(F64, 50))


def test_matmul_batched_larger_with_broadcast():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((8, 1, 33, 17)).astype(np.float32)
    b = rng.standard_normal((5, 17, 29)).astype(np.float32)
    x, y = torch.tensor(a), torch.tensor(b)
    assert_close(x @ y, (a.astype(np.float64) @ b).astype(np.float32), **mm_tol(F32, 17))
    assert_close(x @ y.mT.mT, (a.astype(np.float64) @ b).astype(np.float32), **mm_tol(F32, 17))


def test_matmul_int64_exact():
    rng = np.random.default_rng(4)
    a = rng.integers(-1000, 1000, size=(20, 30))
    b = rng.integers(-1000, 1000, size=(30, 10))
    assert_close(torch.tensor(a) @ torch.tensor(b), a @ b)
    assert_close(torch.tensor(a).t() @ torch.tensor(a), a.T @ a)


def test_lesson_matmul():
    a = torch.tensor([[1, 2], [3, 4]], dtype=torch.float32)
    b = torch.tensor([[5, 6], [7, 8]], dtype=torch.float32)
    assert_close(a @ b, np.array([[19.0, 22.0], [43.0, 50.0]], np.float32))
    assert_close(torch.matmul(a, b), np.array([[19.0, 22.0], [43.0, 50.0]], np.float32))


# ---------------------------------------------------------------------------------------------
# mm / bmm / mv / dot / outer

@pytest.mark.parametrize("dtype", MATMUL_DTYPES, ids=str)
def test_mm(dtype):
    x, a, y, b = operands((4, 5), (5, 3), dtype, ("transposed", "sliced"))
    assert_close(torch.mm(x, y), a @ b, dtype, **mm_tol(dtype, 5))
    assert_close(x.mm(y), a @ b, dtype, **mm_tol(dtype, 5))


def test_mm_requires_matrices():
    with pytest.raises(RuntimeError):
        torch.mm(torch.zeros(3), torch.zeros(3, 2))
    with pytest.raises(RuntimeError):
        torch.mm(torch.zeros(2, 2, 3), torch.zeros(3, 2))


@pytest.mark.parametrize("dtype", MATMUL_DTYPES, ids=str)
def test_bmm(dtype):
    x, a, y, b = operands((3, 4, 5), (3, 5, 2), dtype, ("transposed", "contiguous"))
    assert_close(torch.bmm(x, y), a @ b, dtype, **mm_tol(dtype, 5))
    assert_close(x.bmm(y), a @ b, dtype, **mm_tol(dtype, 5))


def test_bmm_does_not_broadcast():
    with pytest.raises(RuntimeError):
        torch.bmm(torch.zeros(2, 2, 3), torch.zeros(1, 3, 2))
    with pytest.raises(RuntimeError):
        torch.bmm(torch.zeros(2, 3), torch.zeros(3, 2))


@pytest.mark.parametrize("dtype", MATMUL_DTYPES, ids=str)
def test_mv(dtype):
    x, a, y, b = operands((4, 5), (5,), dtype, ("transposed", "sliced"))
    assert_close(torch.mv(x, y), a @ b, dtype, **mm_tol(dtype, 5))
    assert_close(x.mv(y), a @ b, dtype, **mm_tol(dtype, 5))


@pytest.mark.parametrize("dtype", MATMUL_DTYPES, ids=str)
@pytest.mark.parametrize("n", [0, 1, 7, 300])
def test_dot(dtype, n):
    x, a, y, b = operands((n,), (n,), dtype, ("sliced", "transposed"))
    ref = np.dot(a, b)
    assert_close(torch.dot(x, y), np.asarray(ref), dtype, **mm_tol(dtype, n))
    assert_close(x.dot(y), np.asarray(ref), dtype, **mm_tol(dtype, n))


def test_dot_errors():
    with pytest.raises(RuntimeError):
        torch.dot(torch.zeros(3), torch.zeros(4))
    with pytest.raises(RuntimeError):
        torch.dot(torch.zeros(2, 3), torch.zeros(2, 3))


@pytest.mark.parametrize("dtype", MATMUL_DTYPES, ids=str)
def test_outer(dtype):
    x, a, y, b = operands((4,), (3,), dtype, ("sliced", "contiguous"))
    assert_close(torch.outer(x, y), np.outer(a, b), dtype)
    assert_close(x.outer(y), np.outer(a, b), dtype)
    assert_close(torch.outer(x, y[:0]), np.outer(a, b[:0]), dtype)


def test_outer_promotes_and_needs_vectors():
    assert_close(torch.outer(torch.arange(3), torch.arange(2.0)), np.outer(np.arange(3), np.arange(2.0)).astype(np.float32))
    with pytest.raises(RuntimeError):
        torch.outer(torch.zeros(2, 2), torch.zeros(2))


# ---------------------------------------------------------------------------------------------
# einsum

EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ii->i", [(4, 4)]),
    ("ij->ji", [(3, 4)]),
    ("i,i->", [(6,), (6,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij,jk", [(3, 4), (4, 2)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ii", [(3, 3)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("bij,bkj->bik", [(2, 3, 4), (2, 5, 4)]),
    ("bhid,bhjd->bhij", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("...ij,...jk->...ik", [(5, 2, 3), (3, 4)]),
    ("i j , j k -> i k", [(2, 3), (3, 4)]),
]


@pytest.mark.parametrize("eq, shapes_", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
@pytest.mark.parametrize("dtype", [F32, F64, I64], ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_einsum(eq, shapes_, dtype, layout):
    rng = np.random.default_rng(5)
    ts, arrs = [], []
    for s in shapes_:
        t, a = make_tensor(random_array(rng, s, dtype), layout)
        ts.append(t)
        arrs.append(a)
    ref = np.einsum(eq.replace(" ", ""), *arrs)
    assert_close(torch.einsum(eq, *ts), np.asarray(ref), dtype, **mm_tol(dtype, 6))


def test_einsum_operand_list_form():
    x, a, y, b = operands((3, 4), (4, 5), F64)
    assert_close(torch.einsum("ij,jk->ik", [x, y]), a @ b, **mm_tol(F64, 4))


def test_einsum_size_mismatch_is_runtime_error():
    with pytest.raises(RuntimeError):
        torch.einsum("ij,jk->ik", torch.ones(2, 3), torch.ones(4, 4))
    with pytest.raises(RuntimeError):
        torch.einsum("ii->i", torch.ones(2, 3))


# ---------------------------------------------------------------------------------------------
# errors

@pytest.mark.parametrize(
    "s1, s2",
    [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (4,)), ((4,), (3, 2)), ((5, 2, 3), (4, 3, 2)), ((2, 2, 3), (2, 4, 2))],
    ids=str,
)
def test_matmul_shape_mismatch_names_shapes(s1, s2):
    with pytest.raises(RuntimeError) as e:
        torch.zeros(s1) @ torch.zeros(s2)
    if len(s1) == len(s2) == 2:
        # (A 1-D operand may be reported as the 1xN or Nx1 matrix it becomes.)
        assert_mentions_shapes(e, s1, s2)


def test_matmul_0d_is_runtime_error():
    with pytest.raises(RuntimeError):
        torch.matmul(torch.tensor(2.0), torch.zeros(3))
    with pytest.raises(RuntimeError):
        torch.zeros(3) @ torch.tensor(2.0)


def test_matmul_mixed_dtypes_is_runtime_error():
    # torch does not promote in matmul.
    with pytest.raises(RuntimeError):
        torch.zeros(2, 3) @ torch.zeros(3, 2, dtype=torch.float64)
    with pytest.raises(RuntimeError):
        torch.zeros(2, 3, dtype=torch.int64) @ torch.zeros(3, 2)


# ---------------------------------------------------------------------------------------------
# threads

def test_num_threads_round_trip():
    n = torch.get_num_threads()
    assert isinstance(n, int) and n >= 1
    x, a, y, b = operands((70, 80), (80, 90), F64, seed=6)
    try:
        torch.set_num_threads(1)
        assert torch.get_num_threads() == 1
        assert_close(x @ y, a @ b, **mm_tol(F64, 80))
    finally:
        torch.set_num_threads(n)
    assert torch.get_num_threads() == n
    assert_close(x @ y, a @ b, **mm_tol(F64, 80))
