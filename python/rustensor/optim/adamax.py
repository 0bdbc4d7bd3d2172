"""torch.optim.Adamax: Adam with the infinity norm."""

from __future__ import annotations

from .adam import _check_betas_eps_wd
from .optimizer import Optimizer, _as_float, _check_lr


class Adamax(Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        _check_betas_eps_wd(betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        return self._run(closure, self._update)

    def _update(self, group):
        lr, (beta1, beta2), eps, wd = _as_float(group["lr"]), group["betas"], group["eps"], group["weight_decay"]
        for p, grad in self._params_with_grad(group):
            state = self._moment_state(p, "exp_avg", "exp_inf")
            if group["maximize"]:
                grad = -grad
            step_t = state["step"]
            step_t += 1
            if wd != 0:
                grad = grad.add(p, alpha=wd)
            exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
            exp_avg.lerp_(grad, 1 - beta1)
            exp_inf.mul_(beta2).maximum_(grad.abs().add_(eps))
            clr = lr / (1 - beta1 ** step_t.item())
            p.addcdiv_(exp_avg, exp_inf, value=-clr)
