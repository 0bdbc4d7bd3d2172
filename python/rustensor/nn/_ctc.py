"""``ctc_loss``: connectionist temporal classification (Graves et al. 2006,
https://www.cs.toronto.edu/~graves/icml_2006.pdf) as a log-space forward recursion over
differentiable tensor ops, so autograd gives the gradient.

The recursion runs over the extended label sequence l' = (blank, l1, blank, l2, ..., blank) of
length 2S+1 for the longest target S, vectorised over the batch and the 2S+1 positions; only
time is a Python loop. The label bookkeeping (which extended positions may skip a blank, where
each sequence ends) is integer work done once on the host in NumPy, as torch reads the lengths
on the host too."""

from __future__ import annotations

import numpy as np

from .. import _rustensor as _C
from .._tensor import Tensor

__all__ = ["ctc_loss"]

_NINF = float("-inf")

# torch's names for dtypes in its "not implemented for" messages
_TORCH_DTYPE_NAMES = {
    "float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double", "int8": "Char",
    "uint8": "Byte", "int16": "Short", "int32": "Int", "int64": "Long", "bool": "Bool",
    "complex64": "ComplexFloat", "complex128": "ComplexDouble",
}


def _dtype_name(dt) -> str:
    key = str(dt).rsplit(".", 1)[-1]
    return _TORCH_DTYPE_NAMES.get(key, key)


# the suffix of torch's argument-check messages (it names torch's internal checker)
_CTX = " (while checking arguments for ctc_loss_allocate_outputs)"


def _overload_error(args) -> TypeError:
    got = ", ".join(type(a).__name__ if not isinstance(a, Tensor) else "Tensor" for a in args)
    return TypeError(
        f"ctc_loss() received an invalid combination of arguments - got ({got}), but expected one of:\n"
        " * (Tensor log_probs, Tensor targets, tuple of ints input_lengths, tuple of ints target_lengths, "
        "int blank = 0, int reduction = at::Reduction::Mean, bool zero_infinity = False)\n"
        " * (Tensor log_probs, Tensor targets, Tensor input_lengths, Tensor target_lengths, "
        "int blank = 0, int reduction = at::Reduction::Mean, bool zero_infinity = False)\n")


def _is_int_seq(v) -> bool:
    return isinstance(v, (list, tuple)) and all(isinstance(e, int) or (isinstance(e, Tensor) and e.ndim == 0
                                                                        and not e.dtype.is_floating_point)
                                                for e in v)


def _lengths(v, name: str) -> list:
    if isinstance(v, Tensor):
        if v.dtype.is_floating_point or str(v.dtype).endswith(("complex64", "complex128", "bool")):
            raise RuntimeError(f"{name} must be integral")
        return [int(e) for e in v.reshape(-1).tolist()]
    return [int(e) for e in v]


def _lse(terms, k):
    """log Σ exp over same-shaped tensors whose entries may all be -inf. The shift is detached
    (it cancels in value and gradient) and an all -inf column takes a log of 1 behind a `where`:
    the plain formula's exp(-inf - (-inf)) and log(0) would put nan into the gradient of every
    entry that feeds an impossible path."""
    from .. import where

    m = terms[0]
    for t in terms[1:]:
        m = m.maximum(t)
    m = m.detach()
    m = where(m == _NINF, k.zero, m)
    s = (terms[0] - m).exp()
    for t in terms[1:]:
        s = s + (t - m).exp()
    alive = s > 0
    return where(alive, where(alive, s, k.one).log() + m, k.ninf)


class _Consts:
    """0-d constants of the input's dtype on its device, made once per call (`where` takes
    tensors, and a CPU scalar would not mix with a GPU tensor)."""

    def __init__(self, like: Tensor):
        def sc(v):
            t = _C._scalar_tensor(v, like.dtype)
            return t if like.device.type == "cpu" else t.to(like.device)

        self.zero, self.one, self.ninf = sc(0.0), sc(1.0), sc(_NINF)


def _full(shape, value, like: Tensor) -> Tensor:
    from .. import full

    return full(shape, value, dtype=like.dtype, device=like.device)


