"""``rustensor.utils``: data loading (``utils.data``) and interchange formats."""

from . import data  # noqa: F401
from . import dlpack, safetensors  # noqa: F401
