"""Random numbers: ``torch.Generator`` objects and the sampling functions that accept one
(rand, randn, randint, randperm, bernoulli, multinomial, normal, poisson, in-place fills).

Without a generator, draws come from the engine's global generator (seeded by
``manual_seed``) and are made on the host and uploaded, as the engine does. A
``Generator`` owns a NumPy PCG64 stream: two generators with the same seed give the same
numbers, independent of the global one. Its streams differ from torch's (so do the global
one's): seeds reproduce runs of rustensor, not torch's exact values.
"""

from __future__ import annotations

import builtins
import contextlib

import numpy as np

from . import _rustensor as _C
from ._tensor import Tensor
from ._tensor import _NP_OF, _dtype_name, from_numpy

_b = builtins
_DEFAULT_SEED = 67280421310721  # torch's default_generator initial seed


class Generator:
    """``torch.Generator(device='cpu')``: an independent, seedable random stream."""

    def __init__(self, device="cpu"):
        self.device = device if isinstance(device, _C.device) else _C.device(device)
        # a fresh torch.Generator starts from the same fixed seed as torch's default one
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed) -> "Generator":
        # torch accepts negative seeds and wraps them to 64 bits
        seed = _b.int(seed) % (2**64)
        self._initial = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self) -> int:
        s = _b.int(np.random.SeedSequence().entropy) % (2**63)  # type: ignore[arg-type]
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._initial

    def get_state(self) -> Tensor:
        """The stream's state as an int64 tensor: opaque, only ``set_state`` reads it (torch
        returns uint8 bytes; its layout is no more meaningful to user code)."""
        st = self._rng.bit_generator.state
        words = []
        for v in (st["state"]["state"], st["state"]["inc"]):
            words += [v & (2**64 - 1), v >> 64]
        # the buffered half-word numpy keeps for 32-bit draws is part of the stream too
        words += [st["has_uint32"], st["uinteger"], self._initial % (2**64)]
        return from_numpy(np.array(words, dtype=np.uint64).view(np.int64).copy())

    def set_state(self, new_state: Tensor) -> "Generator":
        w = _state_words(new_state, 7, "Generator.set_state")
        bg = np.random.PCG64()
        state = bg.state
        state["state"] = {"state": w[0] | (w[1] << 64), "inc": w[2] | (w[3] << 64)}
        state["has_uint32"], state["uinteger"] = w[4], w[5]
        bg.state = state
        self._rng = np.random.Generator(bg)
        self._initial = w[6]
        return self

    def __repr__(self) -> str:
        return f"<rustensor.Generator object at {id(self):#x}>"


class _DefaultGenerator:
    """``torch.default_generator``: the engine's global stream."""

    device = _C.device("cpu")

    def __init__(self):
        self._initial = _DEFAULT_SEED

    def manual_seed(self, seed):
        manual_seed(seed)
        return self

    def seed(self) -> int:
        s = _b.int(np.random.SeedSequence().entropy) % (2**63)  # type: ignore[arg-type]
        manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._initial

    def get_state(self) -> Tensor:
        return get_rng_state()

    def set_state(self, new_state: Tensor) -> "_DefaultGenerator":
        set_rng_state(new_state)
        return self


default_generator = _DefaultGenerator()


def _state_words(state, n, op):
    if not isinstance(state, Tensor):
        raise TypeError(f"{op}: expected a Tensor from get_state(), not {type(state).__name__}")
    if state.dtype != _C.int64 or tuple(state.shape) != (n,):
        raise RuntimeError(f"{op}: expected the state get_state() returns (an int64 tensor of {n} elements), "
                           f"got a {state.dtype} tensor of shape {list(state.shape)}")
    return [_b.int(v) for v in np.asarray(state.detach().cpu()).view(np.uint64)]


def get_rng_state() -> Tensor:
    """The global stream's state (every draw without ``generator=``, on either device), as
    an opaque int64 tensor: ``set_rng_state`` of it makes the following draws repeat."""
    return from_numpy(np.array(_C._rng_state(), dtype=np.uint64).view(np.int64).copy())


