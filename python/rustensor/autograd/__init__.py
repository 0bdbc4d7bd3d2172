"""torch.autograd: grad mode (per thread), ``grad``, ``backward`` and ``gradcheck``."""

from __future__ import annotations

import functools
import inspect

import numpy as np

from .. import _rustensor as _C
from .._tensor import Tensor


class _DecoratorContextManager:
    """Base of the grad-mode context managers; an instance also decorates a function
    (each call runs inside a fresh copy of the context, see ``clone``)."""

    def __call__(self, fn):
        if inspect.isclass(fn):
            raise RuntimeError(f"{type(self).__name__} can only decorate functions, not classes")
        ctx_factory = self.clone
        if inspect.isgeneratorfunction(fn):
            return _wrap_generator(ctx_factory, fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with ctx_factory():
                return fn(*args, **kwargs)

        return wrapper

    def __enter__(self):
        raise NotImplementedError

    def __exit__(self, *exc):
        raise NotImplementedError

    def clone(self):
        return type(self)()


def _wrap_generator(ctx_factory, fn):
    """Runs each step of the generator ``fn`` returns inside the context (as torch does)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        gen = fn(*args, **kwargs)
        try:
            with ctx_factory():
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with ctx_factory():
                        gen.close()
                    raise
                except BaseException:
                    import sys

                    with ctx_factory():
                        response = gen.throw(*sys.exc_info())
                else:
                    with ctx_factory():
                        response = gen.send(request)
        except StopIteration as e:
            return e.value

    return wrapper


class _NoParamDecoratorContextManager(_DecoratorContextManager):
    """Also usable as a bare decorator: ``@no_grad`` as well as ``@no_grad()``."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class _SetsMode:
    """Entering sets this thread's grad mode to ``self.mode``; leaving restores it."""

    mode = True

    def __enter__(self):
        self._prev = _C._set_grad_enabled(self.mode)
        return None

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False


class _GradMode(_SetsMode, _NoParamDecoratorContextManager):
    """Context manager and decorator that sets grad mode for the current thread."""

    def __init__(self):
        self._prev = None


class no_grad(_GradMode):
    mode = False


class enable_grad(_GradMode):
    mode = True


class inference_mode(_SetsMode, _DecoratorContextManager):
    """Here the same as ``no_grad`` (``inference_mode(False)``: grad mode on)."""

    def __new__(cls, mode=True):
        if mode is None or isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)  # bare decorator: @inference_mode

    def __init__(self, mode: bool = True):
        self._inference = bool(mode)
        self.mode = not self._inference
        self._prev = None

    def clone(self):
        return type(self)(self._inference)


class set_grad_enabled(_DecoratorContextManager):
    """``set_grad_enabled(False)`` takes effect at once (as in torch), works as a context
    manager that restores the previous mode, and as a decorator
    (``@set_grad_enabled(False)``: the mode applies only inside the decorated function)."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._prev = _C._set_grad_enabled(self.mode)

    def __call__(self, fn):
        # used as a decorator: undo what the constructor did, apply the mode per call
        _C._set_grad_enabled(self._prev)
        return super().__call__(fn)

    def __enter__(self):
        _C._set_grad_enabled(self.mode)
        return None

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False

    def clone(self):
        return type(self)(self.mode)


def _seq(x):
    if isinstance(x, Tensor):
        return [x], True
    return list(x), False


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    outs, _ = _seq(outputs)
    ins, _ = _seq(inputs)
    gos = None
    if grad_outputs is not None:
        gos, _ = _seq(grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    res = _C._autograd_grad(outs, ins, gos, bool(retain_graph), bool(create_graph), bool(allow_unused or materialize_grads))
    if materialize_grads:
        res = [r if r is not None else _C._full(list(i.shape), 0, i.dtype) for r, i in zip(res, ins)]
    return tuple(res)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    ts, _ = _seq(tensors)
    gs = [None] * len(ts) if grad_tensors is None else _seq(grad_tensors)[0]
    for i, (t, g) in enumerate(zip(ts, gs)):
        last = i == len(ts) - 1
        t.backward(g, retain_graph=True if not last else retain_graph, create_graph=create_graph)


def _as_outputs(r):
    """The tensors among a function's outputs, in order (a lone tensor is one output)."""
    if isinstance(r, Tensor):
        return [r]
    return [o for o in r if isinstance(o, Tensor)]


def _output_values(fn, inputs):
    """fn(*inputs) evaluated now, each output copied out as a float64 array: outputs may be
    views of the (about to be restored) inputs, so they must be read right away."""
    return [np.array(o.detach().numpy(), dtype=np.float64, copy=True) for o in _as_outputs(fn(*inputs))]


