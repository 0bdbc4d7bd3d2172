"""``rustensor.nn.functional`` under torch's names (owner: nn-core): activations, linear,
dropout, embedding, normalisation, distances and losses; the spatial, recurrent and
attention functions live in ``_functional_spatial`` and are re-exported here."""

from __future__ import annotations

import math
import warnings
from ._functional_spatial import *  # noqa: F401,F403
from ._functional_spatial import __all__ as _spatial_all
from ._ctc import ctc_loss  # noqa: F401
from .. import _rustensor as _C
from .._tensor import Tensor

_core_all = [
    # activations
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "prelu", "rrelu", "rrelu_", "elu", "elu_", "selu", "selu_",
    "celu", "celu_", "gelu", "silu", "mish", "sigmoid", "tanh", "hardtanh", "hardtanh_", "hardswish",
    "hardsigmoid", "softplus", "softsign", "tanhshrink", "threshold", "threshold_", "glu", "logsigmoid",
    "hardshrink", "softshrink", "softmax", "log_softmax", "softmin", "gumbel_softmax",
    # linear, dropout, sparse
    "linear", "bilinear", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
    "feature_alpha_dropout", "embedding", "embedding_bag", "one_hot",
    # normalisation and distances
    "normalize", "cosine_similarity", "pairwise_distance", "pdist", "batch_norm", "instance_norm", "layer_norm",
    "group_norm", "rms_norm", "local_response_norm",
    # losses
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "cosine_embedding_loss",
    "margin_ranking_loss", "triplet_margin_loss", "gaussian_nll_loss", "poisson_nll_loss",
    "hinge_embedding_loss", "soft_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss",
    "triplet_margin_with_distance_loss", "multilabel_margin_loss", "ctc_loss",
]
__all__ = list(_spatial_all) + _core_all


# ------------------------------------------------------------------------------------ helpers
def _scalar(v, like: Tensor) -> Tensor:
    """A 0-d tensor of `like`'s dtype on its device (a Python number would do for most ops,
    but `where` needs a tensor)."""
    t = _C._scalar_tensor(v, like.dtype)
    return t if like.device.type == "cpu" else t.to(like.device)


def _where(cond, a, b):
    from .. import where

    return where(cond, a, b)


def _inplace(input: Tensor, out: Tensor) -> Tensor:
    from .._tensor import _inplace_via

    return _inplace_via(input, lambda _s: out)


def _src(input: Tensor, inplace: bool) -> Tensor:
    """What an in-place activation computes from: a copy when autograd records it, so the
    graph's saved tensors are not the ones the in-place write overwrites (torch's in-place
    kernels save their output instead; rustensor's composites save their inputs)."""
    if inplace and input.requires_grad and _C.is_grad_enabled():
        return input.clone()
    return input


def _check_tensor(x, op, arg="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' (position 1) must be Tensor, not {type(x).__name__}")


def _rand_like(x: Tensor, shape=None) -> Tensor:
    dt = x.dtype if x.dtype.is_floating_point else _C.float32
    # drawn where x lives: a dropout mask is as large as the activation, so no host copy
    return _C._random("rand", list(x.shape) if shape is None else list(shape), dt, x.device)


# ------------------------------------------------------------------------------------ activations
def relu(input, inplace=False):
    _check_tensor(input, "relu")
    return input.relu_() if inplace else input.relu()


def relu_(input):
    return input.relu_()


def _hardtanh(input, min_val=-1.0, max_val=1.0):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return input.clamp(min_val, max_val)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    src = _src(input, inplace)
    out = _hardtanh(src, min_val, max_val)
    return _inplace(input, out) if inplace else out


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def _leaky_relu(input, negative_slope=0.01):
    return _where(input > 0, input, input * negative_slope)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    src = _src(input, inplace)
    out = _leaky_relu(src, negative_slope)
    return _inplace(input, out) if inplace else out


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, True)


def prelu(input, weight):
    if not isinstance(weight, Tensor):
        raise TypeError(f"prelu(): argument 'weight' (position 2) must be Tensor, not {type(weight).__name__}")
    n = weight.numel()
    if n != 1:
        if input.ndim == 0:
            raise RuntimeError(f"Not allow zero-dim input tensor. (prelu: weight of size {n})")
        channels = input.shape[1] if input.ndim >= 2 else input.shape[0]
        if n != channels:
            raise RuntimeError(
                f"Mismatch of parameter numbers and input channel size. Found parameter numbers = {n} "
                f"and channel size = {channels}."
            )
        if input.ndim >= 2:
            weight = weight.reshape([n] + [1] * (input.ndim - 2))
    else:
        weight = weight.reshape([])
    return _where(input > 0, input, input * weight)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    src = _src(input, inplace)
    if training:
        a = _rand_like(src) * (upper - lower) + lower
        out = _where(src >= 0, src, src * a)
    else:
        out = _leaky_relu(src, (lower + upper) / 2)
    return _inplace(input, out) if inplace else out


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, True)


def _elu(input, alpha=1.0, scale=1.0, input_scale=1.0):
    # expm1 of the clamped value: the branch `where` discards must not overflow, or its
    # zero gradient times inf becomes nan
    neg = (input.clamp(max=0) * input_scale).expm1() * alpha
    out = _where(input > 0, input, neg)
    return out * scale if scale != 1.0 else out


def elu(input, alpha=1.0, inplace=False):
    src = _src(input, inplace)
    out = _elu(src, alpha)
    return _inplace(input, out) if inplace else out


