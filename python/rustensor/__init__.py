"""rustensor: a tensor engine with a Rust core and PyTorch's Python API.

``import rustensor as torch`` and write torch code: tensors, NumPy sharing, autograd,
broadcasting, matmul, ``no_grad``, ``torch.func`` and ``torch.compile`` (an identity
wrapper here). See README.md for what differs from torch.
"""

from __future__ import annotations

import builtins as _builtins
from typing import Any

import numpy as _np

from . import _rustensor as _C
from ._rustensor import (
    device,
    dtype,
    get_num_threads,
    is_grad_enabled,
    set_num_threads,
)
from ._tensor import Size, Tensor, as_tensor, from_numpy, tensor
from ._tensor_str import get_printoptions, printoptions, set_printoptions
from . import _ops
from ._ops import (
    aminmax, argsort, atleast_1d, atleast_2d, atleast_3d, block_diag, bucketize, bincount, cartesian_prod,
    cdist, column_stack, count_nonzero, cross, diag, diag_embed, diagflat, dstack, histc, hsplit, hstack,
    index_add, index_copy, index_fill, kron, kthvalue, masked_scatter, median, meshgrid, mode, moveaxis,
    movedim, msort, nanmean, nanmedian, nansum, repeat_interleave, roll, row_stack, scatter_reduce,
    searchsorted, sort, std_mean, swapaxes, swapdims, take, take_along_dim, tensor_split, tensordot, topk,
    trace, tril_indices, triu_indices, unflatten, unique, unique_consecutive, var_mean, vsplit, vstack,
)
from ._random import (
    Generator, bernoulli, default_generator, get_rng_state, initial_seed, manual_seed, multinomial, normal,
    poisson, rand, rand_like, randint, randint_like, randn, randn_like, randperm, seed, set_rng_state,
)

__version__ = "0.1.0"

pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
newaxis = None

bool = _C.bool  # noqa: A001 - torch.bool
uint8 = _C.uint8
int8 = _C.int8
int16 = _C.int16
int32 = _C.int32
int64 = _C.int64
float16 = _C.float16
bfloat16 = _C.bfloat16
float32 = _C.float32
float64 = _C.float64
half = float16
float = float32  # noqa: A001
double = float64
long = int64
int = int32  # noqa: A001
short = int16


def cat(tensors, dim=0, *, axis=None, out=None):
    return _ops._out(_C.cat(tensors, dim if axis is None else axis), out)


def stack(tensors, dim=0, *, out=None):
    return _ops._out(_C.stack(tensors, dim), out)


concat = concatenate = cat
_matmul_precision = "highest"


def set_float32_matmul_precision(precision: str) -> None:
    """Accepted and remembered; rustensor's float32 matmul always runs at full precision."""
    global _matmul_precision
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"Invalid precision {precision!r}: expected 'highest', 'high' or 'medium'")
    _matmul_precision = precision


def get_float32_matmul_precision() -> str:
    return _matmul_precision

_default_dtype = float32


_BF16_MAX = (2 - 2.0**-7) * 2.0**127


