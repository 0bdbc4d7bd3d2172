"""torch.linalg for small matrices: norms, inv, det, slogdet, solve, cholesky, qr, eigh, svd.

Factorizations run on the host through NumPy's LAPACK (batched, any device: GPU inputs
round-trip). Gradients are written with core ops: each result is returned as
``exact + (S(A) - S(A).detach())`` where ``S`` is linear in the inputs and its derivative
is the standard matrix-calculus one (for example ``d inv(A) = -X dA X``), so autograd
gives torch's first derivatives. Second derivatives through these factorizations are not
available (the factors are constants on the tape). Issue 11 asks for a Rust crate
(faer) for these; this module is the stopgap.
"""

from __future__ import annotations

import builtins
import collections
import math

import numpy as np

from . import _rustensor as _C
from ._tensor import Tensor
from ._ops_common import _host, _on, _out, _wrap_dim
from ._shape_ops import _cross, _safe_root
from ._tensor import _NP_OF, _dtype_name

_b = builtins

_slogdet_t = collections.namedtuple("slogdet", ["sign", "logabsdet"])  # type: ignore[name-match]  # torch names the type after the op
_qr_t = collections.namedtuple("qr", ["Q", "R"])  # type: ignore[name-match]  # torch names the type after the op
_eigh_t = collections.namedtuple("eigh", ["eigenvalues", "eigenvectors"])  # type: ignore[name-match]  # torch names the type after the op
_svd_t = collections.namedtuple("svd", ["U", "S", "Vh"])  # type: ignore[name-match]  # torch names the type after the op


class LinAlgError(RuntimeError):
    """torch.linalg.LinAlgError: a factorization failed (singular, not positive-definite)."""


def _needs_grad(*ts) -> bool:
    return _C.is_grad_enabled() and _b.any(isinstance(t, Tensor) and t.requires_grad for t in ts)


def _st(exact: Tensor, sur: Tensor) -> Tensor:
    """``exact``'s value with ``sur``'s derivative."""
    return exact + (sur - sur.detach())


def _square(A, op):
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.{op}(): argument 'A' must be Tensor, not {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"linalg.{op}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.{op}: A must be batches of square matrices, but they are {A.shape[-2]} by {A.shape[-1]} matrices")
    _float(A, op)


def _float(A, op):
    if not A.is_floating_point() or A.dtype == _C.float16:
        raise RuntimeError(f"linalg.{op}: Expected a floating point tensor as input. Got {A.dtype}")


def _np(A) -> np.ndarray:
    return _host(A).astype(np.float64)


def _mT(x: Tensor) -> Tensor:
    return x.transpose(-1, -2)


def _c(arr, like) -> Tensor:
    """A host result as a constant tensor of ``like``'s dtype and device."""
    return _on(np.asarray(arr, dtype=_NP_OF[_dtype_name(like.dtype)]), like)


# ------------------------------------------------------------------ norms

def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: A002 - torch's name
    if not isinstance(x, Tensor):
        raise TypeError(f"linalg.vector_norm(): argument 'x' must be Tensor, not {type(x).__name__}")
    if dtype is not None:
        x = x._to_dtype(dtype)
    if not x.is_floating_point():
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got {x.dtype}")
    if dim is None:
        dims = None
    else:
        dims = [dim] if isinstance(dim, int) else list(dim)
    a = x.abs()
    o = float(ord)
    if math.isinf(o):
        if x.numel() == 0:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor because the operation does not have an identity")
        r = a.amax(dims, keepdim) if o > 0 else a.amin(dims, keepdim)
        if dims is None and keepdim:
            r = r.reshape([1] * x.ndim)
    elif o == 0:
        r = (a != 0)._to_dtype(x.dtype).sum(dims, keepdim)
    elif o == 1:
        r = a.sum(dims, keepdim)
    else:
        s = (x * x).sum(dims, keepdim) if o == 2 else (a ** o).sum(dims, keepdim)
        r = _safe_root(s, o) if o > 0 else s ** (1.0 / o)
    if dims is None and keepdim and r.ndim != x.ndim:
        r = r.reshape([1] * x.ndim)
    return _out(r, out)


