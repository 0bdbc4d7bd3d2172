"""torch.optim.RAdam: Adam with the variance rectification term."""

from __future__ import annotations

from .adam import _check_betas_eps_wd
from .optimizer import Optimizer, _as_float, _check_lr


class RAdam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        _check_lr(lr)
        _check_betas_eps_wd(betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        return self._run(closure, self._update)

    def _update(self, group):
        lr, (beta1, beta2), eps, wd = _as_float(group["lr"]), group["betas"], group["eps"], group["weight_decay"]
        for p, grad in self._params_with_grad(group):
            state = self._moment_state(p, "exp_avg", "exp_avg_sq")
            if group["maximize"]:
                grad = -grad
            step_t = state["step"]
            step_t += 1
            step = step_t.item()
            if wd != 0:
                if group["decoupled_weight_decay"]:
                    p.mul_(1 - lr * wd)
                else:
                    grad = grad.add(p, alpha=wd)
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            bias_corrected = exp_avg / bias_correction1
            rho_inf = 2 / (1 - beta2) - 1
            rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
            if rho_t > 5.0:
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                adaptive = (bias_correction2**0.5) / exp_avg_sq.sqrt().add_(eps)
                p.add_(bias_corrected * lr * adaptive * rect, alpha=-1.0)
            else:
                p.add_(bias_corrected * lr, alpha=-1.0)
