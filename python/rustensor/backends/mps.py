"""torch.backends.mps: Apple's Metal backend is not a separate device here (the GPU device
reaches Metal through wgpu), so MPS reports unavailable."""


def is_available() -> bool:
    return False


def is_built() -> bool:
    return False
