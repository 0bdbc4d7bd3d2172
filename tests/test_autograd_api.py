"""The autograd API as torch has it: the lesson's passages, requires_grad/is_leaf/grad_fn,
hooks, backward/grad options and their errors, grad mode, detach/.data, in-place safety,
and a training loop whose resident memory stays flat.

Every expected message and value here was checked against torch 2.15.
"""

import gc
import os
import re
import threading
import warnings

import numpy as np
import pytest

import rustensor as torch

autograd = torch.autograd
F64 = torch.float64

LEAF_INPLACE_MSG = "a leaf Variable that requires grad is being used in an in-place operation."
SAVED_MODIFIED_MSG = "one of the variables needed for gradient computation has been modified by an inplace operation"


@pytest.fixture(autouse=True)
def _grad_mode_restored():
    # a test that breaks grad mode must not break the tests after it
    yield
    enabled = torch.is_grad_enabled()
    torch.set_grad_enabled(True)
    assert enabled, "test left grad mode disabled"


# ---------------------------------------------------------------------------------------------
# the lesson's passages

def test_lesson_polynomial_prints_grad(capsys):
    x = torch.tensor([2.0], requires_grad=True)
    y = x ** 2 + 3 * x + 1  # y = x² + 3x + 1
    y.backward()
    print(x.grad)  # dy/dx = 2x + 3 = 7
    assert capsys.readouterr().out == "tensor([7.])\n"
    assert repr(y) == "tensor([11.], grad_fn=<AddBackward0>)"


def test_lesson_cubic_autograd_matches_manual_derivative(capsys):
    x = torch.tensor([2.0], requires_grad=True)
    y = x ** 3 + 2 * x ** 2 - 5 * x + 3
    y.backward()
    print(f"f({x.item()}) = {y.item()}")
    print(f"f'({x.item()}) = {x.grad.item()}")
    assert capsys.readouterr().out == "f(2.0) = 9.0\nf'(2.0) = 15.0\n"
    assert x.grad.item() == 15.0
    assert isinstance(x.grad.item(), float)

    def df(v):
        return 3 * v ** 2 + 4 * v - 5

    assert x.grad.item() == df(2.0)


def test_lesson_gradients_accumulate_until_zeroed(capsys):
    x = torch.tensor([2.0], requires_grad=True)
    (x ** 2 + 3 * x + 1).backward()
    g = x.grad
    (x ** 2 + 3 * x + 1).backward()
    print(x.grad)
    # accumulation happens in place: the tensor read before sees it too
    assert g.item() == 14.0
    assert x.grad.data_ptr() == g.data_ptr()
    x.grad.zero_()  # 학습 루프에서 항상 초기화 필요
    print(x.grad)
    (x ** 2 + 3 * x + 1).backward()
    print(x.grad)
    assert capsys.readouterr().out == "tensor([14.])\ntensor([0.])\ntensor([7.])\n"


def test_lesson_inplace_note():
    x = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=re.escape(LEAF_INPLACE_MSG)):
        x += 1  # 오류 발생 가능
    assert x.item() == 1.0 and x.is_leaf
    x = x + 1  # 새 텐서 생성 (안전)
    assert x.item() == 2.0
    assert not x.is_leaf and x.grad_fn.name() == "AddBackward0"


def test_lesson_no_grad_and_detach():
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x = torch.tensor([1.0, 1.0])

    def model(v):
        return w @ v

    with torch.no_grad():
        y = model(x)  # 기울기 계산 안 함
    assert not y.requires_grad and y.grad_fn is None
    np.testing.assert_array_equal(y.numpy(), [3.0, 7.0])
    z = w.detach()
    assert not z.requires_grad
    w.requires_grad = False
    assert not w.requires_grad and not model(x).requires_grad


# ---------------------------------------------------------------------------------------------
# requires_grad, is_leaf

CREATORS = {
    "tensor": lambda: torch.tensor([1.0, 2.0], requires_grad=True),
    "tensor_0d": lambda: torch.tensor(1.5, requires_grad=True),
    "tensor_f64": lambda: torch.tensor([1.0], dtype=F64, requires_grad=True),
    "zeros": lambda: torch.zeros(2, 3, requires_grad=True),
    "ones": lambda: torch.ones(2, requires_grad=True),
    "full": lambda: torch.full((2,), 1.5, requires_grad=True),
    "empty": lambda: torch.empty(2, requires_grad=True),
    "rand": lambda: torch.rand(2, requires_grad=True),
    "randn": lambda: torch.randn(2, 2, requires_grad=True),
    "arange_float": lambda: torch.arange(0.0, 3.0, requires_grad=True),
    "linspace": lambda: torch.linspace(0, 1, 3, requires_grad=True),
    "eye": lambda: torch.eye(2, requires_grad=True),
    "zeros_like": lambda: torch.zeros_like(torch.ones(2), requires_grad=True),
    "ones_like": lambda: torch.ones_like(torch.ones(2), requires_grad=True),
}


@pytest.mark.parametrize("name", list(CREATORS))
def test_requires_grad_on_creation(name):
    t = CREATORS[name]()
    assert t.requires_grad and t.is_leaf and t.grad_fn is None and t.grad is None
    (t * 2).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.full(tuple(t.shape), 2.0))


