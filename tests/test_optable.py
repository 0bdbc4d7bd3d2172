"""The elementwise op tables: Python names agree with them, and the ops added through them
(fmod, copysign, hypot, logaddexp(2), xlogy, shifts, nan_to_num, the 0 ** x gradient)."""

import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rustensor as torch
from conftest import FLOAT_DTYPES, INT_DTYPES, assert_close, broadcastable_shapes, make_tensor, random_array

_C = torch._rustensor
# the typed declarations: TensorBase's in the stub, Tensor's in python/rustensor/_tensor.py
# (the Python class, whose methods are checked by mypy), the functions' in the stub
_PKG = Path(torch.__file__).parent
STUB = (_PKG / "_rustensor.pyi").read_text() + (_PKG / "_tensor.py").read_text()
STUB_NAMES = set(re.findall(r"^    def (\w+)\(", STUB, flags=re.M))
TABLE = [row for row in _C._op_table() if not row[1].startswith("_")]
NAMES = sorted({n for _, name, aliases, _ in TABLE for n in [name, *aliases]})


# ---------------------------------------------------------------------------------------------
# the tables are the one list of elementwise ops

def test_table_is_not_empty_and_has_unique_names():
    rows = _C._op_table()
    assert len(rows) > 60
    all_names = [n for _, name, aliases, _ in rows for n in [name, *aliases]]
    assert len(all_names) == len(set(all_names))


@pytest.mark.parametrize("name", NAMES)
def test_every_table_name_is_a_method_a_function_and_in_the_stub(name):
    assert callable(getattr(torch.Tensor, name, None)), f"Tensor.{name} missing"
    assert callable(getattr(torch, name, None)), f"torch.{name} missing"
    assert name in STUB_NAMES, f"{name} missing from _rustensor.pyi and _tensor.py"


@pytest.mark.parametrize("family, name", [(f, n) for f, name, aliases, _ in TABLE for n in [name, *aliases]])
def test_bindings_resolve_every_table_name(family, name):
    x = torch.tensor([1, 2, 3]) if "shift" in name or "bitwise" in name else torch.tensor([0.25, 0.5, 0.75])
    r = x._unary(name) if family == "unary" else x._binary(name, x, False)
    assert isinstance(r, torch.Tensor) and r.shape == x.shape


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="unknown unary op"):
        torch.ones(2)._unary("nosuchop")
    with pytest.raises(ValueError, match="unknown binary op"):
        torch.ones(2)._binary("nosuchop", torch.ones(2), False)


def test_differentiable_rows_record_and_the_rest_do_not():
    x = torch.tensor([0.25, 0.5], dtype=torch.float64, requires_grad=True)
    for family, name, _, diff in TABLE:
        if "bitwise" in name:
            continue
        r = x._unary(name) if family == "unary" else x._binary(name, x, False)
        assert (r.grad_fn is not None) == diff, name


# ---------------------------------------------------------------------------------------------
# binary ops added through the table, against numpy / math in float64

BINARY = {
    # name: (float64 reference, b positive)
    "fmod": (np.fmod, False),
    "copysign": (np.copysign, False),
    "hypot": (np.hypot, False),
    "logaddexp": (np.logaddexp, False),
    "logaddexp2": (np.logaddexp2, False),
    "xlogy": (lambda a, b: np.where(np.isnan(b), np.nan, np.where(a == 0, 0.0, a * np.log(np.where(b > 0, b, 1.0)))), True),
}


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@given(shapes_=broadcastable_shapes(), layout=st.sampled_from(["contiguous", "transposed", "sliced", "expanded"]),
       seed=st.integers(0, 2**16))
def test_binary_float(name, dtype, shapes_, layout, seed):
    ref_fn, b_pos = BINARY[name]
    rng = np.random.default_rng(seed)
    a = random_array(rng, shapes_[0], dtype)
    b = random_array(rng, shapes_[1], dtype, positive=b_pos, nonzero=name == "fmod")
    if name == "xlogy" and a.size:
        a.reshape(-1)[0] = 0
    ta, a = make_tensor(a, layout)
    tb, b = make_tensor(b, "transposed")
    with np.errstate(all="ignore"):
        ref = ref_fn(a.astype(np.float64), b.astype(np.float64))
    assert_close(getattr(torch, name)(ta, tb), ref, dtype)
    assert_close(getattr(ta, name)(tb), ref, dtype)


