"""DataLoader internals: the exception wrapper that carries a worker's traceback to the parent, and constants."""

from __future__ import annotations

import sys
import traceback

# How often a waiting parent (or worker) checks that the other side is still alive, in seconds.
MP_STATUS_CHECK_INTERVAL = 5.0


class KeyErrorMessage(str):
    """str subclass whose repr is itself, so a KeyError shows the worker's traceback unquoted."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception with its formatted traceback, picklable, re-raised in another process."""

    def __init__(self, exc_info=None, where="in background"):
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        elif getattr(self.exc_type, "message", None):
            raise self.exc_type(message=msg)
        try:
            exc = self.exc_type(msg)
        except Exception:
            # an exception type whose constructor wants other arguments
            raise RuntimeError(msg) from None
        raise exc
