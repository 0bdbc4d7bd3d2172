"""Bernoulli and Categorical, each parameterised by probs or logits."""

from __future__ import annotations

from .. import _rustensor as _C
from .._tensor import Tensor
from .._tensor import Size
from .._random import _uniform, multinomial
from .distribution import Distribution, _as_float


def _softplus(x: Tensor) -> Tensor:
    # log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)
    return x.clamp(0, None) + (-x.abs()).exp().log1p()


def _probs_to_logits(p: Tensor, binary: bool) -> Tensor:
    eps = float(__import__("numpy").finfo("float32" if p.dtype != _C.float64 else "float64").eps)
    c = p.clamp(eps, 1 - eps)
    return c.log() - (-c).log1p() if binary else c.log()


class Bernoulli(Distribution):
    """Bernoulli(probs=None, logits=None): 1 with probability ``probs``."""

    arg_constraints = {"probs": "unit_interval", "logits": "real"}

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            (self.probs,) = _as_float(probs)
            super().__init__(self.probs.shape, Size(), validate_args)
            self._check((self.probs >= 0).logical_and(self.probs <= 1), "probs", self.probs, "Interval(lower_bound=0.0, upper_bound=1.0)")
            self._given = "probs"
        else:
            (self.logits,) = _as_float(logits)
            super().__init__(self.logits.shape, Size(), validate_args)
            self._given = "logits"

    def __getattr__(self, name):
        if name == "logits":
            return _probs_to_logits(self.__dict__["probs"], True)
        if name == "probs":
            return self.__dict__["logits"].sigmoid()
        raise AttributeError(name)

    @property
    def _param(self):
        return self.__dict__[self._given]

    def sample(self, sample_shape=Size(), generator=None):
        shape = self._extended_shape(sample_shape)
        p = self.probs.detach()
        u = _uniform(list(shape), generator, p.dtype, p.device)
        return (u < p.expand(*shape))._to_dtype(p.dtype)

    def log_prob(self, value):
        logits = self.logits
        if not isinstance(value, Tensor):
            from .._tensor import tensor

            value = tensor(value, dtype=logits.dtype)
        value = value._to_dtype(logits.dtype)
        self._check_sample((value == 0).logical_or(value == 1), value)
        # -binary_cross_entropy_with_logits(logits, value)
        return -(_softplus(logits) - logits * value)

    def entropy(self):
        logits, p = self.logits, self.probs
        return _softplus(logits) - logits * p

    def enumerate_support(self, expand=True):
        from .. import arange

        v = arange(2, dtype=self._param.dtype).reshape((-1,) + (1,) * len(self.batch_shape))
        return v.expand(*((2,) + tuple(self.batch_shape))) if expand else v

    has_enumerate_support = True

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        p = self.probs
        m = (p >= 0.5)._to_dtype(p.dtype)
        return _C._where(p == 0.5, _C._scalar_tensor(float("nan"), p.dtype), m)

    @property
    def variance(self):
        p = self.probs
        return p * (1 - p)

    @property
    def param_shape(self):
        return self._param.shape


class Categorical(Distribution):
    """Categorical(probs=None, logits=None) over the last dimension's categories."""

    arg_constraints = {"probs": "simplex", "logits": "real_vector"}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        p = probs if probs is not None else logits
        if not isinstance(p, Tensor) or p.ndim < 1:
            raise ValueError("`probs` or `logits` parameter must be at least one-dimensional.")
        if not p.is_floating_point():
            p = p._to_dtype(_C.float32)
        super().__init__(p.shape[:-1], Size(), validate_args)
        if probs is not None:
            self._check(p >= 0, "probs", p, "Simplex()")
            self.probs = p / p.sum(-1, True)
            self._given = "probs"
        else:
            self.logits = p - p.logsumexp(-1, True)
            self._given = "logits"
        self._num_events = p.shape[-1]

    def __getattr__(self, name):
        if name == "logits":
            return _probs_to_logits(self.__dict__["probs"], False)
        if name == "probs":
            return self.__dict__["logits"].softmax(-1)
        raise AttributeError(name)

    @property
    def param_shape(self):
        return self.__dict__[self._given].shape

    def sample(self, sample_shape=Size(), generator=None):
        n = 1
        for s in sample_shape:
            n *= int(s)
        p = self.probs.detach()
        flat = p.reshape(-1, self._num_events)
        if n == 0 or flat.shape[0] == 0:
            return _C._full(list(self._extended_shape(sample_shape)), 0, _C.int64, p.device)
        draws = multinomial(flat, n, True, generator=generator)  # (batch, n)
        return draws.transpose(0, 1).reshape(*self._extended_shape(sample_shape))

    def log_prob(self, value):
        import numpy as np

        logits = self.logits
        if not isinstance(value, Tensor):
            from .._tensor import tensor

            value = tensor(value)
        v = value._to_dtype(_C.int64)
        self._check_sample((v >= 0).logical_and(v < self._num_events).logical_and(value == v), value)
        shape = tuple(np.broadcast_shapes(tuple(v.shape), tuple(logits.shape[:-1])))
        lp = logits.expand(*(shape + (self._num_events,)))
        return lp.gather(-1, v.expand(*shape).unsqueeze(-1)).squeeze(-1)

    def entropy(self):
        import numpy as np

        logits = self.logits
        lo = float(np.finfo("float64" if logits.dtype == _C.float64 else "float32").min)
        return -(logits.clamp(lo, None) * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        from .. import arange

        v = arange(self._num_events).reshape((-1,) + (1,) * len(self.batch_shape))
        return v.expand(*((self._num_events,) + tuple(self.batch_shape))) if expand else v

    @property
    def mean(self):
        return _C._full(list(self.batch_shape), float("nan"), self.probs.dtype, self.probs.device)

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return self.mean
