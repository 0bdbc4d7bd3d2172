"""Shape and index composites: roll, repeat_interleave, the diag family, meshgrid, take,
index_add/copy/fill, masked_scatter, the scatter forms, unfold, stacking and splitting,
tensordot, kron, trace, cdist, cross, block_diag."""

from __future__ import annotations

import builtins
import math

import numpy as np

from . import _rustensor as _C
from ._tensor import Tensor
from ._tensor import _dtype_name, from_numpy
from ._ops_common import (  # noqa: F401
    _arange, _check_tensor, _dims_arg, _host, _long, _on, _out, _scalar_like, _wrap_dim, _zeros,
)

_b = builtins


def roll(input, shifts, dims=None):
    _check_tensor(input, "roll")
    sh = _dims_arg(shifts)
    ds = _dims_arg(dims)
    if ds is None:
        if len(sh) != 1:
            raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(sh)}, dims: 0")
        return roll(input.reshape(-1), sh, [0]).reshape(*input.shape)
    if len(sh) != len(ds):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(sh)}, dims:{len(ds)}")
    r = input
    for s, d in zip(sh, ds):
        d = _wrap_dim(d, input.ndim, "roll")
        n = r.shape[d]
        if n == 0:
            continue
        s %= n
        if s:
            r = _C.cat([r.narrow(d, n - s, s), r.narrow(d, 0, n - s)], d)
    return r if r is not input else input.clone()


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    if repeats is None:  # repeat_interleave(repeats): indices repeated by their counts
        _check_tensor(input, "repeat_interleave")
        rep = _host(input)
        if rep.ndim > 1 or (rep.size and rep.min() < 0):
            raise RuntimeError("repeat_interleave: repeats must be 0-dim or 1-dim tensor with non-negative entries")
        return _long(np.repeat(np.arange(rep.size), rep.reshape(-1)), input)
    _check_tensor(input, "repeat_interleave")
    x = input
    if dim is None:
        x, d = input.reshape(-1), 0
    else:
        if input.ndim == 0:
            raise IndexError(f"repeat_interleave: dim {dim} given for a 0-d tensor (Dimension out of range)")
        d = _wrap_dim(int(dim), input.ndim, "repeat_interleave")
    n = x.shape[d]
    if isinstance(repeats, Tensor) and repeats.numel() == 1 and repeats.ndim <= 1:
        repeats = int(repeats.reshape(-1)[0])
    if isinstance(repeats, (int, np.integer)):
        if repeats < 0:
            raise RuntimeError(f"repeat_interleave: repeats can not be negative, got {repeats}")
        shape = list(x.shape)
        y = x.unsqueeze(d + 1).expand(*(shape[:d + 1] + [int(repeats)] + shape[d + 1:]))
        return y.reshape(*(shape[:d] + [n * int(repeats)] + shape[d + 1:]))
    rep = _host(repeats) if isinstance(repeats, Tensor) else np.asarray(repeats)
    if rep.ndim != 1 or rep.shape[0] != n:
        raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along dim, but got repeats.size(0) = {rep.shape[0] if rep.ndim else 0} and input.size({d}) = {n}")
    if rep.size and rep.min() < 0:
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    return x.index_select(d, _long(np.repeat(np.arange(n), rep), x))


def unflatten(input, dim, sizes):
    _check_tensor(input, "unflatten")
    d = _wrap_dim(int(dim), input.ndim, "unflatten")
    sizes = list(sizes)
    shape = list(input.shape)
    if sizes.count(-1) > 1:
        raise RuntimeError("unflatten: only one dimension can be inferred")
    if -1 in sizes:
        known = math.prod(s for s in sizes if s != -1)
        sizes[sizes.index(-1)] = shape[d] // known if known else 0
    if math.prod(sizes) != shape[d]:
        raise RuntimeError(f"unflatten: Provided sizes {sizes} don't multiply up to the size of dim {dim} ({shape[d]}) in the input tensor")
    return input.reshape(*(shape[:d] + sizes + shape[d + 1:]))


