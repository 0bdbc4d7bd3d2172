"""pixelshuffle (owner: nn-spatial)."""

__all__: list = []
