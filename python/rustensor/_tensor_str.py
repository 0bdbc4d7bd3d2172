"""Tensor printing: repr/str of a tensor laid out exactly as torch prints it.

The engine hands over a NumPy array (already on the CPU) and the tensor's
metadata; everything here is plain Python over that array, so the Rust side
never needs to know how torch lays out text. The rules (width of a column,
when scientific notation kicks in, where lines wrap, which suffixes appear)
follow torch/_tensor_str.py; the comments note where torch's behaviour is
surprising and we keep it anyway so that doctests written against torch pass.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Any, Iterator, List, Optional, Sequence

import numpy as np

__all__ = [
    "format_tensor",
    "set_printoptions",
    "get_printoptions",
    "printoptions",
]

_PREFIX = "tensor("
_FLOAT_KINDS = ("f",)


@dataclasses.dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: Optional[bool] = None


PRINT_OPTS = _PrintOptions()


def set_printoptions(
    precision: Optional[int] = None,
    threshold: Optional[float] = None,
    edgeitems: Optional[int] = None,
    linewidth: Optional[int] = None,
    profile: Optional[str] = None,
    sci_mode: Optional[bool] = None,
) -> None:
    """Set the options used when printing tensors, as ``torch.set_printoptions``.

    ``profile`` is one of ``"default"``, ``"short"``, ``"full"``; explicit
    arguments override it. As in torch, ``sci_mode`` is always assigned, so a
    call without it returns to the automatic choice.
    """
    if profile is not None:
        presets = {
            "default": (4, 1000, 3, 80),
            "short": (2, 1000, 2, 80),
            "full": (4, math.inf, 3, 80),
        }
        if profile not in presets:
            raise ValueError(
                f"set_printoptions: unknown profile {profile!r}; "
                "expected 'default', 'short' or 'full'"
            )
        (
            PRINT_OPTS.precision,
            PRINT_OPTS.threshold,
            PRINT_OPTS.edgeitems,
            PRINT_OPTS.linewidth,
        ) = presets[profile]
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict:
    """The current print options, as keyword arguments for ``set_printoptions``."""
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs: Any) -> Iterator[None]:
    """Temporarily change the print options (same keywords as ``set_printoptions``)."""
    saved = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**saved)


class _Formatter:
    """Decides one column width and one notation for every element of a tensor.

    Built from the elements that will actually be shown (the summarised data
    when the tensor is summarised), as torch does, so the hidden middle of a
    large tensor does not widen the columns.
    """

    def __init__(self, shown: np.ndarray) -> None:
        self.floating = shown.dtype.kind in _FLOAT_KINDS
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        precision = PRINT_OPTS.precision
        flat = shown.reshape(-1)

        if not self.floating:
            for value in flat.tolist():
                self.max_width = max(self.max_width, len(str(value)))
            return

        # Analysis is done in float64, as torch converts to double for it.
        values = flat.astype(np.float64, copy=False)
        nonzero_finite = values[np.isfinite(values) & (values != 0)]
        if nonzero_finite.size == 0:
            # Only zeros, nans and infs: integer notation with width 1.
            return

        magnitudes = np.abs(nonzero_finite)
        lo = float(magnitudes.min())
        hi = float(magnitudes.max())
        self.int_mode = bool(np.all(nonzero_finite == np.ceil(nonzero_finite)))
        if PRINT_OPTS.sci_mode is None:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        else:
            self.sci_mode = bool(PRINT_OPTS.sci_mode)

        items = nonzero_finite.tolist()
        if self.sci_mode:
            widths = (len(f"{v:.{precision}e}") for v in items)
        elif self.int_mode:
            # The trailing "." that marks a float is part of the width.
            widths = (len(f"{v:.0f}") + 1 for v in items)
        else:
            widths = (len(f"{v:.{precision}f}") for v in items)
        self.max_width = max(self.max_width, max(widths))

    def format(self, value: Any) -> str:
        precision = PRINT_OPTS.precision
        if self.floating:
            if self.sci_mode:
                text = f"{value:{self.max_width}.{precision}e}"
            elif self.int_mode:
                text = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    text += "."
            else:
                text = f"{value:.{precision}f}"
        else:
            text = str(value)
        return text.rjust(self.max_width)


def _summarized(values: np.ndarray) -> np.ndarray:
    """The elements a summarised print shows: ``edgeitems`` from each end of each axis."""
    edge = PRINT_OPTS.edgeitems
    if values.ndim == 0:
        return values
    if values.ndim >= 2 and not edge:
        return values[(slice(0, 0),) * values.ndim]
    out = values
    for axis, size in enumerate(values.shape):
        if edge and size > 2 * edge:
            keep = np.r_[0:edge, size - edge : size]
            out = np.take(out, keep, axis=axis)
    return out


def _vector_str(
    values: np.ndarray, indent: int, summarize: bool, fmt: _Formatter
) -> str:
    edge = PRINT_OPTS.edgeitems
    # Each element takes its width plus ", ".
    per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / (fmt.max_width + 2)))
    size = values.shape[0]
    if summarize and not edge:
        data = ["..."]
    elif summarize and size > 2 * edge:
        data = (
            [fmt.format(v) for v in values[:edge].tolist()]
            + [" ..."]
            + [fmt.format(v) for v in values[size - edge :].tolist()]
        )
    else:
        data = [fmt.format(v) for v in values.tolist()]
    lines = [", ".join(data[i : i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested_str(
    values: np.ndarray, indent: int, summarize: bool, fmt: _Formatter
) -> str:
    ndim = values.ndim
    if ndim == 0:
        return fmt.format(values.item())
    if ndim == 1:
        return _vector_str(values, indent, summarize, fmt)
    edge = PRINT_OPTS.edgeitems
    size = values.shape[0]
    if summarize and size > 2 * edge:
        rows: Sequence[int] = list(range(edge))
        tail: Sequence[int] = list(range(size - edge, size))
        slices = (
            [_nested_str(values[i], indent + 1, summarize, fmt) for i in rows]
            + ["..."]
            + [_nested_str(values[i], indent + 1, summarize, fmt) for i in tail]
        )
    else:
        slices = [_nested_str(values[i], indent + 1, summarize, fmt) for i in range(size)]
    # Blank lines between blocks grow with depth: one per dimension beyond the rows.
    return "[" + ("," + "\n" * (ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _body_str(values: np.ndarray, indent: int) -> str:
    if values.size == 0:
        return "[]"
    summarize = values.size > PRINT_OPTS.threshold
    fmt = _Formatter(_summarized(values) if summarize else values)
    return _nested_str(values, indent, summarize, fmt)


def _add_suffixes(body: str, suffixes: List[str], indent: int) -> str:
    parts = [body]
    # torch measures the last line as len - rfind + 1, which counts two more
    # than the characters when there is no newline; kept so wrapping matches.
    last_line_len = len(body) - body.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def _qualified_dtype(dtype_name: str) -> str:
    return dtype_name if "." in dtype_name else "rustensor." + dtype_name


def format_tensor(
    values: np.ndarray,
    *,
    dtype_name: str,
    is_default_dtype: Optional[bool] = None,
    device: Optional[str] = None,
    requires_grad: bool = False,
    grad_fn: Optional[str] = None,
) -> str:
    """The repr of a tensor whose elements are ``values``, as torch prints it.

    ``values``: the elements, on the CPU, with the tensor's shape (0-d and
    empty included). ``dtype_name``: ``"float64"`` or ``"rustensor.float64"``.
    ``is_default_dtype``: for floating dtypes, whether the dtype is the current
    default dtype (``None`` means the default is float32); ignored for other
    kinds, where int64 and bool are never shown and every other dtype is.
    ``device``: ``None`` or ``"cpu"`` print nothing, anything else prints
    ``device='...'``. ``grad_fn``: the node's name (``"MulBackward0"``); when
    given it is shown instead of ``requires_grad=True``, as in torch.
    """
    values = np.asarray(values)
    short_name = dtype_name.rsplit(".", 1)[-1]
    floating = values.dtype.kind in _FLOAT_KINDS
    if floating:
        is_default_float = (
            short_name == "float32" if is_default_dtype is None else bool(is_default_dtype)
        )
        hide_dtype = is_default_float
    else:
        is_default_float = False
        hide_dtype = short_name in ("int64", "bool")

    indent = len(_PREFIX)
    suffixes: List[str] = []
    if device is not None and device != "cpu":
        suffixes.append(f"device='{device}'")

    if values.size == 0:
        # Nothing to infer the dtype from, so torch names every dtype except
        # the default float one, and the shape unless it is (0,).
        if values.ndim != 1:
            suffixes.append("size=" + str(tuple(values.shape)))
        if not is_default_float:
            suffixes.append("dtype=" + _qualified_dtype(dtype_name))
        body = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append("size=" + str(tuple(values.shape)))
        if not hide_dtype:
            suffixes.append("dtype=" + _qualified_dtype(dtype_name))
        body = _body_str(values, indent)

    if grad_fn is not None:
        name = grad_fn.strip("<>")
        suffixes.append(f"grad_fn=<{name}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")

    return _add_suffixes(_PREFIX + body, suffixes, indent)
