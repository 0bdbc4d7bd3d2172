"""scaled_dot_product_attention and multi_head_attention_forward."""

from __future__ import annotations

import math

import numpy as np

from .. import _rustensor as _C
from ._spatial_util import _autocast, _full, _size
from ._padding import pad

__all__ = [
    "scaled_dot_product_attention", "multi_head_attention_forward",
]


# ---------------------------------------------------------------------------------------------
# attention

def _dropout(x, p, training=True):
    if p == 0.0 or not training:
        return x
    if p == 1.0:
        return x * 0
    from .. import rand

    keep = rand(list(x.shape), dtype=x.dtype if x.is_floating_point() else _C.float32)
    if x.device.type != "cpu":
        keep = keep.to(x.device)
    return x * ((keep >= p).to(x.dtype) * (1.0 / (1.0 - p)))


def _repeat_heads(t, n):
    """(..., H, S, E) -> (..., H*n, S, E), each head repeated n times in place (repeat_interleave)."""
    shp = list(t.shape)
    return t.unsqueeze(-3).expand(*shp[:-2], n, *shp[-2:]).reshape(shp[:-3] + [shp[-3] * n] + shp[-2:])


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    query, key, value = _autocast(query, key, value)
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError(
            "scaled_dot_product_attention: expected query, key and value to have at least 2 dims, got "
            f"{_size(query)}, {_size(key)} and {_size(value)}"
        )
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(
            f"scaled_dot_product_attention: query's last dim {query.shape[-1]} must match key's {key.shape[-1]} "
            f"(query {_size(query)}, key {_size(key)})"
        )
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(
            f"scaled_dot_product_attention: key and value must have the same sequence length, got key "
            f"{_size(key)} and value {_size(value)}"
        )
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    if enable_gqa and query.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        hq, hk = query.shape[-3], key.shape[-3]
        if hq % hk:
            raise RuntimeError(
                f"scaled_dot_product_attention: number of heads in key/value ({hk}) must divide the number of "
                f"heads in query ({hq})"
            )
        key, value = _repeat_heads(key, hq // hk), _repeat_heads(value, hq // value.shape[-3])
    L, S = query.shape[-2], key.shape[-2]
    # with E == 0 every score is 0 whatever the scale (torch then averages the values)
    sc = (1.0 / math.sqrt(query.shape[-1]) if query.shape[-1] else 1.0) if scale is None else float(scale)
    scores = (query * sc) @ key.transpose(-2, -1)
    masked = None
    if is_causal:
        # built on the host: Tensor.tril makes its index grids on the CPU
        from .._tensor import tensor

        allowed = tensor(np.tril(np.ones((L, S), dtype=np.bool_)))
        if query.device.type != "cpu":
            allowed = allowed.to(query.device)
        scores = scores.masked_fill(allowed.logical_not(), float("-inf"))
        masked = allowed if L > 0 and S == 0 else None  # a causal row always keeps its first key
    elif attn_mask is not None:
        if attn_mask.dtype == _C.bool:
            scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
            masked = attn_mask
        else:
            scores = scores + attn_mask
            masked = False
    attn = scores.softmax(-1)
    if masked is not None:
        # torch's math path: a row with every key masked attends to nothing (zeros, not NaN)
        if masked is False:
            dead = scores.amax(-1, keepdim=True) == float("-inf")
        else:
            dead = masked.any(-1, keepdim=True).logical_not()
        attn = attn.masked_fill(dead, 0.0)
    attn = _dropout(attn, dropout_p)
    return attn @ value


def _canonical_mask(mask, name, target_dtype):
    """torch's MHA masks as additive float masks: a bool True means 'not allowed' (-inf)."""
    if mask is None:
        return None
    if mask.dtype == _C.bool:
        zero = _C._full(list(mask.shape), 0.0, target_dtype)
        if mask.device.type != "cpu":
            zero = zero.to(mask.device)
        return zero.masked_fill(mask, float("-inf"))
    if not mask.is_floating_point():
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask


def _linear(x, w, b):
    x, w, b = _autocast(x, w, b)
    y = x @ w.t()
    return y if b is None else y + b


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    from .. import cat

    if query.dim() not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D query tensor")
    batched = query.dim() == 3
    if batched and (key.dim() != 3 or value.dim() != 3):
        raise AssertionError(
            f"For batched (3-D) `query`, expected `key` and `value` to be 3-D but found {key.dim()}-D and "
            f"{value.dim()}-D tensors respectively"
        )
    if not batched and (key.dim() != 2 or value.dim() != 2):
        raise AssertionError(
            f"For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found {key.dim()}-D and "
            f"{value.dim()}-D tensors respectively"
        )
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer module method "
            "`generate_square_subsequent_mask` to create this mask."
        )
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if key.shape[:2] != value.shape[:2]:
        raise AssertionError(f"key shape {_size(key)} does not match value shape {_size(value)}")
    query, key, value = _autocast(query, key, value)

    if not use_separate_proj_weight:
        if query is key and key is value:
            q, k, v = _linear(query, in_proj_weight, in_proj_bias).chunk(3, -1)
        else:
            wq, wk, wv = in_proj_weight.chunk(3, 0)
            bq, bk, bv = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3, 0)
            if key is value:
                q = _linear(query, wq, bq)
                k, v = _linear(key, cat([wk, wv], 0), None if bk is None else cat([bk, bv], 0)).chunk(2, -1)
            else:
                q, k, v = _linear(query, wq, bq), _linear(key, wk, bk), _linear(value, wv, bv)
    else:
        bq, bk, bv = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3, 0)
        q, k, v = _linear(query, q_proj_weight, bq), _linear(key, k_proj_weight, bk), _linear(value, v_proj_weight, bv)

    ref = q
    attn_mask = _canonical_mask(attn_mask, "attn_mask", ref.dtype)
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", ref.dtype)
    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 2D attn_mask is {_size(attn_mask)}, but should be {[tgt_len, src_len]}."
                )
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 3D attn_mask is {_size(attn_mask)}, but should be "
                    f"{[bsz * num_heads, tgt_len, src_len]}."
                )
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")

    if bias_k is not None and bias_v is not None:
        k = cat([k, bias_k.reshape(1, 1, embed_dim).expand(1, bsz, embed_dim)], 0)
        v = cat([v, bias_v.reshape(1, 1, embed_dim).expand(1, bsz, embed_dim)], 0)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = (k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_k is None else static_k)
    v = (v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_v is None else static_v)
    if add_zero_attn:
        k = cat([k, _full([bsz * num_heads, 1, head_dim], 0.0, k)], 1)
        v = cat([v, _full([bsz * num_heads, 1, head_dim], 0.0, v)], 1)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(
                f"expecting key_padding_mask shape of {(bsz, src_len)}, but got {tuple(key_padding_mask.shape)}"
            )
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len)
        kpm = kpm.reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0

    if not need_weights:
        # torch goes through SDPA here, whose rows with every key masked give zeros (with
        # need_weights=True they are NaN, from a plain softmax, as below)
        out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = _linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
        return (out if batched else out.squeeze(1)), None
    scores = (q * (1.0 / math.sqrt(head_dim))) @ k.transpose(-2, -1)  # (N*H, L, S)
    if attn_mask is not None:
        scores = scores + attn_mask
    w = scores.softmax(-1)
    w = _dropout(w, dropout_p)
    out = w @ v  # (N*H, L, hd)
    out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    out = _linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if not batched:
        out = out.squeeze(1)
    w = w.reshape(bsz, num_heads, tgt_len, src_len)
    if average_attn_weights:
        w = w.mean(1)
    if not batched:
        w = w.squeeze(0)
    return out, w
