"""torch.backends.cudnn: settable flags; rustensor has no cuDNN, so they change nothing."""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    return False


def version():
    return None


class flags:
    """``with torch.backends.cudnn.flags(enabled=False): ...`` sets the flags for the block."""

    def __init__(self, enabled=False, benchmark=False, deterministic=False, allow_tf32=True):
        self._new = {"enabled": enabled, "benchmark": benchmark, "deterministic": deterministic, "allow_tf32": allow_tf32}

    def __enter__(self):
        g = globals()
        self._old = {k: g[k] for k in self._new}
        g.update(self._new)
        return self

    def __exit__(self, *exc):
        globals().update(self._old)
