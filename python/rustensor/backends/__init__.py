"""torch.backends: the flags torch code sets without thinking (cudnn.benchmark, allow_tf32, ...).

rustensor has no cuDNN, MPS or TF32: the flags are stored so code that sets and reads them
runs, and they change nothing (every kernel is already deterministic and full precision).
"""

from __future__ import annotations

from . import cuda, cudnn, mps, opt_einsum  # noqa: F401
