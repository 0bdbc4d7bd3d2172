"""nn.Module (owner: nn-core)."""


class Module:
    pass
