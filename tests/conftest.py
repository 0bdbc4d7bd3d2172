"""Shared test helpers: numpy references, random shapes and layouts, dtype tables, comparisons.

Test modules import these directly (`from conftest import ...`): pytest puts tests/ on sys.path.
"""

import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

try:
    import rustensor as torch
except ImportError:
    # Not built yet: the test modules that need it fail on their own import, while pure-Python
    # unit tests (test_tensor_str_unit.py) still run.
    torch = None

# Modest example counts: the whole suite must stay well under two minutes on 2 cores.
settings.register_profile(
    "rustensor",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# CI gets the same examples every run, so a red CI is a real regression, not a lucky draw.
settings.register_profile(
    "ci",
    parent=settings.get_profile("rustensor"),
    derandomize=True,
    database=None,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "rustensor"))


# ---------------------------------------------------------------------------------------------
# dtypes

_NP_OF = {
    "bool": np.dtype(np.bool_),
    "uint8": np.dtype(np.uint8),
    "int8": np.dtype(np.int8),
    "int16": np.dtype(np.int16),
    "int32": np.dtype(np.int32),
    "int64": np.dtype(np.int64),
    "float16": np.dtype(np.float16),
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
}

if torch is not None:
    BOOL = torch.bool
    INT_DTYPES = [torch.int32, torch.int64]
    FLOAT_DTYPES = [torch.float32, torch.float64]
    NUMERIC_DTYPES = INT_DTYPES + FLOAT_DTYPES
    ALL_DTYPES = [BOOL] + NUMERIC_DTYPES


def dtype_name(dtype):
    """'float32' for rustensor.float32 (and for torch.float32 when the suite runs on torch)."""
    return str(dtype).rsplit(".", 1)[-1]


def np_dtype(dtype):
    """The numpy dtype matching a rustensor dtype."""
    return _NP_OF[dtype_name(dtype)]


def rt_dtype(npd):
    """The rustensor dtype matching a numpy dtype."""
    name = np.dtype(npd).name
    return {"bool": torch.bool, "uint8": torch.uint8, "int8": torch.int8, "int16": torch.int16, "int32": torch.int32, "int64": torch.int64, "float16": torch.float16,
            "float32": torch.float32, "float64": torch.float64}[name]


def is_float(dtype):
    return dtype_name(dtype).startswith("float")


def is_int(dtype):
    return dtype_name(dtype).startswith(("int", "uint"))


_RANK = {"bool": 0, "int32": 1, "int64": 2, "float16": 3, "float32": 4, "float64": 5}


def _category(d):
    return 0 if dtype_name(d) == "bool" else 1 if is_int(d) else 2


def promote(a, b, shape_a=None, shape_b=None):
    """torch's result dtype for the dtypes rustensor has. Without shapes: torch.promote_types
    (dimensioned tensors on both sides; int64 with float32 gives float32, as in torch: a float
    category wins whatever its width). With shapes, torch's rule for 0-d tensors: beside a
    dimensioned tensor a 0-d one counts only when its category (bool < int < float) is higher
    (int32 of shape (2,) + int64 0-d is int32; + float64 0-d is float64)."""
    if shape_a is not None and shape_b is not None and (len(shape_a) == 0) != (len(shape_b) == 0):
        dim, zero = (b, a) if len(shape_a) == 0 else (a, b)
        return zero if _category(zero) > _category(dim) else dim
    return a if _RANK[dtype_name(a)] >= _RANK[dtype_name(b)] else b


# ---------------------------------------------------------------------------------------------
# numpy side

def to_np(t):
    """A numpy copy of a rustensor tensor's values (shape and dtype kept)."""
    if getattr(t, "requires_grad", False):
        t = t.detach()
    return np.array(t.numpy(), copy=True)


def _tolerances(dtype):
    name = dtype_name(dtype)
    if name == "float16":
        return 2e-3, 1e-3
    if name == "float32":
        return 1e-5, 1e-6
    if name == "float64":
        return 1e-12, 1e-12
    return 0.0, 0.0


def assert_close(t, ref, dtype=None, rtol=None, atol=None):
    """Check a rustensor tensor against a numpy reference: type, dtype, shape, then values.

    dtype defaults to the reference's dtype; pass it when the reference was computed in another
    precision (for example a float64 reference for a float32 result). NaNs must match NaNs.
    """
    assert isinstance(t, torch.Tensor), f"expected a rustensor Tensor, got {type(t).__name__}"
    ref = np.asarray(ref)
    if dtype is None:
        dtype = rt_dtype(ref.dtype)
    assert t.dtype == dtype, f"dtype {t.dtype} != expected {dtype}"
    assert tuple(t.shape) == ref.shape, f"shape {tuple(t.shape)} != expected {ref.shape}"
    actual = to_np(t)
    assert actual.dtype == np_dtype(dtype), f"numpy() dtype {actual.dtype} != {np_dtype(dtype)}"
    assert actual.shape == ref.shape
    if is_float(dtype):
        d_rtol, d_atol = _tolerances(dtype)
        np.testing.assert_allclose(
            actual.astype(np.float64),
            ref.astype(np.float64),
            rtol=d_rtol if rtol is None else rtol,
            atol=d_atol if atol is None else atol,
            equal_nan=True,
        )
    else:
        np.testing.assert_array_equal(actual, ref.astype(actual.dtype))


