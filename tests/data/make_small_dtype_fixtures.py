"""Regenerates the small-dtype fixtures from real torch (run by hand; CI has no torch):

    python tests/data/make_small_dtype_fixtures.py

torch_small_dtypes.pt: a checkpoint of uint8/int8/int16/bfloat16 tensors (values in
small_dtypes.json); small_dtypes.json also holds torch's repr of some tensors and the
checkpoint of a dtype rustensor still lacks (complex64).
"""
import json
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))

torch.manual_seed(0)
tensors = {
    "u8": torch.tensor([[0, 1, 2], [127, 128, 255]], dtype=torch.uint8),
    "i8": torch.tensor([-128, -1, 0, 5, 127], dtype=torch.int8),
    "i16": torch.tensor([[-32768, 7], [300, 32767]], dtype=torch.int16),
    "bf16": torch.tensor([1.0, -2.5, 3.3, 1e10, 0.0078125], dtype=torch.bfloat16),
}
tensors["u8_t"] = tensors["u8"].t()
torch.save(tensors, os.path.join(HERE, "torch_small_dtypes.pt"))
torch.save({"w": torch.ones(2, dtype=torch.complex64)}, os.path.join(HERE, "torch_unsupported_complex64.pt"))

reprs = {}
cases = {
    "u8_1d": "torch.tensor([1, 2], dtype=torch.uint8)",
    "u8_2d": "torch.tensor([[0, 1, 2], [127, 128, 255]], dtype=torch.uint8)",
    "u8_0d": "torch.tensor(7, dtype=torch.uint8)",
    "u8_empty": "torch.zeros(0, dtype=torch.uint8)",
    "i8": "torch.tensor([-128, -1, 0, 5, 127], dtype=torch.int8)",
    "i16": "torch.tensor([[-32768, 7], [300, 32767]], dtype=torch.int16)",
    "bf16": "torch.tensor([1.0, -2.5, 3.3], dtype=torch.bfloat16)",
    "bf16_big": "torch.tensor([1.0, 1e10], dtype=torch.bfloat16)",
    "bf16_0d": "torch.tensor(3.3, dtype=torch.bfloat16)",
    "bf16_int": "torch.tensor([1.0, 2.0], dtype=torch.bfloat16)",
}
for k, src in cases.items():
    reprs[k] = {"src": src.replace("torch.", "torch."), "repr": repr(eval(src))}
values = {k: {"dtype": str(v.dtype).split(".")[-1], "shape": list(v.shape), "values": v.float().tolist()} for k, v in tensors.items()}
with open(os.path.join(HERE, "small_dtypes.json"), "w") as f:
    json.dump({"repr": reprs, "values": values, "torch": torch.__version__}, f, indent=1, sort_keys=True)
