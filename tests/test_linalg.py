"""torch.linalg against NumPy's LAPACK in float64, batched, with finite-difference gradients
for every differentiable function (norms, inv, det, slogdet, solve, cholesky, qr, eigh, svdvals)."""

import math

import numpy as np
import pytest

import rustensor as torch
from conftest import LAYOUTS, assert_close
from test_autograd_gradcheck import run
from test_ops_sorting import make_tensor

LA = torch.linalg
F64 = torch.float64


def _spd(rng, shape):
    a = rng.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def _wellcond(rng, shape):
    return rng.standard_normal(shape) + 3 * np.eye(shape[-1])


@pytest.fixture
def rng():
    return np.random.default_rng(42)


# ------------------------------------------------------------------ norms

@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, 0, math.inf, -math.inf])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_vector_norm(ord, layout, rng):
    a = rng.standard_normal((3, 4))
    t, ref = make_tensor(a, layout)
    for dim in (None, 0, 1, (0, 1)):
        for keepdim in (False, True):
            if ord == 0:
                r = (ref != 0).sum(axis=dim, keepdims=keepdim).astype(np.float64)
            elif np.isinf(ord):
                r = (np.abs(ref).max if ord > 0 else np.abs(ref).min)(axis=dim, keepdims=keepdim)
            else:
                r = (np.abs(ref) ** ord).sum(axis=dim, keepdims=keepdim) ** (1 / ord)
            assert_close(LA.vector_norm(t, ord, dim, keepdim), np.asarray(r))
    if ord not in (0,):
        run(lambda x: LA.vector_norm(x, ord, 1), [((3, 4), "any")], layout)


def test_vector_norm_edge_cases():
    z = torch.zeros(3, dtype=F64, requires_grad=True)
    LA.vector_norm(z).backward()
    assert z.grad.tolist() == [0.0, 0.0, 0.0]  # torch's subgradient at 0
    assert_close(LA.vector_norm(torch.zeros(0)), np.array(0.0, np.float32))
    assert_close(LA.vector_norm(torch.tensor(-3.0)), np.array(3.0, np.float32))
    with pytest.raises(RuntimeError):
        LA.vector_norm(torch.tensor([1, 2]))
    with pytest.raises(RuntimeError):
        LA.vector_norm(torch.zeros(0), math.inf)
    assert LA.vector_norm(torch.tensor([3, 4]), dtype=F64).item() == 5.0


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf])
def test_matrix_norm(ord, rng):
    a = rng.standard_normal((2, 3, 4))
    t = torch.tensor(a)
    assert_close(LA.matrix_norm(t, ord), np.linalg.norm(a, ord, axis=(-2, -1)))
    assert_close(LA.matrix_norm(t, ord, dim=(0, 2), keepdim=True), np.linalg.norm(a, ord, axis=(0, 2), keepdims=True))
    run(lambda x: LA.matrix_norm(x, ord), [((3, 4), "any")], "transposed")


def test_linalg_norm_dispatch(rng):
    a = rng.standard_normal((3, 4))
    t = torch.tensor(a)
    assert_close(LA.norm(t), np.array(np.linalg.norm(a)))
    assert_close(LA.norm(t, 2), np.array(np.linalg.norm(a, 2)))
    assert_close(LA.norm(t[0], 1), np.array(np.linalg.norm(a[0], 1)))
    assert_close(LA.norm(t, dim=1), np.linalg.norm(a, axis=1))
    assert_close(LA.norm(t, "nuc", (0, 1)), np.array(np.linalg.norm(a, "nuc")))
    with pytest.raises(RuntimeError):
        LA.norm(torch.ones(2, 2, 2), 2)


# ------------------------------------------------------------------ inverses, determinants, solves