def test_requires_grad_default_property_and_setter():
    t = torch.tensor([1.0, 2.0])
    assert t.requires_grad is False and t.is_leaf
    assert not (t * 2).requires_grad
    t.requires_grad = True
    assert t.requires_grad is True and t.is_leaf
    y = t * 2
    assert y.requires_grad and not y.is_leaf
    y.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [2.0, 2.0])
    t.requires_grad = False
    assert t.requires_grad is False
    assert not (t * 2).requires_grad


def test_requires_grad_setter_on_non_leaf_raises():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        y.requires_grad = False
    assert y.requires_grad
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        y.requires_grad_(False)


def test_requires_grad_true_on_non_leaf_raises():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        y.requires_grad = True


INT_MAKERS = {
    "tensor_int": lambda: torch.tensor([1, 2], requires_grad=True),
    "zeros_int64": lambda: torch.zeros(2, dtype=torch.int64, requires_grad=True),
    "arange_int": lambda: torch.arange(3, requires_grad=True),
    "ones_int32": lambda: torch.ones(2, dtype=torch.int32, requires_grad=True),
    "requires_grad_": lambda: torch.tensor([1, 2]).requires_grad_(),
    "setter_int": lambda: setattr(torch.tensor([1, 2]), "requires_grad", True),
    "setter_bool": lambda: setattr(torch.tensor([True]), "requires_grad", True),
}


@pytest.mark.parametrize("name", list(INT_MAKERS))
def test_integer_tensors_cannot_require_grad(name):
    # torch: "Only Tensors of floating point and complex dtype can require gradients"
    with pytest.raises(RuntimeError, match=r"(?i)only Tensors of floating point.* can require gradients"):
        INT_MAKERS[name]()


def test_integer_tensor_requires_grad_false_is_fine():
    t = torch.tensor([1, 2])
    assert t.requires_grad_(False) is t
    t.requires_grad = False
    assert not t.requires_grad


def test_requires_grad_method_returns_self():
    t = torch.tensor([1.0, 2.0])
    assert t.requires_grad_() is t and t.requires_grad
    assert t.requires_grad_(False) is t and not t.requires_grad
    u = torch.ones(2).requires_grad_(True)
    assert u.requires_grad and u.is_leaf


def test_is_leaf():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    c = torch.tensor([1.0, 2.0])
    assert x.is_leaf and c.is_leaf
    assert not (x * 2).is_leaf
    assert not x[0].is_leaf and not x[::2].is_leaf and not x.view(2, 1).is_leaf  # views of a leaf requiring grad
    assert (c * 2).is_leaf  # nothing requires grad: a result is a leaf
    assert x.detach().is_leaf
    with torch.no_grad():
        y = x * 2
    assert y.is_leaf and not y.requires_grad
    # ints computed from a tensor requiring grad don't join the graph
    k = x.argmax()
    assert not k.requires_grad and k.is_leaf
    b = x > 1
    assert not b.requires_grad


def test_ops_mixing_grad_and_no_grad_inputs():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    c = torch.tensor([3.0, 4.0])
    y = c * x + c
    assert y.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    assert c.grad is None


# ---------------------------------------------------------------------------------------------
# grad_fn and its printing

# (expression, torch's node name) pairs where rustensor uses the same name as torch 2.15
GRAD_FN_NAMES = [
    (lambda x, v: x + 1, "AddBackward0"),
    (lambda x, v: x + x, "AddBackward0"),
    (lambda x, v: x - 1, "SubBackward0"),
    (lambda x, v: x * 2, "MulBackward0"),
    (lambda x, v: x * x, "MulBackward0"),
    (lambda x, v: x / 2, "DivBackward0"),
    (lambda x, v: x / x, "DivBackward0"),
    (lambda x, v: x ** 2, "PowBackward0"),
    (lambda x, v: x.square(), "PowBackward0"),
    (lambda x, v: x ** x, "PowBackward1"),
    (lambda x, v: -x, "NegBackward0"),
    (lambda x, v: x.abs(), "AbsBackward0"),
    (lambda x, v: x.exp(), "ExpBackward0"),
    (lambda x, v: x.log(), "LogBackward0"),
    (lambda x, v: x.log1p(), "Log1PBackward0"),
    (lambda x, v: x.expm1(), "Expm1Backward0"),
    (lambda x, v: x.sqrt(), "SqrtBackward0"),
    (lambda x, v: x.rsqrt(), "RsqrtBackward0"),
    (lambda x, v: x.reciprocal(), "ReciprocalBackward0"),
    (lambda x, v: x.sin(), "SinBackward0"),
    (lambda x, v: x.cos(), "CosBackward0"),
    (lambda x, v: x.tan(), "TanBackward0"),
    (lambda x, v: x.tanh(), "TanhBackward0"),
    (lambda x, v: x.sigmoid(), "SigmoidBackward0"),
    (lambda x, v: x.relu(), "ReluBackward0"),
    (lambda x, v: x.clamp(0, 1), "ClampBackward1"),
    (lambda x, v: x.clamp(min=0), "ClampBackward1"),
    (lambda x, v: torch.maximum(x, x * 2), "MaximumBackward0"),
    (lambda x, v: torch.where(x > 1, x, 0.0), "WhereBackward0"),
    (lambda x, v: x.sum(0), "SumBackward1"),
    (lambda x, v: x.prod(1), "ProdBackward1"),
    (lambda x, v: x.amax(), "AmaxBackward0"),
    (lambda x, v: x.amin(0), "AminBackward0"),
    (lambda x, v: x.max(0).values, "MaxBackward0"),
    (lambda x, v: x.softmax(1), "SoftmaxBackward0"),
    (lambda x, v: x.log_softmax(1), "LogSoftmaxBackward0"),
    (lambda x, v: x.cumsum(0), "CumsumBackward0"),
    (lambda x, v: x @ x, "MmBackward0"),
    (lambda x, v: torch.outer(v, v), "MulBackward0"),
    (lambda x, v: x.view(4), "ViewBackward0"),
    (lambda x, v: x.reshape(4), "ViewBackward0"),
    (lambda x, v: x.flatten(), "ViewBackward0"),
    (lambda x, v: x.T, "PermuteBackward0"),
    (lambda x, v: x.permute(1, 0), "PermuteBackward0"),
    (lambda x, v: x.expand(3, 2, 2), "ExpandBackward0"),
    (lambda x, v: x.narrow(0, 0, 1), "SliceBackward0"),
    (lambda x, v: x[1:], "SliceBackward0"),
    (lambda x, v: x[0], "SelectBackward0"),
    (lambda x, v: x.diagonal(), "DiagonalBackward0"),
    (lambda x, v: x[[0, 0]], "IndexBackward0"),
    (lambda x, v: x[x > 1], "IndexBackward0"),
    (lambda x, v: x.gather(1, torch.tensor([[0], [1]])), "GatherBackward0"),
    (lambda x, v: x.scatter_add(1, torch.tensor([[0], [1]]), x), "ScatterAddBackward0"),
    (lambda x, v: torch.cat([x, x]), "CatBackward0"),
    (lambda x, v: x.to(torch.float64), "ToCopyBackward0"),
    (lambda x, v: x.double(), "ToCopyBackward0"),
    (lambda x, v: x.clone(), "CloneBackward0"),
    (lambda x, v: x.t().contiguous(), "CloneBackward0"),
    (lambda x, v: (x * 1).add_(1), "AddBackward0"),
    (lambda x, v: (x * 1).mul_(2), "MulBackward0"),
    (lambda x, v: (x * 1).exp_(), "ExpBackward0"),
]


