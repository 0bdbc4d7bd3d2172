"""Elementwise ops: arithmetic with broadcasting and type promotion, unary math, comparisons, logic, in-place."""

import math
import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rustensor as torch
from conftest import (ALL_DTYPES, FLOAT_DTYPES, INT_DTYPES, LAYOUTS, NUMERIC_DTYPES, assert_close,
                      broadcastable_shapes, dtype_name, is_float, is_int, make_tensor, np_dtype, promote,
                      rand_tensor, random_array, tensors, to_np)

F32, F64, I32, I64, BOOL = torch.float32, torch.float64, torch.int32, torch.int64, torch.bool


def true_div_dtype(d):
    """Result dtype of true division: integers and bools divide in the default float dtype."""
    return d if is_float(d) else F32


def quarters(rng, shape, dtype, nonzero=False):
    """Values on a 0.25 grid (exact in every float dtype) or small ints: floor/mod have no rounding ties."""
    if is_int(dtype):
        a = np.array(rng.integers(-9, 10, size=shape), dtype=np_dtype(dtype))
    else:
        a = np.array(rng.integers(-24, 25, size=shape) / 4, dtype=np_dtype(dtype))
    if nonzero:
        a[a == 0] = 3
    return a


# ---------------------------------------------------------------------------------------------
# binary arithmetic: tensor (op) tensor with broadcasting

ARITH = {
    "add": (operator.add, np.add),
    "sub": (operator.sub, np.subtract),
    "mul": (operator.mul, np.multiply),
    "div": (operator.truediv, np.divide),
    "floordiv": (operator.floordiv, np.floor_divide),
    "mod": (operator.mod, np.remainder),
    "pow": (operator.pow, np.power),
}

DTYPE_PAIRS = [
    (F32, F32), (F64, F64), (I64, I64), (I32, I32), (I32, I64), (I64, F32), (F32, F64),
    (I32, F64), (BOOL, I32), (BOOL, F32), (BOOL, BOOL),
]


def _binary_inputs(name, d1, d2, s1, s2, seed):
    rng = np.random.default_rng(seed)
    if name in ("floordiv", "mod"):
        return quarters(rng, s1, d1), quarters(rng, s2, d2, nonzero=True)
    if name == "pow":
        base = random_array(rng, s1, d1, low=-3, high=3, positive=is_float(promote(d1, d2)))
        if is_float(promote(d1, d2)):
            return base, random_array(rng, s2, d2, low=-2, high=2)
        return base, rng.integers(0, 4, size=s2).astype(np_dtype(d2))
    if name == "div":
        return random_array(rng, s1, d1), random_array(rng, s2, d2, nonzero=True)
    return random_array(rng, s1, d1), random_array(rng, s2, d2)


def _expected(name, a, b, d1, d2):
    rd = promote(d1, d2, a.shape, b.shape)
    if name == "div":
        rd = true_div_dtype(rd)
    with np.errstate(all="ignore"):
        return ARITH[name][1](a.astype(np_dtype(rd)), b.astype(np_dtype(rd))), rd


def _skip_bool(name, d1, d2):
    # torch: subtraction with any bool operand is an error (test_errors checks it);
    # bool // bool, bool % bool and bool ** bool are not defined.
    if name == "sub" and "bool" in (dtype_name(d1), dtype_name(d2)):
        return True
    return dtype_name(d1) == dtype_name(d2) == "bool" and name not in ("add", "mul", "div")


@pytest.mark.parametrize("name", list(ARITH))
@pytest.mark.parametrize("d1, d2", DTYPE_PAIRS, ids=lambda d: dtype_name(d))
@given(shape_pair=broadcastable_shapes(), layouts=st.tuples(st.sampled_from(LAYOUTS), st.sampled_from(LAYOUTS)),
       seed=st.integers(0, 2**16))
def test_binary_tensor_tensor(name, d1, d2, shape_pair, layouts, seed):
    if _skip_bool(name, d1, d2):
        return
    s1, s2 = shape_pair
    a, b = _binary_inputs(name, d1, d2, s1, s2, seed)
    x, a = make_tensor(a, layouts[0])
    y, b = make_tensor(b, layouts[1])
    ref, rd = _expected(name, a, b, d1, d2)
    assert_close(ARITH[name][0](x, y), ref, rd)


@pytest.mark.parametrize("name", list(ARITH))
def test_binary_function_and_method_forms(name):
    x, a = rand_tensor((3, 4), F32, seed=1, positive=True)
    y, b = rand_tensor((4,), F32, seed=2, positive=True)
    fn = {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "floordiv": "floor_divide",
          "mod": "remainder", "pow": "pow"}[name]
    ref = ARITH[name][1](a, b)
    assert_close(getattr(torch, fn)(x, y), ref)
    assert_close(getattr(x, fn)(y), ref)


def test_function_aliases():
    x, a = rand_tensor((5,), F32, seed=3, nonzero=True)
    assert_close(torch.true_divide(x, x * 2), a / (a * 2))
    assert_close(torch.multiply(x, 2), a * 2)
    assert_close(torch.subtract(x, 1), a - 1)
    assert_close(torch.divide(x, 4), a / 4)


