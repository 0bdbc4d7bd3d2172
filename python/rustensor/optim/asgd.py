"""torch.optim.ASGD: averaged stochastic gradient descent (the running average lives in state['ax'])."""

from __future__ import annotations

from .. import _rustensor as _C
from .optimizer import Optimizer, _as_float, _check_lr, _step_tensor, _zeros_like


class ASGD(Optimizer):
    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        return self._run(closure, self._update)

    def _update(self, group):
        lr, lambd, alpha, t0, wd = _as_float(group["lr"]), group["lambd"], group["alpha"], group["t0"], group["weight_decay"]
        for p, grad in self._params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                # eta and mu are float32 scalars in torch: the update reads them back rounded
                state["step"] = _step_tensor()
                state["eta"] = _C._full([], lr, _C.float32)
                state["mu"] = _C._full([], 1.0, _C.float32)
                state["ax"] = _zeros_like(p)
            if group["maximize"]:
                grad = -grad
            step_t = state["step"]
            step_t += 1
            if wd != 0:
                grad = grad.add(p, alpha=wd)
            eta = state["eta"].item()
            p.mul_(1 - lambd * eta)
            p.add_(grad, alpha=-eta)
            ax, mu = state["ax"], state["mu"].item()
            if mu != 1:
                ax.add_((p - ax).mul_(mu))
            else:
                ax.copy_(p)
            step = step_t.item()
            state["eta"].fill_(lr / ((1 + lambd * lr * step) ** alpha))
            state["mu"].fill_(1 / max(1, step - t0))