@pytest.mark.parametrize("i", range(len(GRAD_FN_NAMES)), ids=[n for _, n in GRAD_FN_NAMES])
def test_grad_fn_names(i):
    f, name = GRAD_FN_NAMES[i]
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    v = torch.tensor([1.0, 2.0], requires_grad=True)
    y = f(x, v)
    assert y.grad_fn is not None
    assert y.grad_fn.name() == name
    assert re.fullmatch(rf"<{name} object at 0x[0-9a-f]+>", repr(y.grad_fn)), repr(y.grad_fn)
    assert repr(y).endswith(f"grad_fn=<{name}>)")
    assert "requires_grad=True" not in repr(y)


def test_grad_fn_repr_in_tensor_repr():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert x.grad_fn is None
    y = x * 3
    assert repr(y) == "tensor([3., 6.], grad_fn=<MulBackward0>)"
    assert re.fullmatch(r"<MulBackward0 object at 0x[0-9a-f]+>", repr(y.grad_fn))
    z = torch.tensor([1.0, 2.0], dtype=F64, requires_grad=True) * 2
    assert re.fullmatch(r"tensor\(\[2\., 4\.\], dtype=(torch|rustensor)\.float64, grad_fn=<MulBackward0>\)", repr(z)), repr(z)
    with torch.no_grad():
        assert repr(x * 3) == "tensor([3., 6.])"
    assert repr(y.detach()) == "tensor([3., 6.])"


# ---------------------------------------------------------------------------------------------
# retain_grad and hooks

def test_non_leaf_grad_is_none_without_retain_grad():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    (y * y).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about reading .grad of a non-leaf
        assert y.grad is None
    assert not y.retains_grad


def test_retain_grad():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    assert y.retains_grad
    s = (y * y).sum()
    s.backward(retain_graph=True)
    np.testing.assert_array_equal(y.grad.numpy(), [4.0, 8.0])
    np.testing.assert_array_equal(x.grad.numpy(), [8.0, 16.0])
    s.backward()
    np.testing.assert_array_equal(y.grad.numpy(), [8.0, 16.0])  # accumulates like a leaf's
    np.testing.assert_array_equal(x.grad.numpy(), [16.0, 32.0])


def test_retain_grad_on_leaf_is_a_no_op():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    x.retain_grad()
    assert not x.retains_grad
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_retain_grad_requires_grad():
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad=False"):
        torch.tensor([1.0]).retain_grad()


def test_hook_on_leaf_modifies_gradient():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    seen = []

    def hook(g):
        seen.append(g.clone())
        return g * 2

    x.register_hook(hook)
    (x * 3).sum().backward()
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0].numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])


def test_hook_on_intermediate_changes_upstream_and_retained_grad():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.register_hook(lambda g: g * 10)
    y.retain_grad()
    (y * y).sum().backward()
    # dL/dy = 2y = [6, 12], times 10 by the hook, times 3 on the way to x
    np.testing.assert_array_equal(y.grad.numpy(), [60.0, 120.0])
    np.testing.assert_array_equal(x.grad.numpy(), [180.0, 360.0])


def test_hook_returning_none_keeps_gradient():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    x.register_hook(lambda g: calls.append(1))
    (x * 3).sum().backward()
    assert calls == [1]
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_several_hooks_run_in_order():
    x = torch.tensor([1.0], requires_grad=True)
    x.register_hook(lambda g: g + 1)
    x.register_hook(lambda g: g * 10)
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [30.0])