def test_add_sub_alpha():
    x, a = rand_tensor((3,), F32, seed=1)
    y, b = rand_tensor((3,), F32, seed=2)
    assert_close(torch.add(x, y, alpha=2), a + 2 * b)
    assert_close(x.sub(y, alpha=0.5), a - 0.5 * b)
    assert_close(torch.add(torch.tensor([1, 2]), torch.tensor([3, 4]), alpha=3), np.array([10, 14]))


@pytest.mark.parametrize("mode", ["trunc", "floor"])
@pytest.mark.parametrize("dtype", [I64, I32, F32, F64], ids=str)
def test_div_rounding_mode(mode, dtype):
    rng = np.random.default_rng(0)
    a = quarters(rng, (20,), dtype)
    b = quarters(rng, (20,), dtype, nonzero=True)
    q = a.astype(np.float64) / b.astype(np.float64)
    ref = (np.trunc(q) if mode == "trunc" else np.floor(q)).astype(np_dtype(dtype))
    assert_close(torch.div(torch.tensor(a), torch.tensor(b), rounding_mode=mode), ref)


def test_true_divide_of_ints_is_float32():
    assert_close(torch.tensor([1, 2, 3]) / torch.tensor([2, 2, 2]), np.array([0.5, 1.0, 1.5], np.float32))
    assert_close(torch.tensor([7], dtype=torch.int32) / 2, np.array([3.5], np.float32))


# ---------------------------------------------------------------------------------------------
# tensor (op) Python scalar, and reflected forms

SCALARS = [2, -3, 1.5, -0.25, True, False]


def scalar_result_dtype(d, s, name):
    if isinstance(s, bool):
        rd = d
    elif isinstance(s, int):
        rd = I64 if dtype_name(d) == "bool" else d
    else:
        rd = d if is_float(d) else F32
    if name == "div":
        rd = true_div_dtype(rd)
    return rd


def _scalar_cases():
    for name in ARITH:
        for dtype in ALL_DTYPES:
            for s in SCALARS:
                for reflected in (False, True):
                    rd = scalar_result_dtype(dtype, s, name)
                    if _skip_bool(name, dtype, torch.bool if isinstance(s, bool) else dtype):
                        continue
                    if not reflected and name in ("floordiv", "mod") and s is False:
                        continue  # division by zero: tested on its own below
                    if not reflected and name == "pow" and is_int(rd) and not isinstance(s, bool) and s < 0:
                        continue  # integers to negative integer powers: tested on its own below
                    yield pytest.param(name, dtype, s, reflected,
                                       id=f"{name}-{dtype_name(dtype)}-{s!r}-{'s_op_t' if reflected else 't_op_s'}")


@pytest.mark.parametrize("name, dtype, s, reflected", list(_scalar_cases()))
def test_binary_tensor_scalar(name, dtype, s, reflected):
    rd = scalar_result_dtype(dtype, s, name)
    rng = np.random.default_rng(7)
    divides_by_tensor = reflected and name in ("div", "floordiv", "mod")
    if dtype_name(dtype) == "bool":
        a = np.ones((2, 3), bool) if divides_by_tensor else np.array([[True, False, True], [False, True, True]])
    elif name in ("floordiv", "mod"):
        a = quarters(rng, (2, 3), dtype, nonzero=reflected)
    elif name == "pow":
        a = random_array(rng, (2, 3), dtype, positive=True)
    else:
        a = random_array(rng, (2, 3), dtype, nonzero=divides_by_tensor)
    x = torch.tensor(a)
    an = a.astype(np_dtype(rd))
    sn = np.array(s).astype(np_dtype(rd))
    op, npop = ARITH[name]
    with np.errstate(all="ignore"):
        ref = npop(sn, an) if reflected else npop(an, sn)
    got = op(s, x) if reflected else op(x, s)
    assert_close(got, ref, rd)