class finfo:
    """Machine limits of a float dtype, as ``torch.finfo`` (values from NumPy's ``finfo``)."""

    def __init__(self, type=None):  # noqa: A002 - torch's parameter name
        type = _default_dtype if type is None else type
        if not isinstance(type, dtype) or not type.is_floating_point:
            raise TypeError(f"torch.finfo() requires a floating point input type, got {type!r}. Use torch.iinfo to handle integer types")
        self.dtype = str(type).rsplit(".", 1)[-1]
        if self.dtype == "bfloat16":
            # NumPy has no bfloat16: float32's exponent with 8 significand bits
            self.bits, self.eps, self.max = 16, 2.0**-7, _BF16_MAX
            self.min, self.tiny = -self.max, 2.0**-126
            self.smallest_normal, self.resolution = self.tiny, 0.01
            return
        f = _np.finfo(self.dtype)
        # the module's `float` and `int` are dtypes (torch.float): use the builtins
        self.bits = _builtins.int(f.bits)
        self.eps, self.max, self.min = _builtins.float(f.eps), _builtins.float(f.max), _builtins.float(f.min)
        self.tiny = self.smallest_normal = _builtins.float(f.smallest_normal)
        self.resolution = 10.0 ** -_builtins.int(f.precision)

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Limits of an integer (or bool) dtype, as ``torch.iinfo``."""

    def __init__(self, type):  # noqa: A002 - torch's parameter name
        if not isinstance(type, dtype) or type.is_floating_point:
            raise TypeError(f"torch.iinfo() requires an integer input type, got {type!r}. Use torch.finfo to handle floating point types")
        self.dtype = str(type).rsplit(".", 1)[-1]
        i = _np.iinfo(_np.uint8 if self.dtype == "bool" else self.dtype)
        self.bits, self.max, self.min = _builtins.int(i.bits), _builtins.int(i.max), _builtins.int(i.min)
        if self.dtype == "bool":
            self.bits, self.max, self.min = 8, 1, 0

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def get_default_dtype():
    return _default_dtype


def set_default_dtype(d) -> None:
    if d not in (float32, float64):
        raise TypeError("only floating-point types are supported as the default type")
    if d != float32:
        raise NotImplementedError("rustensor keeps float32 as the default float dtype")


def _shape(size) -> list:
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, _builtins.bool) or not isinstance(s, (_builtins.int, _np.integer, Tensor)):
            raise TypeError(f"size must be a tuple of ints, but got an element of type {type(s).__name__}")
        out.append(_builtins.int(s))
    return out


def _finish(t: Tensor, requires_grad: _builtins.bool) -> Tensor:
    if requires_grad:
        t.requires_grad_(True)
    return t


def _check_int_fill(fill_value, dtype) -> None:
    """torch refuses a float fill that no integer dtype can hold (nan became 0 here)."""
    if dtype not in (int32, int64) or not isinstance(fill_value, (_builtins.float, _np.floating)):
        return
    v = _builtins.float(fill_value)
    lim = 2**31 if dtype == int32 else 2**63
    if not (-lim <= v < lim):
        name = "int" if dtype == int32 else "int64_t"
        raise RuntimeError(f"full: value {v} cannot be converted to type {name} without overflow")


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    if dtype is None:
        if isinstance(fill_value, _builtins.bool):
            dtype = bool
        elif isinstance(fill_value, (_builtins.int, _np.integer)):
            dtype = int64
        else:
            dtype = float32
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    _check_int_fill(fill_value, dtype)
    return _finish(_C._full(_shape((size,) if isinstance(size, (_builtins.int, _np.integer)) else tuple(size)), fill_value, dtype, device), requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    return _finish(_C._full(_shape(size), 0, dtype or float32, device), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    return _finish(_C._full(_shape(size), 1, dtype or float32, device), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, memory_format=None) -> Tensor:
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def _like(fill, name):
    def f(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
        return _finish(_C._full(list(input.shape), fill, dtype or input.dtype, device or input.device), requires_grad)

    return f


zeros_like = _like(0, "zeros_like")
ones_like = _like(1, "ones_like")
empty_like = _like(0, "empty_like")


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    if not isinstance(input, Tensor):
        raise TypeError(f"full_like(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    _check_int_fill(fill_value, dtype or input.dtype)
    return _finish(_C._full(list(input.shape), fill_value, dtype or input.dtype, device or input.device), requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    for v in vals:
        if isinstance(v, _builtins.bool) or not isinstance(v, (_builtins.int, _builtins.float, _np.integer, _np.floating)):
            raise TypeError(f"arange(): argument 'end' must be Number, not {type(v).__name__}")
    if dtype is None:
        dtype = int64 if _builtins.all(isinstance(v, (_builtins.int, _np.integer)) for v in vals) else float32
    return _finish(_C._arange(_builtins.float(vals[0]), _builtins.float(vals[1]), _builtins.float(vals[2]), dtype, device), requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype == bool:
        raise RuntimeError("linspace: \"linspace_cpu\" not implemented for 'Bool'")
    return _finish(_C._linspace(_builtins.float(start), _builtins.float(end), _builtins.int(steps), dtype or float32, device), requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(_C._eye(n, n if m is None else m, dtype or float32, device), requires_grad)


def is_tensor(obj) -> _builtins.bool:
    return isinstance(obj, Tensor)


def numel(input) -> _builtins.int:
    return input.numel()


def promote_types(type1, type2):
    """``torch.promote_types``: the smallest dtype both dtypes convert to without losing values."""
    return _C._promote_types(type1, type2)


def result_type(tensor, other):
    """``torch.result_type``: the dtype an arithmetic op on ``tensor`` and ``other`` (tensors or
    Python numbers) computes in, with 0-d tensors and numbers taking part only by category."""
    return _C._result_type(tensor, other)


def is_floating_point(input) -> _builtins.bool:
    return input.is_floating_point()


def where(condition, input=None, other=None):
    if input is None and other is None:
        return tuple(condition.nonzero().unbind(1))

    def as_t(v, like):
        if isinstance(v, Tensor):
            return v
        if isinstance(v, _builtins.bool):
            return _C._scalar_tensor(v, bool)
        if isinstance(v, (_builtins.int, _np.integer)):
            dt = like.dtype if like is not None and not like.is_floating_point() and like.dtype != bool else (like.dtype if like is not None and like.is_floating_point() else int64)
            return _C._scalar_tensor(v, dt)
        if isinstance(v, (_builtins.float, _np.floating)):
            return _C._scalar_tensor(v, like.dtype if like is not None and like.is_floating_point() else float32)
        return as_tensor(v)

    x = as_t(input, other if isinstance(other, Tensor) else None)
    y = as_t(other, input if isinstance(input, Tensor) else None)
    return _C._where(condition, x, y)


def clamp(input, min=None, max=None, *, out=None):
    return _ops._out(input.clamp(min, max), out)


clip = clamp


def matmul(input, other, *, out=None):
    return _ops._out(input.matmul(other), out)


def mm(input, mat2, *, out=None):
    return _ops._out(input.mm(mat2), out)


def bmm(input, mat2, *, out=None):
    return _ops._out(input.bmm(mat2), out)


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    return _ops._out(input.addmm(mat1, mat2, beta=beta, alpha=alpha), out)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    return _ops._out(input.baddbmm(batch1, batch2, beta=beta, alpha=alpha), out)


def mv(input, vec, *, out=None):
    return _ops._out(input.mv(vec), out)


def dot(input, other, *, out=None):
    return _ops._out(input.dot(other), out)


def outer(input, vec2, *, out=None):
    return _ops._out(input.outer(vec2), out)


ger = outer


def softmax(input, dim, dtype=None):
    return input.softmax(dim, dtype)


def log_softmax(input, dim, dtype=None):
    return input.log_softmax(dim, dtype)


def flatten(input, start_dim=0, end_dim=-1):
    return input.flatten(start_dim, end_dim)


def squeeze(input, dim=None):
    return input.squeeze(dim)


def transpose(input, dim0, dim1):
    return input.transpose(dim0, dim1)


def permute(input, dims):
    return input.permute(*dims)


def reshape(input, shape):
    return input.reshape(*shape)


def broadcast_to(input, size):
    return input.expand(*size)


def broadcast_tensors(*tensors):
    shape = _np.broadcast_shapes(*[tuple(t.shape) for t in tensors])
    return tuple(t.expand(*shape) for t in tensors)


def split(tensor, split_size_or_sections, dim=0):
    return tensor.split(split_size_or_sections, dim)


def chunk(input, chunks, dim=0):
    return input.chunk(chunks, dim)


def unbind(input, dim=0):
    return input.unbind(dim)


def flip(input, dims):
    return input.flip(dims)


def gather(input, dim, index):
    return input.gather(dim, index)


def index_select(input, dim, index):
    return input.index_select(dim, index)


def masked_fill(input, mask, value):
    return input.masked_fill(mask, value)


def masked_select(input, mask):
    return input.masked_select(mask)


def nonzero(input, *, as_tuple=False):
    nz = input.nonzero()
    return tuple(nz.unbind(1)) if as_tuple else nz


def diagonal(input, offset=0, dim1=0, dim2=1):
    return input.diagonal(offset, dim1, dim2)


def cumsum(input, dim, *, dtype=None, out=None):
    return _ops._out(input.cumsum(dim, dtype=dtype), out)


def cumprod(input, dim, *, dtype=None, out=None):
    return _ops._out(input.cumprod(dim, dtype=dtype), out)


def logcumsumexp(input, dim, *, out=None):
    return _ops._out(input.logcumsumexp(dim), out)


def cummax(input, dim, *, out=None):
    return _ops._out(input.cummax(dim), out)


def cummin(input, dim, *, out=None):
    return _ops._out(input.cummin(dim), out)


def polygamma(n, input, *, out=None):
    return _ops._out(input.polygamma(n), out)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> _builtins.bool:
    return _builtins.bool(_np.allclose(input.detach().cpu().numpy(), other.detach().cpu().numpy(), rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return from_numpy(_np.isclose(input.detach().cpu().numpy(), other.detach().cpu().numpy(), rtol=rtol, atol=atol, equal_nan=equal_nan)).to(input.device)


def equal(input, other) -> _builtins.bool:
    return tuple(input.shape) == tuple(other.shape) and _builtins.bool((input == other).all())


def _method_fn(name):
    def f(input, *args, out=None, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
        return _ops._out(getattr(input, name)(*args, **kwargs), out)

    f.__name__ = name
    return f


for _n in [
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide",
    "remainder", "pow", "maximum", "minimum", "atan2", "arctan2", "eq", "ne", "lt", "le", "gt", "ge",
    "greater", "less", "greater_equal", "less_equal", "not_equal", "logical_and", "logical_or",
    "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "neg", "negative", "abs", "absolute", "sign", "square", "exp", "expm1", "log", "log1p", "log2",
    "log10", "sqrt", "rsqrt", "reciprocal", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "floor",
    "ceil", "round", "trunc", "fix", "isnan", "isinf", "isfinite", "sum", "mean", "prod", "amax",
    "amin", "argmax", "argmin", "any", "all", "max", "min", "std", "var", "norm", "logsumexp",
    "unsqueeze", "narrow", "select", "t", "triu", "tril",
    "scatter_add", "scatter", "clone", "detach", "numel",
    "exp2", "asin", "arcsin", "acos", "arccos",
    "atan", "arctan", "sinh", "cosh", "asinh", "arcsinh", "acosh", "arccosh", "atanh", "arctanh",
    "logit", "erf", "erfc", "erfinv", "lgamma", "digamma", "sinc", "deg2rad", "rad2deg", "frac",
    "signbit", "fmod", "copysign", "hypot", "logaddexp", "logaddexp2", "xlogy", "bitwise_left_shift",
    "bitwise_right_shift", "nan_to_num", "addcmul", "addcdiv", "lerp",
]:
    globals()[_n] = _method_fn(_n)
del _n


def einsum(equation: str, *operands) -> Tensor:
    from ._einsum import einsum as _e

    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return _e(equation, *operands)


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None, disable=False):
    """torch.compile's signature; rustensor runs eagerly, so this returns ``model``
    unchanged (as a decorator too). Every op already runs in compiled Rust."""
    if model is None:
        return lambda m: m
    return model


from . import autograd, cuda, func, random, special  # noqa: E402
from .autograd import enable_grad, inference_mode, no_grad, set_grad_enabled  # noqa: E402

gpu = cuda

from . import backends, distributions, linalg  # noqa: E402
from .linalg import det, matrix_exp, matrix_power, slogdet  # noqa: E402
from .linalg import inv as inverse  # noqa: E402


def logdet(input):
    """log(det(A)): NaN where the determinant is negative, -inf where it is 0 (as torch)."""
    import math as _math  # `float` is torch's dtype in this namespace

    sign, logabs = linalg.slogdet(input)
    return where(sign >= 0, logabs, _math.nan)


from ._legacy import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor,  # noqa: E402
                      IntTensor, LongTensor, ShortTensor)

from .amp.autocast_mode import (  # noqa: E402
    get_autocast_cpu_dtype,
    get_autocast_dtype,
    get_autocast_gpu_dtype,
    is_autocast_cpu_enabled,
)
from .amp.autocast_mode import torch_is_autocast_enabled as is_autocast_enabled  # noqa: E402
from . import amp, nn, optim, utils  # noqa: E402
from .amp import autocast  # noqa: E402
from .serialization import load, save  # noqa: E402
from .utils.dlpack import from_dlpack  # noqa: E402
