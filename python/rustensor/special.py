"""``torch.special``: the special functions under their SciPy-style names."""

from __future__ import annotations

from ._ops_common import _out
from ._tensor import Tensor


def polygamma(n: int, input: Tensor, *, out=None) -> Tensor:
    return _out(input.polygamma(n), out)


def digamma(input: Tensor, *, out=None) -> Tensor:
    return _out(input.digamma(), out)


psi = digamma


def gammaln(input: Tensor, *, out=None) -> Tensor:
    return _out(input.lgamma(), out)


def erf(input: Tensor, *, out=None) -> Tensor:
    return _out(input.erf(), out)


def erfc(input: Tensor, *, out=None) -> Tensor:
    return _out(input.erfc(), out)


def erfinv(input: Tensor, *, out=None) -> Tensor:
    return _out(input.erfinv(), out)


def expit(input: Tensor, *, out=None) -> Tensor:
    return _out(input.sigmoid(), out)


def logit(input: Tensor, eps=None, *, out=None) -> Tensor:
    return _out(input.logit(eps), out)


def xlogy(input, other, *, out=None) -> Tensor:
    return _out(input.xlogy(other), out)


def sinc(input: Tensor, *, out=None) -> Tensor:
    return _out(input.sinc(), out)


def exp2(input: Tensor, *, out=None) -> Tensor:
    return _out(input.exp2(), out)


def expm1(input: Tensor, *, out=None) -> Tensor:
    return _out(input.expm1(), out)


def log1p(input: Tensor, *, out=None) -> Tensor:
    return _out(input.log1p(), out)


def logsumexp(input: Tensor, dim, keepdim=False, *, out=None) -> Tensor:
    return _out(input.logsumexp(dim, keepdim), out)