def test_python_float_does_not_widen_float32():
    x = torch.tensor([1.0, 2.0])
    for r in (x * 0.1, 0.1 * x, x + 1e-30, x / 3.0, x - 2.5, x ** 0.5, 2.0 ** x):
        assert r.dtype == F32
    assert_close(x * 0.1, np.array([1.0, 2.0], np.float32) * np.float32(0.1))


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: torch.tensor([1, 2]) / 2, "float32"),
        (lambda: torch.tensor([1, 2]) * 1.5, "float32"),
        (lambda: torch.tensor([1.0]) * 1.5, "float32"),
        (lambda: torch.tensor([1.0], dtype=torch.float64) * 2, "float64"),
        (lambda: torch.tensor([1], dtype=torch.int32) + torch.tensor([1], dtype=torch.int64), "int64"),
        (lambda: torch.tensor([True]) + torch.tensor([1]), "int64"),
        (lambda: torch.tensor([True]) + torch.tensor([1], dtype=torch.int32), "int32"),
        (lambda: torch.tensor([True]) + 1, "int64"),
        (lambda: torch.tensor([True]) + True, "bool"),
        (lambda: torch.tensor([True]) + 1.5, "float32"),
        (lambda: torch.tensor([1], dtype=torch.int32) + 5, "int32"),
        (lambda: torch.tensor([1], dtype=torch.int32) * 2.5, "float32"),
        (lambda: torch.tensor([1]) + torch.tensor([1.0]), "float32"),
        (lambda: torch.tensor([1]) + torch.tensor([1.0], dtype=torch.float64), "float64"),
        (lambda: torch.tensor([1.0]) + torch.tensor([1.0], dtype=torch.float64), "float64"),
        # 0-d tensors only win when they are of a higher category (bool < int < float).
        (lambda: torch.tensor([1], dtype=torch.int32) + torch.tensor(1), "int32"),
        (lambda: torch.tensor([1.0]) + torch.tensor(1.0, dtype=torch.float64), "float32"),
        (lambda: torch.tensor([1], dtype=torch.int32) + torch.tensor(1.0, dtype=torch.float64), "float64"),
        (lambda: torch.tensor([1], dtype=torch.int64) * torch.tensor(2.5), "float32"),
        (lambda: torch.tensor([True]) * torch.tensor(2, dtype=torch.int32), "int32"),
        (lambda: torch.tensor(1, dtype=torch.int32) + torch.tensor(1), "int64"),
        (lambda: torch.tensor(2.5) * torch.tensor(2, dtype=torch.int32), "float32"),
        (lambda: torch.tensor(2) * torch.tensor([1.5], dtype=torch.float64), "float64"),
        (lambda: torch.tensor(2.5, dtype=torch.float64) + 1, "float64"),
        (lambda: torch.tensor(True) + 1, "int64"),
        (lambda: torch.tensor(1, dtype=torch.int32) + 1.5, "float32"),
        (lambda: torch.tensor([1, 2]) // 2, "int64"),
        (lambda: torch.tensor([1, 2], dtype=torch.int32) % 2, "int32"),
        (lambda: torch.tensor([1, 2]) ** 2, "int64"),
        (lambda: torch.tensor([1, 2]) ** 0.5, "float32"),
        (lambda: 2 ** torch.tensor([1, 2]), "int64"),
        (lambda: 2.5 ** torch.tensor([1, 2]), "float32"),
        (lambda: torch.tensor([1, 2]) ** torch.tensor([1, 2], dtype=torch.int32), "int64"),
        (lambda: torch.tensor([True]) / torch.tensor([True]), "float32"),
    ],
)
def test_type_promotion(make, expected):
    r = make()
    assert r.dtype == getattr(torch, expected)
    assert dtype_name(r.dtype) == expected


def test_promotion_values_with_0d_tensors():
    x = torch.tensor([1, 2, 3], dtype=torch.int32)
    assert_close(x + torch.tensor(10), np.array([11, 12, 13], np.int32))
    assert_close(x * torch.tensor(0.5, dtype=torch.float64), np.array([0.5, 1.0, 1.5]))
    assert_close(torch.tensor(2.0) * torch.tensor(3.0), np.float32(6.0))


# ---------------------------------------------------------------------------------------------
# floor division and remainder: Python's sign rules; integer division by zero