def movedim(input, source, destination):
    _check_tensor(input, "movedim")
    src = _dims_arg(source)
    dst = _dims_arg(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) should contain the same number of dims as destination ({dst} dims)")
    n = input.ndim
    src = [_wrap_dim(s, n, "movedim") for s in src]
    dst = [_wrap_dim(s, n, "movedim") for s in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in `source` ({src}) or `destination` ({dst})")
    if n == 0:
        return input.view(())
    order = [None] * n
    for s, t in zip(src, dst):
        order[t] = s
    rest = iter(d for d in range(n) if d not in src)
    perm = [o if o is not None else next(rest) for o in order]
    return input.permute(*perm)


moveaxis = movedim


def swapaxes(input, axis0, axis1):
    return input.transpose(axis0, axis1)


swapdims = swapaxes


def atleast_1d(*tensors):
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    r = tuple(t.reshape(1) if t.ndim == 0 else t for t in ts)
    return r[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else r


def atleast_2d(*tensors):
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    r = tuple(t.reshape(1, 1) if t.ndim == 0 else (t.unsqueeze(0) if t.ndim == 1 else t) for t in ts)
    return r[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else r


def atleast_3d(*tensors):
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors

    def f(t):
        if t.ndim == 0:
            return t.reshape(1, 1, 1)
        if t.ndim == 1:
            return t.reshape(1, t.shape[0], 1)
        if t.ndim == 2:
            return t.unsqueeze(-1)
        return t

    r = tuple(f(t) for t in ts)
    return r[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else r


def _seq(tensors, op):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}(): argument 'tensors' must be tuple of Tensors, not {type(tensors).__name__}")
    if not tensors:
        raise RuntimeError(f"{op} expects a non-empty TensorList")
    return list(tensors)


def hstack(tensors, *, out=None):
    ts = atleast_1d(*_seq(tensors, "hstack"))
    return _out(_C.cat(list(ts), 0 if ts[0].ndim == 1 else 1), out)


def vstack(tensors, *, out=None):
    return _out(_C.cat(list(atleast_2d(*_seq(tensors, "vstack"))), 0), out)


row_stack = vstack


def dstack(tensors, *, out=None):
    return _out(_C.cat(list(atleast_3d(*_seq(tensors, "dstack"))), 2), out)


def column_stack(tensors, *, out=None):
    ts = [t.reshape(-1, 1) if t.ndim <= 1 else t for t in _seq(tensors, "column_stack")]
    return _out(_C.cat(ts, 1), out)


def tensor_split(input, indices_or_sections, dim=0):
    _check_tensor(input, "tensor_split")
    if input.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = _wrap_dim(int(dim), input.ndim, "tensor_split")
    n = input.shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios.ndim == 0:
            ios = int(ios)
        else:
            ios = [int(v) for v in _host(ios).reshape(-1)]
    if isinstance(ios, (int, np.integer)):
        k = int(ios)
        if k <= 0:
            raise RuntimeError(f"tensor_split: number of sections must be larger than 0, got {k}")
        q, r = divmod(n, k)
        bounds, s = [], 0
        for i in range(k - 1):
            s += q + (1 if i < r else 0)
            bounds.append(s)
    else:
        bounds = [int(v) for v in ios]
    out, start = [], 0
    for b in bounds + [n]:
        b = _b.min(_b.max(b if b >= 0 else b + n, 0), n)
        st = _b.min(start, n)
        out.append(input.narrow(d, st, _b.max(b - st, 0)))
        start = _b.max(b, st)
    return tuple(out)


def hsplit(input, sections):
    return tensor_split(input, sections, 1 if input.ndim > 1 else 0)


def vsplit(input, sections):
    return tensor_split(input, sections, 0)


def meshgrid(*tensors, indexing=None):
    ts = list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else list(tensors)
    indexing = indexing or "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    for t in ts:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t.ndim}-D")
    ts = [t.reshape(-1) for t in ts]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = [t.shape[0] for t in ts]
    out = []
    for i, t in enumerate(ts):
        v = [1] * len(ts)
        v[i] = shape[i]
        out.append(t.reshape(*v).expand(*shape))
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def cartesian_prod(*tensors):
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return _C.stack([g.reshape(-1) for g in grids], 1)


def _tri_indices(lower, row, col, offset, dtype, device):
    r, c = (np.tril_indices if lower else np.triu_indices)(row, offset, col)
    t = from_numpy(np.stack([r, c]).astype(np.int64).reshape(2, -1))._to_dtype(dtype or _C.int64)
    return t if device is None else t.to(device)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    return _tri_indices(True, row, col, offset, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    return _tri_indices(False, row, col, offset, dtype, device)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    _check_tensor(input, "diag_embed")
    if input.ndim == 0:
        raise IndexError("diag_embed: Dimension out of range: the input must have at least 1 dimension, got a 0-d tensor")
    n = input.shape[-1]
    x = input
    m = n + _b.abs(offset)
    batch = list(x.shape[:-1])
    nb = math.prod(batch)
    k = _arange(n, x.device)
    r, c = (k, k + offset) if offset >= 0 else (k - offset, k)
    flat = (r * m + c).reshape(1, n).expand(nb, n)
    out = _zeros([nb, m * m], x.dtype, x.device).scatter_add(1, flat, x.reshape(nb, n))
    out = out.reshape(*(batch + [m, m]))
    nd = out.ndim
    d1, d2 = _wrap_dim(dim1, nd, "diag_embed"), _wrap_dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return movedim(out, [nd - 2, nd - 1], [d1, d2])


def diag(input, diagonal=0, *, out=None):
    _check_tensor(input, "diag")
    if input.ndim == 1:
        r = diag_embed(input, diagonal)
    elif input.ndim == 2:
        r = input.diagonal(diagonal)
    else:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")
    return _out(r, out)


def diagflat(input, offset=0):
    return diag_embed(input.reshape(-1), offset)


def take(input, index):
    _check_tensor(input, "take")
    n = input.numel()
    i = index._to_dtype(_C.int64)
    h = _host(i)
    if h.size and (h.min() < -n or h.max() >= n):
        bad = int(h[(h < -n) | (h >= n)].reshape(-1)[0])
        raise IndexError(f"take(): index {bad} out of range for tensor of size {list(input.shape)}.")
    i = _C._where(i < 0, i + n, i)
    return input.reshape(-1).index_select(0, i.reshape(-1)).reshape(*index.shape)


def take_along_dim(input, indices, dim=None, *, out=None):
    _check_tensor(input, "take_along_dim")
    if dim is None:
        return _out(input.reshape(-1).gather(0, indices.reshape(-1)), out)
    d = _wrap_dim(int(dim), input.ndim, "take_along_dim")
    if input.ndim != indices.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, but got {input.ndim} dimensions for input, and {indices.ndim} dimensions for indices")
    si, sx = list(indices.shape), list(input.shape)
    si[d] = sx[d] = 1
    b = list(np.broadcast_shapes(tuple(si), tuple(sx)))
    bi, bx = list(b), list(b)
    bi[d], bx[d] = indices.shape[d], input.shape[d]
    return _out(input.expand(*bx).gather(d, indices.expand(*bi)), out)


def _index_along(index: Tensor, dim: int, shape) -> Tensor:
    """``index`` (1-D, along ``dim``) as a full scatter index of ``shape``."""
    v = [1] * len(shape)
    if shape:
        v[dim] = -1
    return index._to_dtype(_C.int64).reshape(*v).expand(*shape)


def _check_index_op(op, input, dim, index, source=None):
    if index.ndim > 1:
        raise RuntimeError(f"{op}_(): Index has to be a vector/scalar, got a {index.ndim}-d tensor")
    if index.is_floating_point() or index.dtype == _C.bool:
        raise IndexError(f"{op}_(): Expected dtype int32/int64 for index, got {index.dtype}")
    d = _wrap_dim(int(dim), input.ndim, op)
    if source is not None:
        if source.ndim != input.ndim and not (source.ndim <= 1 and input.ndim <= 1):
            raise IndexError(f"{op}_(): source has {source.ndim} dims but self has {input.ndim}")
        n = source.shape[d] if source.ndim else 1
        if n != index.numel():
            raise RuntimeError(f"{op}_(): Number of indices ({index.numel()}) should be equal to source.size(dim) ({n})")
        if source.dtype != input.dtype:
            raise RuntimeError(f"{op}_(): self ({input.dtype}) and source ({source.dtype}) must have the same scalar type")
    size = input.shape[d] if input.ndim else 1
    h = _host(index).reshape(-1)
    if h.size and (h.min() < -size or h.max() >= size):
        # torch's index_add reports this as a RuntimeError, index_copy/index_fill as IndexError
        exc = RuntimeError if op == "index_add" else IndexError
        raise exc(f"{op}_(): index {int(h[(h < -size) | (h >= size)][0])} is out of bounds for dimension {d} with size {size}")
    i = index.reshape(-1)._to_dtype(_C.int64)
    return d, _C._where(i < 0, i + size, i) if h.size and h.min() < 0 else i


def index_add(input, dim, index, source, *, alpha=1):
    d, i = _check_index_op("index_add", input, dim, index, source)
    if input.ndim == 0:
        return input + (source.reshape(()) * alpha if alpha != 1 else source.reshape(())) if i.numel() else input.clone()
    return input.scatter_add(d, _index_along(i, d, list(source.shape)), source * alpha if alpha != 1 else source)


def index_copy(input, dim, index, source):
    d, i = _check_index_op("index_copy", input, dim, index, source)
    if input.ndim == 0:
        return source.reshape(()).clone() if i.numel() else input.clone()
    return input._scatter(d, _index_along(i, d, list(source.shape)), source)


def index_fill(input, dim, index, value):
    d, i = _check_index_op("index_fill", input, dim, index)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise IndexError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with {value.ndim} dimension(s).")
        v = value._to_dtype(input.dtype)
    else:
        v = _scalar_like(value, input)
    if input.ndim == 0:
        return v.clone() if i.numel() else input.clone()
    shape = list(input.shape)
    shape[d] = i.numel()
    return input._scatter(d, _index_along(i, d, shape), v.expand(*shape))


def masked_scatter(input, mask, source):
    _check_tensor(input, "masked_scatter")
    if mask.dtype != _C.bool:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype {mask.dtype}")
    if source.dtype != input.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got {input.dtype} and {source.dtype}")
    shape = tuple(np.broadcast_shapes(tuple(input.shape), tuple(mask.shape)))
    m = mask.expand(*shape)
    x = input.expand(*shape)
    flat = m.reshape(-1)._to_dtype(_C.int64)
    k = int(flat.sum()) if flat.numel() else 0
    if k > source.numel():
        raise RuntimeError(f"masked_scatter: Number of elements of source < number of ones in mask ({source.numel()} < {k})")
    if k == 0:
        return x.clone()
    pos = (flat.cumsum(0) - 1).clamp(0, None)
    picked = source.reshape(-1).index_select(0, pos).reshape(*shape)
    return _C._where(m, picked, x)


def _scatter_host(reduce, base, dim, index, src, include_self):
    """Forward of the prod/amax/amin scatter reductions on the host."""
    out = base.copy()
    idx = [np.indices(index.shape)[k] for k in range(index.ndim)]
    idx[dim] = index
    tgt = tuple(idx)
    sv = src[tuple(slice(0, s) for s in index.shape)]
    ufunc = {"prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[reduce]
    if not include_self:
        hit = np.zeros(base.shape, dtype=bool)
        hit[tgt] = True
        fill = {"prod": 1, "amax": -np.inf if base.dtype.kind == "f" else np.iinfo(base.dtype).min,
                "amin": np.inf if base.dtype.kind == "f" else np.iinfo(base.dtype).max}[reduce]
        out[hit] = fill
    ufunc.at(out, tgt, sv)
    return out


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    _check_tensor(input, "scatter_reduce")
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    if src.dtype != input.dtype:
        raise RuntimeError(f"scatter_reduce(): Expected self.dtype to be equal to src.dtype, got {input.dtype} and {src.dtype}")
    d = _wrap_dim(int(dim), input.ndim, "scatter_reduce")
    if index.numel() == 0:
        return input.clone()
    srcv = src
    if tuple(src.shape) != tuple(index.shape):
        srcv = src[tuple(slice(0, s) for s in index.shape)]
    ones = _C._full(list(index.shape), 1, input.dtype, input.device)
    hit = _zeros(list(input.shape), input.dtype, input.device).scatter_add(d, index, ones)
    if reduce in ("sum", "mean"):
        base = input if include_self else _C._where(hit > 0, _scalar_like(0, input), input)
        s = base.scatter_add(d, index, srcv)
        if reduce == "sum":
            return s
        cnt = hit + (1 if include_self else 0)
        cnt = _C._where(cnt > 0, cnt, _scalar_like(1, cnt))
        if input.is_floating_point():
            return s / cnt
        return s.div(cnt, rounding_mode="floor")
    exact = _on(_scatter_host(reduce, _host(input), d, _host(index), _host(src), include_self), input)
    if not (_C.is_grad_enabled() and (input.requires_grad or src.requires_grad)):
        return exact
    # Gradients through a straight-through surrogate whose value is 0 and whose derivative
    # is torch's: for amax/amin an even split among the elements equal to the result, for
    # prod the product of the others.
    eg = exact.detach().gather(d, index)
    sd, xd = srcv.detach(), input.detach()
    if reduce in ("amax", "amin"):
        ws = (sd == eg)._to_dtype(input.dtype)
        wx = (xd == exact.detach())._to_dtype(input.dtype) if include_self else _scalar_like(0, input).expand(*input.shape)
        if not include_self:
            wx = _C._where(hit > 0, wx, _scalar_like(1, input))
        ties = wx.scatter_add(d, index, ws)
        ties = _C._where(ties > 0, ties, _scalar_like(1, ties))
        ws = ws / ties.gather(d, index)
        wx = wx / ties
        sur = (input - xd) * wx
        sur = sur.scatter_add(d, index, (srcv - sd) * ws)
        return exact + sur
    # prod: d out / d v = product of the other factors of that output
    others_s = _on(_prod_others(_host(input), d, _host(index), _host(srcv), include_self, True), input)
    others_x = _on(_prod_others(_host(input), d, _host(index), _host(srcv), include_self, False), input)
    sur = (input - xd) * others_x
    sur = sur.scatter_add(d, index, (srcv - sd) * others_s)
    return exact + sur


def _prod_others(base, dim, index, src, include_self, for_src):
    """For each factor of a scatter product, the product of the other factors of its output
    (zeros handled exactly: no division by a zero factor)."""
    idx = [np.indices(index.shape)[k] for k in range(index.ndim)]
    idx[dim] = index
    tgt = tuple(idx)
    nz = np.where(src == 0, 1, src)
    zeros = np.zeros(base.shape, dtype=np.int64)
    np.add.at(zeros, tgt, (src == 0).astype(np.int64))
    prod_nz = np.ones(base.shape, dtype=base.dtype)
    np.multiply.at(prod_nz, tgt, nz)
    hit = np.zeros(base.shape, dtype=bool)
    hit[tgt] = True
    if include_self:
        zeros = zeros + (base == 0)
        prod_nz = prod_nz * np.where(base == 0, 1, base)
    if for_src:
        z, p, v = zeros[tgt], prod_nz[tgt], src
    else:
        if not include_self:
            return np.where(hit, 0, 1).astype(base.dtype)
        z, p, v = zeros, prod_nz, base
    own_zero = v == 0
    others_zero = z - own_zero
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.where(own_zero, p, p / np.where(own_zero, 1, v))
    return np.where(others_zero > 0, 0, val).astype(base.dtype)


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    _check_tensor(input, "scatter")
    if src is None and value is None:
        raise TypeError("scatter() missing 1 required positional argument: 'src' or 'value'")
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src
    if index.is_floating_point() or index.dtype == _C.bool:
        raise RuntimeError(f"scatter(): Expected dtype int64 for index, got {index.dtype}")
    if src is not None:
        if src.dtype != input.dtype:
            raise RuntimeError(f"scatter(): Expected self.dtype to be equal to src.dtype, got {input.dtype} and {src.dtype}")
        s = src
        # the kernel reads the leading index-shaped block of src; anything else (another rank,
        # a src smaller than the index) goes through as is, for the core's validation to refuse
        if (tuple(src.shape) != tuple(index.shape) and src.ndim == index.ndim
                and all(k <= n for k, n in zip(index.shape, src.shape))):
            s = src[tuple(slice(0, k) for k in index.shape)]
    else:
        v = value.item() if isinstance(value, Tensor) else value
        s = _C._full(list(index.shape), v, input.dtype, input.device)
    if reduce is None:
        return input._scatter(dim, index, s)
    if reduce == "add":
        return input.scatter_add(dim, index, s)
    if reduce == "multiply":
        return scatter_reduce(input, dim, index, s, "prod")
    raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")


def _unfold(self, dimension, size, step):
    d = _wrap_dim(int(dimension), self.ndim, "unfold")
    n = self.shape[d] if self.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    x = self.reshape(1) if self.ndim == 0 else self
    w = (n - size) // step + 1
    idx = (_arange(w, x.device) * step).reshape(w, 1) + _arange(size, x.device).reshape(1, size)
    y = x.index_select(d, idx.reshape(-1))
    shape = list(x.shape)
    y = y.reshape(*(shape[:d] + [w, size] + shape[d + 1:]))
    y = movedim(y, d + 1, y.ndim - 1)
    return y.reshape(w, size).squeeze(0) if self.ndim == 0 else y


def tensordot(a, b, dims=2, out=None):
    if isinstance(dims, (int, np.integer)):
        k = int(dims)
        if k < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={k}")
        da, db = list(range(a.ndim - k, a.ndim)), list(range(k))
    elif isinstance(dims, Tensor):
        return tensordot(a, b, _host(dims).tolist())
    else:
        da, db = dims
        da, db = _dims_arg(da), _dims_arg(db)
    if len(da) != len(db):
        raise RuntimeError(f"both dimension lists should have same length, got {len(da)} and {len(db)}")
    da = [_wrap_dim(x, a.ndim, "tensordot") for x in da]
    db = [_wrap_dim(x, b.ndim, "tensordot") for x in db]
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a.shape[x]} in dim {x} and second has size {b.shape[y]} in dim {y}")
    fa = [x for x in range(a.ndim) if x not in da]
    fb = [y for y in range(b.ndim) if y not in db]
    ka = math.prod(a.shape[x] for x in da)
    A = a.permute(*(fa + da)).reshape(math.prod(a.shape[x] for x in fa), ka)
    B = b.permute(*(db + fb)).reshape(ka, math.prod(b.shape[y] for y in fb))
    r = A.matmul(B).reshape(*([a.shape[x] for x in fa] + [b.shape[y] for y in fb]))
    return _out(r, out)


def kron(input, other, *, out=None):
    n = _b.max(input.ndim, other.ndim)
    a = input.reshape(*([1] * (n - input.ndim) + list(input.shape)))
    b = other.reshape(*([1] * (n - other.ndim) + list(other.shape)))
    ia, ib = [], []
    for k in range(n):
        ia += [a.shape[k], 1]
        ib += [1, b.shape[k]]
    r = a.reshape(*ia) * b.reshape(*ib)
    return _out(r.reshape(*[a.shape[k] * b.shape[k] for k in range(n)]), out)


def trace(input):
    _check_tensor(input, "trace")
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    s = input.diagonal().sum()
    return s if input.is_floating_point() else s._to_dtype(_C.int64)


def _safe_root(s: Tensor, p: float) -> Tensor:
    """s ** (1/p) with a zero gradient where s == 0 (torch's cdist/norm convention)."""
    pos = s > 0
    one = _scalar_like(1, s)
    r = _C._where(pos, s, one) ** (1.0 / p)
    return _C._where(pos, r, _scalar_like(0, s))


def cdist(x1, x2, p=2.0, compute_mode=None):
    _check_tensor(x1, "cdist", "x1")
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D, X2 got: {x2.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    if not x1.is_floating_point():
        raise RuntimeError(f"cdist only supports floating-point dtypes, X1 got: {x1.dtype}")
    diff = (x1.unsqueeze(-2) - x2.unsqueeze(-3)).abs()
    if p == 0:
        return (diff != 0)._to_dtype(x1.dtype).sum(-1)
    if math.isinf(p):
        return diff.amax(-1) if diff.shape[-1] else diff.sum(-1)
    if p == 1:
        return diff.sum(-1)
    return _safe_root((diff * diff).sum(-1) if p == 2 else (diff ** p).sum(-1), p)


def cross(input, other, dim=None, *, out=None):
    if dim is None:
        shape = np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
        cands = [k for k, s in enumerate(shape) if s == 3]
        if not cands:
            raise RuntimeError(f"no dimension of size 3 in input: shapes {list(input.shape)} and {list(other.shape)}")
        dim = cands[0]
    return _out(_cross(input, other, dim), out)


def _cross(a, b, dim):
    if a.ndim != b.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions, got {a.ndim} and {b.ndim}")
    shape = tuple(np.broadcast_shapes(tuple(a.shape), tuple(b.shape)))
    d = _wrap_dim(int(dim), len(shape), "cross")
    if a.shape[d] != 3 or b.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {d} must have length 3. Got {a.shape[d]} and {b.shape[d]}")
    a, b = a.expand(*shape), b.expand(*shape)
    a0, a1, a2 = a.unbind(d)
    b0, b1, b2 = b.unbind(d)
    return _C.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


def block_diag(*tensors):
    ts = [t.reshape(1, 1) if t.ndim == 0 else (t.reshape(1, -1) if t.ndim == 1 else t) for t in tensors]
    for t in ts:
        if t.ndim != 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input has {t.ndim} dimensions")
    if not ts:
        return _zeros([1, 0], _C.float32, None)
    dt = ts[0].dtype
    for t in ts[1:]:
        dt = _promote(dt, t.dtype)
    cols = builtins.sum(t.shape[1] for t in ts)
    rows, left = [], 0
    dev = ts[0].device
    for t in ts:
        t = t._to_dtype(dt)
        parts = [_zeros([t.shape[0], left], dt, dev), t, _zeros([t.shape[0], cols - left - t.shape[1]], dt, dev)]
        rows.append(_C.cat(parts, 1))
        left += t.shape[1]
    return _C.cat(rows, 0)


def _promote(a, b):
    return _C._promote_types(a, b)
