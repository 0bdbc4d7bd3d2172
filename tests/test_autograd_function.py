"""autograd.Function: user forward/backward recorded as one node, checked against analytic
gradients, float64 finite differences, torch's error messages and object lifetimes."""

import gc
import weakref

import numpy as np
import pytest

import rustensor as torch
from rustensor.autograd import Function
from rustensor.autograd.function import once_differentiable


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        r = x.exp()
        ctx.save_for_backward(r)
        return r

    @staticmethod
    def backward(ctx, g):
        (r,) = ctx.saved_tensors
        return g * r


class ScaleShift(Function):
    """Mixed tensor and Python arguments; the backward skips the gradient nobody needs."""

    @staticmethod
    def forward(ctx, x, scale, b):
        ctx.scale = scale
        ctx.save_for_backward(x, b)
        return x * scale + b

    @staticmethod
    def backward(ctx, g):
        x, b = ctx.saved_tensors
        gx = g * ctx.scale if ctx.needs_input_grad[0] else None
        gb = g if ctx.needs_input_grad[2] else None
        return gx, None, gb


class SplitPair(Function):
    """Two outputs; each contributes its own gradient."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * 2, x * x

    @staticmethod
    def backward(ctx, g1, g2):
        (x,) = ctx.saved_tensors
        return g1 * 2 + g2 * 2 * x


def _rand(shape, seed=0, dtype=torch.float64):
    return torch.tensor(np.random.default_rng(seed).standard_normal(shape), dtype=dtype)


@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3)])
def test_exp_gradient_matches_analytic(shape):
    x = _rand(shape).requires_grad_()
    y = Exp.apply(x)
    np.testing.assert_allclose(y.detach().numpy(), np.exp(x.detach().numpy()))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(x.detach().numpy()))
    assert type(y.grad_fn).__name__ == "ExpBackward" or y.grad_fn.name() == "ExpBackward"


def test_gradcheck_float64():
    x = _rand((3, 4), 1).requires_grad_()
    b = _rand((4,), 2).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, b: ScaleShift.apply(x, 3.0, b), (x, b))
    assert torch.autograd.gradcheck(lambda x: SplitPair.apply(x), (x,))


def test_non_contiguous_input():
    base = _rand((4, 3), 3)
    x = base.t().requires_grad_()
    Exp.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(base.numpy().T))


def test_needs_input_grad_and_none_gradients():
    x = _rand((3,), 4).requires_grad_()
    b = _rand((3,), 5)  # no grad
    seen = {}

    class Probe(ScaleShift):
        @staticmethod
        def backward(ctx, g):
            seen["needs"] = ctx.needs_input_grad
            return ScaleShift.backward(ctx, g)

    Probe.apply(x, 2.0, b).sum().backward()
    assert seen["needs"] == (True, False, False)
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 2.0))
    assert b.grad is None


def test_multi_output_gradient_sums_both():
    x = _rand((5,), 6).requires_grad_()
    a, b = SplitPair.apply(x)
    (a.sum() + (3 * b).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 + 6 * x.detach().numpy())


def test_only_one_output_used_materializes_zeros():
    x = _rand((4,), 7).requires_grad_()
    a, _ = SplitPair.apply(x)
    a.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(4, 2.0))


def test_non_differentiable_outputs():
    class WithIndex(Function):
        @staticmethod
        def forward(ctx, x):
            idx = x.argmax()
            ctx.mark_non_differentiable(idx)
            return x * 3, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            return g * 3

    x = _rand((4,), 8).requires_grad_()
    y, idx = WithIndex.apply(x)
    assert y.requires_grad and not idx.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(4, 3.0))


def test_setup_context_style():
    class Cube(Function):
        @staticmethod
        def forward(x):
            return x ** 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x * x

    x = _rand((3,), 9).requires_grad_()
    Cube.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.detach().numpy() ** 2)


def test_forward_runs_without_grad_and_no_grad_skips_recording():
    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            Probe.mode = torch.is_grad_enabled()
            return x + 1

        @staticmethod
        def backward(ctx, g):
            return g

    x = _rand((2,), 10).requires_grad_()
    y = Probe.apply(x)
    assert Probe.mode is False and y.requires_grad
    with torch.no_grad():
        assert not Probe.apply(x).requires_grad


def test_higher_order_through_differentiable_backward():
    x = _rand((3,), 11).requires_grad_()
    (g,) = torch.autograd.grad(Exp.apply(x).sum(), x, create_graph=True)
    (gg,) = torch.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), np.exp(x.detach().numpy()))


def test_once_differentiable_backward_has_no_graph():
    class Sq(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = _rand((3,), 12).requires_grad_()
    (g,) = torch.autograd.grad(Sq.apply(x).sum(), x, create_graph=True)
    assert not g.requires_grad


def test_wrong_gradient_count_is_runtime_error():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    x = _rand((3,), 13).requires_grad_()
    with pytest.raises(RuntimeError, match=r"BadBackward returned an incorrect number of gradients \(expected 1, got 2\)"):
        Bad.apply(x).sum().backward()


def test_wrong_gradient_shape_is_runtime_error():
    class Bad2(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g[:2]

    x = _rand((3,), 14).requires_grad_()
    with pytest.raises(RuntimeError, match=r"Bad2Backward returned an invalid gradient at index 0 - got \[2\] but expected shape compatible with \[3\]"):
        Bad2.apply(x).sum().backward()


def test_exception_in_backward_keeps_its_type():
    class Raises(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            raise ValueError("from backward")

    x = _rand((3,), 15).requires_grad_()
    with pytest.raises(ValueError, match="from backward"):
        Raises.apply(x).sum().backward()
    # the engine is usable afterwards and a later, unrelated error is its own
    with pytest.raises(RuntimeError):
        torch.ones(2) @ torch.ones(3)


class Keep(Function):
    """Saves a second tensor it does not differentiate, to watch its lifetime."""

    @staticmethod
    def forward(ctx, x, m):
        ctx.save_for_backward(m)
        return x + 0

    @staticmethod
    def backward(ctx, g):
        return g, None


def test_saved_tensors_freed_by_backward():
    x = _rand((10,), 16).requires_grad_()
    marker = _rand((7, 7), 20)
    ref = weakref.ref(marker)
    z = Keep.apply(x, marker)
    del marker
    z.sum().backward()  # no retain_graph: the node's state (the ctx) goes
    gc.collect()
    assert ref() is None and z.requires_grad


def test_graph_dropped_without_backward_frees_ctx():
    x = _rand((10,), 17).requires_grad_()
    y = Exp.apply(x)
    marker = _rand((7, 7), 18)
    ref = weakref.ref(marker)
    z = Keep.apply(y, marker)
    del marker
    gc.collect()
    assert ref() is not None  # held by the graph
    del z, y
    gc.collect()
    assert ref() is None


def test_function_on_gpu_matches_cpu(gpu):
    x = _rand((4, 3), 19, torch.float32)
    xc = x.clone().requires_grad_()
    xg = x.to("gpu").requires_grad_()
    Exp.apply(xc).sum().backward()
    yg = Exp.apply(xg)
    assert yg.device.type == "gpu"
    yg.sum().backward()
    np.testing.assert_allclose(xg.grad.cpu().numpy(), xc.grad.numpy(), rtol=1e-5)


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"), reason="needs /proc")
def test_saved_output_with_retain_graph_does_not_leak():
    # each graph saves its 4 MB output; were the saved output to hold its own node, none would be freed
    x = _rand((1 << 20,), 21, torch.float32).requires_grad_()
    for _ in range(5):
        Exp.apply(x).sum().backward(retain_graph=True)
    gc.collect()
    before = _rss_mb()
    for _ in range(60):
        Exp.apply(x).sum().backward(retain_graph=True)
    gc.collect()
    assert _rss_mb() - before < 100  # 60 leaked graphs would be 240 MB or more
