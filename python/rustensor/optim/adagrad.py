"""torch.optim.Adagrad (its state is created at construction, as torch does)."""

from __future__ import annotations

from .. import _rustensor as _C
from .optimizer import Optimizer, _as_float, _check_lr, _step_tensor


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_lr(lr)
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        if fused and differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = _step_tensor()
                state["sum"] = _C._full(list(p.shape), group["initial_accumulator_value"], p.dtype, p.device)

    def share_memory(self):
        """torch shares the sums with worker processes; rustensor tensors are not shared: a no-op."""

    def step(self, closure=None):
        return self._run(closure, self._update)

    def _update(self, group):
        lr, lr_decay, eps, wd = _as_float(group["lr"]), group["lr_decay"], group["eps"], group["weight_decay"]
        for p, grad in self._params_with_grad(group):
            state = self.state[p]
            step_t = state["step"]
            step_t += 1
            step = step_t.item()
            if group["maximize"]:
                grad = -grad
            if wd != 0:
                grad = grad.add(p, alpha=wd)
            clr = lr / (1 + (step - 1) * lr_decay)
            state_sum = state["sum"]
            state_sum.addcmul_(grad, grad, value=1)
            p.addcdiv_(grad, state_sum.sqrt().add_(eps), value=-clr)