def test_hook_requires_grad():
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        torch.tensor([1.0]).register_hook(lambda g: g)


def test_hook_handle_remove():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = x.register_hook(lambda g: g * 100)
    h.remove()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_leaf_hook_applies_in_autograd_grad():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 2)
    (g,) = autograd.grad((x * 3).sum(), x)
    np.testing.assert_array_equal(g.numpy(), [6.0, 6.0])


# ---------------------------------------------------------------------------------------------
# backward(): gradient, retain_graph, errors

def test_backward_with_gradient_for_non_scalar():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(torch.tensor([1.0, 0.5, 0.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 0.0])
    x.grad = None
    (x * x).backward(gradient=torch.ones(3))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])
    x.grad = None
    y = torch.stack([x, x * 2])  # 2-D output
    y.backward(torch.tensor([[1.0, 1.0, 1.0], [0.0, 1.0, 0.0]]))
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 3.0, 1.0])


def test_backward_scalar_gradient_and_0d():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward(torch.tensor(2.0))
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0, 12.0])
    a = torch.tensor(3.0, requires_grad=True)
    (a * a).backward()
    assert a.grad.shape == () and a.grad.item() == 6.0
    b = torch.tensor([3.0], requires_grad=True)
    (b * b).backward()  # one element, not 0-d: allowed as in torch
    assert b.grad.item() == 6.0


def test_backward_gradient_is_not_aliased_into_grad():
    # x.grad must not become the caller's gradient tensor: later accumulation would write into it
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    g = torch.ones(2)
    (x + 0).backward(g)
    (x + 0).backward(g)
    np.testing.assert_array_equal(g.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    x.grad.mul_(5)
    np.testing.assert_array_equal(g.numpy(), [1.0, 1.0])


def test_non_scalar_backward_without_gradient_raises():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        autograd.grad(x * 2, x)
    assert x.grad is None


def test_backward_gradient_shape_mismatch_raises():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(torch.ones(3))


def test_second_backward_through_freed_graph_raises():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])  # the first backward counted once
    z = (x.exp() * x).sum()
    autograd.grad(z, x)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        autograd.grad(z, x)


def test_retain_graph_allows_second_backward():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 8.0 + 4.0])
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_shared_subgraph_backward_twice_needs_retain_graph():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    a = (h * 2).sum()
    b = (h * 3).sum()
    a.backward()
    # b's own node is fresh, but the shared ExpBackward was freed by a.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        b.backward()


def test_backward_on_tensor_not_requiring_grad_raises():
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad and does not have a grad_fn"):
        torch.tensor([1.0, 2.0]).sum().backward()
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        torch.tensor(1.0).backward()
    x = torch.tensor([1.0], requires_grad=True)
    with torch.no_grad():
        y = x * 2
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        y.backward()


def test_autograd_backward_function():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    autograd.backward((x * x).sum())
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    autograd.backward([x * 1, (x ** 3).sum()], [torch.ones(2), None])
    np.testing.assert_array_equal(x.grad.numpy(), [2.0 + 1 + 3, 4.0 + 1 + 12])


def test_grad_setter():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    x.grad = torch.tensor([5.0, 5.0])
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [7.0, 7.0])
    x.grad = None
    assert x.grad is None
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    with pytest.raises(RuntimeError):
        x.grad = torch.zeros(3)


# ---------------------------------------------------------------------------------------------
# autograd.grad

def test_autograd_grad_basic_does_not_touch_dot_grad():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    r = autograd.grad((x ** 3).sum(), x)
    assert isinstance(r, tuple) and len(r) == 1
    np.testing.assert_array_equal(r[0].numpy(), [3.0, 12.0])
    assert not r[0].requires_grad
    assert x.grad is None


def test_autograd_grad_several_inputs_and_outputs():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0], requires_grad=True)
    ga, gb = autograd.grad([(a * b).sum(), (a ** 2).sum()], [a, b])
    np.testing.assert_array_equal(ga.numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(gb.numpy(), [3.0])


def test_autograd_grad_outputs():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    (g,) = autograd.grad(a * a, a, grad_outputs=torch.tensor([1.0, 3.0]))
    np.testing.assert_array_equal(g.numpy(), [2.0, 12.0])
    (g,) = autograd.grad([a * a], [a], grad_outputs=[torch.tensor([1.0, 0.0])])
    np.testing.assert_array_equal(g.numpy(), [2.0, 0.0])


def test_autograd_grad_wrt_non_leaf():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    y = a * 2
    (g,) = autograd.grad((y ** 2).sum(), y)
    np.testing.assert_array_equal(g.numpy(), [4.0, 8.0])


def test_autograd_grad_allow_unused():
    a = torch.tensor([1.0], requires_grad=True)
    b = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        autograd.grad((a * 2).sum(), [a, b])
    ga, gb = autograd.grad((a * 2).sum(), [a, b], allow_unused=True)
    np.testing.assert_array_equal(ga.numpy(), [2.0])
    assert gb is None
    ga, gb = autograd.grad((a * 2).sum(), [a, b], materialize_grads=True)
    np.testing.assert_array_equal(gb.numpy(), [0.0])


def test_autograd_grad_wrt_tensor_not_requiring_grad():
    a = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="One of the differentiated Tensors does not require grad"):
        autograd.grad((a * 2).sum(), [torch.tensor([1.0])])


