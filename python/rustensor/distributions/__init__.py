"""torch.distributions: Normal, Uniform, Bernoulli, Categorical, MultivariateNormal and
Independent, with sample/rsample/log_prob/entropy and kl_divergence between them."""

from .distribution import Distribution
from .continuous import MultivariateNormal, Normal, Uniform
from .discrete import Bernoulli, Categorical
from .independent import Independent
from .kl import kl_divergence, register_kl

__all__ = [
    "Bernoulli", "Categorical", "Distribution", "Independent", "MultivariateNormal", "Normal",
    "Uniform", "kl_divergence", "register_kl",
]
