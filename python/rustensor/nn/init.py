"""nn.init (owner: nn-core)."""
