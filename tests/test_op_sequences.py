"""Property tests over random op sequences: a chain of views, elementwise ops, reductions and
matmuls drawn by hypothesis runs on a random tensor and on the same NumPy array, and the
results must agree (on the GPU too when an adapter is available). Single ops are tested
elsewhere; here the point is that ops compose over each other's outputs (views of views,
broadcasts of reductions, non-contiguous intermediates, 0-d and empty results).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rustensor as torch
from conftest import random_array, shapes

DEVICES = ["cpu"] + (["gpu"] if torch.cuda.is_available() else [])


def _last(a):
    return a.ndim - 1 if a.ndim else None


def _softmax(a, d):
    e = np.exp(a - a.max(axis=d, keepdims=True))
    return e / e.sum(axis=d, keepdims=True)


# name: (applies to (ndim, size), tensor op, numpy op)
OPS = {
    "add_scalar": (lambda a: True, lambda x: x + 1.5, lambda a: a + a.dtype.type(1.5)),
    "mul_self": (lambda a: True, lambda x: x * x, lambda a: a * a),
    "sub_rev": (lambda a: True, lambda x: 2.0 - x, lambda a: a.dtype.type(2.0) - a),
    "tanh": (lambda a: True, lambda x: x.tanh(), np.tanh),
    "relu": (lambda a: True, lambda x: x.relu(), lambda a: np.maximum(a, 0).astype(a.dtype)),
    "clamp_exp": (lambda a: True, lambda x: x.clamp(-3, 3).exp(), lambda a: np.exp(np.clip(a, -3, 3))),
    "abs_sqrt": (lambda a: True, lambda x: x.abs().sqrt(), lambda a: np.sqrt(np.abs(a))),
    "sum_last": (lambda a: a.ndim > 0, lambda x: x.sum(-1), lambda a: a.sum(-1)),
    "mean_all": (lambda a: a.size > 0, lambda x: x.mean(), lambda a: np.array(a.mean(), dtype=a.dtype)),
    "amax_first": (lambda a: a.ndim > 0 and a.shape[0] > 0, lambda x: x.amax(0), lambda a: a.max(0)),
    "softmax_last": (lambda a: a.ndim > 0 and a.size > 0, lambda x: x.softmax(-1), lambda a: _softmax(a, -1)),
    "transpose": (lambda a: a.ndim >= 2, lambda x: x.transpose(0, -1), lambda a: np.swapaxes(a, 0, -1)),
    "step_slice": (lambda a: a.ndim > 0, lambda x: x[..., ::2], lambda a: a[..., ::2]),
    "flip": (lambda a: a.ndim > 0, lambda x: x.flip(0), lambda a: np.flip(a, 0)),
    "unsqueeze_bcast": (lambda a: True, lambda x: x.unsqueeze(0) + x, lambda a: a[None] + a),
    "flatten": (lambda a: True, lambda x: x.reshape(-1), lambda a: a.reshape(-1)),
    "outer_self": (lambda a: a.ndim == 1 and a.shape[0] <= 16, lambda x: torch.outer(x, x), lambda a: np.outer(a, a)),
    "matmul_t": (lambda a: a.ndim == 2, lambda x: x @ x.t(), lambda a: a @ a.T),
    "where_pos": (lambda a: True, lambda x: torch.where(x > 0, x, -x * 0.5), lambda a: np.where(a > 0, a, -a * a.dtype.type(0.5))),
    "cumsum_first": (lambda a: a.ndim > 0, lambda x: x.cumsum(0), lambda a: np.cumsum(a, 0)),
}


@pytest.mark.parametrize("device", DEVICES)
@given(
    shape=shapes(max_dims=3, max_side=5),
    names=st.lists(st.sampled_from(sorted(OPS)), min_size=1, max_size=6),
    dtype_i=st.integers(0, 1),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_op_chains_match_numpy(device, shape, names, dtype_i, seed):
    dtype = [torch.float32, torch.float64][dtype_i] if device == "cpu" else torch.float32
    a = random_array(np.random.default_rng(seed), shape, dtype)
    x = torch.tensor(a).to(device)
    applied = []
    for name in names:
        ok, top, nop = OPS[name]
        if not ok(a) or a.size > 4096:
            continue
        x, a = top(x), nop(a).astype(a.dtype)
        applied.append(name)
    assert x.device.type == device
    assert tuple(x.shape) == a.shape, applied
    got = x.cpu().numpy()
    assert got.dtype == a.dtype, applied
    rtol, atol = (2e-4, 1e-4) if dtype == torch.float32 else (1e-10, 1e-12)
    np.testing.assert_allclose(got, a, rtol=rtol, atol=atol * (1 + np.abs(a).max(initial=0)), err_msg=str(applied))
