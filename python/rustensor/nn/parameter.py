"""``nn.Parameter``, ``nn.Buffer`` and ``nn.UninitializedParameter``: the tensor kinds a Module registers."""

from __future__ import annotations

import numpy as np

from .._tensor import Tensor

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer", "is_lazy"]


def _empty(device=None, dtype=None):
    from .. import empty

    return empty(0, device=device, dtype=dtype)


class Parameter(Tensor):
    """A Tensor subclass that a Module registers as a parameter when assigned as an attribute.

    It aliases ``data``'s storage (the compiled constructor detaches and shares) and requires
    grad by default. Ops on it return plain Tensors, as torch's do.
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = _empty()
        elif not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): argument 'data' must be Tensor, not {type(data).__name__}")
        return Tensor.__new__(cls, data, bool(requires_grad))

    def __repr__(self) -> str:
        return "Parameter containing:\n" + Tensor.__repr__(self)

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        r = type(self)(self.detach().clone(), self.requires_grad)
        # the subclass may carry Python attributes (torch copies them too)
        for k, v in self.__dict__.items():
            setattr(r, k, v)
        memo[id(self)] = r
        return r

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (type(self), np.asarray(self.detach().cpu()).copy(), self.requires_grad, dict(self.__dict__)))


def _rebuild_parameter(cls, arr, requires_grad, state):
    from .._tensor import tensor

    p = cls(tensor(arr), requires_grad)
    for k, v in state.items():
        setattr(p, k, v)
    return p


class _BufferMeta(type(Tensor)):  # type: ignore[misc]
    # torch's Buffer is a marker: `Buffer(t)` returns a plain tensor flagged `_is_buffer`,
    # and isinstance(x, Buffer) tests that flag
    def __instancecheck__(cls, instance) -> bool:
        if cls is Buffer:
            return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)
        return super().__instancecheck__(instance)


class Buffer(Tensor, metaclass=_BufferMeta):
    """``nn.Buffer(data, persistent=True)``: marks a tensor to be registered as a buffer on assignment."""

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = _empty()
        t = data.detach()
        if data.requires_grad:
            t.requires_grad_(True)
        t.persistent = persistent
        t._is_buffer = True
        return t


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (lazy modules); ``materialize(shape)`` gives it one."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        return Parameter.__new__(cls, _empty(device, dtype), requires_grad)

    def materialize(self, shape, device=None, dtype=None):
        raise RuntimeError(
            "rustensor: UninitializedParameter cannot be materialised in place (tensors cannot change "
            "their storage from Python); lazy modules replace it with a new Parameter instead"
        )

    def __repr__(self) -> str:
        return "<UninitializedParameter>"


class UninitializedBuffer(Tensor):
    """A buffer whose shape is not known yet (lazy modules)."""

    cls_to_become = Tensor

    def __new__(cls, requires_grad=False, device=None, dtype=None, persistent=True):
        t = Tensor.__new__(cls, _empty(device, dtype), requires_grad)
        t.persistent = persistent
        return t


def is_lazy(param) -> bool:
    return isinstance(param, (UninitializedParameter, UninitializedBuffer))
