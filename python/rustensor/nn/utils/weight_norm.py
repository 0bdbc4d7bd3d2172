"""weight_norm (owner: nn-core)."""

__all__: list = []