def elu_(input, alpha=1.0):
    return elu(input, alpha, True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    src = _src(input, inplace)
    out = _elu(src, _SELU_ALPHA, _SELU_SCALE)
    return _inplace(input, out) if inplace else out


def selu_(input):
    return selu(input, True)


def celu(input, alpha=1.0, inplace=False):
    src = _src(input, inplace)
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    out = _elu(src, alpha, 1.0, 1.0 / alpha)
    return _inplace(input, out) if inplace else out


def celu_(input, alpha=1.0):
    return celu(input, alpha, True)


# Numerical Recipes' erfc Chebyshev fit (fractional error < 1.2e-7 everywhere): rustensor
# has no erf kernel yet, and exact GELU needs erf
_ERFC_COEFS = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807,
               -1.13520398, 1.48851587, -0.82215223, 0.17087277)


def _erf(x: Tensor) -> Tensor:
    z = x.abs()
    t = 1.0 / (z * 0.5 + 1.0)
    poly = _ERFC_COEFS[-1]
    for c in reversed(_ERFC_COEFS[:-1]):
        poly = t * poly + c
    erfc = t * (poly - z * z).exp()
    return (1.0 - erfc) * x.sign()


def gelu(input, approximate="none"):
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (inner.tanh() + 1.0)
    if approximate != "none":
        raise RuntimeError("approximate argument must be either none or tanh.")
    return input * 0.5 * (_erf(input * (1.0 / math.sqrt(2.0))) + 1.0)


def silu(input, inplace=False):
    src = _src(input, inplace)
    out = src * src.sigmoid()
    return _inplace(input, out) if inplace else out


def _softplus_stable(x):
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): finite for any x, and so is its gradient
    return x.clamp(min=0) + (-x.abs()).exp().log1p()


def softplus(input, beta=1.0, threshold=20.0):
    bx = input * beta if beta != 1 else input
    soft = _softplus_stable(bx)
    if beta != 1:
        soft = soft / beta
    return _where(bx > threshold, input, soft)


def mish(input, inplace=False):
    src = _src(input, inplace)
    out = src * _softplus_stable(src).tanh()
    return _inplace(input, out) if inplace else out


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def hardswish(input, inplace=False):
    src = _src(input, inplace)
    out = src * ((src + 3.0).clamp(0.0, 6.0) * (1.0 / 6.0))
    return _inplace(input, out) if inplace else out


def hardsigmoid(input, inplace=False):
    src = _src(input, inplace)
    out = (src + 3.0).clamp(0.0, 6.0) * (1.0 / 6.0)
    return _inplace(input, out) if inplace else out


def softsign(input):
    return input / (input.abs() + 1.0)


def tanhshrink(input):
    return input - input.tanh()


def threshold(input, threshold, value, inplace=False):
    src = _src(input, inplace)
    out = _where(src > threshold, src, _scalar(value, src))
    return _inplace(input, out) if inplace else out


def threshold_(input, threshold_, value):
    return threshold(input, threshold_, value, True)


def hardshrink(input, lambd=0.5):
    return _where((input > lambd).logical_or(input < -lambd), input, _scalar(0, input))


def softshrink(input, lambd=0.5):
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    shrunk = input - input.clamp(-lambd, lambd)
    return shrunk