def random_array(rng, shape, dtype, low=-3, high=3, positive=False, nonzero=False):
    """Random values of a rustensor dtype, as a numpy array.

    positive: floats in [0.1, high], ints in [1, high]. nonzero: no zeros (divisors).
    """
    npd = np_dtype(dtype)
    shape = tuple(shape)
    # np.array(..., dtype) rather than .astype: a 0-d draw must stay an array, not become a scalar.
    if npd == np.bool_:
        return np.array(rng.random(shape) < 0.5, dtype=npd)
    if npd.kind in "iu":
        lo = 1 if positive else (max(low, 0) if npd.kind == "u" else low)
        a = np.array(rng.integers(lo, high + 1, size=shape), dtype=npd)
        if nonzero:
            a[a == 0] = 1
        return a
    lo = 0.1 if positive else low
    a = np.array(rng.uniform(lo, high, size=shape), dtype=npd)
    if nonzero:
        a[np.abs(a) < 0.1] = 0.5
    return a


# ---------------------------------------------------------------------------------------------
# rustensor side: the same values in different memory layouts

LAYOUTS = ("contiguous", "transposed", "sliced", "expanded")


def _garbage(npd):
    # Values the layout hides: a kernel that ignores strides or the offset reads these.
    if npd == np.bool_:
        return True
    return npd.type(99)


def make_tensor(a, layout="contiguous", device=None):
    """Build a rustensor tensor holding the values of `a` with the given memory layout.

    Returns (t, ref) where ref is the numpy array the tensor equals (a copy of `a`, except for
    "expanded" where rows are repeated so that it can be a stride-0 view). The tensor never
    shares memory with ref. Layouts that need more dims than `a` has fall back to contiguous.
    device: where the tensor lives (None: the CPU); the view is taken on that device.
    """
    # not np.ascontiguousarray: it returns at least 1-d, which turned every 0-d case into (1,)
    a = np.array(a, order="C")

    def T(x):  # the base tensor, on `device` before any view is taken of it
        t = torch.tensor(x)
        return t if device is None else t.to(device)

    if layout == "contiguous" or a.ndim == 0:
        return T(a.copy()), a.copy()
    if layout == "transposed":
        if a.ndim < 2:
            # A 1-D column of a transposed matrix: stride != 1.
            base = T(np.ascontiguousarray(np.stack([a, a]).T))
            return base[:, 0], a.copy()
        base = T(np.ascontiguousarray(np.swapaxes(a, -1, -2)))
        return base.transpose(-1, -2), a.copy()
    if layout == "sliced":
        # Step 2 in the last dim and a non-zero storage offset.
        big = np.full(a.shape[:-1] + (2 * a.shape[-1] + 1,), _garbage(a.dtype), dtype=a.dtype)
        big[..., 1::2] = a
        return T(big)[..., 1::2], a.copy()
    if layout == "expanded":
        dims = [d for d, n in enumerate(a.shape) if n != 1] or [0]
        d = dims[0]
        idx = [slice(None)] * a.ndim
        if a.shape[d] > 0:
            idx[d] = slice(0, 1)
            small = np.ascontiguousarray(a[tuple(idx)])
        else:
            small = np.ones(a.shape[:d] + (1,) + a.shape[d + 1:], dtype=a.dtype)
        ref = np.ascontiguousarray(np.broadcast_to(small, a.shape))
        return T(small).expand(*a.shape), ref
    raise ValueError(f"unknown layout {layout!r}")


def rand_tensor(shape, dtype=None, layout="contiguous", seed=0, **kwargs):
    """make_tensor over random_array, for the non-hypothesis tests."""
    dtype = torch.float32 if dtype is None else dtype
    a = random_array(np.random.default_rng(seed), shape, dtype, **kwargs)
    return make_tensor(a, layout)


# ---------------------------------------------------------------------------------------------
# hypothesis strategies

def shapes(min_dims=0, max_dims=4, min_side=0, max_side=5):
    """Random shapes, 0-d and empty (a 0 in the shape) included."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=4):
    """Tuples of shapes that broadcast together (with 1s and missing leading dims)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda bs: bs.input_shapes)


@st.composite
def tensors(draw, dtype, shape=None, layouts=LAYOUTS, **value_kwargs):
    """(tensor, numpy reference) with random values, shape and layout.

    shape: None (any shape), a tuple, or a strategy of tuples. Values come from a numpy
    generator seeded by hypothesis, which is much faster than drawing every element.
    """
    if shape is None:
        shape = draw(shapes())
    elif not isinstance(shape, tuple):
        shape = draw(shape)
    layout = draw(st.sampled_from(layouts))
    seed = draw(st.integers(0, 2**32 - 1))
    a = random_array(np.random.default_rng(seed), shape, dtype, **value_kwargs)
    return make_tensor(a, layout)


# ---------------------------------------------------------------------------------------------
# error messages

def shape_pattern(shape):
    """A regex matching a shape written as (2, 3), [2, 3], 2x3, (3,), [3] or torch.Size([2, 3])."""
    shape = tuple(shape)
    if not shape:
        return r"(\(\)|\[\]|scalar|0-d|0d)"
    comma = r",\s*".join(str(n) for n in shape)
    alts = [r"\(" + comma + r",?\)", r"\[" + comma + r"\]"]
    if len(shape) > 1:
        alts.append(r"\b" + "x".join(str(n) for n in shape) + r"\b")
    return "(" + "|".join(alts) + ")"


def assert_mentions_shapes(excinfo, *shapes_):
    """The exception message names every given shape (in any common notation)."""
    msg = str(excinfo.value)
    for s in shapes_:
        assert re.search(shape_pattern(s), msg), f"message {msg!r} does not name shape {tuple(s)}"


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def gpu():
    """For single GPU tests outside test_gpu.py: skips without an adapter, except under CI=true,
    where a missing adapter is a failure (as in test_gpu.py)."""
    if not torch.cuda.is_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no GPU adapter opened ({torch.cuda._why_unavailable()})")
        pytest.skip("no GPU adapter (set RUSTENSOR_ALLOW_SOFTWARE_GPU=1 to use lavapipe)")
    return torch.device("gpu")
