"""torch.optim.SGD: stochastic gradient descent with momentum, dampening, Nesterov, weight decay."""

from __future__ import annotations

from .. import _rustensor as _C
from .optimizer import Optimizer, _as_float, _check_lr


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        _check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if _as_float(weight_decay) < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                        maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        if fused and differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def __setstate__(self, state):
        super().__setstate__(state)
        for g in self.param_groups:
            g.setdefault("nesterov", False)
            g.setdefault("maximize", False)
            g.setdefault("foreach", None)
            g.setdefault("differentiable", False)
            g.setdefault("fused", False)

    def step(self, closure=None):
        return self._run(closure, self._update)

    def _update(self, group):
        lr = _as_float(group["lr"])
        wd = _as_float(group["weight_decay"])
        momentum, dampening, nesterov = group["momentum"], group["dampening"], group["nesterov"]
        pairs = self._params_with_grad(group)
        bufs = [self.state[p].get("momentum_buffer") for p, _ in pairs] if momentum != 0 else []
        if self._fusable(group, pairs, [b for b in bufs if b is not None]):
            # the whole group's update as one multi-tensor kernel
            first = [b is None for b in bufs]
            for k, (p, _) in enumerate(pairs):
                if momentum != 0 and bufs[k] is None:
                    bufs[k] = self.state[p]["momentum_buffer"] = _C._full(list(p.shape), 0, p.dtype, p.device)
            _C._fused_sgd_([p for p, _ in pairs], [g for _, g in pairs], bufs, first, lr, _as_float(momentum),
                           _as_float(dampening), wd, bool(nesterov), bool(group["maximize"]))
            return
        for p, grad in pairs:
            if group["maximize"]:
                grad = -grad
            if wd != 0:
                grad = grad.add(p, alpha=wd)
            if momentum != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = grad.detach().clone()
                    state["momentum_buffer"] = buf
                else:
                    buf.mul_(momentum).add_(grad, alpha=1 - dampening)
                grad = grad.add(buf, alpha=momentum) if nesterov else buf
            p.add_(grad, alpha=-lr)