def test_autograd_grad_create_graph():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (g,) = autograd.grad((x ** 3).sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    np.testing.assert_array_equal(g.detach().numpy(), [3.0, 12.0])
    (h,) = autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(h.numpy(), [6.0, 12.0])
    assert x.grad is None
    # create_graph keeps the graph (retain_graph defaults to create_graph)
    y = (x ** 3).sum()
    autograd.grad(y, x, create_graph=True)
    (g2,) = autograd.grad(y, x)
    np.testing.assert_array_equal(g2.numpy(), [3.0, 12.0])


def test_hessian_vector_product():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 3))
    A = A + A.T
    v = rng.standard_normal(3)
    x = torch.tensor(rng.standard_normal(3), dtype=F64, requires_grad=True)
    At = torch.tensor(A)
    f = 0.5 * (x @ At @ x) + x.sin().sum()
    (g,) = autograd.grad(f, x, create_graph=True)
    (hv,) = autograd.grad(g, x, grad_outputs=torch.tensor(v))
    xv = x.detach().numpy()
    np.testing.assert_allclose(hv.numpy(), A @ v - np.sin(xv) * v, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# grad mode

def test_no_grad_context():
    x = torch.tensor([1.0], requires_grad=True)
    assert torch.is_grad_enabled()
    with torch.no_grad():
        assert not torch.is_grad_enabled()
        y = x * 2
        with torch.enable_grad():
            assert torch.is_grad_enabled()
            z = x * 2
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_restores_mode_on_exception():
    with pytest.raises(ValueError), torch.no_grad():
        raise ValueError
    assert torch.is_grad_enabled()
    with torch.no_grad():
        with pytest.raises(ValueError), torch.enable_grad():
            raise ValueError
        assert not torch.is_grad_enabled()


def test_grad_mode_decorators():
    x = torch.tensor([1.0], requires_grad=True)

    @torch.no_grad()
    def f(t):
        """doc"""
        return t * 2, torch.is_grad_enabled()

    y, mode = f(x)
    assert not y.requires_grad and mode is False
    assert torch.is_grad_enabled()
    assert f.__name__ == "f" and f.__doc__ == "doc"

    @torch.enable_grad()
    def g(t):
        return t * 2

    with torch.no_grad():
        assert g(x).requires_grad
        assert not torch.is_grad_enabled()


def test_grad_mode_bare_decorators():
    x = torch.tensor([1.0], requires_grad=True)

    @torch.no_grad
    def f(t):
        return t * 2

    assert not f(x).requires_grad

    @torch.enable_grad
    def g(t):
        return t * 2

    with torch.no_grad():
        assert g(x).requires_grad


def test_set_grad_enabled_function_and_context():
    x = torch.tensor([1.0], requires_grad=True)
    torch.set_grad_enabled(False)
    try:
        assert not torch.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        torch.set_grad_enabled(True)
    assert torch.is_grad_enabled()
    with torch.set_grad_enabled(False):
        assert not torch.is_grad_enabled()
        assert not (x * 2).requires_grad
        with torch.set_grad_enabled(True):
            assert (x * 2).requires_grad
    assert torch.is_grad_enabled()
    assert torch.autograd.set_grad_enabled is torch.set_grad_enabled
    assert torch.autograd.no_grad is torch.no_grad


def test_set_grad_enabled_decorator():
    x = torch.tensor([1.0], requires_grad=True)
    try:
        @torch.set_grad_enabled(False)
        def f(t):
            return t * 2

        assert torch.is_grad_enabled()
        assert not f(x).requires_grad
        assert torch.is_grad_enabled()
    finally:
        torch.set_grad_enabled(True)


def test_inference_mode():
    x = torch.tensor([1.0], requires_grad=True)
    with torch.inference_mode():
        y = x * 2
        assert not torch.is_grad_enabled()
    assert not y.requires_grad
    assert torch.is_grad_enabled()


def test_no_grad_is_per_thread():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    res = {}
    entered, release = threading.Event(), threading.Event()

    def worker():
        with torch.no_grad():
            entered.set()
            release.wait(10)
            res["worker"] = (torch.is_grad_enabled(), (x * 2).requires_grad)
        res["worker_after"] = torch.is_grad_enabled()

    t = threading.Thread(target=worker)
    t.start()
    assert entered.wait(10)
    # the worker sits inside no_grad: this thread is unaffected
    res["main"] = (torch.is_grad_enabled(), (x * 2).requires_grad)
    release.set()
    t.join(10)
    assert res["main"] == (True, True)
    assert res["worker"] == (False, False)
    assert res["worker_after"] is True

    # and a thread started from inside no_grad begins with grad enabled, as in torch
    def fresh():
        res["fresh"] = (torch.is_grad_enabled(), (x * 2).requires_grad)

    with torch.no_grad():
        t2 = threading.Thread(target=fresh)
        t2.start()
        t2.join(10)
        assert not torch.is_grad_enabled()
    assert res["fresh"] == (True, True)


def test_backward_in_threads_matches_serial():
    # each thread trains its own copy; the engine runs with the GIL released, so they overlap
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 8))
    Y = rng.standard_normal((16, 2))
    W0 = rng.standard_normal((8, 2)) * 0.1

    def train():
        W = torch.tensor(W0.copy(), requires_grad=True)
        Xt, Yt = torch.tensor(X), torch.tensor(Y)
        for _ in range(100):
            loss = ((Xt @ W - Yt) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                W -= 0.1 * W.grad
            W.grad.zero_()
        return W.detach().numpy().copy()

    serial = train()
    out = [None] * 4

    def run(i):
        out[i] = train()

    ts = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    for o in out:
        # same computation; allclose rather than equal in case a kernel's reduction order
        # depends on how the thread pool splits work
        np.testing.assert_allclose(o, serial, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# detach, detach_, .data

def test_detach_shares_storage_and_does_not_require_grad():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert d.data_ptr() == x.data_ptr()
    d[0] = 10.0
    assert x[0].item() == 10.0
    y = x * 2
    yd = y.detach()
    assert yd.data_ptr() == y.data_ptr() and not yd.requires_grad
    # a detached view keeps the view's layout
    t = x[::2]
    td = t.detach()
    assert td.data_ptr() == t.data_ptr() and td.stride() == t.stride()


def test_detach_shares_version_counter():
    # torch: modifying a detached alias of a saved tensor makes backward fail
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    e = x.exp()
    e.detach().add_(1)
    assert e._version == 1
    with pytest.raises(RuntimeError, match=SAVED_MODIFIED_MSG):
        e.sum().backward()


def test_detach_inplace():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    r = y.detach_()
    assert r is y
    assert not y.requires_grad and y.is_leaf and y.grad_fn is None
    np.testing.assert_array_equal(y.numpy(), [2.0, 4.0])
    x.detach_()
    assert not x.requires_grad and x.is_leaf


def test_detach_inplace_on_view_raises():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2)[0:1]
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        y.detach_()
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        x[1:].detach_()
    assert y.requires_grad and y.grad_fn is not None  # left as it was
    v = torch.ones(3)[1:]  # a view of a tensor that needs no grad may be detached in place
    assert v.detach_() is v


def test_data_shares_storage():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    d = x.data
    assert not d.requires_grad and d.data_ptr() == x.data_ptr()
    x.data.mul_(3)  # no leaf in-place error through .data
    np.testing.assert_array_equal(x.detach().numpy(), [3.0, 6.0])
    assert x.requires_grad and x.is_leaf


def test_data_modification_is_not_tracked():
    # .data has its own version counter (torch): the write is not seen, backward uses the new values
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    s = (w * w).sum()
    w.data.add_(1)
    s.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [4.0, 6.0])


