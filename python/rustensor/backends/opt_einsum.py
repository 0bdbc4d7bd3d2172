"""torch.backends.opt_einsum: rustensor's einsum contracts left to right; the flags are stored only."""

enabled = False
strategy = None


def is_available() -> bool:
    return False
