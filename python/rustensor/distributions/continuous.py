"""Normal, Uniform and MultivariateNormal (full or diagonal covariance, through Cholesky)."""

from __future__ import annotations

import math

from .._tensor import Tensor
from .._tensor import Size
from .._random import _normal, _uniform
from .distribution import LOG_SQRT_2PI, Distribution, _as_float


def _val(value, like: Tensor) -> Tensor:
    if not isinstance(value, Tensor):
        from .._tensor import tensor

        value = tensor(value, dtype=like.dtype)
        return value if like.device.type == "cpu" else value.to(like.device)
    return value if value.dtype == like.dtype else value._to_dtype(like.dtype)


class Normal(Distribution):
    """Normal(loc, scale)."""

    arg_constraints = {"loc": "real", "scale": "positive"}
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = _as_float(loc, scale)
        super().__init__(self.loc.shape, Size(), validate_args)
        self._check(self.scale > 0, "scale", self.scale, "GreaterThan(lower_bound=0.0)")

    def rsample(self, sample_shape=Size(), generator=None):
        shape = self._extended_shape(sample_shape)
        eps = _normal(list(shape), generator, self.loc.dtype, self.loc.device)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        value = _val(value, self.loc)
        var = self.scale * self.scale
        return -((value - self.loc) ** 2) / (2 * var) - self.scale.log() - LOG_SQRT_2PI

    def entropy(self):
        return 0.5 + LOG_SQRT_2PI + self.scale.log()

    def cdf(self, value):
        value = _val(value, self.loc)
        z = (value - self.loc) / (self.scale * math.sqrt(2))
        if not hasattr(z, "erf"):
            raise NotImplementedError("Normal.cdf needs Tensor.erf")
        return 0.5 * (1 + z.erf())

    def icdf(self, value):
        value = _val(value, self.loc)
        if not hasattr(value, "erfinv"):
            raise NotImplementedError("Normal.icdf needs Tensor.erfinv")
        return self.loc + self.scale * (2 * value - 1).erfinv() * math.sqrt(2)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale * self.scale


class Uniform(Distribution):
    """Uniform(low, high): the half-open interval [low, high)."""

    arg_constraints = {"low": "real", "high": "real"}
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = _as_float(low, high)
        super().__init__(self.low.shape, Size(), validate_args)
        self._check(self.low < self.high, "low", self.low, "LessThan(upper_bound=high)")

    def rsample(self, sample_shape=Size(), generator=None):
        shape = self._extended_shape(sample_shape)
        u = _uniform(list(shape), generator, self.low.dtype, self.low.device)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        value = _val(value, self.low)
        self._check_sample((value >= self.low).logical_and(value <= self.high), value)
        inside = (value >= self.low).logical_and(value < self.high)._to_dtype(self.low.dtype)
        return inside.log() - (self.high - self.low).log()

    def cdf(self, value):
        value = _val(value, self.low)
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value):
        return self.low + _val(value, self.low) * (self.high - self.low)

    def entropy(self):
        return (self.high - self.low).log()

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return self.low * float("nan")

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12


class MultivariateNormal(Distribution):
    """MultivariateNormal(loc, covariance_matrix | precision_matrix | scale_tril)."""

    arg_constraints = {"loc": "real_vector", "covariance_matrix": "positive_definite",
                       "precision_matrix": "positive_definite", "scale_tril": "lower_cholesky"}
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        from .. import linalg

        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        m = given[0]
        if m.ndim < 2:
            raise ValueError("covariance_matrix, precision_matrix or scale_tril must be at least two-dimensional, with optional leading batch dimensions")
        if m.shape[-1] != loc.shape[-1] or m.shape[-2] != loc.shape[-1]:
            raise ValueError(f"the matrix shape {list(m.shape)} does not match loc's event size {loc.shape[-1]}")
        if scale_tril is not None:
            L = scale_tril
        elif covariance_matrix is not None:
            try:
                L = linalg.cholesky(covariance_matrix)
            except RuntimeError:
                raise ValueError("Expected parameter covariance_matrix to satisfy the constraint PositiveDefinite()") from None
        else:
            L = linalg.cholesky(linalg.inv(precision_matrix))
        import numpy as np

        batch = tuple(np.broadcast_shapes(tuple(loc.shape[:-1]), tuple(L.shape[:-2])))
        n = loc.shape[-1]
        self.loc = loc.expand(*(batch + (n,)))
        self._unbroadcasted_scale_tril = L
        self.scale_tril = L.expand(*(batch + (n, n)))
        if covariance_matrix is not None:
            self.covariance_matrix = covariance_matrix.expand(*(batch + (n, n)))
        if precision_matrix is not None:
            self.precision_matrix = precision_matrix.expand(*(batch + (n, n)))
        super().__init__(batch, (n,), validate_args)

    def __getattr__(self, name):
        # covariance/precision computed on demand when not given, as torch's lazy properties
        if name == "covariance_matrix":
            L = self.__dict__["scale_tril"]
            return L.matmul(L.transpose(-1, -2))
        if name == "precision_matrix":
            from .. import linalg

            return linalg.inv(self.covariance_matrix)
        raise AttributeError(name)

    def rsample(self, sample_shape=Size(), generator=None):
        shape = self._extended_shape(sample_shape)
        eps = _normal(list(shape), generator, self.loc.dtype, self.loc.device)
        return self.loc + self._unbroadcasted_scale_tril.matmul(eps.unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self):
        return self._unbroadcasted_scale_tril.diagonal(0, -2, -1).log().sum(-1)

    def log_prob(self, value):
        from .. import linalg

        diff = _val(value, self.loc) - self.loc
        L = self._unbroadcasted_scale_tril
        import numpy as np

        shape = tuple(np.broadcast_shapes(tuple(diff.shape[:-1]), tuple(L.shape[:-2])))
        n = self.loc.shape[-1]
        z = linalg.solve(L.expand(*(shape + (n, n))), diff.expand(*(shape + (n,))).unsqueeze(-1)).squeeze(-1)
        maha = (z * z).sum(-1)
        return -0.5 * (n * math.log(2 * math.pi) + maha) - self._half_log_det()

    def entropy(self):
        n = self.loc.shape[-1]
        h = 0.5 * n * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return h.expand(*self.batch_shape) if len(self.batch_shape) else h

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        L = self._unbroadcasted_scale_tril
        return (L * L).sum(-1).expand(*(tuple(self.batch_shape) + tuple(self.event_shape)))

