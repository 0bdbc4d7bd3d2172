"""The Optimizer base class: parameter groups, per-parameter state, state_dict in torch's layout, hooks."""

from __future__ import annotations

import copy
import functools
import warnings
from collections import OrderedDict, defaultdict
from itertools import chain
from typing import Any, Callable, Dict, List

from .._tensor import Tensor
from .. import _rustensor as _C
from ..nn.modules.module import _clear_grad
from ..autograd import no_grad as _NoGrad


class _RequiredParameter:
    """Singleton for a default that every parameter group must set (torch.optim.optimizer.required)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

_global_pre_hooks: "OrderedDict[int, Callable]" = OrderedDict()
_global_post_hooks: "OrderedDict[int, Callable]" = OrderedDict()


class _Handle:
    """What the register_*_hook methods return: ``remove()`` drops the hook."""

    _next = 0

    def __init__(self, hooks: "OrderedDict[int, Callable]"):
        self._hooks = hooks
        self.id = _Handle._next
        _Handle._next += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _register(hooks, hook, prepend=False):
    h = _Handle(hooks)
    hooks[h.id] = hook
    if prepend:
        hooks.move_to_end(h.id, last=False)
    return h


def register_optimizer_step_pre_hook(hook):
    return _register(_global_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    return _register(_global_post_hooks, hook)


def _typename(o) -> str:
    if isinstance(o, Tensor):
        return "torch.Tensor"
    m = type(o).__module__
    return type(o).__qualname__ if m in ("builtins", None) else f"{m}.{type(o).__qualname__}"


def _as_float(v):
    """A Tensor hyper-parameter (lr, weight_decay) as the Python number the update uses."""
    return v.item() if isinstance(v, Tensor) else v


def _check_lr(lr) -> None:
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= _as_float(lr):
        raise ValueError(f"Invalid learning rate: {lr}")



def _wrap_step(step):
    """Runs the step hooks around ``step`` and marks the optimizer as stepped, which the lr
    schedulers read to warn about calling ``scheduler.step()`` first."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        for pre in chain(_global_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
            r = pre(self, args, kwargs)
            if r is not None:
                if isinstance(r, tuple) and len(r) == 2:
                    args, kwargs = r
                else:
                    raise RuntimeError(f"{step} must return None or a tuple of (new_args, new_kwargs), but got {r}.")
        out = step(self, *args, **kwargs)
        self._opt_called = True
        self._step_count = getattr(self, "_step_count", 0) + 1
        for post in chain(self._optimizer_step_post_hooks.values(), _global_post_hooks.values()):
            post(self, args, kwargs)
        return out

    wrapper._rustensor_wrapped = True  # type: ignore[attr-defined]
    return wrapper


