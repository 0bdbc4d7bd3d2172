"""conv, pooling, padding, interpolation, fold and attention functions (owner: nn-spatial)."""

__all__: list = []
