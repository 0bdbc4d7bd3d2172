"""torch.autograd: grad mode (per thread), ``grad``, ``backward`` and ``gradcheck``."""

from __future__ import annotations

import functools

import numpy as np

from . import _rustensor as _C
from ._rustensor import Tensor


class _GradMode:
    """Context manager and decorator that sets grad mode for the current thread."""

    mode = True

    def __enter__(self):
        self._prev = _C._set_grad_enabled(self.mode)
        return None

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    mode = False


class enable_grad(_GradMode):
    mode = True


class inference_mode(_GradMode):
    def __init__(self, mode: bool = True):
        self.mode = not mode

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(not self.mode):
                return fn(*args, **kwargs)

        return wrapper


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)`` takes effect at once (as in torch) and also works
    as a context manager that restores the previous mode."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._prev = _C._set_grad_enabled(self.mode)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False


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


def _numerical_jacobian(fn, inputs, i, eps):
    x = inputs[i]
    flat = x.detach().numpy().reshape(-1)
    outs = None
    cols = []
    for k in range(flat.size):
        orig = flat[k]
        flat[k] = orig + eps
        plus = _as_outputs(fn(*inputs))
        flat[k] = orig - eps
        minus = _as_outputs(fn(*inputs))
        flat[k] = orig
        cols.append(np.concatenate([((p.detach().numpy() - m.detach().numpy()) / (2 * eps)).reshape(-1) for p, m in zip(plus, minus)]))
        outs = plus
    if not cols:
        outs = _as_outputs(fn(*inputs))
        n_out = sum(o.numel() for o in outs)
        return np.zeros((n_out, 0))
    return np.stack(cols, axis=1)


def _as_outputs(r):
    return [r] if isinstance(r, Tensor) else [o for o in r if isinstance(o, Tensor)]


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **kwargs):
    """Compares autograd's Jacobian with central finite differences (use float64 inputs)."""
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    outs = _as_outputs(func(*inputs))
    n_out = sum(o.numel() for o in outs)
    for i in diff:
        x = inputs[i]
        num = _numerical_jacobian(func, inputs, i, eps)
        ana = np.zeros((n_out, x.numel()))
        row = 0
        for o in outs:
            for k in range(o.numel()):
                go = _C._full(list(o.shape), 0, o.dtype)
                go.reshape(-1)[k] = 1
                o2 = _as_outputs(func(*inputs))
                oo = o2[outs.index(o)]
                if not oo.requires_grad:
                    row += 1
                    continue
                (g,) = grad([oo], [x], [go], allow_unused=True)
                if g is not None:
                    ana[row] = g.detach().numpy().reshape(-1)
                row += 1
        if not np.allclose(ana, num, atol=atol, rtol=rtol):
            if raise_exception:
                raise GradcheckError(
                    f"Jacobian mismatch for output 0 with respect to input {i},\n"
                    f"numerical:{num}\nanalytical:{ana}\n"
                )
            return False
    return True


class GradcheckError(RuntimeError):
    pass


def gradgradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **kwargs):
    """Second-order check: gradcheck of the function's (create_graph) gradient."""
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]

    def first(*xs):
        outs = _as_outputs(func(*xs))
        total = sum((o * o.detach()).sum() for o in outs)  # a fixed random-free projection
        gs = grad([total], [xs[inputs.index(d)] for d in diff], create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first, inputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)


Variable = Tensor
