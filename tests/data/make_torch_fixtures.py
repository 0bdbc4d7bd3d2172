"""Writes the torch.save fixtures that tests/test_serialization.py loads (run once, with real torch).

    /path/to/python-with-torch tests/data/make_torch_fixtures.py

Each ``torch_*.pt`` is what ``torch.save`` writes; ``torch_expected.npz`` holds every tensor's
values (key ``<fixture>.<path>``, path parts joined by ``.``) and, under ``<fixture>.__skeleton__``,
the object's structure as JSON (containers and their kinds, plain values, and for each tensor its
key, dtype, requires_grad and whether it is a Parameter), so the tests check everything without
torch. ``torch_unsupported_*.pt`` hold dtypes rustensor lacks (loading them must fail cleanly).
Regenerate only when adding a fixture; the files are committed.
"""

import collections
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def flatten(prefix, obj, out):
    if isinstance(obj, torch.Tensor):
        out[prefix] = obj.detach().numpy().copy()
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(f"{prefix}.{k}", v, out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(f"{prefix}.{i}", v, out)


def skeleton(prefix, obj):
    """The structure of obj, with tensors replaced by their key in the npz (see the docstring)."""
    if isinstance(obj, torch.Tensor):
        return {"tensor": prefix, "dtype": str(obj.dtype).split(".")[-1], "requires_grad": obj.requires_grad,
                "parameter": isinstance(obj, torch.nn.Parameter)}
    if isinstance(obj, dict):
        return {"dict": [[k, skeleton(f"{prefix}.{k}", v)] for k, v in obj.items()],
                "ordered": isinstance(obj, collections.OrderedDict)}
    if isinstance(obj, (list, tuple)):
        return {type(obj).__name__: [skeleton(f"{prefix}.{i}", v) for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"no skeleton for {type(obj)}")


def main():
    torch.manual_seed(0)
    fixtures = {}

    # a module with BatchNorm buffers, trained a few steps so the buffers are not their defaults
    # (ReLU before the norm: a bias straight before BatchNorm has a zero gradient up to rounding
    # noise, which Adam amplifies, so a resumed step could not be compared across libraries)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(3):
        loss = model(torch.randn(8, 4)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    fixtures["module_state_dict"] = model.state_dict()
    fixtures["optimizer_state_dict"] = opt.state_dict()
    fixtures["checkpoint"] = {"epoch": 3, "model": model.state_dict(), "optimizer": opt.state_dict(), "note": "adam", "loss": loss.item()}

    # views that share one storage: a row, a column (strided), a transpose, an offset slice
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    fixtures["shared_views"] = {"base": base, "row": base[1], "col": base[:, 2], "t": base.t(), "tail": base.view(-1)[5:]}

    fixtures["dtypes"] = {
        "float16": torch.tensor([0.5, -1.25, 65504.0, 6.1e-5], dtype=torch.float16),
        "float32": torch.randn(2, 3),
        "float64": torch.randn(3, dtype=torch.float64),
        "int32": torch.tensor([[1, -2], [3, 2**31 - 1]], dtype=torch.int32),
        "int64": torch.tensor([-(2**62), 0, 2**62 + 7], dtype=torch.int64),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "param": torch.nn.Parameter(torch.ones(2, 2)),
        "grad_leaf": torch.ones(2).requires_grad_(),
        "nested": [torch.tensor([1, 2]), (torch.tensor(1.0), {"x": torch.tensor([True])})],
    }

    expected = {}
    for name, obj in fixtures.items():
        torch.save(obj, os.path.join(HERE, f"torch_{name}.pt"))
        flatten(name, obj, expected)
        expected[f"{name}.__skeleton__"] = np.array(json.dumps(skeleton(name, obj)))
    # (after saving: state_dict() tensors alias the live parameters, which these steps change)
    # the trained module's eval-mode output, for a test that loads the state dict into rustensor.nn
    model.eval()
    x = torch.randn(5, 4)
    expected["module_eval.input"] = x.numpy().copy()
    expected["module_eval.output"] = model(x).detach().numpy().copy()
    # one more training step from the saved checkpoint: what resuming in rustensor must reproduce
    model.train()
    x_next = torch.randn(8, 4)
    loss = model(x_next).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    expected["resume.input"] = x_next.numpy().copy()
    for k, v in model.state_dict().items():
        expected[f"resume.after.{k}"] = v.detach().numpy().copy()
    np.savez(os.path.join(HERE, "torch_expected.npz"), **expected)
    print("wrote", len(fixtures), "fixtures with", len(expected), "tensors; torch", torch.__version__, file=sys.stderr)


if __name__ == "__main__":
    main()
