"""Errors: bad input raises the built-in exception torch raises, names the op and shapes, never panics."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rustensor as torch
from conftest import assert_close, assert_mentions_shapes, random_array, shapes

A23 = lambda: torch.zeros(2, 3)  # noqa: E731


def run(expr):
    """Evaluate a parametrised expression (kept as text so that test ids read as code); x is 2x3."""
    return eval(expr, {"torch": torch, "np": np, "A23": A23, "x": torch.zeros(2, 3)})


# ---------------------------------------------------------------------------------------------
# shape mismatches: RuntimeError naming the op and both shapes

BINARY_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "floor_divide": lambda a, b: a // b,
    "remainder": lambda a, b: a % b,
    "pow": lambda a, b: a ** b,
    "eq": lambda a, b: a == b,
    "lt": lambda a, b: a < b,
    "maximum": torch.maximum,
    "minimum": torch.minimum,
    "logical_and": torch.logical_and,
    "bitwise_and": lambda a, b: (a > 0) & (b > 0),
    "where": lambda a, b: torch.where(a > 0, a, b),
    "add_": lambda a, b: a.add_(b),
    "copy_": lambda a, b: a.copy_(b),
}


@pytest.mark.parametrize("name", list(BINARY_OPS))
@pytest.mark.parametrize("s1, s2", [((2, 3), (2, 4)), ((3,), (4,)), ((2, 3, 4), (3, 3, 4)), ((5, 2), (3, 5, 3))],
                         ids=str)
def test_broadcast_mismatch_is_runtime_error(name, s1, s2):
    with pytest.raises(RuntimeError):
        BINARY_OPS[name](torch.ones(s1), torch.ones(s2))


@pytest.mark.parametrize("name, fn", [("add", torch.add), ("mul", torch.mul), ("sub", torch.sub),
                                      ("div", torch.div)])
def test_broadcast_error_message_names_op_and_shapes(name, fn):
    with pytest.raises(RuntimeError) as e:
        fn(torch.ones(2, 3), torch.ones(2, 4))
    assert_mentions_shapes(e, (2, 3), (2, 4))
    assert name in str(e.value).lower()


def test_operator_broadcast_error_names_shapes():
    with pytest.raises(RuntimeError) as e:
        torch.ones(5, 2) * torch.ones(3, 5, 3)
    assert_mentions_shapes(e, (5, 2), (3, 5, 3))


def test_matmul_error_names_op_and_shapes():
    with pytest.raises(RuntimeError) as e:
        torch.matmul(torch.ones(2, 3), torch.ones(4, 5))
    assert_mentions_shapes(e, (2, 3), (4, 5))
    assert "mm" in str(e.value).lower() or "matmul" in str(e.value).lower()


def test_expand_error_names_shapes():
    with pytest.raises(RuntimeError) as e:
        torch.ones(2, 3).expand(3, 4)
    assert_mentions_shapes(e, (3, 4), (2, 3))


@pytest.mark.parametrize(
    "name, fn",
    [
        ("cat", lambda: torch.cat([torch.ones(2, 3), torch.ones(2, 4)])),
        ("stack", lambda: torch.stack([torch.ones(2), torch.ones(3)])),
        ("view", lambda: torch.ones(2, 3).view(4)),
        ("reshape", lambda: torch.ones(2, 3).reshape(4, 2)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_shape_error_message_names_op(name, fn):
    with pytest.raises(RuntimeError) as e:
        fn()
    msg = str(e.value).lower()
    # reshape may report through view: it is a view whenever it can be.
    assert name in msg or (name == "reshape" and "view" in msg)


@given(pair=st.tuples(shapes(max_dims=3, max_side=3), shapes(max_dims=3, max_side=3)), seed=st.integers(0, 100))
def test_add_broadcasts_exactly_when_numpy_does(pair, seed):
    s1, s2 = pair
    rng = np.random.default_rng(seed)
    a, b = random_array(rng, s1, torch.float32), random_array(rng, s2, torch.float32)
    try:
        ref = a + b
    except ValueError:
        with pytest.raises(RuntimeError):
            torch.tensor(a) + torch.tensor(b)
        return
    assert_close(torch.tensor(a) + torch.tensor(b), ref)


@pytest.mark.parametrize(
    "expr",
    [
        'torch.ones(2, 3) @ torch.ones(4, 5)',
        'torch.mm(torch.ones(3), torch.ones(3, 2))',
        'torch.bmm(torch.ones(2, 2, 3), torch.ones(3, 3, 2))',
        'torch.mv(torch.ones(2, 3), torch.ones(4))',
        'torch.dot(torch.ones(3), torch.ones(4))',
        'torch.ones(2, 3).view(4)',
        'torch.ones(2, 3).t().view(6)',
        'torch.ones(2, 3).reshape(4)',
        'torch.ones(2, 3).view(-1, -1)',
        'torch.ones(2, 3).expand(3, 4)',
        'torch.ones(2, 3).expand(3)',
        'torch.ones(2, 3).permute(0, 0)',
        'torch.cat([torch.ones(2, 3), torch.ones(2, 4)])',
        'torch.cat([torch.tensor(1.0)])',
        'torch.stack([torch.ones(2), torch.ones(3)])',
        'torch.ones(2, 3).repeat(2)',
        'torch.ones(6).split([2, 3])',
        'torch.ones(2, 3).chunk(0)',
        'torch.ones(2, 3, 4).t()',
        'torch.ones(3).mT',
        'torch.triu(torch.ones(3))',
        'torch.ones(2, 3)[0].copy_(torch.ones(4))',
        'torch.zeros(2).add_(torch.zeros(2, 2))',
        'torch.ones(2, 3).masked_fill(torch.tensor([1, 0, 1]), 0.0)',
        'torch.where(torch.tensor([1, 0]), torch.ones(2), torch.ones(2))',
        'torch.ones(2, 3).gather(1, torch.tensor([[3]]))',
        'torch.ones(2, 3).flatten(1, 0)',
        'torch.ones(2, 3).diagonal(0, 0, 0)',
        'torch.einsum("ij,jk->ik", torch.ones(2, 3), torch.ones(4, 4))',
        'torch.einsum("ij,jk", torch.ones(2, 3))',
        'torch.ones(2, 3).fill_(torch.ones(2))',
    ],
)
def test_shape_and_argument_errors_are_runtime_errors(expr):
    with pytest.raises(RuntimeError):
        run(expr)


# ---------------------------------------------------------------------------------------------
# dims out of range: IndexError

@pytest.mark.parametrize(
    "expr",
    [
        'x.sum(2)',
        'x.sum(-3)',
        'x.sum((0, 5))',
        'x.mean(2)',
        'x.prod(2)',
        'x.max(2)',
        'x.min(-3)',
        'x.amax(2)',
        'x.argmax(2)',
        'x.argmin(-3)',
        'x.var(2)',
        'x.std(2)',
        'x.norm(dim=2)',
        'x.logsumexp(2)',
        'x.cumsum(2)',
        'x.softmax(2)',
        'x.log_softmax(-3)',
        'x.transpose(0, 2)',
        'x.unsqueeze(3)',
        'x.unsqueeze(-4)',
        'x.squeeze(2)',
        'x.flatten(0, 2)',
        'x.narrow(2, 0, 1)',
        'x.unbind(2)',
        'x.chunk(2, 2)',
        'x.split(1, 2)',
        'x.flip(2)',
        'x.size(2)',
        'x.stride(-3)',
        'x.gather(2, torch.zeros(1, 1, dtype=torch.int64))',
        'x.index_select(2, torch.tensor([0]))',
        'x.diagonal(0, 0, 2)',
        'x.permute(0, 2)',
        'torch.cat([x, x], 2)',
        'torch.stack([x, x], 3)',
        'x.select(2, 0)',
    ],
)
def test_dim_out_of_range_is_index_error(expr):
    with pytest.raises(IndexError):
        run(expr)


@pytest.mark.parametrize(
    "expr",
    [
        'x[2]',
        'x[-3]',
        'x[0, 3]',
        'x[0, 0, 0]',
        'x[torch.tensor([2])]',
        'x[[0, 5]]',
        'x[:, torch.tensor([-4])]',
        'x[torch.tensor([True, False, True])]',
        'x.index_select(0, torch.tensor([2]))',
        'x[1.5]',
        'x[torch.tensor([0.5])]',
        'x.index_select(0, torch.tensor([[0]]))',
        'x.narrow(1, 4, 0)',
    ],
)
def test_index_out_of_range_is_index_error(expr):
    with pytest.raises(IndexError):
        run(expr)


def test_setitem_out_of_range_is_index_error():
    x = torch.zeros(2, 3)
    with pytest.raises(IndexError):
        x[2] = 1.0
    with pytest.raises(IndexError):
        x[:, torch.tensor([3])] = 1.0


def test_string_index_is_an_error():
    # torch says TypeError (it tries to build a tensor from the str); IndexError matches x[1.5].
    with pytest.raises((TypeError, IndexError)):
        torch.zeros(2, 3)["a"]


def test_0d_indexing_is_index_error():
    with pytest.raises(IndexError):
        torch.tensor(1.0)[0]


# ---------------------------------------------------------------------------------------------
# bad argument types and values: TypeError / ValueError

@pytest.mark.parametrize(
    "expr",
    [
        'torch.zeros("a")',
        'torch.zeros(2.5)',
        'torch.ones(2, 3.0)',
        'torch.rand("a")',
        'torch.ones(2, dtype="float32")',
        'torch.tensor([1, 2], dtype="int")',
        'torch.full((2,), "a")',
        'torch.arange("a")',
        'A23().view("a")',
        'A23().reshape(2.5)',
        'A23().expand("a")',
        'A23().permute(0, 1.5)',
        'A23().transpose("a", 0)',
        'A23().unsqueeze(1.5)',
        'A23().sum(dim="a")',
        'A23().softmax("a")',
        'A23().size("a")',
        'A23().triu("a")',
        'A23() + "a"',
        'A23() + None',
        'A23() - "a"',
        'A23() * object()',
        'A23() @ "a"',
        'torch.matmul(A23(), 3)',
        'torch.exp(3.0)',
        'torch.exp([1.0])',
        'torch.cat(A23())',
        'torch.stack(A23())',
        'torch.from_numpy("a")',
        'torch.from_numpy([1.0])',
        'A23().add_("a")',
        'A23().masked_fill(A23() > 0, "a")',
        'A23().fill_("a")',
        'A23().clamp(min="a")',
        'torch.tensor([1.0]).item(1)',
        'len(torch.tensor(1.0))',
        'list(torch.tensor(1.0))',
    ],
)
def test_bad_argument_is_type_error(expr):
    with pytest.raises(TypeError):
        run(expr)


@pytest.mark.parametrize(
    "expr",
    [
        'torch.tensor([[1, 2], [3]])',
        'torch.tensor([[[1], [2]], [[3]]])',
        'torch.arange(5)[::-1]',
        'torch.arange(5)[::0]',
        'torch.from_numpy(np.arange(4.0)[::-2])',
    ],
)
def test_bad_value_is_value_error(expr):
    with pytest.raises(ValueError):
        run(expr)


@pytest.mark.parametrize(
    "expr",
    [
        'torch.zeros(-1)',
        'torch.empty(2, -3)',
        'torch.ones((-1,))',
        'torch.rand(-1)',
        'torch.randn(2, -1)',
        'torch.full((-2,), 1.0)',
        'torch.eye(-1)',
        'torch.linspace(0, 1, -1)',
        'torch.randint(5, 3, (2,))',
        'torch.randint(0, 5, (-1,))',
        'A23().view(-2, 3)',
        'A23().reshape(-2, -3)',
        'A23().expand(-2, 3)',
        'A23().repeat(-1, 1)',
        'A23().chunk(-1)',
        'A23().split(-1)',
        'A23().narrow(0, 0, -1)',
        'torch.arange(0, 10, 0)',
        'torch.arange(0, 10, -1)',
        'torch.arange(0, float("inf"))',
        'torch.arange(float("nan"))',
    ],
)
def test_negative_or_invalid_sizes_are_runtime_errors(expr):
    with pytest.raises(RuntimeError):
        run(expr)


@pytest.mark.parametrize(
    "expr",
    [
        'torch.zeros(10**20)',
        'torch.ones(2, 2**64)',
        'A23().sum(10**20)',
        'A23()[10**20]',
        'torch.tensor([2**64])',
        'torch.tensor([-(2**63) - 1])',
        'A23().view(10**30)',
        'torch.full((2,), 10**30, dtype=torch.int64)',
    ],
)
def test_integer_overflow_in_arguments_is_an_exception(expr):
    # torch raises ValueError, TypeError or RuntimeError here depending on the argument; PyO3 says
    # OverflowError. What matters: a Python exception, not a panic or a wrapped-around size.
    with pytest.raises((OverflowError, ValueError, TypeError, RuntimeError, IndexError)):
        run(expr)


# ---------------------------------------------------------------------------------------------
# dtype-related RuntimeErrors

@pytest.mark.parametrize(
    "expr",
    [
        'torch.tensor([True]) - torch.tensor([True])',
        'torch.tensor([True]) - 1',
        '1 - torch.tensor([True])',
        '-torch.tensor([True])',
        'torch.tensor([1, 2]).mean()',
        'torch.tensor([1, 2]).var()',
        'torch.tensor([1, 2]) // 0',
        'torch.tensor([1, 2]) % 0',
        'torch.tensor([1, 2]) ** -1',
        'torch.tensor([1, 2]).add_(1.5)',
        'torch.tensor([1, 2]).div_(2)',
        'torch.tensor([1, 2], requires_grad=True)',
        'torch.tensor([1.0], requires_grad=True).numpy()',
        'torch.zeros(2).item()',
        'bool(torch.zeros(2))',
        'torch.zeros(2, 3) @ torch.zeros(3, 2, dtype=torch.float64)',
        'torch.zeros(2, 3).masked_fill(torch.zeros(2, 3, dtype=torch.int64), 1.0)',
        'torch.zeros(3, 1).expand(3, 2).add_(1)',
        'torch.tensor([1.0]) & torch.tensor([1.0])',
        'torch.zeros(0).max()',
    ],
)
def test_dtype_and_value_runtime_errors(expr):
    with pytest.raises(RuntimeError):
        run(expr)


# ---------------------------------------------------------------------------------------------
# never a panic: every failure is an Exception (PyO3's PanicException is a BaseException only)

GARBAGE = [None, "x", 1.5, -1, 3, -(10**30), [], [1, "a"], (), object(), float("nan"), True]

UNARY_CALLS = {
    "view": lambda x, g: x.view(g), "reshape": lambda x, g: x.reshape(g), "expand": lambda x, g: x.expand(g),
    "permute": lambda x, g: x.permute(g), "transpose": lambda x, g: x.transpose(g, 0),
    "sum": lambda x, g: x.sum(g), "max": lambda x, g: x.max(g), "softmax": lambda x, g: x.softmax(g),
    "getitem": lambda x, g: x[g], "setitem": lambda x, g: x.__setitem__(g, 1.0),
    "setitem_value": lambda x, g: x.__setitem__(0, g), "add": lambda x, g: x + g, "radd": lambda x, g: g + x,
    "pow": lambda x, g: x ** g, "floordiv": lambda x, g: x // g, "matmul": lambda x, g: x @ g,
    "fill_": lambda x, g: x.fill_(g), "clamp": lambda x, g: x.clamp(g), "narrow": lambda x, g: x.narrow(0, g, 1),
    "unsqueeze": lambda x, g: x.unsqueeze(g), "squeeze": lambda x, g: x.squeeze(g),
    "split": lambda x, g: x.split(g), "chunk": lambda x, g: x.chunk(g), "repeat": lambda x, g: x.repeat(g),
    "flip": lambda x, g: x.flip(g), "tensor": lambda x, g: torch.tensor(g), "zeros": lambda x, g: torch.zeros(g),
    "arange": lambda x, g: torch.arange(g), "full": lambda x, g: torch.full((2,), g),
    "eq": lambda x, g: x == g, "lt": lambda x, g: x < g, "where": lambda x, g: torch.where(x > 0, x, g),
    "cat": lambda x, g: torch.cat([x, g]), "index_select": lambda x, g: x.index_select(0, g),
    "to": lambda x, g: x.to(g),
}


@pytest.mark.parametrize("name", list(UNARY_CALLS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.bool], ids=str)
def test_garbage_arguments_never_panic(name, dtype):
    x = torch.ones(2, 3, dtype=dtype)
    for g in GARBAGE:
        try:
            UNARY_CALLS[name](x, g)
        except Exception:
            pass
        except BaseException as e:  # a Rust panic surfaces as pyo3_runtime.PanicException
            pytest.fail(f"{name}({g!r}) raised {type(e).__module__}.{type(e).__name__}: {e}")


IMPOSSIBLE_ALLOCATIONS = [
    "torch.empty(2**40)",
    "torch.zeros(2**40, dtype=torch.float64)",
    "torch.ones(2**62, 2**62)",
    "torch.ones(2**31, 2**31, 4)",
    "torch.full((2**41,), 1.0)",
    "torch.arange(2**50)",
    "torch.linspace(0, 1, 2**40)",
    "torch.rand(2**40)",
    "torch.randn(2**40)",
    "torch.randint(0, 5, (2**40,))",
    "torch.eye(2**31)",
    "torch.zeros(3).expand(2**40, 3).contiguous()",
    "torch.zeros(3).repeat(2**40)",
    "torch.zeros(1, 1).expand(2**31, 2**20) + 1",
    "torch.zeros(2**20, 1) @ torch.zeros(1, 2**20)",
]


def test_impossible_allocations_raise_instead_of_aborting():
    # Each case runs in its own child process (all at once): an allocation failure that aborts
    # would otherwise kill the whole test run.
    script = textwrap.dedent(
        """
        import sys
        import rustensor as torch
        try:
            eval(sys.argv[1])
            print("no-error")
        except (RuntimeError, MemoryError, ValueError, OverflowError) as e:
            print("ok", type(e).__name__)
        """
    )
    procs = {expr: subprocess.Popen([sys.executable, "-c", script, expr], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for expr in IMPOSSIBLE_ALLOCATIONS}
    problems = []
    for expr, p in procs.items():
        out, err = p.communicate(timeout=120)
        if p.returncode != 0:
            problems.append(f"{expr}: child died (rc={p.returncode}): {err.strip().splitlines()[:1]}")
        elif not out.startswith("ok"):
            problems.append(f"{expr}: {out.strip()}")
    assert not problems, "\n".join(problems)


def test_a_rust_panic_reaches_python_as_runtime_error():
    # Every Python-facing Rust function runs under one guard; a panic (a bug) must not
    # surface as pyo3's PanicException, which `except Exception` does not catch.
    from rustensor import _rustensor

    with pytest.raises(RuntimeError, match="internal error in _panic_for_test.*deliberate panic"):
        _rustensor._panic_for_test()
    assert (torch.ones(3) + 1).tolist() == [2.0, 2.0, 2.0]