def test_detach_shares_the_version_counter():
    # detach() is the checked form: a write through it is seen by the graph
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    s = (w * w).sum()
    w.detach().add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.backward()
    w2 = torch.tensor([1.0, 2.0], requires_grad=True)
    d = w2.data
    d.mul_(2)
    assert w2._version == 0 and d._version == 1


@pytest.mark.xfail(reason="Tensor.data cannot be assigned (AttributeError); torch allows x.data = t", strict=True)
def test_data_setter():
    q = torch.tensor([1.0, 2.0], requires_grad=True)
    q.data = torch.tensor([5.0, 6.0])
    np.testing.assert_array_equal(q.detach().numpy(), [5.0, 6.0])
    assert q.requires_grad and q.is_leaf


# ---------------------------------------------------------------------------------------------
# in-place safety

def _iadd(x):
    x += 1


def _isub(x):
    x -= 1


def _imul(x):
    x *= 2


def _idiv(x):
    x /= 2


LEAF_INPLACE = {
    "add_": lambda x: x.add_(1),
    "sub_": lambda x: x.sub_(1),
    "mul_": lambda x: x.mul_(2),
    "div_": lambda x: x.div_(2),
    "+=": _iadd,
    "-=": _isub,
    "*=": _imul,
    "/=": _idiv,
    "zero_": lambda x: x.zero_(),
    "fill_": lambda x: x.fill_(1.0),
    "copy_": lambda x: x.copy_(torch.tensor([3.0, 4.0])),
    "exp_": lambda x: x.exp_(),
    "relu_": lambda x: x.relu_(),
    "pow_": lambda x: x.pow_(2),
}


@pytest.mark.parametrize("name", list(LEAF_INPLACE))
def test_inplace_on_leaf_requiring_grad_raises(name):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=re.escape(LEAF_INPLACE_MSG)):
        LEAF_INPLACE[name](x)
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 2.0])  # untouched
    assert x._version == 0


def _setitem(x):
    x[0] = 5.0


LEAF_INPLACE_BUGS = {
    "clamp_": lambda x: x.clamp_(0, 1),
    "masked_fill_": lambda x: x.masked_fill_(torch.tensor([True, False]), 0.0),
    "uniform_": lambda x: x.uniform_(),
    "setitem": _setitem,  # torch: "a view of a leaf Variable that requires grad is being used in an in-place operation."
    "view_add_": lambda x: x[0:1].add_(1),  # same message
}


@pytest.mark.parametrize("name", list(LEAF_INPLACE_BUGS))
def test_inplace_on_leaf_requiring_grad_raises_more(name):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad is being used in an in-place operation"):
        LEAF_INPLACE_BUGS[name](x)


def test_inplace_on_leaf_not_requiring_grad_is_fine():
    x = torch.tensor([1.0, 2.0])
    x += 1
    x.mul_(2)
    x[0] = 0.0
    np.testing.assert_array_equal(x.numpy(), [0.0, 6.0])


