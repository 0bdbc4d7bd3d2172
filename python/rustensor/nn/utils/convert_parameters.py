"""convert_parameters (owner: nn-core)."""

__all__: list = []