def test_binary_special_values():
    inf, nan = math.inf, math.nan
    a = torch.tensor([inf, -inf, inf, nan, 0.0, -0.0, 1e30], dtype=torch.float64)
    b = torch.tensor([inf, -inf, -inf, 1.0, -2.0, 3.0, 1e30], dtype=torch.float64)
    an, bn = a.numpy(), b.numpy()
    with np.errstate(all="ignore"):
        assert_close(torch.logaddexp(a, b), np.logaddexp(an, bn))
        assert_close(torch.logaddexp2(a, b), np.logaddexp2(an, bn))
        assert_close(torch.hypot(a, b), np.hypot(an, bn))
        assert_close(torch.copysign(a, b), np.copysign(an, bn))
    # xlogy: 0 * log(anything but NaN) is 0
    x = torch.xlogy(torch.tensor([0.0, 0.0, 2.0]), torch.tensor([0.0, nan, math.e]))
    assert_close(x, np.array([0.0, nan, 2.0], np.float32))


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
def test_integer_fmod_and_shifts_follow_c_and_torch(dtype):
    a = torch.tensor([-7, 7, -8, 5, 1], dtype=dtype)
    b = torch.tensor([2, -2, 3, 1, 2], dtype=dtype)
    an, bn = a.numpy(), b.numpy()
    assert_close(torch.fmod(a, b), np.fmod(an, bn))
    bits = 32 if dtype == torch.int32 else 64
    s = torch.tensor([0, 1, 3, bits, -1], dtype=dtype)
    sn = s.numpy().astype(np.int64)
    inside = (sn >= 0) & (sn < bits)
    left = np.where(inside, an.astype(np.int64) << np.where(inside, sn, 0), 0)
    right = np.where(inside, an.astype(np.int64) >> np.where(inside, sn, 0), np.where(an < 0, -1, 0))
    assert_close(a << s, left.astype(an.dtype))
    assert_close(torch.bitwise_left_shift(a, s), left.astype(an.dtype))
    assert_close(a >> s, right.astype(an.dtype))
    assert_close(a.bitwise_right_shift(s), right.astype(an.dtype))
    assert_close(a << 2, (an.astype(np.int64) << 2).astype(an.dtype))
    assert_close(2 << a.abs(), (2 << np.abs(an).astype(np.int64)).astype(an.dtype))
    c = a.clone()
    c <<= 1
    assert_close(c, (an.astype(np.int64) << 1).astype(an.dtype))
    c >>= 2
    assert_close(c, ((an.astype(np.int64) << 1) >> 2).astype(an.dtype))


def test_dtype_rules_and_errors_follow_torch():
    i = torch.tensor([1, -2, 3])
    b = torch.tensor([True, False])
    assert torch.copysign(i, i).dtype == torch.float32
    assert torch.xlogy(i, i).dtype == torch.float32
    assert torch.fmod(i, i).dtype == torch.int64
    assert torch.erf(i).dtype == torch.float32 and torch.deg2rad(b).dtype == torch.float32
    assert torch.signbit(i).dtype == torch.bool and torch.nan_to_num(i).dtype == torch.int64
    for f in (torch.hypot, torch.logaddexp, torch.logaddexp2):
        with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
            f(i, i)
    with pytest.raises(RuntimeError, match="not implemented for 'Float'"):
        torch.tensor([1.0]) << 1
    with pytest.raises(RuntimeError, match="not implemented for 'Bool'"):
        torch.fmod(b, b)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        torch.fmod(i, torch.tensor([1, 0, 1]))
    with pytest.raises(RuntimeError, match="frac"):
        torch.frac(i)
    with pytest.raises(RuntimeError, match="bitwise_not"):
        torch.tensor([1.5]).bitwise_not()
    # an op without a kernel for the dtype raises before dispatch, also in place
    with pytest.raises(RuntimeError, match="bitwise_not"):
        torch.tensor([1.5]).bitwise_not_()