def test_sgd_update_under_no_grad():
    W = torch.tensor([1.0, 2.0], requires_grad=True)
    (W * W).sum().backward()
    ident, ptr = id(W), W.data_ptr()
    lr = 0.1
    with torch.no_grad():
        W -= lr * W.grad
    assert id(W) == ident and W.data_ptr() == ptr  # updated in place
    np.testing.assert_allclose(W.detach().numpy(), [0.8, 1.6], rtol=1e-6)
    assert W.requires_grad and W.is_leaf and W.grad_fn is None
    np.testing.assert_array_equal(W.grad.numpy(), [2.0, 4.0])  # the update leaves .grad alone
    W.grad.zero_()
    (W * W).sum().backward()
    np.testing.assert_allclose(W.grad.numpy(), [1.6, 3.2], rtol=1e-6)


def test_other_inplace_updates_of_leaf_under_no_grad():
    W = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with torch.no_grad():
        W[0] = 5.0
        W.mul_(2)
        W.add_(torch.ones(3), alpha=0.5)
        W.clamp_(0, 7)
        W.copy_(W * 1)
    np.testing.assert_array_equal(W.detach().numpy(), [7.0, 4.5, 6.5])
    assert W.requires_grad and W.is_leaf and W.grad_fn is None


def test_version_counter_shared_with_views():
    x = torch.tensor([1.0, 2.0, 3.0])
    assert x._version == 0
    x.add_(1)
    assert x._version == 1
    v = x[0:2]
    v.mul_(2)
    assert x._version == 2 and v._version == 2
    x[2] = 0.0
    assert x._version == 3 and v._version == 3
    np.testing.assert_array_equal(x.numpy(), [4.0, 6.0, 0.0])


def _saved_output_exp():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # exp saves its output
    y.add_(1)
    return y.sum()


def _saved_output_sigmoid():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.sigmoid()
    y.mul_(2)
    return y.sum()


def _saved_input():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    b = x * 1
    c = b * b  # saves b
    b.add_(1)
    return c.sum()


def _saved_other_operand():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0, 4.0])
    y = x * w  # saves w for x's gradient
    w.add_(1)
    return y.sum()


def _saved_through_view():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y[0].mul_(2)
    return y.sum()


def _saved_matmul_operand():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    h = x * 1
    y = h @ x
    h.zero_()
    return y.sum()


@pytest.mark.parametrize("make", [_saved_output_exp, _saved_output_sigmoid, _saved_input, _saved_other_operand,
                                  _saved_through_view, _saved_matmul_operand])
def test_inplace_on_saved_tensor_fails_at_backward(make):
    loss = make()  # the in-place op itself is allowed
    with pytest.raises(RuntimeError, match=SAVED_MODIFIED_MSG):
        loss.backward()


def test_inplace_on_non_leaf_is_differentiated():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.add_(1)
    assert y.grad_fn.name() == "AddBackward0" and not y.is_leaf
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])

    x.grad = None
    y = x * 2
    y.add_(1)
    y.mul_(3)
    y += x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [7.0, 7.0])

    x.grad = None
    y = x + 0
    y.exp_()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]), rtol=1e-6)


def test_inplace_on_non_requiring_tensor_with_grad_operand():
    # an in-place op whose operand requires grad makes the target require grad
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = torch.zeros(2)
    y.add_(x * 3)
    assert y.requires_grad and not y.is_leaf
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


# ---------------------------------------------------------------------------------------------
# broadcasting and views

def test_broadcast_gradients_reduce_to_input_shape():
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((3, 1)), rng.standard_normal((4,))
    a = torch.tensor(A, requires_grad=True)
    b = torch.tensor(B, requires_grad=True)
    s = torch.tensor(2.0, dtype=F64, requires_grad=True)
    out = a * b + s
    assert tuple(out.shape) == (3, 4)
    out.backward(torch.ones(3, 4, dtype=F64))
    assert tuple(a.grad.shape) == (3, 1) and tuple(b.grad.shape) == (4,) and s.grad.shape == ()
    np.testing.assert_allclose(a.grad.numpy(), np.full((3, 1), B.sum()))
    np.testing.assert_allclose(b.grad.numpy(), np.full(4, A.sum()))
    assert s.grad.item() == 12.0


