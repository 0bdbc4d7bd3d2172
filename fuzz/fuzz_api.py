"""Fuzz the Python entry points with atheris: tensor construction from arbitrary nested data
and arrays, indexing with arbitrary keys, and random op sequences (on the GPU too when one is
available). Any exception other than the built-in types torch code catches is a crash, and so
is a Rust panic (pyo3's PanicException is a BaseException) or an abort.

The families of issue 16 have their own steps: deep and wide autograd graphs (backward, then
drop), index kernels fed indices anywhere in the 64-bit range (the GPU must agree with the CPU:
same values, or an error where the CPU raises), and, now and then, a fork whose child must run
a parallel op (and refuse the GPU when the parent opened it) without hanging.

    python fuzz/fuzz_api.py -max_total_time=60          # CI's bounded run
    python fuzz/fuzz_api.py -max_total_time=3600        # a longer run
"""

import sys

import atheris

with atheris.instrument_imports():
    import numpy as np

    import rustensor as torch

ALLOWED = (RuntimeError, IndexError, TypeError, ValueError, OverflowError, ZeroDivisionError, NotImplementedError)
DEVICES = ["cpu"] + (["gpu"] if torch.cuda.is_available() else [])
DTYPES = [torch.bool, torch.int32, torch.int64, torch.float16, torch.float32, torch.float64]
NP_DTYPES = [np.bool_, np.int32, np.int64, np.float32, np.float64, np.uint8, np.int16, np.float16, np.complex64, object]
UNARY = ["neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "floor", "sign", "isnan", "logical_not",
         "bitwise_not", "sum", "mean", "prod", "amax", "argmax", "any", "all", "cumsum", "softmax", "t",
         "flatten", "contiguous", "clone", "nonzero", "float", "half", "long", "int", "bool"]
BINARY = ["add", "sub", "mul", "div", "floor_divide", "remainder", "pow", "maximum", "eq", "lt", "logical_and",
          "bitwise_and", "matmul", "atan2", "where"]


def scalar(fdp):
    k = fdp.ConsumeIntInRange(0, 5)
    if k == 0:
        return fdp.ConsumeBool()
    if k == 1:
        return fdp.ConsumeIntInRange(-(2**70), 2**70)
    if k == 2:
        return fdp.ConsumeFloat()
    if k == 3:
        return fdp.ConsumeIntInRange(-5, 5)
    if k == 4:
        return None
    return fdp.ConsumeUnicodeNoSurrogates(3)


def nested(fdp, depth=0):
    if depth > 3 or fdp.ConsumeIntInRange(0, 3) == 0:
        return scalar(fdp)
    n = fdp.ConsumeIntInRange(0, 4)
    ragged = fdp.ConsumeIntInRange(0, 10) == 0
    first = [nested(fdp, depth + 1) for _ in range(n)]
    if ragged and first:
        first[-1] = [first[-1], first[-1]]
    return first


def make_tensor(fdp):
    k = fdp.ConsumeIntInRange(0, 3)
    if k == 0:
        dt = DTYPES[fdp.ConsumeIntInRange(0, len(DTYPES) - 1)] if fdp.ConsumeBool() else None
        return torch.tensor(nested(fdp), dtype=dt)
    shape = tuple(fdp.ConsumeIntInRange(0, 4) for _ in range(fdp.ConsumeIntInRange(0, 4)))
    npd = NP_DTYPES[fdp.ConsumeIntInRange(0, len(NP_DTYPES) - 1)]
    a = np.zeros(shape, dtype=npd)
    if a.dtype != object and a.size:
        a.flat[:] = np.arange(a.size) - 3
    if fdp.ConsumeBool() and a.ndim:
        a = a[::-1]
    if fdp.ConsumeBool() and a.ndim > 1:
        a = a.T
    if fdp.ConsumeBool():
        a = a.astype(a.dtype.newbyteorder(">")) if a.dtype != object else a
    if fdp.ConsumeBool():
        a.setflags(write=False)
    if k == 1:
        return torch.from_numpy(a)
    if k == 2:
        return torch.tensor(a)
    return torch.randn(*shape[:3])


