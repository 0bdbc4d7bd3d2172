"""nn.Parameter (owner: nn-core)."""

from .._rustensor import Tensor


class Parameter(Tensor):
    pass


class UninitializedParameter(Parameter):
    pass


class Buffer(Tensor):
    pass
