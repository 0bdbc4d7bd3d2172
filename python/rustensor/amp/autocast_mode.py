"""Autocast state (owner: train). The layers that torch's autocast policy casts (linear,
conv, bilinear, matmul-based attention) call :func:`_cast_inputs` on their inputs; the ops
that policy keeps in float32 (losses everywhere; softmax and norms on the GPU) call
:func:`_cast_fp32`; nn.functional applies it by name (``_FP32_POLICY`` there)."""

from __future__ import annotations

import functools
import threading
import warnings

_state = threading.local()


def _current():
    """(device_type, dtype) of the innermost enabled autocast region, or None."""
    stack = getattr(_state, "stack", None)
    return stack[-1] if stack else None


def _norm_device(device_type) -> str:
    d = getattr(device_type, "type", device_type)
    return "cuda" if d in ("gpu", "wgpu") else d


def is_autocast_enabled(device_type=None) -> bool:
    cur = _current()
    return cur is not None and (device_type is None or cur[0] == _norm_device(device_type))


def torch_is_autocast_enabled(device_type=None) -> bool:
    """``torch.is_autocast_enabled``: without an argument torch asks about CUDA (here the GPU)
    only, unlike :func:`is_autocast_enabled` above, which the layers use to ask about any region."""
    if device_type is None:
        device_type = "cuda"
    if not isinstance(device_type, str):
        raise TypeError(
            f"is_autocast_enabled(): argument 'device_type' (position 1) must be str, not {type(device_type).__name__}"
        )
    return is_autocast_enabled(device_type)


def is_autocast_cpu_enabled() -> bool:
    return is_autocast_enabled("cpu")


def _default_dtype(device_type: str):
    """torch's defaults: bfloat16 on the CPU, float16 on CUDA."""
    from .. import bfloat16, float16

    return bfloat16 if device_type == "cpu" else float16


def get_autocast_dtype(device_type):
    """The dtype an autocast region on ``device_type`` casts to (the default when none is active)."""
    cur = _current()
    if cur is not None and cur[0] == _norm_device(device_type):
        return cur[1]
    return _default_dtype(_norm_device(device_type))


def get_autocast_gpu_dtype():
    return get_autocast_dtype("cuda")


def get_autocast_cpu_dtype():
    return get_autocast_dtype("cpu")


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


def _cast_lower(*tensors, gpu_only=False):
    """torch's cast for its lower-precision op list (matmul, mm, bmm, addmm, baddbmm, mv on
    CUDA): float tensors other than float64 on the region's device become its dtype."""
    cur = _current()
    if cur is None or (gpu_only and cur[0] != "cuda"):
        return tensors
    from .. import float64

    device_type, dtype = cur
    out = []
    for t in tensors:
        if (getattr(t, "dtype", None) is not None and t.is_floating_point() and t.dtype != dtype
                and t.dtype != float64 and _device_type(t) == device_type):
            t = t.to(dtype)
        out.append(t)
    return tuple(out)


def _cast_fp32(*tensors, devices=("cpu", "cuda")):
    """Inside an autocast region on one of `devices`, inputs in the region's lower dtype (float16
    or bfloat16) of an op that torch's policy runs in float32 come back as float32; unchanged
    otherwise. Returns a tuple. torch's two lists differ: losses are float32 on both devices, softmax and the norms on CUDA only (a CPU
    region keeps them in the lower dtype), so those ops pass ``devices=("cuda",)``."""
    cur = _current()
    if cur is None or cur[0] not in devices:
        return tensors
    from .. import float32

    out = []
    for t in tensors:
        if t is not None and getattr(t, "dtype", None) == cur[1] and _device_type(t) == cur[0]:
            t = t.to(float32)
        out.append(t)
    return tuple(out)


def _device_type(t) -> str:
    d = t.device.type
    return "cuda" if d == "gpu" else d


class autocast:
    """``torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``.

    Lower precision is float16 or bfloat16 on both devices; a region without a dtype takes
    torch's default for its device (bfloat16 on the CPU, float16 on CUDA).
    """

    def __init__(self, device_type="cuda", dtype=None, enabled=True, cache_enabled=None):
        from .. import bfloat16, float16

        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device_type = _norm_device(device_type)
        if self.device_type not in ("cuda", "cpu"):
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
        self.fast_dtype = dtype if dtype is not None else _default_dtype(self.device_type)
        self.dtype = self.fast_dtype
        self._enabled = bool(enabled)
        if self._enabled and self.device_type == "cuda":
            from .. import cuda

            if not cuda.is_available():
                warnings.warn("User provided device_type of 'cuda', but CUDA is not available. Disabling",
                              UserWarning, stacklevel=2)
                self._enabled = False
        if self._enabled and self.fast_dtype not in (float16, bfloat16):
            where = "CPU" if self.device_type == "cpu" else "CUDA"
            warnings.warn(f"In {where} autocast, but the target dtype is not supported. Disabling autocast.\n"
                          f"{where} Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.",
                          UserWarning, stacklevel=2)
            self._enabled = False
        self.enabled = self._enabled
        self._cache_enabled = cache_enabled

    def __enter__(self):
        stack = getattr(_state, "stack", None)
        if stack is None:
            stack = _state.stack = []
        # a disabled region pushes None, so it switches autocast off inside an enabled one
        stack.append((self.device_type, self.fast_dtype) if self._enabled else None)
        return self

    def __exit__(self, *exc):
        _state.stack.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            with self:
                return fn(*a, **k)

        return wrapper


def custom_fwd(fwd=None, *, device_type="cuda", cast_inputs=None):
    """Decorator for a custom autograd forward: with ``cast_inputs``, runs it outside autocast
    with its floating tensor inputs cast to that dtype."""
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def wrapper(*args, **kwargs):
        if cast_inputs is None or not is_autocast_enabled(device_type):
            return fwd(*args, **kwargs)
        from .._tensor import Tensor

        def c(v):
            return v.to(cast_inputs) if isinstance(v, Tensor) and v.is_floating_point() else v

        with autocast(device_type, enabled=False):
            return fwd(*[c(a) for a in args], **{k: c(v) for k, v in kwargs.items()})

    return wrapper


def custom_bwd(bwd=None, *, device_type="cuda"):
    """Decorator for a custom autograd backward (runs with the forward's autocast state: a no-op here)."""
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    return bwd
