"""Regenerates promotion.json from real torch (run by hand; CI has no torch):

    python tests/data/make_promotion_fixture.py > tests/data/promotion.json
"""
import json

import torch

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
SCALARS = {"bool": True, "int": 3, "float": 2.5}


def one(name, zero_dim):
    return torch.ones(() if zero_dim else (2,), dtype=getattr(torch, name))


def name_of(dt):
    return str(dt).split(".")[-1]


out = {"promote_types": {}, "result_type": {}}
for a in NAMES:
    for b in NAMES:
        out["promote_types"][f"{a},{b}"] = name_of(torch.promote_types(getattr(torch, a), getattr(torch, b)))
        for ka in ("dim", "zerodim"):
            for kb in ("dim", "zerodim"):
                r = torch.result_type(one(a, ka == "zerodim"), one(b, kb == "zerodim"))
                out["result_type"][f"{ka}:{a},{kb}:{b}"] = name_of(r)
    for ka in ("dim", "zerodim"):
        for s, v in SCALARS.items():
            out["result_type"][f"{ka}:{a},scalar:{s}"] = name_of(torch.result_type(one(a, ka == "zerodim"), v))
print(json.dumps(out, indent=0, sort_keys=True))
