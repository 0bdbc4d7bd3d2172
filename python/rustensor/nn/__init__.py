"""``rustensor.nn``: modules, parameters, functional forms, initialisation and utilities,
under torch's names."""

from . import functional, init, utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter  # noqa: F401
