"""`class Tensor(_C.TensorBase)`: the Python class torch users see, with ordinary methods, and
every result of the compiled module made as it (so subclasses such as nn.Parameter behave)."""

import numpy as np
import pytest

import rustensor as torch
import rustensor.nn as nn

_C = torch._rustensor


def test_tensor_is_a_python_subclass_of_the_compiled_base():
    assert torch.Tensor is not _C.TensorBase
    assert issubclass(torch.Tensor, _C.TensorBase)
    assert torch.Tensor.__module__ == "rustensor" and repr(torch.Tensor) == "<class 'rustensor.Tensor'>"
    # the Python methods are the class's own, not attached to the compiled type
    for name in ("abs", "to", "numpy", "max", "sort", "uniform_", "__dlpack__"):
        assert name in torch.Tensor.__dict__, name
        assert name not in _C.TensorBase.__dict__, name


@pytest.mark.parametrize("make", [
    lambda: torch.randn(2, 3),
    lambda: torch.tensor([1, 2, 3]),
    lambda: torch.zeros(0, 4),
    lambda: torch.from_numpy(np.ones((2, 2), np.float32)),
    lambda: torch.randn(3, 4)[1:, ::2],
    lambda: torch.randn(3, 4).t() @ torch.randn(3, 2),
    lambda: torch.randn(4).sum(),
    lambda: torch.cat([torch.ones(2), torch.zeros(3)]),
    lambda: torch.randn(3, 3).max(dim=0).values,
    lambda: torch.Tensor(2, 3),
])
def test_every_result_is_the_python_class(make):
    r = make()
    assert type(r) is torch.Tensor
    assert type(r.abs()) is torch.Tensor and type(r.detach()) is torch.Tensor


def test_gradients_hooks_and_function_arguments_are_the_python_class():
    seen = []
    x = torch.randn(3, requires_grad=True)
    x.register_hook(lambda g: seen.append(type(g)))
    (x * 2).sum().backward()
    assert type(x.grad) is torch.Tensor and seen == [torch.Tensor]

    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            seen.append((type(g), type(a)))
            return 2 * a * g

    y = torch.randn(4, requires_grad=True)
    Square.apply(y).sum().backward()
    assert seen[-1] == (torch.Tensor, torch.Tensor)
    assert np.allclose(y.grad.numpy(), 2 * y.detach().numpy())


def test_parameter_stays_a_parameter_and_its_ops_return_tensors():
    p = nn.Parameter(torch.ones(2, 2))
    assert type(p) is nn.Parameter and isinstance(p, torch.Tensor) and p.requires_grad
    assert type(p * 2) is torch.Tensor and type(p.sum()) is torch.Tensor
    lin = nn.Linear(3, 2)
    assert all(type(q) is nn.Parameter for q in lin.parameters())


def test_a_user_subclass_keeps_its_type_and_attributes():
    class Tagged(torch.Tensor):
        def tag(self):
            return "tagged"

    t = Tagged(torch.arange(4.0))
    assert type(t) is Tagged and t.tag() == "tagged"
    t.note = "kept"  # instances carry a __dict__, as torch tensors do
    assert t.note == "kept"
    assert np.array_equal((t + 1).numpy(), np.arange(1.0, 5.0))
    # rustensor has no __torch_function__: results are plain tensors (torch re-wraps them as the
    # subclass; the README lists this divergence)
    assert type(t + 1) is torch.Tensor


def test_pickle_and_copy_round_trip_the_class():
    import copy
    import pickle

    x = torch.randn(2, 3)
    for y in (pickle.loads(pickle.dumps(x)), copy.deepcopy(x)):
        assert type(y) is torch.Tensor and np.array_equal(y.numpy(), x.numpy())


def test_results_hold_one_reference_to_their_class():
    """`wrap` retypes a fresh TensorBase instance as Tensor: each result must take one
    reference to Tensor and give back the one to TensorBase, or the counts drift."""
    import gc
    import sys

    base = torch._rustensor.TensorBase
    x = torch.ones(3)
    gc.collect()
    before = (sys.getrefcount(torch.Tensor), sys.getrefcount(base))
    kept = [x + i for i in range(1000)]
    assert all(type(t) is torch.Tensor for t in kept)
    assert 1000 <= sys.getrefcount(torch.Tensor) - before[0] <= 1002
    del kept
    gc.collect()
    assert (sys.getrefcount(torch.Tensor), sys.getrefcount(base)) == before