def svdvals(A, *, driver=None, out=None):
    if not isinstance(A, Tensor) or A.ndim < 2:
        raise RuntimeError("linalg.svdvals: The input tensor A must have at least 2 dimensions.")
    _float(A, "svdvals")
    u, s, vh = np.linalg.svd(_np(A), full_matrices=False)
    S = _c(s, A)
    if _needs_grad(A):
        U, V = _c(u, A), _mT(_c(vh, A))
        # d sigma_i = u_i^T dA v_i
        S = _st(S, (_mT(U).matmul(A).matmul(V)).diagonal(0, -2, -1))
    return _out(S, out)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):  # noqa: A002
    if not isinstance(A, Tensor) or A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    if dtype is not None:
        A = A._to_dtype(dtype)
    _float(A, "matrix_norm")
    d0, d1 = (_wrap_dim(d, A.ndim, "matrix_norm") for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({d0}, {d1})")
    if ord == "fro":
        r = vector_norm(A, 2, (d0, d1), keepdim)
    elif ord in ("nuc", 2, -2, 2.0, -2.0):
        M = A.permute(*([k for k in range(A.ndim) if k not in (d0, d1)] + [d0, d1]))
        s = svdvals(M)
        r = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord in (2, 2.0) else s.amin(-1))
        if keepdim:
            r = r.unsqueeze(_b.min(d0, d1)).unsqueeze(_b.max(d0, d1))
    elif ord in (1, -1, math.inf, -math.inf):
        summed, red = (d0, d1) if ord in (1, -1) else (d1, d0)
        s = A.abs().sum(summed, True)
        r = s.amax(red, True) if ord in (1, math.inf) else s.amin(red, True)
        if not keepdim:
            r = r.squeeze(_b.max(d0, d1)).squeeze(_b.min(d0, d1))
    else:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    return _out(r, out)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: A002
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype, out=out)
    if dim is None and ord is not None:
        if A.ndim == 2:
            return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype, out=out)
        if A.ndim != 1:
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got {A.ndim}D.")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype, out=out)


# ------------------------------------------------------------------ inverses and determinants

def _singular(op):
    return LinAlgError(f"linalg.{op}: The diagonal element is zero, the inversion could not be completed because the input matrix is singular.")


def inv(A, *, out=None):
    _square(A, "inv")
    a = _np(A)
    try:
        x = np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise _singular("inv") from None
    X = _c(x, A)
    if _needs_grad(A):
        X = _st(X, -X.matmul(A).matmul(X))
    return _out(X, out)


def _adjugate(a: np.ndarray) -> np.ndarray:
    """adj(A) (so that d det = tr(adj(A) dA)), through the SVD: defined for singular A too."""
    u, s, vh = np.linalg.svd(a)
    n = a.shape[-1]
    prods = np.stack([np.prod(np.delete(s, i, axis=-1), axis=-1) for i in range(n)], axis=-1) if n > 1 else np.ones_like(s)
    sign = np.linalg.det(u) * np.linalg.det(vh)
    return sign[..., None, None] * np.swapaxes(vh, -1, -2) @ (prods[..., :, None] * np.swapaxes(u, -1, -2))


def det(A, *, out=None):
    _square(A, "det")
    a = _np(A)
    D = _c(np.linalg.det(a), A)
    if _needs_grad(A):
        adj = _c(_adjugate(a), A)
        D = _st(D, (_mT(adj) * A).sum((-2, -1)) if A.shape[-1] else A.sum((-2, -1)))
    return _out(D, out)


def slogdet(A, *, out=None):
    _square(A, "slogdet")
    a = _np(A)
    sign, logabs = np.linalg.slogdet(a)
    S, L = _c(sign, A), _c(logabs, A)
    if _needs_grad(A):
        with np.errstate(all="ignore"):
            x = np.linalg.pinv(a) if a.shape[-1] else a
        X = _c(x, A)
        L = _st(L, (_mT(X) * A).sum((-2, -1)))
    return _out(_slogdet_t(S, L), out)


