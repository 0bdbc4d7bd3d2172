"""``rustensor.nn.utils``: gradient clipping, parameter vectors, weight and spectral norm, rnn."""

from . import rnn  # noqa: F401
from .clip_grad import *  # noqa: F401,F403
from .convert_parameters import *  # noqa: F401,F403
from .weight_norm import *  # noqa: F401,F403