@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1), (2, 0, 0)])
def test_inv_det_slogdet(shape, rng):
    a = _wellcond(rng, shape) if shape[-1] else np.zeros(shape)
    t = torch.tensor(a)
    assert_close(LA.inv(t), np.linalg.inv(a), rtol=1e-10, atol=1e-10)
    assert_close(LA.det(t), np.asarray(np.linalg.det(a)), rtol=1e-10, atol=1e-10)
    s, l_ = LA.slogdet(-t)
    rs, rl = np.linalg.slogdet(-a)
    assert_close(s, np.asarray(rs))
    assert_close(l_, np.asarray(rl), rtol=1e-10, atol=1e-10)
    if shape[-1]:
        spec = [(shape, "any")]

        def shifted(f):
            return lambda x: f(x + 3 * torch.eye(shape[-1], dtype=F64))

        run(shifted(LA.inv), spec)
        run(shifted(LA.det), spec, "transposed")
        run(shifted(lambda x: LA.slogdet(x).logabsdet), spec)


def test_det_gradient_of_singular_matrix():
    # d det(A) = adj(A)^T, defined for singular A: the finite differences agree
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    x = torch.tensor(a, requires_grad=True)
    LA.det(x).backward()
    eps = 1e-6
    fd = np.zeros_like(a)
    for i in range(3):
        for j in range(3):
            p, m = a.copy(), a.copy()
            p[i, j] += eps
            m[i, j] -= eps
            fd[i, j] = (np.linalg.det(p) - np.linalg.det(m)) / (2 * eps)
    np.testing.assert_allclose(x.grad.numpy(), fd, atol=1e-6)


def test_singular_and_bad_input_errors():
    with pytest.raises(LA.LinAlgError):
        LA.inv(torch.zeros(2, 2))
    assert issubclass(LA.LinAlgError, RuntimeError)
    with pytest.raises(RuntimeError, match="square"):
        LA.inv(torch.ones(2, 3))
    with pytest.raises(RuntimeError, match="2 dimensions"):
        LA.det(torch.ones(3))
    with pytest.raises(RuntimeError):
        LA.det(torch.ones(2, 2, dtype=torch.int64))
    with pytest.raises(LA.LinAlgError):
        LA.cholesky(-torch.eye(2))
    with pytest.raises(LA.LinAlgError):
        LA.solve(torch.zeros(2, 2), torch.ones(2))


@pytest.mark.parametrize("bshape", [(3,), (3, 2), (2, 3), (2, 3, 1)])
def test_solve(bshape, rng):
    a = _wellcond(rng, (2, 3, 3))
    b = rng.standard_normal(bshape)
    t = LA.solve(torch.tensor(a), torch.tensor(b))
    if len(bshape) == 1 or bshape == (2, 3):
        ref = np.linalg.solve(a, b[..., None])[..., 0]
    else:
        ref = np.linalg.solve(a, b)
    assert_close(t, ref, rtol=1e-10, atol=1e-10)
    run(lambda x, y: LA.solve(x + 3 * torch.eye(3, dtype=F64), y), [((2, 3, 3), "any"), (bshape, "any")])


def test_solve_left_false(rng):
    a = _wellcond(rng, (3, 3))
    b = rng.standard_normal((2, 3))
    assert_close(LA.solve(torch.tensor(a), torch.tensor(b), left=False), b @ np.linalg.inv(a), rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------ factorizations

@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(upper, rng):
    a = _spd(rng, (2, 3, 3))
    L = np.linalg.cholesky(a)
    assert_close(LA.cholesky(torch.tensor(a), upper=upper), np.swapaxes(L, -1, -2) if upper else L, rtol=1e-10, atol=1e-10)

    def f(x):
        return LA.cholesky(x.matmul(x.transpose(-1, -2)) + 3 * torch.eye(3, dtype=F64), upper=upper)

    run(f, [((2, 3, 3), "any")])


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 5, 3)])
def test_qr(shape, rng):
    a = rng.standard_normal(shape)
    q, r = LA.qr(torch.tensor(a))
    rq, rr = np.linalg.qr(a)
    assert_close(q, rq, rtol=1e-10, atol=1e-10)
    assert_close(r, rr, rtol=1e-10, atol=1e-10)
    qc, rc = LA.qr(torch.tensor(a), mode="complete")
    assert_close(qc.matmul(rc), a, rtol=1e-10, atol=1e-10)
    assert tuple(qc.shape) == shape[:-2] + (shape[-2], shape[-2])
    assert_close(LA.qr(torch.tensor(a), mode="r").R, rr, rtol=1e-10, atol=1e-10)
    run(lambda x: LA.qr(x), [(shape, "any")])
    with pytest.raises(RuntimeError):
        LA.qr(torch.tensor(a), mode="bogus")


