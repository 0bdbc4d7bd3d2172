"""rustensor against NumPy (and torch when importable), timed in the same run.

Prints one row per case: the median time per call of each library and the
ratio numpy_time / other_time (> 1 means faster than NumPy), beside the target
from the issues (#2 core engine, #3 autograd). With torch importable, a last
column "vs torch" gives torch_time / rustensor_time; the nn and training cases
(#12, #13: conv2d, LSTM and causal SDPA forward+backward, a digits MLP/CNN
training epoch, an Adam step over ten 1024x1024 Linear layers) state their
targets against it ("t>=0.9"). The epoch cases need scikit-learn.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench.py
    python benchmarks/bench.py --quick                  # fewer, shorter repeats
    python benchmarks/bench.py --only matmul,add_4      # cases whose name contains a word
    python benchmarks/bench.py --quick --only conv2d,lstm,sdpa,digits,adam   # the nn/training cases
    python benchmarks/bench.py --device gpu             # rustensor on its GPU backend
    python benchmarks/bench.py --device gpu --gpu-only  # just the GPU figures (TFLOP/s, GB/s, us/op)

OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when set in the environment (they are on
some of our machines), make OpenBLAS pick slower kernels, so NumPy's matmul
looks worse than it is: unset them, as in the first command, for a fair
comparison. The script warns when they are set.

NumPy's threaded OpenBLAS is bimodal across processes on our 2-vCPU machines
for mid-sized matmuls: the MLP's 64x784 @ 784x256 takes about 0.25 ms in most
processes and 2-10 ms in some, for the whole life of the process (with
OPENBLAS_NUM_THREADS=1 it is a steady 0.25-0.35 ms). Run twice before trusting
a numpy figure for matmul_f32_1024 or mlp_step.

Each case builds its inputs outside the timed region and times the whole
Python call, allocation of the result included (a user pays for fresh pages on
every new large output, and so does NumPy). A library lacking a feature shows
'n/a' and the exception below the table; the other cases still run.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import statistics
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

Thunk = Callable[[], Any]

# --------------------------------------------------------------------------- #
# Cases
# --------------------------------------------------------------------------- #

RNG = np.random.default_rng(0)
_ARRAYS: Dict[Tuple[str, Tuple[int, ...]], np.ndarray] = {}


def arr(tag: str, *shape: int) -> np.ndarray:
    """A float32 array from N(0, 1), cached so NumPy and the tensors share inputs."""
    key = (tag, shape)
    if key not in _ARRAYS:
        _ARRAYS[key] = RNG.standard_normal(shape, dtype=np.float32)
    return _ARRAYS[key]


@dataclass
class Ctx:
    """A tensor library (rustensor or torch) and the device its inputs live on."""

    T: Any
    device: str

    def t(self, a: np.ndarray, requires_grad: bool = False) -> Any:
        try:
            x = self.T.from_numpy(a)
        except AttributeError:
            x = self.T.tensor(a)
        if self.device != "cpu":
            x = x.to(self.device)
        if requires_grad:
            x.requires_grad_(True)
        return x


@dataclass
class Case:
    name: str
    target: str  # as numpy_time / tensor_time, from the issues
    numpy: Callable[[], Thunk]  # builds inputs, returns the timed call
    tensor: Callable[[Ctx], Thunk]
    cpu_only: bool = False


def _matmul(m: int, k: Optional[int] = None, n: Optional[int] = None) -> Tuple[Callable[[], Thunk], Callable[[Ctx], Thunk]]:
    """(m x k) @ (k x n); one size alone is the square product."""
    k = m if k is None else k
    n = m if n is None else n

    def np_setup() -> Thunk:
        a, b = arr("a", m, k), arr("b", k, n)
        return lambda: a @ b

    def t_setup(c: Ctx) -> Thunk:
        a, b = c.t(arr("a", m, k)), c.t(arr("b", k, n))
        return lambda: a @ b

    return np_setup, t_setup


def _softmax_np() -> Thunk:
    a = arr("a", 4096, 4096)

    def step() -> Any:
        e = np.exp(a - a.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    return step


def _softmax_t(c: Ctx) -> Thunk:
    a = c.t(arr("a", 4096, 4096))
    return lambda: c.T.softmax(a, -1)


def _slice_np() -> Thunk:
    a = arr("a", 8, 8)
    return lambda: a[0:2]


def _slice_t(c: Ctx) -> Thunk:
    a = c.t(arr("a", 8, 8))
    return lambda: a[0:2]


def _add_list_np() -> Thunk:
    a = arr("a", 8)
    return lambda: a + [1.0] * 8


def _add_list_t(c: Ctx) -> Thunk:
    a = c.t(arr("a", 8))
    return lambda: a + [1.0] * 8


def _binary(
    shape_a: Tuple[int, ...], shape_b: Tuple[int, ...]
) -> Tuple[Callable[[], Thunk], Callable[[Ctx], Thunk]]:
    def np_setup() -> Thunk:
        a, b = arr("a", *shape_a), arr("b", *shape_b)
        return lambda: a + b

    def t_setup(c: Ctx) -> Thunk:
        a, b = c.t(arr("a", *shape_a)), c.t(arr("b", *shape_b))
        return lambda: a + b

    return np_setup, t_setup


N16M = 16 * 1024 * 1024


def _bmm_np() -> Thunk:
    a, b = arr("a", 64, 128, 128), arr("b", 64, 128, 128)
    return lambda: np.matmul(a, b)


def _bmm_t(c: Ctx) -> Thunk:
    a, b = c.t(arr("a", 64, 128, 128)), c.t(arr("b", 64, 128, 128))
    return lambda: c.T.matmul(a, b)


def _exp_np() -> Thunk:
    a = arr("a", N16M)
    return lambda: np.exp(a)


def _exp_t(c: Ctx) -> Thunk:
    a = c.t(arr("a", N16M))
    return lambda: c.T.exp(a)


def _sum_np() -> Thunk:
    a = arr("a", N16M)
    return lambda: a.sum()


def _sum_t(c: Ctx) -> Thunk:
    a = c.t(arr("a", N16M))
    return lambda: a.sum()


def _strided_np() -> Thunk:
    s = arr("a", 4096, 4096)
    return lambda: s.T + s


def _strided_t(c: Ctx) -> Thunk:
    s = c.t(arr("a", 4096, 4096))
    return lambda: s.T + s


def _from_numpy_np() -> Thunk:
    # NumPy's nearest operation: a new array object over the same 64 MB.
    a = arr("a", N16M)
    return lambda: a.view()


def _from_numpy_t(c: Ctx) -> Thunk:
    a = arr("a", N16M)
    return lambda: c.T.from_numpy(a)


def _poly_np() -> Thunk:
    # The lesson's f(x) = x^3 + 2x^2 - 5x + 3 and its derivative written by hand.
    def step() -> Any:
        x = np.array([2.0], dtype=np.float32)
        y = x**3 + 2 * x**2 - 5 * x + 3
        dy = 3 * x**2 + 4 * x - 5
        return y, dy

    return step


def _poly_t(c: Ctx) -> Thunk:
    T = c.T

    def step() -> Any:
        x = T.tensor([2.0], requires_grad=True, device=c.device)
        y = x**3 + 2 * x**2 - 5 * x + 3
        y.backward()
        return y, x.grad

    return step


MLP_LR = 1e-3


def _mlp_inputs() -> Dict[str, np.ndarray]:
    return {
        "X": arr("X", 64, 784),
        "Y": arr("Y", 64, 10),
        "W1": arr("W1", 784, 256) * np.float32(0.05),
        "b1": np.zeros(256, np.float32),
        "W2": arr("W2", 256, 10) * np.float32(0.05),
        "b2": np.zeros(10, np.float32),
    }


def _mlp_np() -> Thunk:
    p = {k: v.copy() for k, v in _mlp_inputs().items()}
    X, Y, W1, b1, W2, b2 = (p[k] for k in ("X", "Y", "W1", "b1", "W2", "b2"))
    lr = np.float32(MLP_LR)

    def step() -> Any:
        z1 = X @ W1 + b1
        h = np.maximum(z1, 0)
        out = h @ W2 + b2
        diff = out - Y
        loss = (diff * diff).mean()
        dout = diff * np.float32(2.0 / diff.size)
        dW2 = h.T @ dout
        db2 = dout.sum(0)
        dz1 = (dout @ W2.T) * (z1 > 0)
        dW1 = X.T @ dz1
        db1 = dz1.sum(0)
        for param, grad in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2)):
            param -= lr * grad
        return loss

    return step


def _mlp_t(c: Ctx) -> Thunk:
    T = c.T
    p = {k: v.copy() for k, v in _mlp_inputs().items()}
    X, Y = c.t(p["X"]), c.t(p["Y"])
    params = [c.t(p[k], requires_grad=True) for k in ("W1", "b1", "W2", "b2")]
    W1, b1, W2, b2 = params

    def step() -> Any:
        h = T.relu(X @ W1 + b1)
        out = h @ W2 + b2
        loss = ((out - Y) ** 2).mean()
        loss.backward()
        with T.no_grad():
            for q in params:
                q -= MLP_LR * q.grad
                q.grad.zero_()
        return loss

    return step


# --------------------------------------------------------------------------- #
# nn and training cases (issues 12, 13): forward+backward of the heavy layers, a
# training epoch of the digits example's models, an optimizer step
# --------------------------------------------------------------------------- #


def _conv_shapes() -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    return (32, 16, 32, 32), (32, 16, 3, 3)


def _conv_np() -> Thunk:
    # im2col through a strided window view, one tensordot forward and two for the gradients;
    # col2im adds the nine shifted slices back (what a NumPy user would write)
    xs, ws = _conv_shapes()
    x, w, b = arr("cx", *xs), arr("cw", *ws), arr("cb", ws[0])
    kh, kw = ws[2], ws[3]

    def step() -> Any:
        xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        cols = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))  # N C H W kh kw
        y = np.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2) + b[:, None, None]
        g = np.ones_like(y)
        dw = np.tensordot(g, cols, axes=([0, 2, 3], [0, 2, 3]))  # O C kh kw
        db = g.sum((0, 2, 3))
        dcols = np.tensordot(g, w, axes=([1], [0]))  # N H W C kh kw
        dxp = np.zeros_like(xp)
        h, wd = x.shape[2], x.shape[3]
        for i in range(kh):
            for j in range(kw):
                dxp[:, :, i:i + h, j:j + wd] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
        return y, dw, db, dxp[:, :, 1:-1, 1:-1]

    return step


def _conv_t(c: Ctx) -> Thunk:
    xs, ws = _conv_shapes()
    x = c.t(arr("cx", *xs), requires_grad=True)
    w = c.t(arr("cw", *ws), requires_grad=True)
    b = c.t(arr("cb", ws[0]), requires_grad=True)
    F = c.T.nn.functional

    def step() -> Any:
        for q in (x, w, b):
            q.grad = None
        y = F.conv2d(x, w, b, padding=1)
        y.sum().backward()
        return w.grad

    return step


def _lstm_t(c: Ctx) -> Thunk:
    c.T.manual_seed(0)
    lstm = c.T.nn.LSTM(128, 128, num_layers=2, batch_first=True).to(c.device)
    x = c.t(arr("lx", 32, 50, 128), requires_grad=True)

    def step() -> Any:
        lstm.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = lstm(x)
        out.sum().backward()
        return x.grad

    return step


SDPA_SHAPE = (8, 8, 256, 64)  # batch, heads, length, head dim


def _sdpa_np() -> Thunk:
    q, k, v = (arr(t, *SDPA_SHAPE) for t in ("q", "k", "v"))
    n = SDPA_SHAPE[2]
    scale = np.float32(1.0 / np.sqrt(SDPA_SHAPE[3]))
    future = np.triu(np.ones((n, n), bool), 1)

    def step() -> Any:
        s = (q @ k.swapaxes(-1, -2)) * scale
        s[..., future] = -np.inf
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        o = p @ v
        do = np.ones_like(o)
        dv = p.swapaxes(-1, -2) @ do
        dp = do @ v.swapaxes(-1, -2)
        ds = p * (dp - (dp * p).sum(-1, keepdims=True))
        dq = (ds @ k) * scale
        dk = (ds.swapaxes(-1, -2) @ q) * scale
        return o, dq, dk, dv

    return step


def _sdpa_t(c: Ctx) -> Thunk:
    q, k, v = (c.t(arr(t, *SDPA_SHAPE), requires_grad=True) for t in ("q", "k", "v"))
    F = c.T.nn.functional

    def step() -> Any:
        for t in (q, k, v):
            t.grad = None
        F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
        return q.grad

    return step


def _digits() -> Tuple[np.ndarray, np.ndarray]:
    """The digits example's training split, through the example itself (needs scikit-learn)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "02_neural_network.py"
    spec = importlib.util.spec_from_file_location("digits_example", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    x, y, _, _ = mod.load_digits_split(0)
    return x, y


def _digits_model(T: Any, kind: str) -> Any:
    # the example's MLP and CNN, built from the library under test so torch runs the same model
    nn = T.nn
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 64),
                             nn.ReLU(), nn.Linear(64, 10))
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(256, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 10),
    )


