"""Fuzz the Python entry points with atheris: tensor construction from arbitrary nested data
and arrays, indexing with arbitrary keys, and random op sequences (on the GPU too when one is
available). Any exception other than the built-in types torch code catches is a crash, and so
is a Rust panic (pyo3's PanicException is a BaseException) or an abort.

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


def step(fdp, ts):
    k = fdp.ConsumeIntInRange(0, 6)
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