def test_floordiv_mod_follow_python_sign_rules():
    pairs = [(a, b) for a in (-7, -6, -1, 0, 1, 6, 7) for b in (-3, -2, 2, 3)]
    a = torch.tensor([p[0] for p in pairs])
    b = torch.tensor([p[1] for p in pairs])
    assert (a // b).tolist() == [x // y for x, y in pairs]
    assert (a % b).tolist() == [x % y for x, y in pairs]
    assert torch.remainder(a, b).tolist() == [x % y for x, y in pairs]
    assert torch.floor_divide(a, b).tolist() == [x // y for x, y in pairs]
    fa, fb = a.double() * 0.5, b.double()
    assert (fa // fb).tolist() == [(x * 0.5) // y for x, y in pairs]
    assert (fa % fb).tolist() == [(x * 0.5) % y for x, y in pairs]


def test_floordiv_mod_with_scalars_sign_rules():
    t = torch.tensor([-7, 7])
    assert (t // 2).tolist() == [-4, 3]
    assert (t % 2).tolist() == [1, 1]
    assert (t % -2).tolist() == [-1, -1]
    assert (7 // torch.tensor([2, -2])).tolist() == [3, -4]
    assert (7 % torch.tensor([2, -2])).tolist() == [1, -1]
    assert (torch.tensor([-7.0, 7.0]) % -2).tolist() == [-1.0, -1.0]


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x // 0,
        lambda x: x % 0,
        lambda x: x // torch.tensor([1, 0, 1], dtype=x.dtype),
        lambda x: x % torch.zeros(3, dtype=x.dtype),
        lambda x: torch.remainder(x, 0),
        lambda x: torch.floor_divide(x, 0),
        lambda x: torch.div(x, 0, rounding_mode="trunc"),
        lambda x: torch.div(x, 0, rounding_mode="floor"),
        lambda x: 5 // torch.zeros(3, dtype=x.dtype),
        lambda x: 5 % torch.zeros(3, dtype=x.dtype),
    ],
)
def test_integer_division_by_zero_is_runtime_error(dtype, fn):
    x = torch.tensor([1, -2, 3], dtype=dtype)
    with pytest.raises(RuntimeError):
        fn(x)


def test_inplace_integer_division_by_zero_is_runtime_error():
    x = torch.tensor([1, 2])
    with pytest.raises(RuntimeError):
        x //= 0
    with pytest.raises(RuntimeError):
        x %= 0


def test_float_and_true_division_by_zero_are_not_errors():
    assert_close(torch.tensor([1, 0, -1]) / 0, np.array([np.inf, np.nan, -np.inf], np.float32))
    assert_close(torch.tensor([1.0, -1.0]) // 0, np.array([np.inf, -np.inf], np.float32))
    assert_close(torch.tensor([1.0, -2.0]) / torch.tensor([0.0, 0.0]), np.array([np.inf, -np.inf], np.float32))


def test_integer_pow_negative_exponent_is_runtime_error():
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]) ** -1
    with pytest.raises(RuntimeError):
        torch.pow(torch.tensor([1, 2], dtype=torch.int32), -2)


def test_integer_overflow_wraps_like_numpy():
    big = np.array([2**62, -(2**62)], np.int64)
    assert_close(torch.tensor(big) * 4, big * 4)
    i32 = np.array([2**30], np.int32)
    assert_close(torch.tensor(i32) * 4, i32 * np.int32(4))


# ---------------------------------------------------------------------------------------------
# unary math

def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _vec(f):
    """A float64 reference from a scalar `math` function, over any array (0-d and empty too)."""
    return lambda a: np.vectorize(f, otypes=[np.float64])(np.asarray(a, np.float64))


def _erfinv(a):
    """erfinv by bisection on math.erf, in float64."""
    x = np.asarray(a, np.float64)
    if x.size and np.abs(x).max() >= 1:
        inside = np.abs(x) < 1
        return np.where(inside, _erfinv(np.where(inside, x, 0)), np.where(np.abs(x) == 1, x * np.inf, np.nan))
    lo, hi = np.full(x.shape, -6.0), np.full(x.shape, 6.0)
    erf = _vec(math.erf)
    for _ in range(64):
        mid = (lo + hi) / 2
        below = erf(mid) < x
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return (lo + hi) / 2


def _digamma(a):
    """digamma for x > 0 in float64: shift to x >= 20 by psi(x) = psi(x + 1) - 1/x, then the
    asymptotic series (terms to x^-12)."""
    x = np.array(a, np.float64)
    acc = np.zeros_like(x)
    while (x < 20).any():
        small = x < 20
        acc = acc - np.where(small, 1 / np.where(small, x, 1), 0)
        x = np.where(small, x + 1, x)
    z = 1 / (x * x)
    series = z * (1 / 12 - z * (1 / 120 - z * (1 / 252 - z * (1 / 240 - z * (1 / 132 - z * 691 / 32760)))))
    return acc + np.log(x) - 0.5 / x - series


UNARY = {
    # name: (numpy reference, value kwargs, result is float for int inputs)
    "neg": (np.negative, {}, False),
    "abs": (np.abs, {}, False),
    "exp": (np.exp, {}, True),
    "log": (np.log, {"positive": True}, True),
    "log1p": (np.log1p, {"positive": True}, True),
    "sqrt": (np.sqrt, {"positive": True}, True),
    "rsqrt": (lambda a: 1 / np.sqrt(a), {"positive": True}, True),
    "reciprocal": (np.reciprocal, {"nonzero": True}, True),
    "square": (np.square, {}, False),
    "sin": (np.sin, {}, True),
    "cos": (np.cos, {}, True),
    "tanh": (np.tanh, {}, True),
    "sigmoid": (_sigmoid, {}, True),
    "relu": (lambda a: np.maximum(a, 0).astype(a.dtype), {}, False),
    "exp2": (np.exp2, {}, True),
    "asin": (np.arcsin, {"low": -0.95, "high": 0.95}, True),
    "acos": (np.arccos, {"low": -0.95, "high": 0.95}, True),
    "atan": (np.arctan, {}, True),
    "arcsin": (np.arcsin, {"low": -0.95, "high": 0.95}, True),
    "sinh": (np.sinh, {}, True),
    "cosh": (np.cosh, {}, True),
    "asinh": (np.arcsinh, {}, True),
    "acosh": (np.arccosh, {"low": 1.05, "high": 4}, True),
    "atanh": (np.arctanh, {"low": -0.95, "high": 0.95}, True),
    "sinc": (np.sinc, {}, True),
    "logit": (lambda a: np.log(a / (1 - a)), {"low": 0.05, "high": 0.95}, True),
    "erf": (_vec(math.erf), {}, True),
    "erfc": (_vec(math.erfc), {}, True),
    "erfinv": (_erfinv, {"low": -0.95, "high": 0.95}, True),
    "lgamma": (_vec(math.lgamma), {"positive": True}, True),
    "digamma": (_digamma, {"positive": True}, True),
    "deg2rad": (np.deg2rad, {}, True),
    "rad2deg": (np.rad2deg, {}, True),
    "frac": (lambda a: a - np.trunc(a), {}, False),
}


@pytest.mark.parametrize("name", list(UNARY))
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@given(data=st.data())
def test_unary_float(name, dtype, data):
    ref_fn, kwargs, _ = UNARY[name]
    t, a = data.draw(tensors(dtype, **kwargs))
    with np.errstate(all="ignore"):
        ref = ref_fn(a)
    assert_close(getattr(torch, name)(t), ref, dtype)
    assert_close(getattr(t, name)(), ref, dtype)


@pytest.mark.parametrize("name", list(UNARY))
@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
def test_unary_int(name, dtype):
    ref_fn, kwargs, to_float = UNARY[name]
    # a float domain does not apply to integers: out-of-domain values give NaN on both sides
    kwargs = {k: v for k, v in kwargs.items() if k not in ("low", "high")}
    t, a = rand_tensor((3, 4), dtype, "transposed", seed=2, **kwargs)
    if name == "frac":
        # torch: "frac_cpu" not implemented for 'Long'
        with pytest.raises(RuntimeError, match="frac"):
            torch.frac(t)
        return
    rd = F32 if to_float else dtype
    with np.errstate(all="ignore"):
        ref = ref_fn(a.astype(np_dtype(rd)))
    assert_close(getattr(torch, name)(t), ref, rd)


def test_unary_of_bool_promotes_or_errors():
    b = torch.tensor([True, False])
    assert_close(torch.exp(b), np.exp(np.array([1.0, 0.0], np.float32)))
    assert_close(torch.sigmoid(b), _sigmoid(np.array([1.0, 0.0], np.float32)))
    with pytest.raises(RuntimeError):
        -b
    with pytest.raises(RuntimeError):
        torch.neg(b)


def test_unary_special_values():
    x = torch.tensor([0.0, -1.0, np.inf, -np.inf, np.nan, 1000.0, -1000.0])
    a = to_np(x)
    with np.errstate(all="ignore"):
        assert_close(torch.log(x), np.log(a))
        assert_close(torch.sqrt(x), np.sqrt(a))
        assert_close(torch.rsqrt(x), 1 / np.sqrt(a))
        assert_close(torch.reciprocal(x), 1 / a)
        assert_close(torch.exp(x), np.exp(a))
        assert_close(torch.sigmoid(x), _sigmoid(a))
        assert_close(torch.tanh(x), np.tanh(a))
        assert_close(torch.abs(x), np.abs(a))
        assert_close(torch.relu(x), np.where(np.isnan(a), np.nan, np.maximum(a, 0)))
        assert_close(torch.log1p(torch.tensor([-1.0, -2.0, 1e-10])), np.log1p(np.array([-1.0, -2.0, 1e-10], np.float32)))


@pytest.mark.parametrize("name", ["neg", "abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu",
                                  "reciprocal", "square", "rsqrt", "log1p"])
@pytest.mark.parametrize("layout", LAYOUTS[:3])
def test_unary_inplace(name, layout):
    ref_fn, kwargs, _ = UNARY[name]
    base, a = rand_tensor((3, 4), F32, "contiguous", seed=4, **kwargs)
    view, ref_view = _view(base, a, layout)
    r = getattr(view, name + "_")()
    ref_view[...] = ref_fn(ref_view)
    assert_close(base, a)
    assert_close(r, ref_view)


# ---------------------------------------------------------------------------------------------
# clamp / maximum / minimum

@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@given(data=st.data())
def test_clamp(dtype, data):
    t, a = data.draw(tensors(dtype))
    lo, hi = data.draw(st.floats(-2, 0)), data.draw(st.floats(0, 2))
    lo_n, hi_n = np_dtype(dtype).type(lo), np_dtype(dtype).type(hi)
    assert_close(torch.clamp(t, lo, hi), np.clip(a, lo_n, hi_n), dtype)
    assert_close(t.clamp(min=lo), np.maximum(a, lo_n), dtype)
    assert_close(t.clamp(max=hi), np.minimum(a, hi_n), dtype)
    assert_close(torch.clip(t, lo, hi), np.clip(a, lo_n, hi_n), dtype)


def test_clamp_int_and_tensor_bounds():
    x = torch.tensor([-5, 0, 5, 10])
    assert_close(x.clamp(0, 6), np.array([0, 0, 5, 6]))
    f, a = rand_tensor((3, 4), F32, seed=1)
    lo = np.array([-1.0, -0.5, 0.0, 0.5], np.float32)
    assert_close(torch.clamp(f, min=torch.tensor(lo), max=torch.tensor(1.0)), np.minimum(np.maximum(a, lo), 1.0))
    with pytest.raises((RuntimeError, TypeError, ValueError)):
        torch.clamp(f)


def test_clamp_inplace_and_nan():
    x = torch.tensor([-2.0, np.nan, 2.0])
    x.clamp_(-1, 1)
    assert_close(x, np.array([-1.0, np.nan, 1.0], np.float32))


@pytest.mark.parametrize("fn, npfn", [("maximum", np.maximum), ("minimum", np.minimum)])
@pytest.mark.parametrize("d1, d2", [(F32, F32), (F64, F64), (I64, I64), (I32, I64), (I64, F32), (BOOL, BOOL)],
                         ids=lambda d: dtype_name(d))
@given(shape_pair=broadcastable_shapes(), seed=st.integers(0, 2**16), layout=st.sampled_from(LAYOUTS))
def test_maximum_minimum(fn, npfn, d1, d2, shape_pair, seed, layout):
    rng = np.random.default_rng(seed)
    x, a = make_tensor(random_array(rng, shape_pair[0], d1), layout)
    y, b = make_tensor(random_array(rng, shape_pair[1], d2), "contiguous")
    rd = promote(d1, d2, a.shape, b.shape)
    ref = npfn(a.astype(np_dtype(rd)), b.astype(np_dtype(rd)))
    assert_close(getattr(torch, fn)(x, y), ref, rd)
    assert_close(getattr(x, fn)(y), ref, rd)


def test_maximum_minimum_propagate_nan():
    a = torch.tensor([np.nan, 1.0, 2.0])
    b = torch.tensor([0.0, np.nan, 1.0])
    assert_close(torch.maximum(a, b), np.array([np.nan, np.nan, 2.0], np.float32))
    assert_close(torch.minimum(a, b), np.array([np.nan, np.nan, 1.0], np.float32))


# ---------------------------------------------------------------------------------------------
# comparisons

COMPARISONS = {
    "eq": (operator.eq, np.equal), "ne": (operator.ne, np.not_equal), "lt": (operator.lt, np.less),
    "le": (operator.le, np.less_equal), "gt": (operator.gt, np.greater), "ge": (operator.ge, np.greater_equal),
}


@pytest.mark.parametrize("name", list(COMPARISONS))
@pytest.mark.parametrize("d1, d2", [(F32, F32), (I64, I64), (I32, F64), (I64, F32), (BOOL, BOOL), (BOOL, I64)],
                         ids=lambda d: dtype_name(d))
@given(shape_pair=broadcastable_shapes(), seed=st.integers(0, 2**16), layout=st.sampled_from(LAYOUTS))
def test_comparison_tensor_tensor(name, d1, d2, shape_pair, seed, layout):
    rng = np.random.default_rng(seed)
    # Small ints so that equality happens often.
    a = quarters(rng, shape_pair[0], d1) if dtype_name(d1) != "bool" else random_array(rng, shape_pair[0], d1)
    b = quarters(rng, shape_pair[1], d2) if dtype_name(d2) != "bool" else random_array(rng, shape_pair[1], d2)
    x, a = make_tensor(a, layout)
    y, b = make_tensor(b, "contiguous")
    rd = np_dtype(promote(d1, d2, a.shape, b.shape))
    ref = COMPARISONS[name][1](a.astype(rd), b.astype(rd))
    assert_close(COMPARISONS[name][0](x, y), ref, BOOL)
    assert_close(getattr(torch, name)(x, y), ref, BOOL)
    assert_close(getattr(x, name)(y), ref, BOOL)


@pytest.mark.parametrize("name", list(COMPARISONS))
@pytest.mark.parametrize("s", [1, 1.5, -0.25, True])
@pytest.mark.parametrize("dtype", [I64, I32, F32, BOOL], ids=str)
def test_comparison_tensor_scalar(name, s, dtype):
    a = np.array([[-1, 0, 1], [2, 1, 0]]).astype(np_dtype(dtype))
    x = torch.tensor(a)
    op, npop = COMPARISONS[name]
    assert_close(op(x, s), npop(a.astype(np.float64), float(s)), BOOL)
    assert_close(op(s, x), npop(float(s), a.astype(np.float64)), BOOL)


def test_comparison_with_nan():
    x = torch.tensor([np.nan, 1.0])
    assert (x == x).tolist() == [False, True]
    assert (x != x).tolist() == [True, False]
    assert (x < 2).tolist() == [False, True]


# ---------------------------------------------------------------------------------------------
# logical and bitwise

LOGICAL = {"logical_and": np.logical_and, "logical_or": np.logical_or, "logical_xor": np.logical_xor}


@pytest.mark.parametrize("name", list(LOGICAL))
@pytest.mark.parametrize("d1, d2", [(BOOL, BOOL), (I64, I64), (F32, I32), (F64, BOOL)], ids=lambda d: dtype_name(d))
@given(shape_pair=broadcastable_shapes(), seed=st.integers(0, 2**16))
def test_logical_binary(name, d1, d2, shape_pair, seed):
    rng = np.random.default_rng(seed)
    a = (rng.integers(0, 2, size=shape_pair[0]) * rng.integers(-2, 3, size=shape_pair[0])).astype(np_dtype(d1))
    b = (rng.integers(0, 2, size=shape_pair[1]) * rng.integers(-2, 3, size=shape_pair[1])).astype(np_dtype(d2))
    x, y = torch.tensor(a), torch.tensor(b)
    ref = LOGICAL[name](a, b)
    assert_close(getattr(torch, name)(x, y), ref, BOOL)
    assert_close(getattr(x, name)(y), ref, BOOL)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_logical_not(dtype):
    t, a = rand_tensor((3, 4), dtype, "transposed", seed=5, low=-1, high=1)
    assert_close(torch.logical_not(t), np.logical_not(a), BOOL)
    assert_close(t.logical_not(), np.logical_not(a), BOOL)


@pytest.mark.parametrize("dtype", [BOOL, I32, I64], ids=str)
@given(shape_pair=broadcastable_shapes(), seed=st.integers(0, 2**16))
def test_bitwise_operators(dtype, shape_pair, seed):
    rng = np.random.default_rng(seed)
    a = random_array(rng, shape_pair[0], dtype, low=-8, high=8)
    b = random_array(rng, shape_pair[1], dtype, low=-8, high=8)
    x, y = torch.tensor(a), torch.tensor(b)
    assert_close(x & y, a & b, dtype)
    assert_close(x | y, a | b, dtype)
    assert_close(x ^ y, a ^ b, dtype)
    assert_close(~x, ~a, dtype)


def test_bool_mask_combinations():
    x, a = rand_tensor((10,), F32, seed=3)
    m = (x > -1) & (x < 1) | ~(x > 0)
    assert_close(m, (a > -1) & (a < 1) | ~(a > 0))
    assert_close(torch.tensor([True, False]) & True, np.array([True, False]))


def test_bitwise_on_float_is_an_error():
    x = torch.tensor([1.0])
    with pytest.raises((RuntimeError, TypeError)):
        x & x
    with pytest.raises((RuntimeError, TypeError)):
        ~x


# ---------------------------------------------------------------------------------------------
# isnan / isinf

@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_isnan_isinf(dtype, layout):
    a = np.array([[0.0, np.nan, np.inf], [-np.inf, 1.5, np.nan]], np_dtype(dtype))
    t, a = make_tensor(a, layout)
    assert_close(torch.isnan(t), np.isnan(a), BOOL)
    assert_close(t.isnan(), np.isnan(a), BOOL)
    assert_close(torch.isinf(t), np.isinf(a), BOOL)
    assert_close(t.isinf(), np.isinf(a), BOOL)


@pytest.mark.parametrize("dtype", [BOOL, I32, I64], ids=str)
def test_isnan_isinf_of_non_float_are_false(dtype):
    t = torch.zeros(2, 3, dtype=dtype)
    assert_close(torch.isnan(t), np.zeros((2, 3), bool), BOOL)
    assert_close(torch.isinf(t), np.zeros((2, 3), bool), BOOL)


# ---------------------------------------------------------------------------------------------
# in-place

INPLACE = {
    "add_": (operator.iadd, np.add), "sub_": (operator.isub, np.subtract), "mul_": (operator.imul, np.multiply),
    "div_": (operator.itruediv, np.divide),
}


def _view(base, a, layout):
    """A view of `base` and the matching numpy view of `a`."""
    if layout == "transposed":
        return base.t(), a.T
    if layout == "sliced":
        return base[1:, ::2], a[1:, ::2]
    return base, a


@pytest.mark.parametrize("name", list(INPLACE))
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS[:3])
@pytest.mark.parametrize("other", ["full", "row", "col", "0d"])
def test_inplace_method_and_operator(name, dtype, layout, other):
    npop = INPLACE[name][1]
    base, a = rand_tensor((3, 4), dtype, "contiguous", seed=1)
    view, rv = _view(base, a, layout)
    n, m = rv.shape
    oshape = {"full": (n, m), "row": (m,), "col": (n, 1), "0d": ()}[other]
    y, b = rand_tensor(oshape, dtype, "transposed" if other == "full" else "contiguous", seed=2, nonzero=True)
    ptr = view.data_ptr()
    r = getattr(view, name)(y)
    rv[...] = npop(rv, b)
    assert_close(base, a)
    assert r.data_ptr() == ptr
    assert_close(r, rv)
    # Python's augmented assignment keeps the same object.
    alias = view
    view = INPLACE[name][0](view, y)
    assert view is alias
    rv[...] = npop(rv, b)
    assert_close(base, a)


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=str)
def test_inplace_scalar(dtype):
    t, a = rand_tensor((2, 3), dtype, seed=3)
    t += 2
    a += np_dtype(dtype).type(2)
    assert_close(t, a)
    t *= 3
    a *= np_dtype(dtype).type(3)
    assert_close(t, a)
    t -= 1
    a -= np_dtype(dtype).type(1)
    assert_close(t, a)
    t.add_(1).mul_(2)
    a = (a + 1) * 2
    assert_close(t, a.astype(np_dtype(dtype)))


