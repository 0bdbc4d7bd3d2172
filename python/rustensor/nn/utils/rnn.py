"""PackedSequence and pad_sequence, pack_padded_sequence, pad_packed_sequence, pack_sequence,
unpad_sequence, unpack_sequence (owner: nn-spatial).

Packing and unpacking are one index_select each (plus one cat for the padding row), so they
are differentiable and their cost does not grow with a Python loop over time steps.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..._tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence",
           "unpad_sequence", "unpack_sequence", "invert_permutation"]


def _long(values, device=None):
    from ... import tensor

    t = tensor(np.ascontiguousarray(values, dtype=np.int64))
    return t if device is None or device.type == "cpu" else t.to(device)


def _np(t) -> np.ndarray:
    return np.asarray(t.detach().cpu()) if isinstance(t, Tensor) else np.asarray(t)


def invert_permutation(permutation):
    if permutation is None:
        return None
    p = _np(permutation).astype(np.int64)
    out = np.empty_like(p)
    out[p] = np.arange(p.size, dtype=np.int64)
    return _long(out, permutation.device if isinstance(permutation, Tensor) else None)


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """torch's PackedSequence: `data` holds the time steps of a batch of sequences sorted by
    length, step after step; `batch_sizes[t]` is how many sequences are still running at t."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is not None:
            return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)
        # PackedSequence((data, batch_sizes)), as torch accepts
        data, batch_sizes = data[0], data[1]
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        dev = data.device
        si = None if self.sorted_indices is None else self.sorted_indices.to(dev)
        ui = None if self.unsorted_indices is None else self.unsorted_indices.to(dev)
        return type(self)(data, self.batch_sizes, si, ui)

    def cuda(self, *args, **kwargs):
        return self.to("gpu")

    def cpu(self, *args, **kwargs):
        return self.to("cpu")

    def double(self):
        return self._replace(data=self.data.double())

    def float(self):
        return self._replace(data=self.data.float())

    def half(self):
        return self._replace(data=self.data.half())

    @property
    def is_cuda(self):
        return self.data.device.type == "gpu"

    def is_pinned(self):
        return False


def _lengths_array(lengths, batch_size):
    if isinstance(lengths, Tensor):
        if lengths.dim() != 1:
            raise RuntimeError(
                f"'lengths' argument should be a 1D CPU int64 tensor, but got {lengths.dim()}D "
                f"{lengths.device.type} {str(lengths.dtype).split('.')[-1]} tensor"
            )
    arr = _np(lengths).astype(np.int64).reshape(-1)
    if arr.size != batch_size:
        raise RuntimeError(
            f"Expected `len(lengths)` to be equal to batch_size, but got {arr.size} (batch_size={batch_size})"
        )
    return arr


def _pack_index(lengths_sorted, batch):
    """Row indices, into the (T*B) flattening of a time-major padded batch, of the packed order."""
    T = int(lengths_sorted[0]) if lengths_sorted.size else 0
    batch_sizes = np.array([(lengths_sorted > t).sum() for t in range(T)], dtype=np.int64)
    idx = np.concatenate([t * batch + np.arange(bs) for t, bs in enumerate(batch_sizes)]) if T else np.zeros(0, np.int64)
    return batch_sizes, idx


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    batch_dim = 0 if batch_first else 1
    lens = _lengths_array(lengths, input.shape[batch_dim])
    if enforce_sorted:
        if np.any(lens[1:] > lens[:-1]):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You can pass "
                "`enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep this requirement "
                "if you do not need ONNX exportability."
            )
        sorted_indices = None
        order = np.arange(lens.size)
    else:
        order = np.argsort(-lens, kind="stable")
        sorted_indices = _long(order, input.device)
    if lens.size and lens.min() <= 0:
        raise RuntimeError(
            "Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0"
        )
    x = input.transpose(0, 1) if batch_first else input
    if sorted_indices is not None:
        x = x.index_select(1, sorted_indices)
    lens_sorted = lens[order]
    if lens_sorted.size and lens_sorted[0] > x.shape[0]:
        raise RuntimeError(
            f"pack_padded_sequence: a length ({int(lens_sorted[0])}) exceeds the padded sequence length {x.shape[0]}"
        )
    T, B = x.shape[0], x.shape[1]
    batch_sizes, idx = _pack_index(lens_sorted, B)
    data = x.reshape([T * B] + list(x.shape[2:])).index_select(0, _long(idx, x.device))
    return PackedSequence(data, _long(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    from ... import cat, full

    data, batch_sizes = sequence.data, _np(sequence.batch_sizes).astype(np.int64)
    T = int(batch_sizes.size)
    B = int(batch_sizes[0]) if T else 0
    lens = np.array([(batch_sizes > b).sum() for b in range(B)], dtype=np.int64)
    if total_length is not None:
        if total_length < T:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in input, but got "
                f"total_length={total_length} and max sequence length being {T}"
            )
        T_out = int(total_length)
    else:
        T_out = T
    # each padded (t, b) reads its packed row, or the extra padding row appended at the end
    n = data.shape[0]
    src = np.full((T_out, B), n, dtype=np.int64)
    offs = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]]) if T else np.zeros(0, np.int64)
    for t in range(T):
        src[t, : batch_sizes[t]] = offs[t] + np.arange(batch_sizes[t])
    padrow = full([1] + list(data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    padded = cat([data, padrow], 0).index_select(0, _long(src.reshape(-1), data.device))
    padded = padded.reshape([T_out, B] + list(data.shape[1:]))
    lengths = lens
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = lens[_np(sequence.unsorted_indices).astype(np.int64)]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, _long(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    from ... import cat, full, stack

    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    T = max(s.shape[0] for s in sequences)
    trailing = list(sequences[0].shape[1:])
    rows = []
    for s in sequences:
        if list(s.shape[1:]) != trailing:
            raise RuntimeError(
                f"pad_sequence: every sequence must have the trailing shape {trailing}, but got {list(s.shape)}"
            )
        k = T - s.shape[0]
        if k:
            p = full([k] + trailing, padding_value, dtype=s.dtype, device=s.device)
            s = cat([s, p] if padding_side == "right" else [p, s], 0)
        rows.append(s)
    return stack(rows, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[i, : int(n)] for i, n in enumerate(_np(lengths).reshape(-1))]


def pack_sequence(sequences, enforce_sorted=True):
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
