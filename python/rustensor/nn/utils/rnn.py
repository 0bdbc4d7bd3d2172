"""pad_sequence, pack_padded_sequence, pad_packed_sequence (owner: nn-spatial)."""