def _on(arr: np.ndarray, like: Tensor) -> Tensor:
    from .. import tensor

    t = tensor(arr)
    return t if like.device.type == "cpu" else t.to(like.device)


def _label_tables(targets: Tensor, target_lengths, n: int, blank: int):
    """(padded labels (N, S) as int64, their count S) from padded (N, S') or concatenated
    targets, after torch's checks on the targets and lengths, in torch's order."""
    for tl in target_lengths:
        if tl < 0:
            raise RuntimeError(f"Expected target_lengths to have value at least 0, but got value {tl}{_CTX}")
    s_max = max(target_lengths, default=0)
    if targets.ndim == 1:
        total = sum(target_lengths)
        if targets.shape[0] != total:
            raise RuntimeError(f"Expected tensor to have size {total} at dimension 0, but got size "
                               f"{targets.shape[0]} for argument #2 'targets'{_CTX}")
    else:
        if targets.shape[0] != n:
            raise RuntimeError(f"Expected tensor to have size {n} at dimension 0, but got size "
                               f"{targets.shape[0]} for argument #2 'targets'{_CTX}")
        if targets.shape[1] < s_max:
            raise RuntimeError(f"Expected tensor to have size at least {s_max} at dimension 1, but got size "
                               f"{targets.shape[1]} for argument #2 'targets'{_CTX}")
    host = np.asarray(targets.detach().cpu().numpy()).astype(np.int64)
    labels = np.full((n, s_max), blank, dtype=np.int64)
    offset = 0
    for b, tl in enumerate(target_lengths):
        if targets.ndim == 1:
            labels[b, :tl] = host[offset:offset + tl]
            offset += tl
        else:
            labels[b, :tl] = host[b, :tl]
    return labels, s_max


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """CTC loss of log-probabilities (T, N, C) or (T, C) against padded (N, S) or concatenated
    targets. torch's gradient formula adds exp(log_probs) to the true gradient (it assumes the
    input came out of log_softmax, where that term cancels); this one is the true gradient, so
    the two agree once the gradient flows through log_softmax."""
    from .. import cat, where

    if not isinstance(log_probs, Tensor) or not isinstance(targets, Tensor):
        raise _overload_error((log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity))
    tensors = isinstance(input_lengths, Tensor) and isinstance(target_lengths, Tensor)
    if not tensors and not (_is_int_seq(input_lengths) and _is_int_seq(target_lengths)):
        raise _overload_error((log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity))
    if not isinstance(blank, int) or isinstance(blank, bool):
        raise _overload_error((log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity))
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    in_lens = _lengths(input_lengths, "input_lengths")
    tg_lens = _lengths(target_lengths, "target_lengths")

    if log_probs.dtype not in (_C.float32, _C.float64):
        raise NotImplementedError(f"\"ctc_loss_cpu\" not implemented for '{_dtype_name(log_probs.dtype)}'")
    batched = log_probs.ndim == 3
    # torch unsqueezes anything that is not 3-d, so a 4-d input is reported as 5-d
    lp = log_probs if batched else log_probs.unsqueeze(1)
    if lp.ndim != 3:
        raise RuntimeError(f"Expected 3-dimensional tensor, but got {lp.ndim}-dimensional tensor for argument "
                           f"#1 'log_probs'{_CTX}")
    if targets.ndim not in (1, 2):
        raise RuntimeError(f"Expected 1 to 2 dimensions, but got {targets.ndim}-dimensional tensor for argument "
                           f"#2 'targets'{_CTX}")
    if lp.numel() == 0:
        raise RuntimeError("log_probs tensor must not be empty")
    t_max, n, c = lp.shape
    if len(in_lens) != n:
        raise RuntimeError("input_lengths must be of size batch_size")
    if len(tg_lens) != n:
        raise RuntimeError("target_lengths must be of size batch_size")
    if not 0 <= blank < c:
        raise RuntimeError("blank must be in label range")
    labels, s_max = _label_tables(targets, tg_lens, n, blank)
    for il in in_lens:
        if il < 0:
            raise RuntimeError(f"Expected input_lengths to have value at least 0, but got value {il}{_CTX}")
        if il > t_max:
            raise RuntimeError(f"Expected input_lengths to have value at most {t_max}, but got value {il}{_CTX}")
    bad = (labels < 0) | (labels >= c)
    if bad.any():
        # torch reads out of bounds here (garbage or a crash); an error is the useful answer
        raise IndexError(f"ctc_loss: target {int(labels[bad][0])} is out of bounds for {c} classes")

    if lp.device.type == "cpu":
        # one Rust kernel: both recursions and the gradient per sequence, in float64
        loss = _C._ctc_loss(lp, labels.reshape(-1).tolist(), s_max, in_lens, tg_lens, blank)
        return _reduce(loss, tg_lens, reduction, zero_infinity, batched, lp)

    width = 2 * s_max + 1
    ext = np.full((n, width), blank, dtype=np.int64)
    ext[:, 1::2] = labels
    # a label may be reached straight from the previous label (skipping the blank between)
    # unless the two are equal: "aa" needs a blank in between to stay two labels
    skip = np.zeros((n, width), dtype=bool)
    skip[:, 3::2] = labels[:, 1:] != labels[:, :-1]
    start = np.full((n, width), -np.inf)
    start[:, :2] = 0.0
    in_arr = np.asarray(in_lens, dtype=np.int64).reshape(n, 1)
    tg_arr = np.asarray(tg_lens, dtype=np.int64)
    np_dt = np.float64 if lp.dtype == _C.float64 else np.float32

    # one gather for all (t, n, s): the per-step work is then slices of this
    lp_ext = lp.gather(2, _on(ext, lp).unsqueeze(0).expand(t_max, n, width))
    skip_pen = _on(np.where(skip, 0.0, -np.inf).astype(np_dt), lp)
    alpha = lp_ext[0] + _on(start.astype(np_dt), lp)
    if (in_arr == 0).any():
        # no frames: only the empty labelling, from the state before any blank, has probability 1
        empty = np.full((n, width), -np.inf, dtype=np_dt)
        empty[:, 0] = 0.0
        alpha = where(_on(in_arr > 0, lp), alpha, _on(empty, lp))
    k = _Consts(lp)
    pad = _full((n, 2), _NINF, lp)
    steps = int(in_arr.max(initial=0))
    # a sequence whose input has ended keeps its alpha; one mask upload for all steps
    active = _on(np.arange(steps).reshape(steps, 1, 1) < in_arr, lp) if (in_arr < steps).any() else None
    for t in range(1, steps):
        ap = cat([pad, alpha], 1)
        new = _lse([alpha, ap[:, 1:width + 1], ap[:, :width] + skip_pen], k) + lp_ext[t]
        alpha = new if active is None else where(active[t], new, alpha)

    # a path ends on the last label or on the blank after it
    last = _on(2 * tg_arr, lp).unsqueeze(1)
    before = _on(np.maximum(2 * tg_arr - 1, 0), lp).unsqueeze(1)
    before_pen = _on(np.where(tg_arr > 0, 0.0, -np.inf).astype(np_dt), lp).unsqueeze(1)
    loss = -_lse([alpha.gather(1, last), alpha.gather(1, before) + before_pen], k).squeeze(1)

    return _reduce(loss, tg_lens, reduction, zero_infinity, batched, lp)


def _reduce(loss: Tensor, tg_lens, reduction: str, zero_infinity: bool, batched: bool, lp: Tensor) -> Tensor:
    from .. import where

    if zero_infinity:
        loss = where(loss == float("inf"), _Consts(lp).zero, loss)
    if reduction == "mean":
        np_dt = np.float64 if lp.dtype == _C.float64 else np.float32
        return (loss / _on(np.maximum(np.asarray(tg_lens, dtype=np.int64), 1).astype(np_dt), lp)).mean()
    if reduction == "sum":
        return loss.sum()
    return loss if batched else loss.squeeze(0)