def glu(input, dim=-1):
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = dim + input.ndim if dim < 0 else dim
    n = input.shape[d]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    a = input.narrow(d, 0, n // 2)
    b = input.narrow(d, n // 2, n // 2)
    return a * b.sigmoid()


def logsigmoid(input):
    # log(sigmoid(x)) = min(x, 0) - log1p(e^-|x|)
    return input.clamp(max=0) - (-input.abs()).exp().log1p()


def _softmax_dim(name, ndim):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_input(input, dim, dtype, name):
    if dim is None:
        dim = _softmax_dim(name, input.ndim)
    if dtype is not None:
        input = input.to(dtype)
    return input, dim


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    input, dim = _softmax_input(input, dim, dtype, "softmax")
    return input.softmax(dim, dtype)  # dtype passed on: an explicit one opts out of autocast


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    input, dim = _softmax_input(input, dim, dtype, "softmin")
    return (-input).softmax(dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    input, dim = _softmax_input(input, dim, dtype, "log_softmax")
    return input.log_softmax(dim, dtype)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    u = _rand_like(logits)
    gumbels = -((u.clamp(min=1e-20)).log().neg().clamp(min=1e-20).log())
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.argmax(dim).unsqueeze(dim)
    from .. import zeros_like

    y_hard = zeros_like(logits).scatter(dim, index, _scalar(1.0, logits).expand(*index.shape))
    return y_hard - y_soft.detach() + y_soft


# ------------------------------------------------------------------------------------ linear
def _cast(*ts):
    from ..amp.autocast_mode import _cast_inputs

    return _cast_inputs(*ts)


def linear(input, weight, bias=None):
    _check_tensor(input, "linear")
    input, weight, bias = _cast(input, weight, bias)
    in_f = input.shape[-1] if input.ndim else 1
    w_in = weight.shape[-1] if weight.ndim else 1
    if in_f != w_in or weight.ndim > 2:
        rows = 1
        for s in tuple(input.shape)[:-1]:
            rows *= s
        w_out = weight.shape[0] if weight.ndim == 2 else 1
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{in_f} and {w_in}x{w_out})")
    if input.dtype != weight.dtype:
        if bias is None:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_CPP_NAME[_dt(input)]} != {_CPP_NAME[_dt(weight)]}")
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {_C_name(input.dtype)} and {_C_name(weight.dtype)}")
    if bias is not None and bias.dtype != weight.dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got {_C_name(bias.dtype)} and {_C_name(weight.dtype)}")
    out = input.matmul(weight.t() if weight.ndim == 2 else weight)
    if bias is not None:
        out = out + bias
    return out


def _dt(t):
    return str(t.dtype).rsplit(".", 1)[-1]


# the C++ type names torch's matmul messages use
_CPP_NAME = {"float32": "float", "float64": "double", "float16": "c10::Half", "int32": "int", "int64": "long int", "bool": "bool"}


def bilinear(input1, input2, weight, bias=None):
    input1, input2, weight, bias = _cast(input1, input2, weight, bias)
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-dimensional, got {weight.ndim}-D")
    out_f, in1, in2 = weight.shape
    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and {input2.ndim}")
    for i in range(input1.ndim - 1):
        if input1.shape[i] != input2.shape[i]:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: got {input1.shape[i]} and {input2.shape[i]}")
    if input1.shape[-1] != in1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {input1.shape[-1]} but expected {in1}")
    if input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {input2.shape[-1]} but expected {in2}")
    # x1 · W_k · x2 for every k as one matmul with W laid out as (in1, out*in2)
    w = weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    lead = tuple(input1.shape[:-1])
    t = input1.reshape(-1, in1).matmul(w).reshape(-1, out_f, in2)
    out = (t * input2.reshape(-1, 1, in2)).sum(-1).reshape(*lead, out_f)
    if bias is not None:
        out = out + bias
    return out


# ------------------------------------------------------------------------------------ dropout
def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout_mask(input, p, shape):
    keep = (_rand_like(input, shape) >= p).to(input.dtype)
    return keep * (1.0 / (1.0 - p)) if p < 1 else keep


def dropout(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    if not training or p == 0.0:
        return input
    src = _src(input, inplace)
    out = src * _dropout_mask(src, p, src.shape) if p < 1 else src * 0.0
    return _inplace(input, out) if inplace else out


def _feature_dropout(input, p, training, inplace, batched_ndim):
    _check_p(p)
    if not training or p == 0.0:
        return input
    src = _src(input, inplace)
    shape = list(src.shape)
    # one draw per (sample, channel): every spatial position shares it
    lead = 2 if src.ndim == batched_ndim else 1
    mask_shape = shape[:lead] + [1] * (len(shape) - lead)
    out = src * _dropout_mask(src, p, mask_shape) if p < 1 else src * 0.0
    return _inplace(input, out) if inplace else out


def dropout1d(input, p=0.5, training=True, inplace=False):
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. "
                           "Note that dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, "
                           "a channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _feature_dropout(input, p, training, inplace, 3)


def _warn_feature_ndim(input, n):
    """dropout2d/dropout3d accept an unexpected rank with a deprecation warning (torch's wording)."""
    if input.ndim not in (n + 1, n + 2):
        # stacklevel 3: point at the caller of dropout{n}d, not at this helper
        warnings.warn(f"dropout{n}d: Received a {input.ndim}-D input to dropout{n}d, which is deprecated and will result in an error "
                      "in a future release. To retain the behavior and silence this warning, please use dropout instead. "
                      f"Note that dropout{n}d exists to provide channel-wise dropout on inputs with {n} spatial dimensions, "
                      f"a channel dimension, and an optional batch dimension (i.e. {n + 1}D or {n + 2}D inputs).", stacklevel=3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    _warn_feature_ndim(input, 2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior is desired - "
                      "input is interpreted as shape (N, C, L), where C is the channel dim. This behavior will change in a future "
                      "release to interpret the input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
                      "channel-wise dropout behavior, please switch to using dropout1d instead.", stacklevel=2)
        return _feature_dropout(input, p, training, inplace, 3)
    return _feature_dropout(input, p, training, inplace, 4)


def dropout3d(input, p=0.5, training=True, inplace=False):
    _warn_feature_ndim(input, 3)
    return _feature_dropout(input, p, training, inplace, 5)


_ALPHA_PRIME = -_SELU_ALPHA * _SELU_SCALE


def _alpha_dropout(input, p, training, inplace, mask_shape):
    _check_p(p)
    if not training or p == 0.0:
        return input
    src = _src(input, inplace)
    if p == 1:
        out = src * 0.0
    else:
        keep = (_rand_like(src, mask_shape) >= p).to(src.dtype)
        a = ((1 - p) * (1 + p * _ALPHA_PRIME**2)) ** -0.5
        # dropped units become alpha' (SELU's saturation value); then an affine map restores mean and variance
        dropped = (1 - keep) * _ALPHA_PRIME
        out = (src * keep + dropped) * a + (-a * _ALPHA_PRIME * p)
    return _inplace(input, out) if inplace else out


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    return _alpha_dropout(input, p, training, inplace, input.shape)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    shape = list(input.shape)
    return _alpha_dropout(input, p, training, inplace, shape[:2] + [1] * (len(shape) - 2))


# ------------------------------------------------------------------------------------ sparse
def _check_index_dtype(t, op, what="indices"):
    if t.dtype not in (_C.int64, _C.int32):
        raise RuntimeError(
            f"Expected tensor for argument #1 '{what}' to have one of the following scalar types: Long, Int; "
            f"but got {t.type()} instead (while checking arguments for {op})"
        )


def _embedding_renorm_(weight, input, max_norm, norm_type):
    from .. import no_grad

    with no_grad():
        idx = input.reshape(-1)
        if idx.numel() == 0:
            return
        import numpy as np

        uniq = np.unique(idx.cpu().numpy())
        from .._tensor import tensor

        rows_idx = tensor(uniq, dtype=_C.int64)
        rows_idx = rows_idx if weight.device.type == "cpu" else rows_idx.to(weight.device)
        rows = weight.index_select(0, rows_idx)
        norms = rows.norm(norm_type, dim=1, keepdim=True)
        scale = _where(norms > max_norm, max_norm / (norms + 1e-7), _scalar(1.0, norms))
        weight[rows_idx] = rows * scale


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    _check_tensor(input, "embedding")
    _check_index_dtype(input, "embedding")
    num = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= num:
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -num:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = num + padding_idx
    if input.numel():
        if input.device.type == "cpu":
            import numpy as np

            # read in place through NumPy: cheaper than two reductions and two syncs
            tn = np.asarray(input.numpy())
            lo, hi = int(tn.min()), int(tn.max())
        else:
            lo, hi = int(input.amin()), int(input.amax())
        if lo < 0 or hi >= num:
            raise IndexError("index out of range in self")
    if max_norm is not None:
        _embedding_renorm_(weight, input, max_norm, norm_type)
    flat = input.reshape(-1)
    if flat.dtype != _C.int64:
        flat = flat.to(_C.int64)
    out = weight.index_select(0, flat)
    if scale_grad_by_freq and out.requires_grad:
        import numpy as np

        ids = flat.cpu().numpy()
        counts = np.bincount(ids, minlength=num)[ids].astype(np.float64)
        from .._tensor import tensor

        inv = tensor((1.0 / counts).reshape(-1, 1), dtype=out.dtype)
        inv = inv if out.device.type == "cpu" else inv.to(out.device)
        # scales the gradient only: values stay those of the rows
        out = out * inv + (out * (1 - inv)).detach()
    if padding_idx is not None and out.requires_grad:
        # the padding row gets no gradient (torch's contract) while its value is returned as is
        keep = (flat != padding_idx).reshape(-1, 1)
        out = _where(keep, out, out.detach())
    return out.reshape(*input.shape, weight.shape[1])


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only supported "
                                  f"for mode='sum' (got mode='{mode}'). Please open a feature request on GitHub.")
    _check_index_dtype(input, "embedding_bag")
    num = weight.shape[0]
    if padding_idx is not None and padding_idx < 0:
        padding_idx += num
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of fixed "
                             f"length sequences. However, found offsets of type {type(offsets).__name__}")
        b, length = input.shape
        offs = list(range(0, b * length, length))
        flat = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        offs = [int(v) for v in offsets.tolist()]
        if include_last_offset:
            offs = offs[:-1]
        flat = input
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    rows = embedding(flat, weight, None, max_norm, norm_type, scale_grad_by_freq)
    n = flat.shape[0]
    if padding_idx is not None:
        keep = (flat != padding_idx).to(rows.dtype)
    else:
        keep = None
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1, 1)
    ends = offs[1:] + [n]
    if mode in ("sum", "mean"):
        # bag membership as a (bags, n) matrix: the reduction is one matmul, differentiable in the rows
        import numpy as np

        member = np.zeros((len(offs), n), dtype=np.float64)
        for i, (s, e) in enumerate(zip(offs, ends)):
            member[i, s:e] = 1.0
        from .._tensor import tensor as _tensor

        m = _tensor(member, dtype=rows.dtype)
        m = m if rows.device.type == "cpu" else m.to(rows.device)
        if keep is not None:
            m = m * keep.reshape(1, -1)
        out = m.matmul(rows)
        if mode == "mean":
            out = out / m.sum(1, keepdim=True).clamp(min=1)
        return out
    from .. import stack, zeros

    outs = []
    for s, e in zip(offs, ends):
        seg = rows.narrow(0, s, e - s)
        if keep is not None and e > s:
            k = keep.narrow(0, s, e - s) > 0
            seg = seg[k]
        outs.append(seg.amax(0) if seg.shape[0] else zeros(weight.shape[1], dtype=rows.dtype, device=rows.device))
    return stack(outs) if outs else zeros(0, weight.shape[1], dtype=rows.dtype, device=rows.device)


