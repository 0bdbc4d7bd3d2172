"""torch.func: ``grad``, ``vmap``, ``jacrev``/``jacfwd``, ``hessian`` over the tape autograd.

``vmap`` runs the function once per batch entry and stacks the results (the values
match torch; the speed is that of a Python loop). ``grad`` and ``jacrev`` use
``autograd.grad`` and nest: ``grad(grad(f))`` gives the second derivative.
"""

from __future__ import annotations

from . import _rustensor as _C
from ._tensor import Tensor
from .autograd import enable_grad
from .autograd import grad as _autograd_grad


def _prep(x: Tensor) -> Tensor:
    # an input already tracked by an outer transform keeps its graph; others become leaves
    if x.requires_grad:
        return x.view_as(x)
    return x.detach().requires_grad_(True)


def _argnums_tuple(argnums):
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def grad_and_value(func, argnums=0, has_aux=False):
    def wrapper(*args, **kwargs):
        nums = _argnums_tuple(argnums)
        outer = _C.is_grad_enabled() and any(isinstance(args[i], Tensor) and args[i].requires_grad for i in nums)
        args = list(args)
        with enable_grad():
            for i in nums:
                args[i] = _prep(args[i])
            out = func(*args, **kwargs)
            aux = None
            if has_aux:
                out, aux = out
            if not isinstance(out, Tensor) or out.numel() != 1:
                raise RuntimeError("grad(f)(*args): Expected f(*args) to return a scalar Tensor")
            gs = _autograd_grad([out], [args[i] for i in nums], create_graph=outer, allow_unused=True, materialize_grads=True)
        gs = tuple(g if outer else g.detach() for g in gs)
        g = gs[0] if isinstance(argnums, int) else gs
        value = out if outer else out.detach()
        return (g, (value, aux)) if has_aux else (g, value)

    return wrapper


def grad(func, argnums=0, has_aux=False):
    gv = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        g, v = gv(*args, **kwargs)
        return (g, v[1]) if has_aux else g

    return wrapper


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    def wrapper(*args):
        dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap: in_dims has {len(dims)} entries for {len(args)} arguments")
        for a, d in zip(args, dims):
            if d is not None and isinstance(a, Tensor) and not -max(a.ndim, 1) <= d < max(a.ndim, 1):
                raise ValueError(
                    f"vmap({getattr(func, '__name__', 'func')}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for some input, "
                    f"but that input is a Tensor of dimensionality {a.ndim} so expected in_dim to satisfy "
                    f"-{max(a.ndim, 1)} <= in_dim < {max(a.ndim, 1)}."
                )
        sizes = {a.shape[d] for a, d in zip(args, dims) if d is not None and isinstance(a, Tensor)}
        if len(sizes) != 1:
            raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got sizes {sorted(sizes)}")
        (n,) = sizes
        results = []
        for i in range(n):
            sl = [a.select(d, i) if (d is not None and isinstance(a, Tensor)) else a for a, d in zip(args, dims)]
            results.append(func(*sl))
        if isinstance(results[0], Tensor):
            return _C.stack(results, out_dims)
        od = out_dims if isinstance(out_dims, (tuple, list)) else (out_dims,) * len(results[0])
        return tuple(_C.stack([r[k] for r in results], od[k]) for k in range(len(results[0])))

    return wrapper


def jacrev(func, argnums=0, *, has_aux=False):
    def wrapper(*args):
        nums = _argnums_tuple(argnums)
        outer = _C.is_grad_enabled() and any(isinstance(args[i], Tensor) and args[i].requires_grad for i in nums)
        args = list(args)
        with enable_grad():
            for i in nums:
                args[i] = _prep(args[i])
            out = func(*args)
            aux = None
            if has_aux:
                out, aux = out
            if not isinstance(out, Tensor):
                raise RuntimeError(
                    f"vjp(f, *primals): expected f(*primals) to return only tensors, got unsupported type {type(out)}"
                )
            flat = out.reshape(-1)
            jacs = []
            for i in nums:
                rows = []
                for k in range(flat.numel()):
                    (g,) = _autograd_grad([flat[k]], [args[i]], retain_graph=True, create_graph=outer, allow_unused=True, materialize_grads=True)
                    rows.append(g if outer else g.detach())
                x = args[i]
                if rows:
                    j = _C.stack(rows, 0).reshape(*(list(out.shape) + list(x.shape)))
                else:
                    j = _C._full(list(out.shape) + list(x.shape), 0, x.dtype)
                jacs.append(j)
        j = jacs[0] if isinstance(argnums, int) else tuple(jacs)
        return (j, aux) if has_aux else j

    return wrapper


jacfwd = jacrev


def hessian(func, argnums=0):
    return jacrev(jacrev(func, argnums), argnums)


def functional_call(module, parameter_and_buffer_dicts, args, kwargs=None):
    raise NotImplementedError("functional_call needs rustensor.nn, which is not built yet")
