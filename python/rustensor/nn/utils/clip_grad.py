"""clip_grad (owner: nn-core)."""

__all__: list = []
