"""torch.backends.cuda: matmul precision flags, stored only (rustensor matmul is full float32)."""

from __future__ import annotations


class _Matmul:
    """``torch.backends.cuda.matmul``: accepts torch's attributes and remembers them."""

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True


matmul = _Matmul()


def is_built() -> bool:
    return False


def flash_sdp_enabled() -> bool:
    return False


def math_sdp_enabled() -> bool:
    return True
