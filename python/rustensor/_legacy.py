"""torch's legacy tensor-type names (``torch.FloatTensor`` and kin): callables that build
tensors of one dtype, and types that ``isinstance`` answers by dtype, as in torch."""

from __future__ import annotations

import builtins

from . import _rustensor as _C
from ._tensor import Tensor


class _LegacyMeta(type):
    def __instancecheck__(cls, obj) -> builtins.bool:
        return isinstance(obj, Tensor) and obj.device.type == "cpu" and obj.dtype == cls._dtype  # type: ignore[attr-defined]

    def __call__(cls, *args, device=None):
        """``FloatTensor(2, 3)``: sizes (zero-filled, torch leaves them uninitialised);
        ``FloatTensor([1, 2])`` or ``FloatTensor(tensor)``: data; ``FloatTensor()``: empty."""
        from ._tensor import tensor

        dt = cls._dtype
        if not args:
            return _C._full([0], 0, dt, device)
        if len(args) == 1 and isinstance(args[0], Tensor):
            if args[0].dtype != dt:
                raise TypeError(f"expected {cls.__name__} (got {args[0].type()})")
            return args[0]
        if builtins.all(isinstance(a, builtins.int) and not isinstance(a, builtins.bool) for a in args):
            return _C._full(list(args), 0, dt, device)
        if len(args) == 1 and isinstance(args[0], (tuple, list)) and args and type(args[0]).__name__ == "Size":
            return _C._full(list(args[0]), 0, dt, device)
        if len(args) == 1:
            return tensor(args[0], dtype=dt, device=device)
        raise TypeError(f"{cls.__name__}(): expected sizes (ints) or one sequence of data, got {args!r}")


def _make(name: str, dtype) -> type:
    return _LegacyMeta(name, (), {"_dtype": dtype, "__doc__": f"torch.{name}: tensors of dtype {dtype}."})


FloatTensor = _make("FloatTensor", _C.float32)
DoubleTensor = _make("DoubleTensor", _C.float64)
HalfTensor = _make("HalfTensor", _C.float16)
LongTensor = _make("LongTensor", _C.int64)
IntTensor = _make("IntTensor", _C.int32)
ByteTensor = _make("ByteTensor", _C.uint8)
CharTensor = _make("CharTensor", _C.int8)
ShortTensor = _make("ShortTensor", _C.int16)
BoolTensor = _make("BoolTensor", _C.bool)
