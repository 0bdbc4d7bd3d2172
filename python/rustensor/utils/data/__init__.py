"""``rustensor.utils.data``: datasets, samplers and DataLoader (owner: train)."""