def test_unary_special_values_and_signbit():
    v = [0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan, 100.0, -100.0]
    x = torch.tensor(v, dtype=torch.float64)
    a = np.array(v)
    assert_close(torch.signbit(x), np.signbit(a))
    assert_close(torch.signbit(torch.tensor([-3, 0, 2])), np.array([True, False, False]))
    with np.errstate(all="ignore"):
        assert_close(torch.sinh(x), np.sinh(a))
        assert_close(torch.asinh(x), np.arcsinh(a))
        assert_close(torch.atanh(x), np.arctanh(a))
        assert_close(torch.acosh(x), np.arccosh(a))
        assert_close(torch.acosh(x.float()), np.arccosh(a.astype(np.float32)))
        assert_close(torch.asin(x), np.arcsin(a))
        assert_close(torch.erf(x), np.array([math.erf(t) if not math.isnan(t) else t for t in v]))
        assert_close(torch.erfinv(torch.tensor([-1.0, 1.0, 1.5, 0.0])), np.array([-np.inf, np.inf, np.nan, 0.0], np.float32))
        assert_close(torch.sinc(x), np.sinc(a))
        assert_close(torch.frac(x), np.where(np.isinf(a), np.nan, a - np.trunc(a)))
    assert_close(torch.lgamma(torch.tensor([1.0, 2.0, 0.5, -0.5, 0.0, -1.0])),
                 np.array([0.0, 0.0, math.lgamma(0.5), math.lgamma(-0.5), np.inf, np.inf], np.float32))
    d = torch.digamma(torch.tensor([1.0, 0.0, -1.0, -0.5], dtype=torch.float64))
    euler = 0.5772156649015329
    # psi(1) = -euler, psi(0) = -inf, poles at negative integers, psi(-1/2) = 2 - euler - 2 ln 2
    assert_close(d, np.array([-euler, -np.inf, np.nan, 2 - euler - 2 * math.log(2)]))


def test_nan_to_num_values():
    v = [math.nan, math.inf, -math.inf, 1.5, -2.0]
    for dt in FLOAT_DTYPES:
        x = torch.tensor(v, dtype=dt)
        a = np.array(v, dtype=x.numpy().dtype)
        assert_close(torch.nan_to_num(x), np.nan_to_num(a), dt)
        assert_close(x.nan_to_num(nan=1.0, posinf=2.0, neginf=-3.0), np.nan_to_num(a, nan=1.0, posinf=2.0, neginf=-3.0), dt)
    i = torch.tensor([1, 2])
    assert_close(torch.nan_to_num(i), np.array([1, 2]))


def test_nan_to_num_gradient_is_zero_where_replaced():
    x = torch.tensor([math.nan, 1.0, math.inf, 2.0], dtype=torch.float64, requires_grad=True)
    (x.nan_to_num() * torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)).sum().backward()
    assert_close(x.grad, np.array([0.0, 2.0, 0.0, 4.0]))


# ---------------------------------------------------------------------------------------------
# 0 ** x: torch keeps the -inf of the derivative for negative exponents (issue 11)

def _pow_grads(base, exp):
    a = torch.tensor(base, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(exp, dtype=torch.float64, requires_grad=True)
    (a ** b).sum().backward()
    return a.grad.numpy(), b.grad.numpy()


def test_pow_gradient_at_zero_base():
    base, exp = [0.0, 0.0, 0.0, 2.0], [-1.0, 2.0, 0.0, -1.0]
    ga, gb = _pow_grads(base, exp)
    a, b = np.array(base), np.array(exp)
    with np.errstate(all="ignore"):
        # d/da a^b = b a^(b-1) (0 where b = 0); d/db a^b = a^b ln a, 0 where a = 0 and b >= 0
        ref_a = np.where(b == 0, 0.0, b * a ** (b - 1))
        ref_b = np.where((a == 0) & (b >= 0), 0.0, a ** b * np.log(a))
    np.testing.assert_array_equal(ga, ref_a)
    np.testing.assert_array_equal(gb, ref_b)
    assert gb[0] == -np.inf
    # the scalar-base form 0 ** x
    x = torch.tensor([-1.0, 2.0], dtype=torch.float64, requires_grad=True)
    (0 ** x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-np.inf, 0.0])


def test_pow_gradient_matches_torch_when_available():
    real = pytest.importorskip("torch")
    base, exp = [0.0, 0.0, 0.0, 2.0, 0.0], [-1.0, 2.0, 0.0, -1.0, -2.5]
    ours = _pow_grads(base, exp)
    a = real.tensor(base, dtype=real.float64, requires_grad=True)
    b = real.tensor(exp, dtype=real.float64, requires_grad=True)
    (a ** b).sum().backward()
    np.testing.assert_array_equal(ours[0], a.grad.numpy())
    np.testing.assert_array_equal(ours[1], b.grad.numpy())


def test_logit_eps_clamps_first():
    x = torch.tensor([0.0, 0.3, 1.0], dtype=torch.float64, requires_grad=True)
    eps = 0.1
    r = torch.logit(x, eps)
    c = np.clip(np.array([0.0, 0.3, 1.0]), eps, 1 - eps)
    assert_close(r, np.log(c / (1 - c)))
    r.sum().backward()
    # the clamp passes no gradient outside [eps, 1 - eps]
    assert_close(x.grad, np.array([0.0, 1 / (0.3 * 0.7), 0.0]))