def _numerical_jacobians(fn, inputs, i, eps, sizes):
    """Central-difference Jacobians of each output w.r.t. ``inputs[i]`` (one (n_out_j, n_in)
    array per output). The input is perturbed in place through a numpy view of its memory."""
    x = inputs[i]
    n_in = x.numel()
    jacs = [np.zeros((n, n_in)) for n in sizes]
    with no_grad():
        arr = x.detach().numpy()  # shares the leaf's memory (strided view for non-contiguous x)
    for k, idx in enumerate(np.ndindex(arr.shape)):
        orig = arr[idx].copy()
        try:
            with no_grad():
                arr[idx] = orig - eps
            minus = _output_values(fn, inputs)
            with no_grad():
                arr[idx] = orig + eps
            plus = _output_values(fn, inputs)
        finally:
            with no_grad():
                arr[idx] = orig
        for j, (p, m) in enumerate(zip(plus, minus)):
            jacs[j][:, k] = ((p - m) / (2 * eps)).reshape(-1)
    return jacs


def _analytical_jacobians(func, inputs, diff, sizes):
    """Jacobians by reverse mode, one row (a vector-Jacobian product with a one-hot cotangent)
    at a time: ``jacs[j][d]`` is output j w.r.t. input ``diff[d]``."""
    outs = _as_outputs(func(*inputs))
    xs = [inputs[i] for i in diff]
    jacs = [[np.zeros((n, inputs[i].numel())) for i in diff] for n in sizes]
    for j, o in enumerate(outs):
        if not o.requires_grad:
            continue  # no graph: the analytical Jacobian is zero
        for k, idx in enumerate(np.ndindex(tuple(o.shape))):
            go = _C._full(list(o.shape), 0, o.dtype)
            go.numpy()[idx] = 1
            gs = grad([o], xs, [go], retain_graph=True, allow_unused=True)
            for d, g in enumerate(gs):
                if g is not None:
                    jacs[j][d][k] = np.asarray(g.detach().numpy(), dtype=np.float64).reshape(-1)
    return jacs


def _check_inputs(inputs, op):
    """gradcheck's and gradgradcheck's inputs as a tuple, and the indices of those to perturb."""
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError(f"{op} expects at least one input tensor to require gradient")
    return inputs, diff


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **kwargs):
    """Compares autograd's Jacobian with central finite differences (use float64 inputs).

    ``inputs`` may hold non-tensor arguments; only tensors that require grad are perturbed.
    ``func`` may return a tensor or a tuple/list of tensors."""
    inputs, diff = _check_inputs(inputs, "gradcheck")
    sizes = [o.numel() for o in _as_outputs(func(*inputs))]
    # the analytical side first: its graph is used up before the inputs are perturbed
    ana = _analytical_jacobians(func, inputs, diff, sizes)
    for d, i in enumerate(diff):
        num = _numerical_jacobians(func, inputs, i, eps, sizes)
        for j in range(len(sizes)):
            a, n = ana[j][d], num[j]
            if not np.allclose(a, n, atol=atol, rtol=rtol):
                if raise_exception:
                    raise GradcheckError(
                        f"Jacobian mismatch for output {j} with respect to input {i},\n"
                        f"numerical:{n}\nanalytical:{a}\n"
                    )
                return False
    return True


class GradcheckError(RuntimeError):
    pass


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0, **kwargs):
    """Second-order check, as torch does it: for cotangents v of the outputs (random, seeded,
    unless ``grad_outputs`` is given), gradcheck of g(x) = autograd.grad(func(x), x, v,
    create_graph=True). v is held fixed unless a given grad_output requires grad."""
    from .._tensor import tensor as _tensor

    inputs, diff = _check_inputs(inputs, "gradgradcheck")

    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        outs = [o for o in _as_outputs(func(*inputs)) if o.requires_grad]
        grad_outputs = tuple(
            _tensor(rng.uniform(-1.0, 1.0, tuple(o.shape)), dtype=o.dtype) for o in outs
        )
    else:
        grad_outputs = tuple(_seq(grad_outputs)[0])
    n_in = len(inputs)

    def first(*args):
        xs, vs = args[:n_in], args[n_in:]
        outs = [o for o in _as_outputs(func(*xs)) if o.requires_grad]
        if len(outs) != len(vs):
            raise RuntimeError(
                f"gradgradcheck: {len(vs)} grad_outputs for {len(outs)} differentiable outputs"
            )
        if not outs:
            return ()
        gs = grad(outs, [xs[i] for i in diff], list(vs), create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)


Variable = Tensor


from . import function  # noqa: E402
from .function import Function, FunctionCtx, once_differentiable  # noqa: E402,F401