def solve(A, B, *, left=True, out=None):
    _square(A, "solve")
    if not left:
        return _out(_mT(solve(_mT(A), _mT(B))), out)
    if B.dtype != A.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type {A.dtype} and B of type {B.dtype} instead")
    vec = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    Bm = B.unsqueeze(-1) if vec else B
    if Bm.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B ({A.shape[-2]}x{A.shape[-1]} and {Bm.shape[-2]}x{Bm.shape[-1]})")
    a, b = _np(A), _np(Bm)
    try:
        x = np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        raise LinAlgError("linalg.solve: The solver failed because the input matrix is singular.") from None
    X = _c(x, A)
    if _needs_grad(A, B):
        Ai = _c(np.linalg.inv(a), A)
        # dX = A^-1 (dB - dA X)
        X = _st(X, Ai.matmul(Bm - A.matmul(X.detach())))
    return _out(X.squeeze(-1) if vec else X, out)


# ------------------------------------------------------------------ factorizations

def _sym(x: Tensor) -> Tensor:
    return (x + _mT(x)) * 0.5


def _phi(x: Tensor) -> Tensor:
    """The lower triangle with half the diagonal (the Cholesky derivative's projection)."""
    return x.tril(-1) + x.diagonal(0, -2, -1).diag_embed() * 0.5


def cholesky(A, *, upper=False, out=None):
    _square(A, "cholesky")
    a = _np(A)
    try:
        l_ = np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        raise LinAlgError("linalg.cholesky: The factorization could not be completed because the input is not positive-definite.") from None
    L = _c(l_, A)
    if _needs_grad(A):
        Li = _c(np.linalg.inv(l_), A)
        # dL = L phi(L^-1 sym(dA) L^-T); torch symmetrises the input's gradient too
        L = _st(L, L.matmul(_phi(Li.matmul(_sym(A)).matmul(_mT(Li)))))
    return _out(_mT(L) if upper else L, out)


def qr(A, mode="reduced", *, out=None):
    if not isinstance(A, Tensor) or A.ndim < 2:
        raise RuntimeError("linalg.qr: The input tensor A must have at least 2 dimensions.")
    _float(A, "qr")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', or 'complete'")
    a = _np(A)
    q, r = np.linalg.qr(a, mode="complete" if mode == "complete" else "reduced")
    Q, R = _c(q, A), _c(r, A)
    m, n = A.shape[-2], A.shape[-1]
    if _needs_grad(A):
        if m < n or (mode == "complete" and m > n):
            raise RuntimeError("linalg.qr: the derivative is implemented for mode='reduced' with m >= n (and square 'complete') only")
        Ri = _c(np.linalg.inv(r), A)
        # A = QR: X = Q^T dA R^-1 = Omega (antisymmetric, Q^T dQ) + dR R^-1 (upper triangular)
        X = _mT(Q).matmul(A).matmul(Ri)
        low = X.tril(-1)
        om = low - _mT(low)
        R = _st(R, (X - om).matmul(R))
        Q = _st(Q, Q.matmul(om) + (A - Q.matmul(_mT(Q).matmul(A))).matmul(Ri))
    if mode == "r":
        return _out(_qr_t(_C._full([0], 0, A.dtype, A.device), R), out)
    return _out(_qr_t(Q, R), out)


def eigh(A, UPLO="L", *, out=None):
    _square(A, "eigh")
    a = _np(A)
    w, v = np.linalg.eigh(a, UPLO=UPLO)
    W, V = _c(w, A), _c(v, A)
    if _needs_grad(A):
        n = a.shape[-1]
        with np.errstate(divide="ignore"):
            f = 1.0 / (w[..., None, :] - w[..., :, None])
        f[..., np.arange(n), np.arange(n)] = 0.0
        F = _c(f, A)
        M = _mT(V).matmul(_sym(A)).matmul(V)
        W = _st(W, M.diagonal(0, -2, -1))
        V = _st(V, V.matmul(F * M))
    return _out(_eigh_t(W, V), out)


def eigvalsh(A, UPLO="L", *, out=None):
    return _out(eigh(A, UPLO).eigenvalues, out)


