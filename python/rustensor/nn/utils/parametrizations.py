"""``nn.utils.parametrizations``: orthogonal, weight_norm and spectral_norm as parametrizations
(``nn.utils.parametrize``), with torch's state_dict layout."""

from __future__ import annotations

import math
from enum import Enum, auto
from typing import Optional

import numpy as np

from ..._tensor import Tensor
from ..modules.module import Module
from . import parametrize
from .weight_norm import _norm_except_dim

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


def _no_grad():
    from ...autograd import no_grad

    return no_grad()


def _eye_like(n: int, k: int, like: Tensor) -> Tensor:
    from ... import eye

    return eye(n, k, dtype=like.dtype, device=like.device)


# ------------------------------------------------------------------ matrix functions

def _matrix_exp(A: Tensor) -> Tensor:
    from ...linalg import matrix_exp

    return matrix_exp(A)


def _householder_product(A: Tensor, tau: Tensor) -> Tensor:
    """The first k columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^T with v_i the i-th column of
    A below the diagonal and 1 on it (LAPACK's orgqr / torch.linalg.householder_product)."""
    n, k = A.shape[-2], A.shape[-1]
    V = A.tril(-1) + _eye_like(n, k, A)
    Q = _eye_like(n, k, A).expand(*A.shape[:-2], n, k)
    for i in range(k - 1, -1, -1):
        v = V[..., :, i : i + 1]
        # H_i Q = Q - tau_i v (v^T Q)
        Q = Q - (tau[..., i : i + 1].unsqueeze(-1) * v).matmul(v.transpose(-1, -2).matmul(Q))
    return Q


def _geqrf_np(a: np.ndarray):
    """LAPACK's geqrf on the host: R in the upper triangle, the Householder vectors (unit first
    entry implied) below it, and their scalars tau. Batched over the leading dims."""
    a = np.array(a, dtype=np.float64)
    m, n = a.shape[-2], a.shape[-1]
    kk = min(m, n)
    batch = a.reshape(-1, m, n)
    taus = np.zeros((batch.shape[0], kk))
    for b in range(batch.shape[0]):
        r = batch[b]
        for j in range(kk):
            alpha = r[j, j]
            xnorm = float(np.linalg.norm(r[j + 1 :, j]))
            if xnorm == 0.0:
                continue  # tau = 0: no reflection (dlarfg)
            beta = -math.copysign(math.hypot(alpha, xnorm), alpha)
            taus[b, j] = (beta - alpha) / beta
            r[j + 1 :, j] /= alpha - beta
            r[j, j] = beta
            w = np.concatenate(([1.0], r[j + 1 :, j]))
            r[j:, j + 1 :] -= taus[b, j] * np.outer(w, w @ r[j:, j + 1 :])
    return batch.reshape(a.shape), taus.reshape(a.shape[:-2] + (kk,))


def _make_orthogonal(A: Tensor) -> Tensor:
    """The Q of A = QR (A tall) with diag(R) >= 0, so it is unique."""
    from ... import linalg

    with _no_grad():
        Q, R = linalg.qr(A)
        d = R.diagonal(0, -2, -1).sign()
        return Q * d.unsqueeze(-2)


def _is_orthogonal(Q: Tensor) -> bool:
    from ... import allclose, finfo

    n, k = Q.shape[-2], Q.shape[-1]
    eps = 10.0 * n * finfo(Q.dtype).eps
    return bool(allclose(Q.transpose(-1, -2).matmul(Q), _eye_like(k, k, Q), atol=eps))


# ------------------------------------------------------------------ orthogonal


class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


