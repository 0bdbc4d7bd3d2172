"""lr schedulers (owner: train)."""