def set_rng_state(new_state: Tensor) -> None:
    _C._set_rng_state(_state_words(new_state, 4, "set_rng_state"))


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type="cuda"):
    """Runs the block with a copy of the global stream: draws inside it leave the state after
    the block as it was before. One stream serves both devices, so ``devices`` changes nothing."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


def manual_seed(seed):
    """Seeds the global stream (every random function without ``generator=``)."""
    seed = _b.int(seed) % (2**64)
    _C.manual_seed(seed)
    default_generator._initial = seed
    return default_generator


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


# ------------------------------------------------------------------ draws

def _check_gen(generator, device):
    if generator is not None and not isinstance(generator, (Generator, _DefaultGenerator)):
        raise TypeError(f"generator must be a rustensor.Generator, not {type(generator).__name__}")


def _place(arr: np.ndarray, dtype, device) -> Tensor:
    if _dtype_name(dtype) == "bfloat16":
        t = _place(arr, _C.float32, device)._to_dtype(dtype)
        return t
    t = from_numpy(np.ascontiguousarray(arr).astype(_NP_OF[_dtype_name(dtype)], copy=False))
    if device is not None:
        t = t.to(device)
    return t


def _uniform(shape, generator, dtype, device) -> Tensor:
    _check_gen(generator, device)
    if generator is None or isinstance(generator, _DefaultGenerator):
        return _C._random("rand", list(shape), dtype, device)
    return _place(generator._rng.random(tuple(shape)), dtype, device)


def _normal(shape, generator, dtype, device) -> Tensor:
    _check_gen(generator, device)
    if generator is None or isinstance(generator, _DefaultGenerator):
        return _C._random("randn", list(shape), dtype, device)
    return _place(generator._rng.standard_normal(tuple(shape)), dtype, device)


def _finish(t, requires_grad):
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float_dtype(dtype, op):
    from . import get_default_dtype

    dtype = dtype or get_default_dtype()
    if not dtype.is_floating_point:
        raise NotImplementedError(f"\"{op}\" not implemented for '{_dtype_name(dtype).capitalize()}'")
    return dtype


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None, pin_memory=False, layout=None):
    from . import _shape
    from ._ops import _out

    return _out(_finish(_uniform(_shape(size), generator, _float_dtype(dtype, "check_uniform_bounds"), device), requires_grad), out)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None, pin_memory=False, layout=None):
    from . import _shape
    from ._ops import _out

    return _out(_finish(_normal(_shape(size), generator, _float_dtype(dtype, "normal_kernel_cpu"), device), requires_grad), out)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    from . import _shape

    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    low, high = _b.int(low), _b.int(high)
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    shape = _shape((size,) if isinstance(size, _b.int) else tuple(size))
    dtype = dtype or _C.int64
    _check_gen(generator, device)
    if generator is None or isinstance(generator, _DefaultGenerator):
        t = _C._random("randint", shape, dtype, device, low, high)
    else:
        t = _place(generator._rng.integers(low, high, size=tuple(shape)), dtype, device)
    if requires_grad:
        t.requires_grad_(True)
    from ._ops import _out

    return _out(t, out)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False, out=None, pin_memory=False, layout=None):
    from ._ops import _out, argsort

    n = _b.int(n)
    if n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    dtype = dtype or _C.int64
    if generator is not None and not isinstance(generator, _DefaultGenerator):
        _check_gen(generator, device)
        return _out(_place(generator._rng.permutation(n), dtype, device), out)
    r = argsort(_C._random("rand", [n], _C.float64)).to(dtype) if n > 0 else _C._full([0], 0, dtype)
    return _out(r if device is None else r.to(device), out)


def rand_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None, generator=None):
    return rand(*input.shape, generator=generator, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None, generator=None):
    return randn(*input.shape, generator=generator, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False, memory_format=None, generator=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), generator=generator, dtype=dtype or input.dtype, device=device or input.device)


def bernoulli(input, p=None, *, generator=None, out=None):
    from ._ops import _out

    if not input.is_floating_point():
        raise RuntimeError(f"bernoulli: expected a floating point tensor of probabilities, got {input.dtype}")
    probs = input.detach() if p is None else p
    if isinstance(probs, Tensor):
        h = np.asarray(probs.detach().cpu())
        if h.size and ((h < 0).any() or (h > 1).any() or np.isnan(h).any()):
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    elif not 0 <= probs <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={probs}")
    dt = input.dtype if input.dtype != _C.float16 else _C.float32
    u = _uniform(list(input.shape), generator, dt, input.device)
    return _out((u < probs)._to_dtype(input.dtype), out)


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    from ._ops import _out

    if input.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got {input.ndim}")
    if not input.is_floating_point():
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {input.dtype}")
    n = input.shape[-1]
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples (got {num_samples})")
    if not replacement and num_samples > n:
        raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement (got {num_samples} > {n})")
    p = np.asarray(input.detach().cpu(), dtype=np.float64).reshape(-1, n)
    if (p < 0).any() or not np.isfinite(p).all():
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    tot = p.sum(axis=1, keepdims=True)
    if (tot <= 0).any():
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    rows = p.shape[0]
    u = np.asarray(_uniform([rows, num_samples], generator, _C.float64, None))
    if replacement:
        cdf = np.cumsum(p / tot, axis=1)
        cdf[:, -1] = 1.0
        idx = np.stack([np.searchsorted(c, x, side="right") for c, x in zip(cdf, u)]) if rows else np.zeros((0, num_samples), np.int64)
        idx = np.minimum(idx, n - 1)
        # never a category of probability zero (searchsorted can land on one through rounding)
    else:
        if num_samples > (p > 0).sum(axis=1).min():
            raise RuntimeError("multinomial: invalid multinomial distribution (with replacement=False, not enough non-negative category to sample)")
        # Efraimidis-Spirakis: the k largest of u^(1/p) are a weighted sample without replacement
        u2 = np.asarray(_uniform([rows, n], generator, _C.float64, None))
        with np.errstate(divide="ignore"):
            keys = np.where(p > 0, np.log(np.maximum(u2, 1e-300)) / p, -np.inf)
        idx = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    idx = idx.astype(np.int64)
    if input.ndim == 1:
        idx = idx.reshape(num_samples)
    t = from_numpy(np.ascontiguousarray(idx))
    return _out(t if input.device.type == "cpu" else t.to(input.device), out)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    from ._ops import _out

    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        like = mean if isinstance(mean, Tensor) else std
        shape = tuple(np.broadcast_shapes(tuple(getattr(mean, "shape", ())), tuple(getattr(std, "shape", ()))))
        if isinstance(std, Tensor) and std.numel() and bool((std < 0).any()):
            raise RuntimeError("normal expects all elements of std >= 0.0")
        z = _normal(list(shape), generator, like.dtype, like.device)
        return _out(z * std + mean, out)
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    if size is None:
        raise TypeError("normal() received an invalid combination of arguments: size is required with float mean and std")
    from . import _shape

    z = _normal(_shape(tuple(size)), generator, _float_dtype(dtype, "normal_kernel_cpu"), device)
    return _out(_finish(z * std + mean, requires_grad), out)


def poisson(input, generator=None):
    lam = np.asarray(input.detach().cpu(), dtype=np.float64)
    if (lam < 0).any():
        raise RuntimeError("poisson: invalid Poisson rate, expected rate to be non-negative")
    rng = generator._rng if isinstance(generator, Generator) else np.random.default_rng(
        _b.int(np.asarray(_C._random("randint", [2], _C.int64, None, 0, 2**31 - 1)).sum()))
    t = from_numpy(rng.poisson(lam).astype(_NP_OF[_dtype_name(input.dtype)]))
    return t if input.device.type == "cpu" else t.to(input.device)


# ------------------------------------------------------------------ in-place fills

def _fill_from(self, r):
    from ._tensor import _no_grad

    self._check_inplace()
    with _no_grad():
        self.copy_(r)
    return self


def _draw_dtype(self):
    if self.dtype == _C.float16:
        return _C.float32
    return self.dtype if self.dtype.is_floating_point else _C.float32


def uniform_(self, a=0.0, b=1.0, *, generator=None):
    return _fill_from(self, _uniform(list(self.shape), generator, _draw_dtype(self), self.device) * (b - a) + a)


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    return _fill_from(self, _normal(list(self.shape), generator, _draw_dtype(self), self.device) * std + mean)


def bernoulli_(self, p=0.5, *, generator=None):
    u = _uniform(list(self.shape), generator, _draw_dtype(self), self.device)
    return _fill_from(self, (u < p)._to_dtype(self.dtype))


def exponential_(self, lambd=1.0, *, generator=None):
    u = _uniform(list(self.shape), generator, _draw_dtype(self), self.device)
    return _fill_from(self, -((1 - u).log()) / lambd)


def random_(self, from_=0, to=None, *, generator=None):
    if to is None:
        from_, to = 0, (from_ if from_ else 2**24 if self.is_floating_point() else 2**31 - 1)
    return _fill_from(self, randint(from_, to, tuple(self.shape), generator=generator, dtype=self.dtype, device=self.device))
