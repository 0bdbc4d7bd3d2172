"""container (owner: nn-core)."""

__all__: list = []
