"""Autocast state (owner: train). The layers that torch's autocast policy casts (linear,
conv, bilinear, matmul-based attention) call :func:`_cast_inputs` on their inputs."""

from __future__ import annotations

import threading

_state = threading.local()


def _current():
    """(device_type, dtype) of the innermost enabled autocast region, or None."""
    stack = getattr(_state, "stack", None)
    return stack[-1] if stack else None


def is_autocast_enabled(device_type=None) -> bool:
    cur = _current()
    return cur is not None and (device_type is None or cur[0] == device_type)


def _cast_inputs(*tensors):
    """The inputs as autocast's lower-precision dtype when a region is active for their
    device (floating tensors only); unchanged otherwise. Returns a tuple."""
    cur = _current()
    if cur is None:
        return tensors
    device_type, dtype = cur
    out = []
    for t in tensors:
        if t is not None and t.is_floating_point() and _device_type(t) == device_type and t.dtype != dtype:
            t = t.to(dtype)
        out.append(t)
    return tuple(out)


def _device_type(t) -> str:
    d = t.device.type
    return "cuda" if d == "gpu" else d


class autocast:
    def __init__(self, device_type="cuda", dtype=None, enabled=True, cache_enabled=None):
        from .. import float16

        self.device_type = "cuda" if device_type in ("gpu", "wgpu") else device_type
        self.dtype = dtype if dtype is not None else float16
        self.enabled = enabled

    def __enter__(self):
        stack = getattr(_state, "stack", None)
        if stack is None:
            stack = _state.stack = []
        # a disabled region pushes None, so it switches autocast off inside an enabled one
        stack.append((self.device_type, self.dtype) if self.enabled else None)
        return self

    def __exit__(self, *exc):
        _state.stack.pop()
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with self:
                return fn(*a, **k)

        return wrapper
