"""``autograd.Function``: user-defined forward and backward, recorded as one graph node."""

from __future__ import annotations

import functools
from typing import Any

from .. import _rustensor as _C
from .._tensor import Tensor
from . import no_grad  # defined before this module is imported (end of autograd/__init__)


class FunctionCtx:
    """The ``ctx`` a Function's forward and backward share."""

    def __init__(self):
        self.to_save: tuple = ()
        self.needs_input_grad: tuple = ()
        self.materialize_grads = True
        self._non_differentiable: set = set()
        self._dirty: set = set()

    def save_for_backward(self, *tensors) -> None:
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError("save_for_backward can only save variables, but argument 0 is of type "
                                f"{type(t).__name__}")
        self.to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        return self.to_save

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors) -> None:
        self._dirty.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        cls._backward_name = f"{name}Backward"


class Function(metaclass=_FunctionMeta):
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)`` (or
    ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``), then call ``apply``."""

    @staticmethod
    def forward(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> Any:
        return _SETUP_NOT_DEFINED

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        separate = cls.setup_context is not Function.setup_context
        with no_grad():
            if separate:
                out = cls.forward(*args, **kwargs)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        if separate:
            cls.setup_context(ctx, args, out)
        tensor_inputs = [a for a in args if isinstance(a, Tensor)]
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        if not (_C.is_grad_enabled() and any(t.requires_grad for t in tensor_inputs)):
            return out
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        diff = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.is_floating_point()
                and id(o) not in ctx._non_differentiable]
        # the backward sees every output's gradient: None (or zeros) for all but the one that
        # arrives; VJPs are linear, so the engine's sum over outputs is torch's single call.
        # The closure below keeps shapes and flags, not the forward's tensors.
        metas = [(o.shape, o.dtype, o.device) if isinstance(o, Tensor) else None for o in outs]
        nargs, n_outs = len(args), len(outs)
        is_tensor = [isinstance(a, Tensor) for a in args]
        # saved outputs are handed back by the engine re-attached to their nodes (as torch's
        # SavedVariable does), so a backward written with differentiable ops has a history;
        # ctx keeps only the position, not the tensor, or the graph would hold itself alive
        saved_raw = ctx.to_save
        out_pos = {id(outs[i]): p for p, i in enumerate(diff)}
        saved_map = [(j, out_pos[id(t)]) for j, t in enumerate(saved_raw) if id(t) in out_pos]
        keep = [False] * len(diff)
        for _, p in saved_map:
            keep[p] = True
        saved_idx = {j for j, _ in saved_map}
        if saved_map:
            ctx.to_save = tuple(None if id(t) in out_pos else t for t in saved_raw)

        def backward(k, g, kept):
            if saved_map:
                s = list(ctx.to_save)
                for j, p in saved_map:
                    s[j] = kept[p]
                ctx.to_save = tuple(s)
            grads: list = [None] * n_outs
            grads[diff[k]] = g
            if ctx.materialize_grads:
                for j, m in enumerate(metas):
                    if grads[j] is None and m is not None:
                        grads[j] = _C._full(list(m[0]), 0, m[1]).to(m[2])
            try:
                r = cls.backward(ctx, *grads)
            finally:
                if saved_map:  # the re-attached outputs hold the node: do not keep them
                    ctx.to_save = tuple(None if j in saved_idx else t for j, t in enumerate(ctx.to_save))
            if not isinstance(r, tuple):
                r = (r,)
            if len(r) != nargs:
                if len(r) > nargs and all(x is None for x in r[nargs:]):
                    r = r[:nargs]
                else:
                    raise RuntimeError(f"function {cls._backward_name} returned an incorrect number of "
                                       f"gradients (expected {nargs}, got {len(r)})")
            for i, x in enumerate(r):
                if x is not None and not is_tensor[i]:
                    raise RuntimeError(f"function {cls._backward_name} returned a gradient different than None "
                                       f"at position {i + 1}, but the corresponding forward input was not a Variable")
            return [r[i] for i in positions]

        recorded = _C._record_function([outs[i] for i in diff], tensor_inputs, backward, cls._backward_name, keep)
        result = list(outs)
        for i, t in zip(diff, recorded):
            result[i] = t
        return result[0] if single else tuple(result)


_SETUP_NOT_DEFINED = object()


def once_differentiable(fn):
    """Runs a Function's backward with grad mode off (its result is not differentiable again)."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)

    return wrapper


class InplaceFunction(Function):
    def __init__(self, inplace: bool = False):
        self.inplace = inplace