class _Orthogonal(Module):
    base: Optional[Tensor]

    def __init__(self, weight: Tensor, orthogonal_map: _OrthMaps, *, use_trivialization: bool = True) -> None:
        super().__init__()
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            # the orthogonal matrix the parametrization starts from (Lezcano-Casado, 2019,
            # "Trivializations for gradient-based optimization on manifolds")
            self.register_buffer("base", None)

    def forward(self, X: Tensor) -> Tensor:
        from ... import cat, linalg

        n, k = X.shape[-2], X.shape[-1]
        transposed = n < k
        if transposed:
            X = X.transpose(-1, -2)
            n, k = k, n
        # X is tall from here on
        if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
            # n k - k (k - 1) / 2 free entries: the lower triangle, embedded in a square matrix
            X = X.tril()
            if n != k:
                X = cat([X, X.new_zeros(*X.shape[:-2], n, n - k)], dim=-1)
            A = X - X.transpose(-1, -2)  # skew-symmetric
            if self.orthogonal_map == _OrthMaps.matrix_exp:
                Q = _matrix_exp(A)
            else:
                # the Cayley map (I - A/2)^-1 (I + A/2)
                Id = _eye_like(n, n, A)
                Q = linalg.solve(Id - A * 0.5, Id + A * 0.5)
            if n != k:
                Q = Q[..., :k]
        else:
            A = X.tril(-1)
            tau = 2.0 / (1.0 + (A * A).sum(-2))
            Q = _householder_product(A, tau)
            # the diagonal of X holds the signs (+-1) of the columns; truncated like torch's
            # .int(), so it is neither differentiated nor moved by the optimizer
            Q = Q * X.diagonal(0, -2, -1).detach().trunc().unsqueeze(-2)

        base = self._buffers.get("base")
        if base is not None:
            Q = base.matmul(Q)
        if transposed:
            Q = Q.transpose(-1, -2)
        return Q

    def right_inverse(self, Q: Tensor) -> Tensor:
        from ... import cat, randn, tensor, zeros_like

        if tuple(Q.shape) != tuple(self.shape):
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. Got a tensor of shape {Q.shape}.")
        with _no_grad():
            Q_init = Q
            n, k = Q.shape[-2], Q.shape[-1]
            transpose = n < k
            if transpose:
                Q = Q.transpose(-1, -2)
                n, k = k, n

            if "base" not in self._buffers:
                if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
                    raise NotImplementedError(
                        "It is not possible to assign to the matrix exponential or the Cayley parametrizations when use_trivialization=False."
                    )
                # the forward map's inverse: the Householder vectors of Q's QR, with the signs of
                # diag(R) on the diagonal (negated where no reflection was used, since the forward
                # map always reflects)
                a, tau = _geqrf_np(Q.detach().cpu().numpy())
                idx = np.arange(min(n, k))
                d = np.sign(a[..., idx, idx])
                d[tau == 0.0] *= -1
                a[..., idx, idx] = d
                A = tensor(a, dtype=Q.dtype, device=Q.device)
                return A.transpose(-1, -2) if transpose else A

            if n == k:
                Q = Q.clone() if _is_orthogonal(Q) else _make_orthogonal(Q)
            else:
                # complete Q to an n x n orthogonal matrix
                N = randn(*(tuple(Q.shape[:-2]) + (n, n - k)), dtype=Q.dtype, device=Q.device)
                Q = _make_orthogonal(cat([Q, N], dim=-1))
            self.base = Q
            # -Id: the householder map sends it to Id (its diagonal carries the signs), the
            # exponential and Cayley maps too (only the strict lower triangle matters there)
            neg_id = zeros_like(Q_init)
            neg_id.diagonal(0, -2, -1).fill_(-1.0)
            return neg_id


def orthogonal(module: Module, name: str = "weight", orthogonal_map: Optional[str] = None, *, use_trivialization: bool = True) -> Module:
    """Make ``module.<name>`` an orthogonal matrix (or batch of them); tall and wide matrices
    get orthonormal columns or rows. ``orthogonal_map`` is ``"matrix_exp"`` (default for square
    matrices), ``"cayley"`` or ``"householder"`` (default otherwise)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    orth_enum = getattr(_OrthMaps, orthogonal_map, None)
    if orth_enum is None:
        raise ValueError(f'orthogonal_map has to be one of "matrix_exp", "cayley", "householder". Got: {orthogonal_map}')
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module


# ------------------------------------------------------------------ weight_norm


class _WeightNorm(Module):
    def __init__(self, dim: Optional[int] = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / _norm_except_dim(weight_v, 2, self.dim))

    def right_inverse(self, weight: Tensor):
        return _norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: Optional[int] = 0) -> Module:
    """w = g v / ||v|| with the norm over every dim but ``dim`` (``None``: over all):
    ``parametrizations.<name>.original0`` is g, ``original1`` is v."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def _old_keys(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        # checkpoints of the hook-based weight_norm store <name>_g and <name>_v
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    module._register_load_state_dict_pre_hook(_old_keys)
    return module


# ------------------------------------------------------------------ spectral_norm


class _SpectralNorm(Module):
    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            from ... import randn
            from .. import functional as F

            self.n_power_iterations = n_power_iterations
            weight_mat = self._reshape_weight_to_matrix(weight.detach())
            h, w = weight_mat.shape
            u = randn(h, dtype=weight.dtype, device=weight.device)
            v = randn(w, dtype=weight.dtype, device=weight.device)
            self.register_buffer("_u", F.normalize(u, dim=0, eps=self.eps))
            self.register_buffer("_v", F.normalize(v, dim=0, eps=self.eps))
            # start from a good estimate of the leading singular vectors
            self._power_method(weight_mat, 15)

    def _reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        from .. import functional as F

        # u and v are updated in place: they are state carried between forwards (torch's too)
        with _no_grad():
            wm = weight_mat.detach()
            for _ in range(n_power_iterations):
                self._u.copy_(F.normalize(wm.mv(self._v), dim=0, eps=self.eps))
                self._v.copy_(F.normalize(wm.t().mv(self._u), dim=0, eps=self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        from .. import functional as F

        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        u = self._u.clone()
        v = self._v.clone()
        sigma = u.dot(weight_mat.mv(v))
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        # not a right inverse (the scale is lost): the assigned tensor is taken as the original
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12, dim: Optional[int] = None) -> Module:
    """w / sigma(w), sigma the largest singular value of w seen as a (w.shape[dim], -1) matrix,
    estimated by power iteration (``n_power_iterations`` steps per forward in training mode;
    u and v are the buffers ``parametrizations.<name>.0._u`` / ``._v``)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        from ..modules.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d

        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
