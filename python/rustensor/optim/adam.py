"""torch.optim.Adam and AdamW (AdamW is Adam with decoupled weight decay), amsgrad and maximize included."""

from __future__ import annotations

from .. import _rustensor as _C
from .optimizer import Optimizer, _as_float, _check_lr


def _check_betas_eps_wd(betas, eps, weight_decay):
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= _as_float(betas[0]) < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= _as_float(betas[1]) < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def _check_fused(fused, foreach, differentiable):
    if fused and differentiable:
        raise RuntimeError("`fused` does not support `differentiable`")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _check_lr(lr)
        _check_betas_eps_wd(betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)
        _check_fused(fused, foreach, differentiable)

    def __setstate__(self, state):
        super().__setstate__(state)
        for g in self.param_groups:
            for k, v in (("amsgrad", False), ("maximize", False), ("foreach", None), ("capturable", False),
                         ("differentiable", False), ("fused", None), ("decoupled_weight_decay", False)):
                g.setdefault(k, v)

    def step(self, closure=None):
        return self._run(closure, self._update)

    def _update(self, group):
        lr = _as_float(group["lr"])
        beta1, beta2 = (_as_float(b) for b in group["betas"])
        eps, wd, amsgrad = group["eps"], group["weight_decay"], group["amsgrad"]
        decoupled = group.get("decoupled_weight_decay", False)
        moments = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if amsgrad else ("exp_avg", "exp_avg_sq")
        pairs = self._params_with_grad(group)
        states = [self._moment_state(p, *moments) for p, _ in pairs]
        if self._fusable(group, pairs, [st[k] for st in states for k in moments]):
            # the whole group's update as one multi-tensor kernel (torch's fused=True)
            steps = []
            for st in states:
                st["step"] += 1
                steps.append(st["step"].item())
            _C._fused_adam_(
                [p for p, _ in pairs], [g for _, g in pairs], [st["exp_avg"] for st in states],
                [st["exp_avg_sq"] for st in states], [st["max_exp_avg_sq"] for st in states] if amsgrad else [],
                steps, lr, beta1, beta2, _as_float(eps), _as_float(wd), bool(amsgrad), bool(group["maximize"]),
                bool(decoupled))
            return
        for (p, grad), state in zip(pairs, states):
            if group["maximize"]:
                grad = -grad
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            step_t = state["step"]
            step_t += 1
            if wd != 0:
                if decoupled:
                    p.mul_(1 - lr * wd)
                else:
                    grad = grad.add(p, alpha=wd)
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step = step_t.item()
            bias_correction1 = 1 - beta1**step
            bias_correction2_sqrt = (1 - beta2**step) ** 0.5
            step_size = lr / bias_correction1
            if amsgrad:
                m = state["max_exp_avg_sq"]
                m.maximum_(exp_avg_sq)
                denom = m.sqrt().div_(bias_correction2_sqrt).add_(eps)
            else:
                denom = exp_avg_sq.sqrt().div_(bias_correction2_sqrt).add_(eps)
            p.addcdiv_(exp_avg, denom, value=-step_size)


class AdamW(Adam):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused, decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for g in self.param_groups:
            g["decoupled_weight_decay"] = True