def one_hot(tensor, num_classes=-1):
    if tensor.dtype != _C.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if tensor.numel() == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(tensor.amax()) + 1
    if tensor.numel():
        if int(tensor.amin()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(tensor.amax()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    from .. import arange

    classes = arange(num_classes, device=tensor.device if tensor.device.type != "cpu" else None)
    return (tensor.unsqueeze(-1) == classes).to(_C.int64)


# ------------------------------------------------------------------------------------ normalisation
def _norm2(x, dim):
    # ‖x‖₂ with torch's zero subgradient at x = 0 (sqrt's derivative there is inf, times 0 is nan)
    s = (x * x).sum(dim, keepdim=True)
    pos = s > 0
    return _where(pos, _where(pos, s, _scalar(1, s)).sqrt(), _scalar(0, s))


def _clamp_value_only(n, eps):
    # torch clamps the norm in place under no_grad: the value is clamped, the gradient is the norm's
    return n + (n.clamp(min=eps) - n).detach()


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    n = _norm2(input, dim) if p == 2 else input.norm(p, dim=dim, keepdim=True)
    return input / n.clamp(min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    from .. import broadcast_tensors

    x1, x2 = broadcast_tensors(x1, x2)
    # torch normalises each side first (clamping each norm at eps), then takes the dot product
    n1 = _clamp_value_only(_norm2(x1, dim), eps)
    n2 = _clamp_value_only(_norm2(x2, dim), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    d = x1 - x2 + eps
    nd = max(x1.ndim, x2.ndim)
    if nd == 0:
        return d.abs() if p != 0 else (d != 0).to(d.dtype)
    return d.norm(p, dim=-1, keepdim=keepdim)


def _channel_view(t, ndim):
    return t.reshape([1, -1] + [1] * (ndim - 2))


def pdist(input, p=2):
    """Distances between every pair of rows i < j, in row-major order of the pairs."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    n = input.shape[0]
    if n < 2:
        from .. import zeros

        return zeros(0, dtype=input.dtype, device=input.device)
    import numpy as np

    from .._tensor import tensor as _tensor

    i, j = np.triu_indices(n, 1)
    dev = input.device if input.device.type != "cpu" else None
    ii, jj = _tensor(i, dtype=_C.int64), _tensor(j, dtype=_C.int64)
    if dev is not None:
        ii, jj = ii.to(dev), jj.to(dev)
    d = input.index_select(0, ii) - input.index_select(0, jj)
    return _norm2(d, 1).reshape(-1) if p == 2 else d.norm(p, dim=1)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    if input.ndim < 2:
        raise ValueError(f"expected 2D or 3D input (got {input.ndim}D input)")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"running_mean should contain {c} elements not {t.numel()}" if name == "running_mean" else
                               f"{name} should contain {c} elements not {t.numel()}")
    if training:
        if (running_mean is None) != (running_var is None):
            raise ValueError("running_mean and running_var must either both be None or neither be None")
        count = input.numel() // max(c, 1)
        if count == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
        # one fused kernel for the statistics and the output (and one for the backward)
        out, mean, var = _C._batch_norm(input, weight, bias, None, None, float(eps))
        if running_mean is not None and count > 0:
            from .. import no_grad

            with no_grad():
                running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype) * momentum)
                # the batch's biased variance, made unbiased as torch's running_var is
                running_var.mul_(1 - momentum).add_(var.to(running_var.dtype) * (momentum * count / (count - 1)))
        return out
    if running_mean is None or running_var is None:
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
    return _C._batch_norm(input, weight, bias, running_mean, running_var, float(eps))[0]


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True, momentum=0.1, eps=1e-5):
    if input.ndim < 3:
        raise ValueError(f"expected 3D or higher input (got {input.ndim}D input)")
    dims = tuple(range(2, input.ndim))
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is false")
        # the running statistics for every instance: batch norm's eval mode
        return _C._batch_norm(input, weight, bias, running_mean, running_var, float(eps))[0]
    count = 1
    for s in tuple(input.shape)[2:]:
        count *= s
    if count == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {input.shape}")
    if running_mean is not None or running_var is not None:
        from .. import no_grad

        with no_grad():
            # the running stats average the per-instance statistics over the batch
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(input.mean(dims).mean(0).reshape(-1) * momentum)
            if running_var is not None:
                corr = count / (count - 1) if count > 1 else float("nan")
                running_var.mul_(1 - momentum).add_(input.var(dims, correction=0).mean(0).reshape(-1) * (corr * momentum))
    # each (sample, channel) normalised on its own: group norm with a group per channel
    return _C._group_norm(input, input.shape[1], weight, bias, float(eps))


def _norm_dims(input, normalized_shape, op):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or input.ndim < k or tuple(input.shape)[input.ndim - k:] != normalized_shape:
        raise RuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape [*, "
            f"{', '.join(str(s) for s in normalized_shape)}], but got input of size{list(input.shape)}"
        )
    return normalized_shape, tuple(range(input.ndim - k, input.ndim))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    normalized_shape, _ = _norm_dims(input, normalized_shape, "layer_norm")
    # one fused kernel forward and one backward (the core's layer_norm op)
    return _C._layer_norm(input, normalized_shape, weight, bias, float(eps), False)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    normalized_shape, _ = _norm_dims(input, normalized_shape, "rms_norm")
    if not input.dtype.is_floating_point:
        from ._ctc import _dtype_name

        raise NotImplementedError(f"\"rms_norm\" not implemented for '{_dtype_name(input.dtype)}'")
    if eps is None:
        from .. import finfo

        eps = finfo(input.dtype).eps
    return _C._layer_norm(input, normalized_shape, weight, None, float(eps), True)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    num_groups = int(num_groups)
    if num_groups < 0:
        raise RuntimeError(f"Expected num groups to be greater than 0, got {num_groups}")
    return _C._group_norm(input, num_groups, weight, bias, float(eps))


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    dim = input.ndim
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    from .. import cat, zeros

    sq = input * input
    c = input.shape[1]
    # sum of squares over a window of `size` channels centred (torch pads size//2 before, (size-1)//2 after)
    before, after = size // 2, (size - 1) // 2
    pad_shape = list(input.shape)
    parts = []
    if before:
        pad_shape[1] = before
        parts.append(zeros(*pad_shape, dtype=input.dtype, device=input.device))
    parts.append(sq)
    if after:
        pad_shape[1] = after
        parts.append(zeros(*pad_shape, dtype=input.dtype, device=input.device))
    padded = cat(parts, 1) if len(parts) > 1 else sq
    acc = padded.narrow(1, 0, c)
    for i in range(1, size):
        acc = acc + padded.narrow(1, i, c)
    div = (acc * (alpha / size) + k) ** beta
    return input / div


# ------------------------------------------------------------------------------------ losses
def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _legacy_reduction(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _check_reduction(reduction):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _pointwise_shapes(input, target, name):
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
            "This will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _pointwise_shapes(input, target, "mse_loss")
    d = input - target
    loss = d * d
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _pointwise_shapes(input, target, "l1_loss")
    loss = (input - target).abs()
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _pointwise_shapes(input, target, "smooth_l1_loss")
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = (input - target).abs()
    if beta == 0:
        return _reduce(d, reduction)
    loss = _where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    _check_reduction(reduction)
    _pointwise_shapes(input, target, "huber_loss")
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    d = (input - target).abs()
    loss = _where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _class_dim(input):
    return 0 if input.ndim == 1 else 1


def _check_nll_shapes(input, target):
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if input.ndim == 1:
        if target.ndim == 1 and target.shape[0] != 1:
            raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: {target.shape[0]}")
        if target.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        return
    if input.ndim == 2 and target.ndim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if input.shape[0] != (target.shape[0] if target.ndim else -1):
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size ({target.shape[0] if target.ndim else 0}).")
    expected = [input.shape[0]] + list(input.shape[2:])
    if list(target.shape) != expected:
        raise RuntimeError(f"Expected target size {expected}, got {list(target.shape)}")


def _check_target_range(target, ignore_index, n_classes):
    """Raises torch's IndexError for a target outside [0, n_classes) that is not ignored;
    returns whether any target equals ignore_index. A CPU target is read in place through
    NumPy (no copy, no tensor ops); a GPU one is checked with two reductions and one sync."""
    if target.numel() == 0:
        return False
    if target.device.type == "cpu":
        import numpy as np

        tn = np.asarray(target.numpy())
        ign = tn == ignore_index
        bad = ((tn < 0) | (tn >= n_classes)) & ~ign
        if bad.any():
            raise IndexError(f"Target {int(tn[bad].reshape(-1)[0])} is out of bounds.")
        return bool(ign.any())
    ign = target == ignore_index
    bad = ((target < 0).logical_or(target >= n_classes)).logical_and(ign.logical_not())
    if bool(bad.any()):
        vals = target[bad]
        raise IndexError(f"Target {int(vals.reshape(-1)[0])} is out of bounds.")
    return bool(ign.any())


def _nll_parts(logp, target, weight, ignore_index):
    """(per-element -w[t]·logp[t] with zeros where ignored, per-element weights w[t]·valid,
    the valid mask). The weights are None when every element counts 1 and the mask is None
    when nothing is ignored: the common case is then just gather and negate."""
    cdim = _class_dim(logp)
    n_classes = logp.shape[cdim]
    if target.dtype != _C.int64:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_C_name(target.dtype)}")
    if logp.ndim == 1 and target.ndim == 1:
        target = target.reshape([])
    if weight is not None and (weight.ndim != 1 or weight.numel() != n_classes):
        raise RuntimeError(f"weight tensor should be defined either for all {n_classes} classes or no classes but got weight tensor of shape: {list(weight.shape)}")
    any_ignored = _check_target_range(target, ignore_index, n_classes)
    if any_ignored:
        valid = target != ignore_index
        safe = _where(valid, target, _scalar(0, target))
    else:
        valid, safe = None, target
    picked = logp.gather(cdim, safe.unsqueeze(cdim)).squeeze(cdim)
    if weight is None and valid is None:
        return -picked, None, None
    validf = None if valid is None else valid.to(logp.dtype)
    if weight is not None:
        w = weight.index_select(0, safe.reshape(-1)).reshape(*safe.shape)
        if validf is not None:
            w = w * validf
    else:
        w = validf
    return -(picked * w), w, validf


def _mean_of(loss, w):
    return loss.mean() if w is None else _weighted_mean(loss.sum(), w.sum())


def _C_name(dt):
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int32": "Int", "int64": "Long", "bool": "Bool"}[str(dt).rsplit(".", 1)[-1]]


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_nll_shapes(input, target)
    loss, w, _ = _nll_parts(input, target, weight, ignore_index)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return _mean_of(loss, w)


def _weighted_mean(num, den):
    # nan when every target is ignored, as torch, but with torch's zero gradient rather than 0/0
    ok = den > 0
    return _where(ok, num / _where(ok, den, _scalar(1, den)), _scalar(float("nan"), num))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean", label_smoothing=0.0):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input.ndim == 0:
        raise RuntimeError("cross_entropy: input must have at least one dimension (the classes), got a 0-d tensor")
    cdim = _class_dim(input)
    n_classes = input.shape[cdim]
    wview = None
    if weight is not None:
        if weight.ndim != 1 or weight.numel() != n_classes:
            raise RuntimeError(f"weight tensor should be defined either for all {n_classes} classes or no classes but got weight tensor of shape: {list(weight.shape)}")
        wview = weight.reshape([n_classes] + [1] * (input.ndim - cdim - 1))

    if tuple(target.shape) == tuple(input.shape):
        # class probabilities
        logp = input.log_softmax(cdim)
        if not target.dtype.is_floating_point:
            raise RuntimeError(f"Expected floating point type for target with class probabilities, got {_C_name(target.dtype)}")
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / n_classes
        prod = logp * target
        if wview is not None:
            prod = prod * wview
        loss = -prod.sum(cdim)
        if reduction == "mean":
            # torch averages over the batch elements, not the weights
            return loss.sum() / (input.numel() // n_classes) if input.numel() else loss.sum() / 0.0
        return _reduce(loss, reduction)

    if target.dtype.is_floating_point:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_C_name(target.dtype)}")
    _check_nll_shapes(input, target)
    if input.dtype.is_floating_point and target.dtype == _C.int64:
        return _fused_cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing, cdim, n_classes)
    logp = input.log_softmax(cdim)
    nll, w, valid = _nll_parts(logp, target, weight, ignore_index)
    if reduction == "none":
        nll_red = nll
    elif reduction == "sum":
        nll_red = nll.sum()
    else:
        nll_red = _mean_of(nll, w)
    if label_smoothing <= 0:
        return nll_red
    smooth = -((logp * wview) if wview is not None else logp).sum(cdim)
    if valid is not None:
        smooth = smooth * valid.reshape(*smooth.shape)
    if reduction == "none":
        smooth_red = smooth
    elif reduction == "sum":
        smooth_red = smooth.sum()
    else:
        # torch divides by the same total weight as the nll term
        smooth_red = _mean_of(smooth, w if weight is not None else valid)
    return nll_red * (1 - label_smoothing) + smooth_red * (label_smoothing / n_classes)


def _fused_cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing, cdim, n_classes):
    """Class-index cross-entropy through the core's fused op (one kernel forward, one
    backward, no log-probability or one-hot matrix): the rows' losses, then the reduction."""
    if weight is not None and (weight.ndim != 1 or weight.numel() != n_classes):
        raise RuntimeError(f"weight tensor should be defined either for all {n_classes} classes or no classes but got weight tensor of shape: {list(weight.shape)}")
    any_ignored = _check_target_range(target, ignore_index, n_classes)
    if input.ndim == 1:
        rows, tgt = input.reshape(1, n_classes), target.reshape(1)
    elif input.ndim == 2:
        rows, tgt = input, target
    else:
        # (N, C, d1, ...): the classes last, one row per element
        rows, tgt = input.movedim(cdim, -1).reshape(-1, n_classes), target.reshape(-1)
    losses = _C._cross_entropy(rows, tgt, weight, int(ignore_index), float(label_smoothing))
    if reduction == "none":
        # an unbatched input gives a 0-d loss, whatever the target's shape (torch)
        return losses.reshape(()) if input.ndim == 1 else losses.reshape(*target.shape)
    if reduction == "sum":
        return losses.sum()
    if weight is None and not any_ignored:
        return losses.mean()
    # torch's mean: divided by the summed weights of the counted targets
    if weight is None:
        total = (tgt != ignore_index).sum().to(losses.dtype)
    else:
        valid = tgt != ignore_index
        safe = _where(valid, tgt, _scalar(0, tgt)) if any_ignored else tgt
        w = weight.detach().to(losses.dtype).index_select(0, safe)
        total = (w * valid.to(losses.dtype)).sum() if any_ignored else w.sum()
    return losses.sum() / total


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}) is deprecated. Please ensure they have the same size.")
    if input.numel() and (bool((input < 0).any()) or bool((input > 1).any())):
        raise RuntimeError("all elements of input should be between 0 and 1")
    # torch clamps each log at -100 so that a 0 or 1 input gives a finite loss
    log_x = input.log().clamp(min=-100)
    log_1mx = (1 - input).log().clamp(min=-100)
    loss = -(target * log_x + (1 - target) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    # -[p·t·log σ(x) + (1-t)·log(1-σ(x))] = (1-t)·x + (1 + (p-1)·t)·softplus(-x)
    sp = _softplus_stable(-input)
    if pos_weight is not None:
        loss = (1 - target) * input + ((pos_weight - 1) * target + 1) * sp
    else:
        loss = (1 - target) * input + sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.", stacklevel=2)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # xlogy(t, t): 0 where t == 0; log of a safe stand-in keeps the gradient finite
        pos = target > 0
        safe = _where(pos, target, _scalar(1, target))
        loss = target * safe.log() - target * input
    if reduction == "batchmean":
        if input.ndim == 0:
            return loss.sum()
        return loss.sum() / input.shape[0]
    _check_reduction(reduction)
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if input1.ndim != input2.ndim or tuple(input1.shape) != tuple(input2.shape):
        raise RuntimeError(f"cosine_embedding_loss: input1 and input2 must have the same shape, got {list(input1.shape)} and {list(input2.shape)}")
    if input1.ndim not in (1, 2):
        raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with sizes {list(input1.shape)} and {list(input2.shape)}.")
    dim = input1.ndim - 1
    eps = 1e-12
    prod = (input1 * input2).sum(dim)
    m1 = (input1 * input1).sum(dim) + eps
    m2 = (input2 * input2).sum(dim) + eps
    cos = prod / (m1 * m2).sqrt()
    zero = _scalar(0, cos)
    pos = _where(target == 1, 1 - cos, zero)
    neg = _where(target == -1, (cos - margin).clamp(min=0), zero)
    return _reduce(pos + neg, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} "
        )
    loss = (-target * (input1 - input2) + margin).clamp(min=0)
    return _reduce(loss, reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    zero = _scalar(0, input)
    margin_part = _where(target != 1, (margin - input).clamp(min=0), zero)
    self_part = _where(target != -1, input, zero)
    return _reduce(margin_part + self_part, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    return _reduce(_softplus_stable(-target * input), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.ndim - 1
    c = input.shape[class_dim]
    loss = loss.sum(class_dim) / c
    return _reduce(loss, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    t = target.reshape(-1)
    c = x.shape[1]
    _check_target_range(t, -(10**18), c)
    picked = x.gather(1, t.unsqueeze(1))
    z = (x - picked + margin).clamp(min=0)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight.index_select(0, t).unsqueeze(1)
    # the target class itself is excluded from the sum
    from .. import arange

    not_target = arange(c, device=x.device if x.device.type != "cpu" else None).unsqueeze(0) != t.unsqueeze(1)
    loss = (z * not_target.to(z.dtype)).sum(1) / c
    if input.ndim < 2:
        loss = loss.reshape(target.shape)
    return _reduce(loss, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Hinge loss over (target class, non-target class) pairs; each row's targets are the
    leading entries of ``target`` up to the first -1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    x = input if input.ndim == 2 else input.reshape(1, -1)
    t = target if target.ndim == 2 else target.reshape(1, -1)
    if tuple(x.shape) != tuple(t.shape):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}")
    import numpy as np

    from .._tensor import tensor as _tensor

    tn = t.cpu().numpy()
    n, c = tn.shape
    is_target = np.zeros((n, c), dtype=np.float64)
    valid = np.zeros((n, c), dtype=np.float64)
    for r in range(n):
        for k in range(c):
            v = int(tn[r, k])
            if v < 0:
                break
            if v >= c:
                raise IndexError(f"Target {v} is out of bounds.")
            is_target[r, v] = 1.0
            valid[r, k] = 1.0
    dev = x.device if x.device.type != "cpu" else None

    def T(a):
        r_ = _tensor(a, dtype=x.dtype)
        return r_ if dev is None else r_.to(dev)

    safe = _tensor(np.where(valid > 0, np.maximum(tn, 0), 0), dtype=_C.int64)
    safe = safe if dev is None else safe.to(dev)
    picked = x.gather(1, safe)  # (n, c): x at each listed target
    # margin[r, k, j] = 1 - (x[r, target_k] - x[r, j]) over listed k and non-target j
    m = (1.0 - picked.unsqueeze(2) + x.unsqueeze(1)).clamp(min=0)
    mask = T(valid)[:, :, None] * (1.0 - T(is_target))[:, None, :]
    loss = (m * mask).sum((1, 2)) / c
    if input.ndim < 2:
        loss = loss.reshape([])
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    a_dim, p_dim, n_dim = anchor.ndim, positive.ndim, negative.ndim
    if not (a_dim == p_dim == n_dim):
        raise RuntimeError(
            f"The anchor, positive, and negative tensors are expected to have the same number of dimensions, but got: "
            f"anchor {a_dim}D, positive {p_dim}D, and negative {n_dim}D inputs"
        )
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce((d_pos - d_neg + margin).clamp(min=0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False, reduction="mean"):
    _check_reduction(reduction)
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(dist(positive, negative))
    return _reduce((d_pos - d_neg + margin).clamp(min=0), reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    _check_reduction(reduction)
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        var = _scalar(var, input).expand(*input.shape)
    elif not isinstance(var, Tensor):
        raise TypeError(f"gaussian_nll_loss(): argument 'var' (position 3) must be Tensor or float, not {type(var).__name__}")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if var.numel() and bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    # torch clamps a copy under no_grad: the clamp changes the value but not the gradient
    var = var + (var.clamp(min=eps) - var).detach()
    d = input - target
    loss = (var.log() + d * d / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        safe = _where(target > 1, target, _scalar(1, target))
        stirling = safe * safe.log() - safe + (safe * (2 * math.pi)).log() * 0.5
        loss = loss + _where(target > 1, stirling, _scalar(0, stirling))
    return _reduce(loss, reduction)


# ------------------------------------------------------------------------------------ argument types
# torch rejects a non-tensor where a tensor belongs with a TypeError naming the argument;
# without this check the composites above fail later with an AttributeError
_TENSOR_ARGS = frozenset({"input", "target", "x1", "x2", "input1", "input2", "anchor", "positive", "negative",
                          "tensor", "logits", "weight", "bias", "running_mean", "running_var", "pos_weight",
                          "offsets", "per_sample_weights", "log_probs", "targets"})


def _typechecked(name, fn):
    import functools
    import inspect

    params = list(inspect.signature(fn).parameters.values())
    # running_mean/var are positional but may be None (batch_norm without tracking)
    checks = tuple((i, p.name, p.default is inspect.Parameter.empty and p.name not in ("running_mean", "running_var"))
                   for i, p in enumerate(params)
                   if p.name in _TENSOR_ARGS and p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD)

    @functools.wraps(fn)
    def f(*args, **kwargs):
        n = len(args)
        for i, pname, required in checks:
            if i < n:
                v = args[i]
            elif pname in kwargs:
                v = kwargs[pname]
            else:
                continue  # a missing argument: Python's own TypeError says so
            if not isinstance(v, Tensor) and (required or v is not None):
                where = f" (position {i + 1})" if i < n else ""
                raise TypeError(f"{name}(): argument '{pname}'{where} must be Tensor, not {type(v).__name__}")
        return fn(*args, **kwargs)

    return f


for _name in _core_all:
    globals()[_name] = _typechecked(_name, globals()[_name])
del _name


# ------------------------------------------------------------------------------------ autocast policy

# torch's autocast lists (docs "Autocast Op Reference", checked against torch 2.x): the losses run
# in float32 in CPU and CUDA regions; softmax, the norms and these distances only in CUDA ones.
_FP32_BOTH = (
    "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div",
    "binary_cross_entropy_with_logits", "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss",
    "poisson_nll_loss", "soft_margin_loss", "multi_margin_loss", "hinge_embedding_loss", "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
)
_FP32_CUDA = ("softmax", "log_softmax", "softmin", "layer_norm", "group_norm", "normalize", "cosine_similarity", "pdist")

_BCE_UNSAFE = (
    "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits\n"
    "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
    "safe to autocast."
)


def _fp32_policy(fn, devices, cuda_error=None):
    import functools

    from ..amp import autocast_mode as _amp

    @functools.wraps(fn)
    def f(*args, **kwargs):
        cur = _amp._current()
        if cur is None or kwargs.get("dtype") is not None:  # an explicit dtype= is not autocast (torch)
            return fn(*args, **kwargs)
        if cuda_error is not None and cur[0] == "cuda":
            raise RuntimeError(cuda_error)
        args = _amp._cast_fp32(*args, devices=devices)
        if kwargs:
            kwargs = dict(zip(kwargs, _amp._cast_fp32(*kwargs.values(), devices=devices)))
        return fn(*args, **kwargs)

    return f


for _name in _FP32_BOTH:
    globals()[_name] = _fp32_policy(globals()[_name], ("cpu", "cuda"))
for _name in _FP32_CUDA:
    globals()[_name] = _fp32_policy(globals()[_name], ("cuda",))
binary_cross_entropy = _fp32_policy(binary_cross_entropy, ("cpu",), cuda_error=_BCE_UNSAFE)  # noqa: F811
# torch autocasts ctc_loss to float32 in CPU regions only (it is not on the CUDA list)
ctc_loss = _fp32_policy(ctc_loss, ("cpu",))  # noqa: F811
del _name