def key(fdp, depth=0):
    k = fdp.ConsumeIntInRange(0, 7)
    if k == 0:
        return fdp.ConsumeIntInRange(-6, 6)
    if k == 1:
        return slice(fdp.ConsumeIntInRange(-6, 6), fdp.ConsumeIntInRange(-6, 6), fdp.ConsumeIntInRange(-3, 3) or None)
    if k == 2:
        return None
    if k == 3:
        return Ellipsis
    if k == 4:
        return [fdp.ConsumeIntInRange(-6, 6) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    if k == 5:
        return torch.tensor([fdp.ConsumeBool() for _ in range(fdp.ConsumeIntInRange(0, 4))])
    if k == 6 and depth == 0:
        return tuple(key(fdp, 1) for _ in range(fdp.ConsumeIntInRange(0, 4)))
    return fdp.ConsumeFloat()


class Finding(AssertionError):
    """A silent wrong answer or a hang: not in ALLOWED, so atheris reports it."""


def index_value(fdp):
    k = fdp.ConsumeIntInRange(0, 3)
    if k == 0:
        return fdp.ConsumeIntInRange(-6, 6)
    if k == 1:
        return (1 << fdp.ConsumeIntInRange(31, 62)) + fdp.ConsumeIntInRange(-2, 2)
    if k == 2:
        return -(1 << fdp.ConsumeIntInRange(31, 63)) + fdp.ConsumeIntInRange(0, 2)
    return fdp.ConsumeIntInRange(-(2**63), 2**63 - 1)


def deep_graph(fdp):
    """A long chain or a wide fan of recorded ops; backward, then drop (which once recursed)."""
    dev = DEVICES[fdp.ConsumeIntInRange(0, len(DEVICES) - 1)]
    w = torch.ones(fdp.ConsumeIntInRange(1, 3), device=dev, requires_grad=True)
    n = fdp.ConsumeIntInRange(1, 3000 if dev == "cpu" else 300)
    y = w
    if fdp.ConsumeBool():
        for i in range(n):
            y = y * 1.0 if i % 3 else (y[1:] if y.shape[0] > 1 and fdp.ConsumeBool() else y.unsqueeze(0)[0])
        y.sum().backward()
    else:
        y = sum((w * 2).sum() for _ in range(min(n, 200)))
        y.backward()
    if w.grad is None or not bool(torch.isfinite(w.grad).all()):
        raise Finding(f"deep graph on {dev}: bad gradient {w.grad}")
    del y


def index_family(fdp):
    """gather / index_select / take / put with arbitrary 64-bit indices, GPU against CPU."""
    n = fdp.ConsumeIntInRange(1, 5)
    x = torch.arange(2 * n, dtype=torch.float32).reshape(2, n)
    idx = torch.tensor([[index_value(fdp) for _ in range(fdp.ConsumeIntInRange(1, 3))]])
    which = fdp.ConsumeIntInRange(0, 3)
    dim = fdp.ConsumeIntInRange(0, 1)

    def run(t, i):
        if which == 0:
            return t.gather(dim, i)
        if which == 1:
            return t.index_select(dim, i[0])
        if which == 2:
            return t[i[0]] if dim == 0 else t[:, i[0]]
        t = t.clone()
        t[:, i[0]] = -1.0
        return t

    try:
        ref = run(x, idx).tolist()
    except ALLOWED:
        ref = None
    if len(DEVICES) < 2:
        return
    try:
        got = run(x.to("gpu"), idx.to("gpu")).cpu().tolist()
    except ALLOWED:
        got = None
    if got != ref:
        raise Finding(f"index op {which} dim {dim} with {idx.tolist()}: gpu {got}, cpu {ref}")


def forked(fdp):
    """A child after fork must finish a parallel op (and refuse an inherited GPU) quickly."""
    import os
    import time

    big = torch.ones(1 << 16)
    float(big.sum())
    pid = os.fork()
    if pid == 0:
        ok = float((big * 2).sum()) == 2.0 * (1 << 16)
        if len(DEVICES) > 1:
            try:
                torch.ones(2, device="gpu").cpu()
                ok = False
            except RuntimeError:
                pass
        os._exit(0 if ok else 1)
    end = time.time() + 30
    while time.time() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if os.waitstatus_to_exitcode(status) != 0:
                raise Finding(f"forked child failed: {status}")
            return
        time.sleep(0.005)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise Finding("forked child hung")


def step(fdp, ts):
    k = fdp.ConsumeIntInRange(0, 9)
    if k == 7:
        return deep_graph(fdp)
    if k == 8:
        return index_family(fdp)
    if k == 9:
        # a fork costs milliseconds: one step in a thousand or so
        return forked(fdp) if fdp.ConsumeIntInRange(0, 99) == 0 else None
    t = ts[fdp.ConsumeIntInRange(0, len(ts) - 1)]
    if k == 0:
        return t[key(fdp)]
    if k == 1:
        t = t.clone()
        t[key(fdp)] = scalar(fdp) if fdp.ConsumeBool() else ts[0]
        return t
    if k == 2:
        return getattr(t, UNARY[fdp.ConsumeIntInRange(0, len(UNARY) - 1)])()
    if k == 3:
        o = ts[fdp.ConsumeIntInRange(0, len(ts) - 1)] if fdp.ConsumeBool() else scalar(fdp)
        name = BINARY[fdp.ConsumeIntInRange(0, len(BINARY) - 1)]
        if name == "where":
            return torch.where(t > 0, t, o)
        return getattr(torch, name)(t, o)
    if k == 4:
        return t.to(DEVICES[fdp.ConsumeIntInRange(0, len(DEVICES) - 1)])
    if k == 5:
        shape = [fdp.ConsumeIntInRange(-2, 6) for _ in range(fdp.ConsumeIntInRange(0, 3))]
        return t.reshape(shape) if fdp.ConsumeBool() else t.expand(*shape)
    d = fdp.ConsumeIntInRange(-3, 3)
    return t.sum(d) if fdp.ConsumeBool() else t.gather(d, torch.tensor([[fdp.ConsumeIntInRange(-4, 4)]]))


def one_input(data):
    fdp = atheris.FuzzedDataProvider(data)
    ts = []
    try:
        ts.append(make_tensor(fdp))
        for _ in range(fdp.ConsumeIntInRange(0, 8)):
            r = step(fdp, ts)
            if isinstance(r, torch.Tensor):
                ts.append(r)
        for t in ts:
            repr(t)
            t.sum().item() if t.numel() and t.dtype != torch.bool else None
        if DEVICES[-1] == "gpu":
            torch.cuda.synchronize()
    except ALLOWED:
        pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
