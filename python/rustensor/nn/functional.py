"""``rustensor.nn.functional`` under torch's names (owner: nn-core); the spatial, recurrent
and attention functions live in ``_functional_spatial`` and are re-exported here."""

from ._functional_spatial import *  # noqa: F401,F403