def _epoch(kind: str) -> Callable[[Ctx], Thunk]:
    def setup(c: Ctx) -> Thunk:
        import importlib

        T = c.T
        data = importlib.import_module(T.__name__ + ".utils.data")
        x, y = _digits()
        T.manual_seed(0)
        model = _digits_model(T, kind).to(c.device)
        loader = data.DataLoader(data.TensorDataset(T.from_numpy(x), T.from_numpy(y)), batch_size=32, shuffle=True,
                                 generator=T.Generator().manual_seed(0))
        loss_fn = T.nn.CrossEntropyLoss()
        opt = T.optim.Adam(model.parameters(), lr=3e-3)

        def epoch() -> Any:
            model.train()
            total = 0.0
            for xb, yb in loader:
                xb, yb = xb.to(c.device), yb.to(c.device)
                opt.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                total += loss.item()
            return total

        return epoch

    return setup


ADAM_LAYERS, ADAM_N = 10, 1024


def _adam_np() -> Thunk:
    # torch's Adam update written with in-place NumPy ops over the 20 arrays
    params = [arr(f"p{i}", ADAM_N, ADAM_N).copy() for i in range(ADAM_LAYERS)]
    params += [arr(f"pb{i}", ADAM_N).copy() for i in range(ADAM_LAYERS)]
    grads = [arr(f"g{i}", *p.shape) for i, p in enumerate(params)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    state = {"t": 0}
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8

    def step() -> Any:
        state["t"] += 1
        t = state["t"]
        c1, c2 = 1 - b1**t, 1 - b2**t
        for p, g, mi, vi in zip(params, grads, m, v):
            mi *= b1
            mi += (1 - b1) * g
            vi *= b2
            vi += (1 - b2) * (g * g)
            denom = np.sqrt(vi / c2)
            denom += eps
            p -= (lr / c1) * (mi / denom)
        return params[0]

    return step


def _adam_t(**flags: Any) -> Callable[[Ctx], Thunk]:
    def setup(c: Ctx) -> Thunk:
        T = c.T
        params = [c.t(arr(f"p{i}", ADAM_N, ADAM_N).copy(), requires_grad=True) for i in range(ADAM_LAYERS)]
        params += [c.t(arr(f"pb{i}", ADAM_N).copy(), requires_grad=True) for i in range(ADAM_LAYERS)]
        for i, p in enumerate(params):
            p.grad = c.t(arr(f"g{i}", *p.shape))
        opt = T.optim.Adam(params, lr=1e-3, **flags)
        return opt.step

    return setup


LN_SHAPE = (32, 128, 512)  # batch, length, model width (a Transformer block's norm)
BN_SHAPE = (32, 16, 32, 32)  # the conv2d case's activations


def _layer_norm_np() -> Thunk:
    x, w, b = arr("lnx", *LN_SHAPE), arr("lnw", LN_SHAPE[-1]), arr("lnb", LN_SHAPE[-1])
    g = np.cos(np.arange(x.size, dtype=np.float32)).reshape(x.shape)

    def step() -> Any:
        mu = x.mean(-1, keepdims=True)
        rstd = 1 / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
        xh = (x - mu) * rstd
        y = xh * w + b
        gw = g * w
        dx = rstd * (gw - gw.mean(-1, keepdims=True) - xh * (gw * xh).mean(-1, keepdims=True))
        return y, dx, (g * xh).sum((0, 1)), g.sum((0, 1))

    return step


def _layer_norm_t(c: Ctx) -> Thunk:
    x = c.t(arr("lnx", *LN_SHAPE), requires_grad=True)
    w = c.t(arr("lnw", LN_SHAPE[-1]), requires_grad=True)
    b = c.t(arr("lnb", LN_SHAPE[-1]), requires_grad=True)
    g = c.t(np.cos(np.arange(x.numel(), dtype=np.float32)).reshape(LN_SHAPE))
    F = c.T.nn.functional

    def step() -> Any:
        for q in (x, w, b):
            q.grad = None
        F.layer_norm(x, (LN_SHAPE[-1],), w, b).backward(g)
        return x.grad

    return step


def _batch_norm_np() -> Thunk:
    x, w, b = arr("bnx", *BN_SHAPE), arr("bnw", BN_SHAPE[1]), arr("bnb", BN_SHAPE[1])
    g = np.cos(np.arange(x.size, dtype=np.float32)).reshape(x.shape)
    ax, v = (0, 2, 3), (1, -1, 1, 1)

    def step() -> Any:
        mu = x.mean(ax, keepdims=True)
        rstd = 1 / np.sqrt(x.var(ax, keepdims=True) + 1e-5)
        xh = (x - mu) * rstd
        y = xh * w.reshape(v) + b.reshape(v)
        gw = g * w.reshape(v)
        dx = rstd * (gw - gw.mean(ax, keepdims=True) - xh * (gw * xh).mean(ax, keepdims=True))
        return y, dx, (g * xh).sum(ax), g.sum(ax)

    return step


def _batch_norm_t(c: Ctx) -> Thunk:
    bn = c.T.nn.BatchNorm2d(BN_SHAPE[1]).to(c.device)
    x = c.t(arr("bnx", *BN_SHAPE), requires_grad=True)
    g = c.t(np.cos(np.arange(x.numel(), dtype=np.float32)).reshape(BN_SHAPE))

    def step() -> Any:
        bn.zero_grad(set_to_none=True)
        x.grad = None
        bn(x).backward(g)
        return x.grad

    return step


XENT_SHAPE = (4096, 1000)  # rows (batch x positions), classes


def _xent_np() -> Thunk:
    x = arr("xex", *XENT_SHAPE)
    t = np.random.default_rng(0).integers(0, XENT_SHAPE[1], XENT_SHAPE[0])
    rows = np.arange(XENT_SHAPE[0])

    def step() -> Any:
        m = x.max(1, keepdims=True)
        e = np.exp(x - m)
        s = e.sum(1, keepdims=True)
        loss = (np.log(s[:, 0]) + m[:, 0] - x[rows, t]).mean()
        g = e / s
        g[rows, t] -= 1
        return loss, g / XENT_SHAPE[0]

    return step


def _xent_t(c: Ctx) -> Thunk:
    x = c.t(arr("xex", *XENT_SHAPE), requires_grad=True)
    t = c.T.tensor(np.random.default_rng(0).integers(0, XENT_SHAPE[1], XENT_SHAPE[0]))
    if c.device != "cpu":
        t = t.to(c.device)
    F = c.T.nn.functional

    def step() -> Any:
        x.grad = None
        F.cross_entropy(x, t).backward()
        return x.grad

    return step


def _none_np() -> Thunk:
    raise NotImplementedError("no NumPy counterpart")


CASES: List[Case] = [
    # issue 15's shapes: the layers of training (targets against torch)
    Case("matmul_64x784x256", "t>=0.95", *_matmul(64, 784, 256)),
    Case("matmul_64x256x10", "t>=0.95", *_matmul(64, 256, 10)),
    Case("matmul_128^3", "t>=0.95", *_matmul(128)),
    Case("matmul_512^3", "t>=0.95", *_matmul(512)),
    Case("matmul_f32_1024", ">=0.95", *_matmul(1024)),
    Case("matmul_f32_2048", ">=0.95", *_matmul(2048)),
    Case("matmul_32x4096x4096", "t>=0.95", *_matmul(32, 4096, 4096)),
    Case("matmul_4096x64x4096", "t>=0.95", *_matmul(4096, 64, 4096)),
    Case("bmm_64x128x128", ">=1.2", _bmm_np, _bmm_t),
    Case("add_16M", ">=1.3", *_binary((N16M,), (N16M,))),
    Case("exp_16M", ">=1.5", _exp_np, _exp_t),
    Case("sum_16M", ">=1.5", _sum_np, _sum_t),
    Case("broadcast_4096x1+4096", ">=1.3", *_binary((4096, 1), (4096,))),
    Case("strided_sT+s_4096", ">=2.0", _strided_np, _strided_t),
    Case("add_4", ">=0.67", *_binary((4,), (4,))),  # at most 1.5x numpy's time
    Case("softmax_4096^2", "t>=1.0", _softmax_np, _softmax_t),
    Case("slice_x[0:2]", "few us", _slice_np, _slice_t),
    Case("add_list_8", "few us", _add_list_np, _add_list_t),
    Case("from_numpy_64MB", "few us", _from_numpy_np, _from_numpy_t, cpu_only=True),
    Case("poly_fwd_bwd_1elem", ">=0.25", _poly_np, _poly_t),  # at most 4x numpy's time
    Case("mlp_step_784-256-10", ">=0.77", _mlp_np, _mlp_t),  # at most 1.3x numpy's time
    # the targets of these are against torch (the "vs torch" column, torch time / ours)
    Case("conv2d_fwd_bwd_32x16x32^2", "t>=0.9", _conv_np, _conv_t),
    Case("lstm2_fwd_bwd_b32_t50_h128", "t>=0.9", _none_np, _lstm_t),
    Case("sdpa_causal_fwd_bwd_8x8x256", "t>=0.9", _sdpa_np, _sdpa_t),
    Case("layer_norm_fwd_bwd_32x128x512", "t>=0.9", _layer_norm_np, _layer_norm_t),
    Case("batch_norm2d_fwd_bwd_32x16x32^2", "t>=0.9", _batch_norm_np, _batch_norm_t),
    Case("cross_entropy_fwd_bwd_4096x1000", "t>=0.9", _xent_np, _xent_t),
    Case("digits_mlp_epoch", "t>=1.0", _none_np, _epoch("mlp")),
    Case("digits_cnn_epoch", "t>=0.83", _none_np, _epoch("cnn")),
    Case("adam_step_10x1024^2", "t>=0.9", _adam_np, _adam_t()),
    Case("adam_step_10x1024^2_foreach", "t>=0.9", _adam_np, _adam_t(foreach=True)),
    Case("adam_step_10x1024^2_fused", "t>=0.9", _adam_np, _adam_t(fused=True)),
]

# --------------------------------------------------------------------------- #
# Timing
# --------------------------------------------------------------------------- #


@dataclass
class Timing:
    seconds: Optional[float] = None
    error: Optional[str] = None


def measure(fn: Thunk, sync: Callable[[], None], min_time: float, repeats: int) -> float:
    """Median seconds per call over `repeats` rounds of at least `min_time` each."""
    fn()
    sync()
    number = 1
    while True:
        elapsed = _run(fn, sync, number)
        if elapsed >= min_time or number >= 1 << 20:
            break
        number *= 2 if elapsed <= 0 else max(2, min(10, int(min_time / elapsed) + 1))
    rounds = [elapsed / number]
    for _ in range(repeats - 1):
        rounds.append(_run(fn, sync, number) / number)
    return statistics.median(rounds)


SETTLE_S = 0.3


def _run(fn: Thunk, sync: Callable[[], None], number: int) -> float:
    # The collector would charge one library for another's garbage.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        return time.perf_counter() - start
    finally:
        if gc_was_enabled:
            gc.enable()


def _timed(
    build: Callable[[], Thunk], sync: Callable[[], None], min_time: float, repeats: int
) -> Timing:
    try:
        fn = build()
        # OpenBLAS (NumPy) and OpenMP (torch) workers busy-wait for a while after each call;
        # without a pause the next library's threads share the cores with them.
        time.sleep(SETTLE_S)
        return Timing(seconds=measure(fn, sync, min_time, repeats))
    except Exception as exc:  # any missing feature: report it and go on
        last = traceback.extract_tb(exc.__traceback__)[-1]
        return Timing(error=f"{type(exc).__name__}: {exc} (line {last.lineno})")
    finally:
        gc.collect()


def _no_sync() -> None:
    pass


def _gpu_sync(T: Any) -> Callable[[], None]:
    for holder in (getattr(T, "cuda", None), T):
        fn = getattr(holder, "synchronize", None)
        if callable(fn):
            return fn
    raise RuntimeError("no synchronize(): GPU timings would measure only the launch")


# --------------------------------------------------------------------------- #
# Environment report
# --------------------------------------------------------------------------- #


def report_environment() -> None:
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    slow = [v for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ]
    if slow:
        settings = ", ".join(f"{v}={os.environ[v]}" for v in slow)
        print(
            f"WARNING: {settings} is set: OpenBLAS may use slower kernels and numpy's "
            "figures suffer; rerun as `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "
            "python benchmarks/bench.py` for a fair numpy."
        )
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return
    for pool in threadpool_info():
        if pool.get("user_api") != "blas":
            continue
        print(
            "numpy BLAS: {} {} ({}), {} threads".format(
                pool.get("internal_api"),
                pool.get("version"),
                pool.get("architecture") or "?",
                pool.get("num_threads"),
            )
        )


def _import(name: str) -> Tuple[Optional[Any], str]:
    try:
        module = __import__(name)
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"
    threads = getattr(module, "get_num_threads", None)
    version = getattr(module, "__version__", "?")
    note = f"{name} {version}"
    if callable(threads):
        try:
            note += f", {threads()} threads"
        except Exception:
            pass
    return module, note


# --------------------------------------------------------------------------- #
# Main
# --------------------------------------------------------------------------- #


def _fmt_time(t: Timing) -> str:
    if t.seconds is None:
        return "n/a"
    s = t.seconds
    if s < 1e-3:
        return f"{s * 1e6:.2f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.3f} s"


def _fmt_ratio(base: Timing, other: Timing) -> str:
    if base.seconds is None or other.seconds is None or other.seconds <= 0:
        return "n/a"
    return f"{base.seconds / other.seconds:.2f}"


def _gpu_best(fn: Callable[[], Any], sync: Callable[[], None], min_time: float) -> float:
    """Best seconds per call of `fn` on a GPU, synchronising around batches of calls."""
    fn()
    sync()
    best = float("inf")
    for _ in range(5):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            if n >= 3 and time.perf_counter() - t0 >= min_time / 5:
                break
        sync()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def gpu_report(libs: List[Tuple[str, Any, str, Callable[[], None]]], quick: bool) -> None:
    """The GPU figures of issue 4: matmul TFLOP/s, elementwise add GB/s, dispatch overhead."""
    min_time = 0.3 if quick else 1.0
    sizes = [1024, 4096] if quick else [1024, 4096, 8192]
    n_add = 1 << 26
    print()
    print("GPU figures (float32; torch with TF32 off)")
    rt = libs[0][1] if libs and libs[0][0] == "rustensor" else None
    if rt is not None and rt.cuda.get_device_properties().type == "Cpu":
        # lavapipe and friends: the figures mean nothing, so keep the run short
        print("software adapter: these figures say nothing about GPU speed (sizes reduced)")
        sizes, n_add, min_time = [256], 1 << 20, 0.1
    header = f"{'figure':<28}" + "".join(f"{name:>14}" for name, _, _, _ in libs)
    print(header)
    print("-" * len(header))
    rows: List[Tuple[str, List[str]]] = []
    for n in sizes:
        cells = []
        for _, T, dev, sync in libs:
            try:
                a = T.randn(n, n, device=dev)
                b = T.randn(n, n, device=dev)
                s = _gpu_best(lambda: a @ b, sync, min_time)
                cells.append(f"{2 * n**3 / s / 1e12:.3g}")
            except Exception as exc:  # a missing feature shows n/a, the rest still runs
                cells.append(f"n/a ({type(exc).__name__})")
        rows.append((f"matmul {n}^2 TFLOP/s", cells))
    cells = []
    n = n_add
    for _, T, dev, sync in libs:
        try:
            a = T.randn(n, device=dev)
            b = T.randn(n, device=dev)
            s = _gpu_best(lambda: a + b, sync, min_time)
            cells.append(f"{3 * 4 * n / s / 1e9:.0f}")
        except Exception as exc:
            cells.append(f"n/a ({type(exc).__name__})")
    rows.append((f"add {n >> 20}M GB/s", cells))
    cells = []
    for _, T, dev, sync in libs:
        x = T.ones(16, device=dev)

        def chain() -> None:
            y = x
            for _ in range(100):
                y = y + 1.0

        s = _gpu_best(chain, sync, min_time)
        cells.append(f"{s / 100 * 1e6:.1f}")
    rows.append(("small op us (amortised)", cells))
    for name, cells in rows:
        print(f"{name:<28}" + "".join(f"{c:>14}" for c in cells))


# Issue 15's aims against torch, same run: matmul >= 0.95, MLP step >= 1.0, sum and softmax >= 1.0.
_TORCH_AIMS = {"matmul": 0.95, "bmm": 0.95, "mlp_step": 1.0, "sum_": 1.0, "softmax": 1.0}


def _torch_aim(case: Case) -> Optional[float]:
    if case.target.startswith("t>="):
        return float(case.target[3:])
    return next((v for k, v in _TORCH_AIMS.items() if case.name.startswith(k)), None)


def print_vs_torch(rows: List[Tuple[Case, Timing, Timing, Timing]], have_torch: bool) -> None:
    """Both ratios per case (vs NumPy, vs torch) and whether the torch aim is met."""
    print()
    if not have_torch:
        print("--vs-torch: torch is not importable; install it in a scratch venv (never in CI)")
        return
    print(f"{'case':<30}{'vs numpy':>10}{'vs torch':>10}{'aim':>8}  met")
    met = missed = 0
    for case, np_t, rt_t, th_t in rows:
        aim = _torch_aim(case)
        ok = ""
        if aim is not None and rt_t.seconds and th_t.seconds:
            good = th_t.seconds / rt_t.seconds >= aim
            met, missed = met + good, missed + (not good)
            ok = "yes" if good else "NO"
        aim_s = f">={aim:g}" if aim is not None else "-"
        print(f"{case.name:<30}{_fmt_ratio(np_t, rt_t):>10}{_fmt_ratio(th_t, rt_t):>10}{aim_s:>8}  {ok}")
    print(f"torch aims met: {met} of {met + missed}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter repeats")
    parser.add_argument(
        "--only", metavar="NAME", help="comma-separated words; run cases whose name contains one"
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--no-torch", action="store_true", help="skip torch even if importable")
    parser.add_argument("--gpu-only", action="store_true", help="with --device gpu: only the GPU figures")
    parser.add_argument(
        "--vs-torch", action="store_true", help="end with each case's torch_time / rustensor_time against its aim"
    )
    args = parser.parse_args(argv)

    min_time, repeats = (0.05, 3) if args.quick else (0.2, 7)
    cases = CASES
    if args.only:
        words = [w.strip() for w in args.only.split(",") if w.strip()]
        cases = [c for c in CASES if any(w in c.name for w in words)]
        if not cases:
            print(f"no case matches {args.only!r}; cases: {', '.join(c.name for c in CASES)}")
            return 2

    report_environment()
    rt, rt_note = _import("rustensor")
    print(rt_note if rt else f"rustensor unavailable: {rt_note}")
    th, th_note = (None, "skipped") if args.no_torch else _import("torch")
    if th:
        print(th_note)

    rt_device, th_device = "cpu", "cpu"
    rt_sync, th_sync = _no_sync, _no_sync
    if args.device == "gpu":
        rt_device, th_device = "gpu", "cuda"
        if rt is not None:
            try:
                rt.tensor([1.0], device=rt_device).cpu()
                rt_sync = _gpu_sync(rt)
            except Exception as exc:
                print(f"rustensor: no GPU ({type(exc).__name__}: {exc}); its column is skipped")
                rt = None
        if th is not None and not th.cuda.is_available():
            print("torch: CUDA not available; its column is skipped")
            th = None
        if th is not None:
            th_sync = th.cuda.synchronize
            th.backends.cuda.matmul.allow_tf32 = False
            th.backends.cudnn.allow_tf32 = False
        if rt is not None:
            print(f"rustensor adapter: {rt.cuda.get_device_properties()}")
        libs = [(n, m, d, s) for n, m, d, s in (("rustensor", rt, rt_device, rt_sync), ("torch", th, th_device, th_sync)) if m]
        gpu_report(libs, args.quick)
        if args.gpu_only:
            return 0
    print(f"device: {args.device}; ratio = numpy time / library time (> 1: faster than numpy)")
    print()

    header = f"{'case':<30}{'target':>8}{'numpy':>12}{'rustensor':>12}{'ratio':>8}"
    if th is not None:
        header += f"{'torch':>12}{'ratio':>8}{'vs torch':>10}"
    print(header)
    print("-" * len(header))
    errors: List[str] = []
    summary: List[Tuple[Case, Timing, Timing, Timing]] = []
    for case in cases:
        np_t = _timed(case.numpy, _no_sync, min_time, repeats)
        libs = [(rt, rt_device, rt_sync, "rustensor")]
        if th is not None:
            libs.append((th, th_device, th_sync, "torch"))
        cells = [f"{case.name:<30}{case.target:>8}{_fmt_time(np_t):>12}"]
        if np_t.error and "no NumPy counterpart" not in np_t.error:
            errors.append(f"{case.name} / numpy: {np_t.error}")
        timings = []
        for module, device, sync, label in libs:
            if module is None:
                t = Timing(error="not importable")
            elif case.cpu_only and device != "cpu":
                t = Timing(error="CPU-only case")
            else:
                ctx = Ctx(module, device)
                t = _timed(functools.partial(case.tensor, ctx), sync, min_time, repeats)
            if t.error and module is not None:
                errors.append(f"{case.name} / {label}: {t.error}")
            cells.append(f"{_fmt_time(t):>12}{_fmt_ratio(np_t, t):>8}")
            timings.append(t)
        if th is not None:
            cells.append(f"{_fmt_ratio(timings[1], timings[0]):>10}")
            summary.append((case, np_t, timings[0], timings[1]))
        print("".join(cells), flush=True)

    if args.vs_torch:
        print_vs_torch(summary, th is not None)
    if errors:
        print()
        print("n/a reasons:")
        for line in errors:
            print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
