"""torch.optim.Rprop: resilient backpropagation (per-element step sizes driven by gradient signs)."""

from __future__ import annotations

from .. import _rustensor as _C
from .optimizer import Optimizer, _as_float, _check_lr, _step_tensor, _zeros_like


class Rprop(Optimizer):
    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        return self._run(closure, self._update)

    def _update(self, group):
        etaminus, etaplus = group["etas"]
        lo, hi = group["step_sizes"]
        for p, grad in self._params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["prev"] = _zeros_like(p)
                state["step_size"] = _C._full(list(grad.shape), _as_float(group["lr"]), grad.dtype, grad.device)
            if group["maximize"]:
                grad = -grad
            state["step"] += 1
            prev, step_size = state["prev"], state["step_size"]
            prod = grad * prev
            grew, flipped = prod > 0, prod < 0
            # grow the step where the gradient kept its sign, shrink it where the sign flipped
            factor = _C._full(list(grad.shape), 1.0, grad.dtype, grad.device)
            factor.masked_fill_(grew, etaplus).masked_fill_(flipped, etaminus)
            step_size.mul_(factor).clamp_(lo, hi)
            # after a flip the element skips this step and forgets its last gradient
            grad = grad.masked_fill(flipped, 0.0)
            p.sub_(grad.sign().mul_(step_size))
            prev.copy_(grad)
