"""kl_divergence(p, q) with a registry of closed forms, as torch.distributions.kl."""

from __future__ import annotations

from .. import _rustensor as _C
from .continuous import MultivariateNormal, Normal, Uniform
from .discrete import Bernoulli, Categorical, _softplus
from .independent import Independent, _sum_right

_KL: dict = {}


def register_kl(type_p, type_q):
    """Decorator registering ``fn(p, q)`` as KL(p || q) for those two types."""

    def deco(fn):
        _KL[(type_p, type_q)] = fn
        return fn

    return deco


def kl_divergence(p, q):
    for tp in type(p).__mro__:
        for tq in type(q).__mro__:
            fn = _KL.get((tp, tq))
            if fn is not None:
                return fn(p, q)
    raise NotImplementedError(f"No KL(p || q) is implemented for p type {type(p).__name__} and q type {type(q).__name__}")


def _inf_where(cond, x):
    return _C._where(cond, _C._scalar_tensor(float("inf"), x.dtype).to(x.device) if x.device.type != "cpu" else _C._scalar_tensor(float("inf"), x.dtype), x)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    pp = p.probs
    t1 = pp * (_softplus(-q.logits) - _softplus(-p.logits))
    t1 = _C._where(pp == 0, _C._scalar_tensor(0.0, pp.dtype).to(pp.device), t1)
    t2 = (1 - pp) * (_softplus(q.logits) - _softplus(p.logits))
    t2 = _C._where(pp == 1, _C._scalar_tensor(0.0, pp.dtype).to(pp.device), t2)
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = _inf_where(q.probs.expand(*t.shape) == 0, t)
    t = _C._where(p.probs.expand(*t.shape) == 0, _C._scalar_tensor(0.0, t.dtype).to(t.device), t)
    return t.sum(-1)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    r = ((q.high - q.low) / (p.high - p.low)).log()
    return _inf_where((q.low > p.low).logical_or(q.high < p.high), r)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    from .. import linalg

    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different event shapes cannot be computed")
    import numpy as np

    n = p.event_shape[0]
    batch = tuple(np.broadcast_shapes(tuple(p.batch_shape), tuple(q.batch_shape)))
    Lp = p._unbroadcasted_scale_tril.expand(*(batch + (n, n)))
    Lq = q._unbroadcasted_scale_tril.expand(*(batch + (n, n)))
    half_term1 = q._half_log_det() - p._half_log_det()
    term2 = (linalg.solve(Lq, Lp) ** 2).sum((-2, -1))
    d = (q.loc - p.loc).expand(*(batch + (n,)))
    term3 = (linalg.solve(Lq, d.unsqueeze(-1)).squeeze(-1) ** 2).sum(-1)
    return half_term1 + 0.5 * (term2 + term3 - n)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("KL between Independents with different reinterpreted_batch_ndims")
    return _sum_right(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)
