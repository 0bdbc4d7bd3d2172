"""The Distribution base class: shapes, argument validation and the sampling protocol."""

from __future__ import annotations

import math

from .. import _rustensor as _C
from .._tensor import Tensor
from .._tensor import Size, tensor


def _as_float(*values):
    """Parameters as tensors of one float dtype and a common broadcast shape, as torch's
    ``broadcast_all``: Python numbers take the dtype of the tensor arguments."""
    ts = [v for v in values if isinstance(v, Tensor)]
    dt = _C.float32
    for t in ts:
        if t.is_floating_point() and (dt == _C.float32 or t.dtype == _C.float64):
            dt = t.dtype if t.dtype != _C.float16 else dt
    dev = ts[0].device if ts else None
    out = []
    for v in values:
        if isinstance(v, Tensor):
            out.append(v if v.dtype == dt else v._to_dtype(dt))
        else:
            t = tensor(float(v), dtype=dt)
            out.append(t if dev is None else t.to(dev))
    shape = _broadcast_shape(*[tuple(t.shape) for t in out])
    return [t.expand(*shape) for t in out]


def _broadcast_shape(*shapes):
    import numpy as np

    return tuple(np.broadcast_shapes(*shapes))


class Distribution:
    """Base of every distribution: ``batch_shape``, ``event_shape``, ``sample``/``rsample``,
    ``log_prob``, ``entropy``, moments. Subclasses set ``has_rsample`` and override."""

    has_rsample = False
    has_enumerate_support = False
    _validate_default = True
    arg_constraints: dict = {}

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        Distribution._validate_default = bool(value)

    def __init__(self, batch_shape=Size(), event_shape=Size(), validate_args=None):
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        self._validate_args = Distribution._validate_default if validate_args is None else bool(validate_args)

    @property
    def batch_shape(self) -> Size:
        return self._batch_shape

    @property
    def event_shape(self) -> Size:
        return self._event_shape

    def _extended_shape(self, sample_shape=Size()) -> Size:
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def sample(self, sample_shape=Size(), generator=None):
        """``generator=`` is ours (torch's distributions draw from the global stream only)."""
        from ..autograd import no_grad

        with no_grad():
            return self.rsample(sample_shape, generator=generator)

    def rsample(self, sample_shape=Size(), generator=None):
        raise NotImplementedError(f"{type(self).__name__} does not implement rsample")

    def sample_n(self, n):
        return self.sample(Size((n,)))

    def log_prob(self, value):
        raise NotImplementedError

    def entropy(self):
        raise NotImplementedError

    def cdf(self, value):
        raise NotImplementedError

    def icdf(self, value):
        raise NotImplementedError

    def perplexity(self):
        return self.entropy().exp()

    @property
    def mean(self):
        raise NotImplementedError

    @property
    def mode(self):
        raise NotImplementedError

    @property
    def variance(self):
        raise NotImplementedError

    @property
    def stddev(self):
        return self.variance.sqrt()

    def _check(self, ok: Tensor, name: str, value, constraint: str) -> None:
        if self._validate_args and ok.numel() and not bool(ok.all()):
            raise ValueError(
                f"Expected parameter {name} ({type(value).__name__} of shape {tuple(getattr(value, 'shape', ()))}) "
                f"of distribution {self!r} to satisfy the constraint {constraint}, but found invalid values:\n{value}"
            )

    def _check_sample(self, ok: Tensor, value) -> None:
        if self._validate_args and ok.numel() and not bool(ok.all()):
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape {tuple(getattr(value, 'shape', ()))}) "
                f"to be within the support of the distribution {self!r}, but found invalid values:\n{value}"
            )

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        args = ", ".join(f"{k}: {self.__dict__[k].shape if isinstance(self.__dict__[k], Tensor) else self.__dict__[k]}" for k in names)
        return f"{type(self).__name__}({args})"


LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