class Optimizer:
    """Base class of all optimizers, as ``torch.optim.Optimizer``.

    Subclasses implement ``step``; it runs under ``no_grad`` (see ``_update``) and updates
    each parameter in place, so views of the parameters and the autograd leaf stay valid.
    """

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_rustensor_wrapped", False):
            cls.step = _wrap_step(step)

    def __init__(self, params, defaults: Dict[str, Any]) -> None:
        self.defaults = defaults
        self._init_hooks()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got " + _typename(params))
        if isinstance(params, set):
            warnings.warn("optimizer parameters need to be organized in ordered collections, but the ordering of "
                          "tensors in sets will change between runs. Please use a list instead.", FutureWarning, stacklevel=2)
        self.state: Dict[Any, Any] = defaultdict(dict)
        self.param_groups: List[Dict[str, Any]] = []
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def _init_hooks(self) -> None:
        self._optimizer_step_pre_hooks: "OrderedDict[int, Callable]" = OrderedDict()
        self._optimizer_step_post_hooks: "OrderedDict[int, Callable]" = OrderedDict()
        self._optimizer_state_dict_pre_hooks: "OrderedDict[int, Callable]" = OrderedDict()
        self._optimizer_state_dict_post_hooks: "OrderedDict[int, Callable]" = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks: "OrderedDict[int, Callable]" = OrderedDict()
        self._optimizer_load_state_dict_post_hooks: "OrderedDict[int, Callable]" = OrderedDict()

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "_optimizer_step_pre_hooks" not in self.__dict__:
            self._init_hooks()
        self.defaults.setdefault("differentiable", False)

    def __repr__(self) -> str:
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"

    # ------------------------------------------------------------------ groups

    def add_param_group(self, param_group: Dict[str, Any]) -> None:
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                            "tensors in sets will change between runs. Please use a list instead.")
        else:
            params = list(params)
        tensors, names = [], []
        for p in params:
            if isinstance(p, tuple):
                names.append(p[0])
                tensors.append(p[1])
            else:
                tensors.append(p)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " + _typename(p))
            if not self.defaults.get("differentiable", None) and not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        ids = [id(p) for p in tensors]
        if len(ids) != len(set(ids)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will cause "
                          "an error; see github.com/pytorch/pytorch/issues/40967 for more information", stacklevel=3)
        seen: set = set()
        for g in self.param_groups:
            seen.update(id(p) for p in g["params"])
            if ("param_names" in param_group) != ("param_names" in g):
                txt = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {txt} to the optimizer")
        if not seen.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                _clear_grad(p, set_to_none)

    def step(self, closure=None):
        raise NotImplementedError

    # ------------------------------------------------------------------ state_dict

    def state_dict(self) -> Dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``, indices
        numbering the parameters in group order. The state's tensors are shared, not copied,
        as torch does: ``copy.deepcopy`` the result to keep a snapshot."""
        for h in self._optimizer_state_dict_pre_hooks.values():
            h(self)
        mapping: Dict[int, int] = {}
        start = 0

        def pack(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        groups = [pack(g) for g in self.param_groups]
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        sd = {"state": state, "param_groups": groups}
        for h in self._optimizer_state_dict_post_hooks.values():
            r = h(self, sd)
            if r is not None:
                sd = r
        return sd

    @staticmethod
    def _cast_state(param, value, key):
        # 'step' stays a float32 CPU scalar whatever the parameter: the update reads it as a number
        if key == "step":
            return value.clone() if isinstance(value, Tensor) else value
        if param.is_floating_point():
            return value.to(dtype=param.dtype, device=param.device).clone()
        return value.to(device=param.device).clone()

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        state_dict = state_dict.copy()
        for h in self._optimizer_load_state_dict_pre_hooks.values():
            r = h(self, state_dict)
            if r is not None:
                state_dict = r
        groups = self.param_groups
        saved = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(s["params"] for s in saved), chain.from_iterable(g["params"] for g in groups)))

        def cast(param, value, key=None):
            if isinstance(value, Tensor):
                return Optimizer._cast_state(param, value, key)
            if isinstance(value, dict):
                return {k: cast(param, v, k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v) for v in value)
            return copy.deepcopy(value)

        state: Dict[Any, Any] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                state[id_map[k]] = cast(id_map[k], v)
            else:
                state[k] = v

        def update(group, new):
            new["params"] = group["params"]
            if "param_names" in group and "param_names" not in new:
                new["param_names"] = group["param_names"]
            return new

        self.__setstate__({"state": state, "param_groups": [update(g, s) for g, s in zip(groups, saved)]})
        for h in self._optimizer_load_state_dict_post_hooks.values():
            h(self)

    # ------------------------------------------------------------------ hooks

    def register_step_pre_hook(self, hook):
        return _register(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        return _register(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        return _register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        return _register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        return _register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        return _register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ------------------------------------------------------------------ for subclasses

    def _params_with_grad(self, group):
        """(param, grad) of the group's parameters that have a gradient; a parameter without
        one is skipped, as torch does (its state is not created)."""
        out = []
        for p in group["params"]:
            g = p.grad
            if g is not None:
                out.append((p, g))
        return out

    def _moment_state(self, p, *names):
        """p's state, created on first use as torch does: a step counter, then one zero buffer
        per name (in that order, which state_dict keeps)."""
        state = self.state[p]
        if len(state) == 0:
            state["step"] = _step_tensor()
            for name in names:
                state[name] = _zeros_like(p)
        return state

    @staticmethod
    def _fusable(group, pairs, buffers=()):
        """Whether the fused multi-tensor kernels can run the group's update: dense contiguous
        float tensors of one dtype on one device (float64 on the CPU only), gradients that do
        not require grad, and not ``differentiable``. Otherwise the per-parameter path runs."""
        if group.get("differentiable") or not pairs:
            return False
        p0 = pairs[0][0]
        dt, dev = p0.dtype, p0.device
        if dt is not _C.float32 and not (dt is _C.float64 and dev.type == "cpu"):
            return False
        for p, g in pairs:
            if g.requires_grad or p.dtype is not dt or g.dtype is not dt or p.device != dev or g.device != dev:
                return False
            if p.shape != g.shape or not p.is_contiguous() or not g.is_contiguous():
                return False
        for b in buffers:
            if b.dtype is not dt or b.device != dev or not b.is_contiguous():
                return False
        return True

    def _run(self, closure, update):
        """Evaluates the closure with grad on, then ``update(group)`` for each group under no_grad."""
        loss = None
        if closure is not None:
            prev = _C._set_grad_enabled(True)
            try:
                loss = closure()
            finally:
                _C._set_grad_enabled(prev)
        with _NoGrad():
            for group in self.param_groups:
                update(group)
        return loss


def _step_tensor():
    """A fresh per-parameter step counter: a float32 CPU scalar, as torch keeps it."""
    return _C._full([], 0.0, _C.float32)


def _zeros_like(p):
    return _C._full(list(p.shape), 0, p.dtype, p.device)