def test_eigh_and_svdvals(rng):
    a = _spd(rng, (2, 3, 3))
    w, v = LA.eigh(torch.tensor(a))
    rw, _ = np.linalg.eigh(a)
    assert_close(w, rw, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose((v.numpy() * w.numpy()[..., None, :]) @ np.swapaxes(v.numpy(), -1, -2), a, atol=1e-10)
    assert_close(LA.eigvalsh(torch.tensor(a)), rw, rtol=1e-10, atol=1e-10)
    # eigenvectors are defined up to sign: check a sign-invariant function of them
    run(lambda x: LA.eigh(x + x.transpose(-1, -2)).eigenvalues, [((2, 3, 3), "any")])
    run(lambda x: (LA.eigh(x + x.transpose(-1, -2)).eigenvectors ** 2), [((3, 3), "any")])
    b = rng.standard_normal((3, 5))
    assert_close(LA.svdvals(torch.tensor(b)), np.linalg.svd(b, compute_uv=False), rtol=1e-10, atol=1e-10)
    run(lambda x: LA.svdvals(x), [((3, 4), "any")])
    u, s, vh = LA.svd(torch.tensor(b), full_matrices=False)
    np.testing.assert_allclose((u.numpy() * s.numpy()) @ vh.numpy(), b, atol=1e-10)


@pytest.mark.parametrize("shape,full", [((3, 5), False), ((5, 3), False), ((3, 3), True), ((2, 4, 3), False)])
def test_svd_values_and_gradients(shape, full, rng):
    b = rng.standard_normal(shape)
    u, s, vh = LA.svd(torch.tensor(b), full_matrices=full)
    ru, rs, rvh = np.linalg.svd(b, full_matrices=full)
    assert_close(s, rs, rtol=1e-10, atol=1e-10)
    assert_close(u, ru, rtol=1e-10, atol=1e-10)
    assert_close(vh, rvh, rtol=1e-10, atol=1e-10)
    run(lambda x: LA.svd(x, full_matrices=full), [(shape, "any")])
    # a sign-invariant use of the vectors: the rank-1 part of the largest singular value
    run(lambda x: (lambda r: (r.U[..., :, :1] * r.S[..., None, :1]).matmul(r.Vh[..., :1, :]))(LA.svd(x, full_matrices=False)), [(shape, "any")])
    if shape[-1] != shape[-2]:
        with pytest.raises(RuntimeError, match="full_matrices"):
            LA.svd(torch.tensor(b, requires_grad=True))


def test_matrix_power_vecdot_cross(rng):
    a = _wellcond(rng, (3, 3))
    t = torch.tensor(a)
    for n in (-2, 0, 1, 3):
        assert_close(LA.matrix_power(t, n), np.linalg.matrix_power(a, n), rtol=1e-9, atol=1e-9)
    x, y = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    assert_close(LA.vecdot(torch.tensor(x), torch.tensor(y)), (x * y).sum(-1))
    assert_close(LA.cross(torch.tensor(x), torch.tensor(y)), np.cross(x, y))


# ---------------------------------------------------------------------------------------------
# matrix_exp, and the torch.det / inverse / slogdet / logdet / matrix_power entry points

def _expm_eig(a):
    """exp of a symmetric matrix through its eigendecomposition (exact in float64)."""
    w, v = np.linalg.eigh(a)
    return (v * np.exp(w)[..., None, :]) @ np.swapaxes(v, -1, -2)


@pytest.mark.parametrize("scale", [0.1, 1.0, 7.0, 40.0])
def test_matrix_exp_matches_the_eigendecomposition(scale):
    rng = np.random.default_rng(int(scale * 10))
    b = rng.standard_normal((3, 4, 4))
    a = (b + np.swapaxes(b, -1, -2)) * scale / 4
    got = torch.linalg.matrix_exp(torch.tensor(a))
    ref = _expm_eig(a)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())
    np.testing.assert_allclose(torch.matrix_exp(torch.tensor(a)).numpy(), got.numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(torch.tensor(a).matrix_exp().numpy(), got.numpy(), rtol=0, atol=0)


def test_matrix_exp_closed_forms_and_edges():
    t = 0.7
    rot = torch.linalg.matrix_exp(torch.tensor([[0.0, -t], [t, 0.0]], dtype=torch.float64))
    np.testing.assert_allclose(rot.numpy(), [[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]], rtol=1e-14)
    nil = torch.linalg.matrix_exp(torch.tensor([[0.0, 3.0], [0.0, 0.0]], dtype=torch.float64))
    np.testing.assert_allclose(nil.numpy(), [[1.0, 3.0], [0.0, 1.0]], atol=1e-15)
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 5)) * 2  # not symmetric: exp(A) exp(-A) = I
    e1, e2 = torch.linalg.matrix_exp(torch.tensor(a)), torch.linalg.matrix_exp(torch.tensor(-a))
    np.testing.assert_allclose((e1 @ e2).numpy(), np.eye(5), atol=1e-9)
    f = torch.linalg.matrix_exp(torch.tensor(a, dtype=torch.float32))
    assert f.dtype == torch.float32
    np.testing.assert_allclose(f.numpy(), e1.numpy(), rtol=1e-4, atol=1e-4 * np.abs(e1.numpy()).max())
    assert tuple(torch.linalg.matrix_exp(torch.zeros(2, 0, 0)).shape) == (2, 0, 0)
    with pytest.raises(RuntimeError, match="A must be batches of square matrices, but they are 2 by 3 matrices"):
        torch.linalg.matrix_exp(torch.zeros(2, 3))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        torch.linalg.matrix_exp(torch.zeros(3))
    with pytest.raises(RuntimeError, match="floating point"):
        torch.linalg.matrix_exp(torch.zeros(3, 3, dtype=torch.int64))