def svd(A, full_matrices=True, *, driver=None, out=None):
    """U, S, Vh with A = U diag(S) Vh. Differentiable for the reduced factors
    (``full_matrices=False``, or square A) with distinct non-zero singular values."""
    if not isinstance(A, Tensor) or A.ndim < 2:
        raise RuntimeError("linalg.svd: The input tensor A must have at least 2 dimensions.")
    _float(A, "svd")
    m, n = A.shape[-2], A.shape[-1]
    u, s, vh = np.linalg.svd(_np(A), full_matrices=full_matrices)
    U, S, Vh = _c(u, A), _c(s, A), _c(vh, A)
    if _needs_grad(A):
        if full_matrices and m != n:
            raise RuntimeError("linalg.svd: the derivative of U and Vh with full_matrices=True is not defined for non-square inputs; use full_matrices=False")
        k = s.shape[-1]
        with np.errstate(divide="ignore"):
            f = 1.0 / (s[..., None, :] ** 2 - s[..., :, None] ** 2)
        f[..., np.arange(k), np.arange(k)] = 0.0
        F, V = _c(f, A), _mT(Vh)
        Si = _c(1.0 / s, A)
        Sd = S.unsqueeze(-2)  # right-multiplying by diag(S) scales columns
        # Townsend's derivative of the SVD, P = U^T dA V:
        #   dS = diag(P), dU = U (F o (P S + S P^T)) + (I - U U^T) dA V S^-1,
        #   dV = V (F o (S P + P^T S)) + (I - V V^T) dA^T U S^-1
        P = _mT(U).matmul(A).matmul(V)
        PS, SP = P * Sd, P * S.unsqueeze(-1)
        dU = U.matmul(F * (PS + _mT(PS))) + (A.matmul(V) - U.matmul(_mT(U).matmul(A).matmul(V))) * Si.unsqueeze(-2)
        dV = V.matmul(F * (SP + _mT(SP))) + (_mT(A).matmul(U) - V.matmul(_mT(V).matmul(_mT(A)).matmul(U))) * Si.unsqueeze(-2)
        S = _st(S, P.diagonal(0, -2, -1))
        U = _st(U, dU)
        Vh = _st(Vh, _mT(dV))
    return _out(_svd_t(U, S, Vh), out)


def cross(input, other, *, dim=-1, out=None):
    return _out(_cross(input, other, dim), out)


def matrix_power(A, n, *, out=None):
    _square(A, "matrix_power")
    if n < 0:
        A, n = inv(A), -n
    r = _C._eye(A.shape[-1], A.shape[-1], A.dtype, A.device).expand(*A.shape) if n == 0 else A
    for _ in range(n - 1):
        r = r.matmul(A)
    return _out(r if n != 0 else r.clone(), out)


# Taylor degree for exp(X) with ||X||_1 <= 1: the remainder is below e / 19!, under float64's
# rounding
_EXP_DEGREE = 18


def matrix_exp(A):
    """exp(A) of (..., n, n) by scaling and squaring over a degree-18 Taylor polynomial,
    written in matmuls (Paterson-Stockmeyer: 7 products), so it runs on any device and autograd
    differentiates it, to any order. torch uses a Pade approximant with an exact backward;
    the two agree to rounding (the polynomial is exact to float64's precision after scaling)."""
    _square(A, "matrix_exp")
    n = A.shape[-1]
    if A.numel() == 0:
        return A.clone()
    norm1 = float(A.detach().abs().sum(-2).max())  # the largest 1-norm over the batch
    s = 0 if not math.isfinite(norm1) or norm1 <= 1.0 else int(math.ceil(math.log2(norm1)))
    X = A / float(2 ** s) if s else A
    eye = _C._eye(n, n, A.dtype, A.device)
    X2 = X.matmul(X)
    powers = [eye, X, X2, X2.matmul(X)]
    X4 = X2.matmul(X2)
    coef = [1.0 / math.factorial(j) for j in range(_EXP_DEGREE + 1)]
    blocks = []
    for b in range(0, _EXP_DEGREE + 1, 4):
        terms = [powers[i] * coef[b + i] for i in range(4) if b + i <= _EXP_DEGREE]
        blk = terms[0]
        for t in terms[1:]:
            blk = blk + t
        blocks.append(blk)
    P = blocks[-1]
    for blk in reversed(blocks[:-1]):
        P = blk + X4.matmul(P)
    for _ in range(s):
        P = P.matmul(P)
    return P


def vecdot(x, y, *, dim=-1, out=None):
    return _out((x * y).sum(dim), out)


def matmul(input, other, *, out=None):
    return _out(input.matmul(other), out)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return A.diagonal(offset, dim1, dim2)

