"""default_collate / default_convert: how samples become a batch (tensors stacked, numbers and arrays tensorised, containers recursed)."""

from __future__ import annotations

import collections.abc
import re
from typing import Callable, Dict, Optional, Tuple, Type, Union

import numpy as np

from ...._tensor import Tensor

np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)


def _rt():
    # the package root, imported on use: utils.data loads while rustensor/__init__ runs
    import rustensor

    return rustensor


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def default_convert(data):
    """Converts NumPy arrays and scalars inside ``data`` to tensors, leaving the structure
    (what DataLoader applies when automatic batching is off)."""
    rt = _rt()
    t = type(data)
    if isinstance(data, Tensor):
        return data
    if t.__module__ == "numpy" and t.__name__ not in ("str_", "bytes_"):
        if t.__name__ in ("ndarray", "memmap") and np_str_obj_array_pattern.search(data.dtype.str) is not None:
            return data
        return rt.as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = __import__("copy").copy(data)
                clone.update({k: default_convert(data[k]) for k in data})
                return clone
            return t({k: default_convert(data[k]) for k in data})
        except TypeError:
            return {k: default_convert(data[k]) for k in data}
    if _is_namedtuple(data):
        return t(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return t([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def collate_tensor_fn(batch, *, collate_fn_map=None):
    shape0 = tuple(batch[0].shape)
    for i, b in enumerate(batch):
        if tuple(b.shape) != shape0:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shape0)} at entry 0 and "
                               f"{list(b.shape)} at entry {i}")
    return _rt().stack(list(batch), 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    rt = _rt()
    elem = batch[0]
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    return collate([rt.as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    return _rt().as_tensor(np.array(batch))


def collate_float_fn(batch, *, collate_fn_map=None):
    rt = _rt()
    return rt.tensor(batch, dtype=rt.float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    return _rt().tensor(batch)


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map: Dict[Union[Type, Tuple[Type, ...]], Callable] = {Tensor: collate_tensor_fn}
default_collate_fn_map[np.ndarray] = collate_numpy_array_fn
default_collate_fn_map[(np.bool_, np.number, np.object_)] = collate_numpy_scalar_fn
default_collate_fn_map[float] = collate_float_fn
default_collate_fn_map[int] = collate_int_fn
default_collate_fn_map[str] = collate_str_fn
default_collate_fn_map[bytes] = collate_str_fn


def collate(batch, *, collate_fn_map: Optional[Dict[Union[Type, Tuple[Type, ...]], Callable]] = None):
    """Collates a list of samples by the type of the first: ``collate_fn_map`` maps types to
    functions (exact type first, then ``isinstance``); mappings, namedtuples and sequences
    are collated field by field."""
    elem = batch[0]
    t = type(elem)
    if collate_fn_map is not None:
        if t in collate_fn_map:
            return collate_fn_map[t](batch, collate_fn_map=collate_fn_map)
        for ct in collate_fn_map:
            if isinstance(elem, ct):
                return collate_fn_map[ct](batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = __import__("copy").copy(elem)
                clone.update({k: collate([d[k] for d in batch], collate_fn_map=collate_fn_map) for k in elem})
                return clone
            return t({k: collate([d[k] for d in batch], collate_fn_map=collate_fn_map) for k in elem})
        except TypeError:
            return {k: collate([d[k] for d in batch], collate_fn_map=collate_fn_map) for k in elem}
    if _is_namedtuple(elem):
        return t(*(collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence) and not isinstance(elem, (str, bytes)):
        it = iter(batch)
        size = len(next(it))
        if not all(len(e) == size for e in it):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            # torch returns a list for tuples (backwards compatibility)
            return [collate(s, collate_fn_map=collate_fn_map) for s in transposed]
        try:
            return t([collate(s, collate_fn_map=collate_fn_map) for s in transposed])
        except TypeError:
            return [collate(s, collate_fn_map=collate_fn_map) for s in transposed]
    raise TypeError(default_collate_err_msg_format.format(t))


def default_collate(batch):
    """torch's default_collate: tensors are stacked along a new first dim; NumPy arrays and
    scalars become tensors; Python floats a float64 tensor, ints an int64 tensor; strings
    stay a list; dicts, namedtuples and sequences are collated per field (tuples give lists)."""
    return collate(batch, collate_fn_map=default_collate_fn_map)