def test_matrix_exp_gradients_to_second_order():
    rng = np.random.default_rng(4)
    a = torch.tensor(rng.standard_normal((2, 3, 3)) * 1.5, requires_grad=True)
    assert torch.autograd.gradcheck(torch.linalg.matrix_exp, (a,))
    assert torch.autograd.gradgradcheck(torch.linalg.matrix_exp, (a,))


def test_top_level_determinant_and_inverse_functions():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 4, 4))
    t = torch.tensor(a)
    np.testing.assert_allclose(torch.det(t).numpy(), np.linalg.det(a), rtol=1e-10)
    np.testing.assert_allclose(t.det().numpy(), np.linalg.det(a), rtol=1e-10)
    np.testing.assert_allclose(torch.inverse(t).numpy(), np.linalg.inv(a), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(t.inverse().numpy(), np.linalg.inv(a), rtol=1e-9, atol=1e-12)
    sign, logabs = torch.slogdet(t)
    rs, rl = np.linalg.slogdet(a)
    np.testing.assert_allclose(sign.numpy(), rs)
    np.testing.assert_allclose(logabs.numpy(), rl, rtol=1e-10)
    assert t.slogdet().sign.shape == (3,)
    ld = torch.logdet(t).numpy()
    det = np.linalg.det(a)
    np.testing.assert_allclose(ld[det > 0], np.log(det[det > 0]), rtol=1e-10)
    assert np.isnan(ld[det < 0]).all()
    assert torch.logdet(torch.zeros(2, 2, dtype=torch.float64)).item() == float("-inf")
    np.testing.assert_allclose(t.logdet().numpy(), ld, equal_nan=True)
    np.testing.assert_allclose(torch.matrix_power(t, 3).numpy(), a @ a @ a, rtol=1e-10)
    np.testing.assert_allclose(t.matrix_power(-2).numpy(), np.linalg.inv(a @ a), rtol=1e-8, atol=1e-10)
    # the gradient of logdet where det > 0 is inv(A)^T
    spd = a @ np.swapaxes(a, -1, -2) + np.eye(4)
    s = torch.tensor(spd, requires_grad=True)
    torch.logdet(s).sum().backward()
    np.testing.assert_allclose(s.grad.numpy(), np.swapaxes(np.linalg.inv(spd), -1, -2), rtol=1e-8)