def test_inplace_floordiv_mod_pow():
    t = torch.tensor([7, -7, 9])
    t //= 2
    assert t.tolist() == [3, -4, 4]
    t %= 3
    assert t.tolist() == [0, 2, 1]
    t **= 2
    assert t.tolist() == [0, 4, 1]
    f = torch.tensor([1.0, 2.0])
    f **= 2
    f /= 2
    assert_close(f, np.array([0.5, 2.0], np.float32))


def test_inplace_on_view_writes_base_only_there():
    base = torch.zeros(3, 4)
    v = base[1:, ::2]
    v += 1
    v.mul_(3)
    expected = np.zeros((3, 4), np.float32)
    expected[1:, ::2] = 3
    assert_close(base, expected)


def test_inplace_keeps_dtype_when_other_is_lower_or_same_category():
    x = torch.tensor([1.0, 2.0])
    x.add_(torch.tensor([1, 2]))
    x += torch.tensor([1.0, 1.0], dtype=torch.float64)
    assert_close(x, np.array([3.0, 5.0], np.float32))
    i = torch.tensor([1, 2], dtype=torch.int32)
    i += torch.tensor([1, 1], dtype=torch.int64)
    i += True
    assert_close(i, np.array([3, 4], np.int32))


def test_inplace_cast_errors():
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).add_(1.5)
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).div_(2)
    x = torch.tensor([1, 2])
    with pytest.raises(RuntimeError):
        x += torch.tensor([0.5, 0.5])
    with pytest.raises(RuntimeError):
        x /= 2