def test_broadcast_bias_in_linear_layer():
    X = np.arange(6.0).reshape(3, 2)
    w = torch.tensor([[1.0, -1.0, 0.5], [2.0, 0.0, 1.0]], dtype=F64, requires_grad=True)
    bias = torch.tensor([0.1, 0.2, 0.3], dtype=F64, requires_grad=True)
    out = torch.tensor(X) @ w + bias
    out.sum().backward()
    np.testing.assert_array_equal(bias.grad.numpy(), [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(w.grad.numpy(), np.repeat(X.sum(0)[:, None], 3, axis=1))


def test_gradients_through_views_land_in_the_right_elements():
    x = torch.zeros(3, 4, requires_grad=True)
    x[1:, ::2].sum().backward()
    ref = np.zeros((3, 4))
    ref[1:, ::2] = 1
    np.testing.assert_array_equal(x.grad.numpy(), ref)

    x.grad = None
    (x.t()[3] * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    ref = np.zeros((3, 4))
    ref[:, 3] = [1, 2, 3]
    np.testing.assert_array_equal(x.grad.numpy(), ref)

    x.grad = None
    y = x * 1  # views of a non-leaf too
    (y.view(2, 6)[1, 1:3] * 5).sum().backward()
    ref = np.zeros(12)
    ref[7:9] = 5
    np.testing.assert_array_equal(x.grad.numpy(), ref.reshape(3, 4))

    x.grad = None
    x[0].unsqueeze(0).expand(5, 4).sum().backward()
    ref = np.zeros((3, 4))
    ref[0] = 5
    np.testing.assert_array_equal(x.grad.numpy(), ref)


# ---------------------------------------------------------------------------------------------
# memory: the graph lives exactly as long as the tensors that reach it

def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_training_loop_memory_is_flat():
    torch.manual_seed(0)
    X = torch.randn(64, 32)
    Y = torch.randn(64, 4)
    W1 = (torch.randn(32, 64) * 0.1).requires_grad_()
    b1 = torch.zeros(64, requires_grad=True)
    W2 = (torch.randn(64, 4) * 0.1).requires_grad_()
    b2 = torch.zeros(4, requires_grad=True)
    params = [W1, b1, W2, b2]
    lr = 0.05

    def step():
        h = (X @ W1 + b1).relu()
        out = h @ W2 + b2
        loss = ((out - Y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad.zero_()
        return loss.item()

    first = step()
    for _ in range(200):  # warm-up: allocator pools, lazily built caches
        step()
    gc.collect()
    before = _rss_bytes()
    for _ in range(3000):
        last = step()
    gc.collect()
    growth = _rss_bytes() - before
    assert growth < 20 * 2**20, f"resident memory grew by {growth / 2**20:.1f} MiB over 3000 steps"
    assert last < first * 0.5  # and it trained


def test_forward_only_graphs_are_freed():
    # graphs built and dropped without backward (e.g. evaluation forgetting no_grad)
    x = torch.randn(256, 256, requires_grad=True)
    for _ in range(50):
        ((x @ x).tanh() * x).sum()
    gc.collect()
    before = _rss_bytes()
    for _ in range(1000):
        y = ((x @ x).tanh() * x).sum()
        del y
    gc.collect()
    growth = _rss_bytes() - before
    assert growth < 20 * 2**20, f"resident memory grew by {growth / 2**20:.1f} MiB"


def test_saved_tensors_are_released_with_the_graph():
    # a 64 MB intermediate (beyond malloc's mmap threshold, so freeing returns it to the OS)
    n = 16_000_000
    x = torch.ones(1, requires_grad=True)
    gc.collect()
    base = _rss_bytes()
    h = x.expand(n) * 2
    out = (h * h).sum()
    del h
    held = _rss_bytes() - base
    assert held > 50e6, "the graph should hold the saved intermediate"
    del out
    gc.collect()
    assert _rss_bytes() - base < 20e6, "dropping the output must free the graph"

    # backward frees saved tensors even while the output is alive
    h = x.expand(n) * 2
    out = (h * h).sum()
    del h
    out.backward()
    assert _rss_bytes() - base < 20e6
    assert x.grad.item() == pytest.approx(8.0 * n, rel=1e-6)
    del out


def test_graph_owned_hook_dies_with_graph():
    import weakref

    class Marker:
        pass

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    m = Marker()
    wm = weakref.ref(m)
    h = x * 2
    h.register_hook(lambda g, m=m: g)
    out = (h * h).sum()
    del m, h
    gc.collect()
    assert wm() is not None  # the node (reachable from out) owns the hook
    out.backward()
    del out
    gc.collect()
    assert wm() is None


def test_intermediate_tensor_weakref_collected():
    import weakref

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    out = (h * 3).sum()
    wh = weakref.ref(h)
    out.backward()
    del h, out
    gc.collect()
    assert wh() is None


def test_view_gradients_add_into_one_buffer_without_touching_shared_tensors():
    # The backward pass adds the gradients of views (x[t], slices) straight into their base's
    # gradient buffer; buffers it did not allocate (a seed, a sum's expanded ones, a hook's
    # capture) must stay untouched, and the result must equal the dense reference.
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 4))
    x = torch.tensor(a, requires_grad=True)
    z = x * 2.0
    z.retain_grad()
    seen = []
    z.register_hook(lambda g: seen.append(g.clone()))
    parts = [z[t] * float(t + 1) for t in range(5)] + [z[:, 1:3].sum(1), z.sum() * 0.5]
    loss = sum(p.sum() for p in parts)
    loss.backward()
    gz = np.broadcast_to(np.arange(1.0, 6.0)[:, None], (5, 4)).copy()
    gz[:, 1:3] += 1.0
    gz += 0.5
    np.testing.assert_allclose(z.grad.numpy(), gz)
    np.testing.assert_allclose(seen[0].numpy(), gz)
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * gz)
    # a user's seed gradient for a view is read, never written
    seed = torch.ones(4)
    y = torch.tensor(a, requires_grad=True)
    (y * 1.0)[2].backward(seed)
    assert seed.tolist() == [1.0] * 4
    np.testing.assert_allclose(y.grad.numpy(), np.eye(5)[2][:, None] * np.ones((5, 4)))
    # and with create_graph the dense path still gives a differentiable result
    w = torch.tensor(a, requires_grad=True)
    (g,) = torch.autograd.grad((w * w)[1].sum(), w, create_graph=True)
    (gg,) = torch.autograd.grad(g.sum(), w)
    ref = np.zeros((5, 4))
    ref[1] = 2.0
    np.testing.assert_allclose(gg.numpy(), ref)