def test_inplace_broadcast_cannot_grow_self():
    with pytest.raises(RuntimeError):
        torch.zeros(2).add_(torch.zeros(2, 2))
    x = torch.zeros(3, 1)
    with pytest.raises(RuntimeError):
        x += torch.zeros(3, 4)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS[:3])
def test_zero_and_fill(dtype, layout):
    base, a = rand_tensor((3, 4), dtype, "contiguous", seed=6)
    view, rv = _view(base, a, layout)
    r = view.zero_()
    rv[...] = 0
    assert_close(base, a)
    assert_close(r, rv)
    view.fill_(1)
    rv[...] = 1
    assert_close(base, a)
    view.fill_(torch.tensor(0))
    rv[...] = 0
    assert_close(base, a)


def test_fill_casts_value():
    assert_close(torch.zeros(3, dtype=torch.int64).fill_(2.7), np.array([2, 2, 2]))
    assert_close(torch.zeros(2, dtype=torch.bool).fill_(5), np.array([True, True]))
    with pytest.raises(RuntimeError):
        torch.zeros(3).fill_(torch.tensor([2.0]))


@pytest.mark.parametrize("src_dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("dst_dtype", ALL_DTYPES, ids=str)
def test_copy_converts_dtype(src_dtype, dst_dtype):
    a = np.array([[0, 1, -2], [3, 0, 5]]).astype(np_dtype(src_dtype))
    dst = torch.zeros(2, 3, dtype=dst_dtype)
    r = dst.copy_(torch.tensor(a))
    assert_close(dst, a.astype(np_dtype(dst_dtype)), dst_dtype)
    assert_close(r, a.astype(np_dtype(dst_dtype)), dst_dtype)


@pytest.mark.parametrize("src_layout", LAYOUTS)
@pytest.mark.parametrize("dst_layout", LAYOUTS[:3])
def test_copy_between_layouts_and_broadcast(src_layout, dst_layout):
    base, a = rand_tensor((4, 5), F64, "contiguous", seed=1)
    view, rv = _view(base, a, dst_layout)
    src, s = rand_tensor(tuple(view.shape), F64, src_layout, seed=2)
    view.copy_(src)
    rv[...] = s
    assert_close(base, a)
    row, r = rand_tensor((view.shape[-1],), F64, seed=3)
    view.copy_(row)
    rv[...] = r
    assert_close(base, a)


def test_copy_float_to_int_truncates_and_shape_errors():
    assert_close(torch.zeros(3, dtype=torch.int64).copy_(torch.tensor([1.7, -2.2, 3.0])), np.array([1, -2, 3]))
    with pytest.raises(RuntimeError):
        torch.zeros(3).copy_(torch.zeros(2))


def test_inplace_into_expanded_tensor_is_runtime_error():
    x = torch.zeros(3, 1).expand(3, 2)
    with pytest.raises(RuntimeError):
        x.add_(1)


# ---------------------------------------------------------------------------------------------
# larger inputs: exercise the threaded and vectorised paths

def test_large_binary_and_unary():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((512, 1024)).astype(np.float32)
    b = rng.standard_normal((1024,)).astype(np.float32)
    x, y = torch.tensor(a), torch.tensor(b)
    assert_close(x + y, a + b)
    assert_close(x.t() * 2 + x.t(), a.T * 3)
    assert_close(torch.exp(x[:, ::2]), np.exp(a[:, ::2]))
    assert_close(torch.tanh(x.t()), np.tanh(a.T))
    assert_close(x > y, a > b, BOOL)
    s = torch.tensor(a[:256, :256])
    assert_close(s.t() + s, a[:256, :256].T + a[:256, :256])


def test_large_int_floordiv():
    a = np.arange(-100_000, 100_000, dtype=np.int64)
    assert_close(torch.tensor(a) // 7, a // 7)
    assert_close(torch.tensor(a) % -7, a % -7)
