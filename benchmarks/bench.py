"""rustensor against NumPy (and torch when importable), timed in the same run.

Prints one row per case: the median time per call of each library and the
ratio numpy_time / other_time (> 1 means faster than NumPy), beside the target
from the issues (#2 core engine, #3 autograd).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench.py
    python benchmarks/bench.py --quick                  # fewer, shorter repeats
    python benchmarks/bench.py --only matmul,add_4      # cases whose name contains a word
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


def _matmul(n: int) -> Tuple[Callable[[], Thunk], Callable[[Ctx], Thunk]]:
    def np_setup() -> Thunk:
        a, b = arr("a", n, n), arr("b", n, n)
        return lambda: a @ b

    def t_setup(c: Ctx) -> Thunk:
        a, b = c.t(arr("a", n, n)), c.t(arr("b", n, n))
        return lambda: a @ b

    return np_setup, t_setup


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


def _conv_inputs() -> Dict[str, np.ndarray]:
    # issue 12's figure: batch 32, 16 -> 32 channels, 32x32 images, 3x3 kernel, padding 1
    return {
        "x": arr("cx", 32, 16, 32, 32),
        "w": arr("cw", 32, 16, 3, 3) * np.float32(0.1),
        "b": arr("cb", 32),
    }


def _conv_np() -> Thunk:
    p = _conv_inputs()
    x, w, b = p["x"], p["w"], p["b"]
    n, c, h, wd = x.shape
    o = w.shape[0]

    def step() -> Any:
        xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        # (N, C, H, W, 3, 3) windows, a view; one GEMM-shaped tensordot each way
        cols = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))
        y = np.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2) + b[None, :, None, None]
        g = np.ones_like(y)
        gb = g.sum((0, 2, 3))
        gw = np.tensordot(g, cols, axes=([0, 2, 3], [0, 2, 3]))
        gcols = np.tensordot(g, w, axes=([1], [0]))  # (N, H, W, C, 3, 3)
        gx = np.zeros((n, c, h + 2, wd + 2), np.float32)
        for i in range(3):
            for j in range(3):
                gx[:, :, i:i + h, j:j + wd] += gcols[..., i, j].transpose(0, 3, 1, 2)
        return y, gb, gw, gx[:, :, 1:-1, 1:-1], o

    return step


def _conv_t(c: Ctx) -> Thunk:
    p = _conv_inputs()
    x = c.t(p["x"], requires_grad=True)
    w, b = c.t(p["w"], requires_grad=True), c.t(p["b"], requires_grad=True)
    conv2d = c.T.nn.functional.conv2d

    def step() -> Any:
        y = conv2d(x, w, b, padding=1)
        y.sum().backward()
        return y

    return step


CASES: List[Case] = [
    Case("matmul_f32_1024", ">=0.95", *_matmul(1024)),
    Case("matmul_f32_2048", ">=0.95", *_matmul(2048)),
    Case("bmm_64x128x128", ">=1.2", _bmm_np, _bmm_t),
    Case("add_16M", ">=1.3", *_binary((N16M,), (N16M,))),
    Case("exp_16M", ">=1.5", _exp_np, _exp_t),
    Case("sum_16M", ">=1.5", _sum_np, _sum_t),
    Case("broadcast_4096x1+4096", ">=1.3", *_binary((4096, 1), (4096,))),
    Case("strided_sT+s_4096", ">=2.0", _strided_np, _strided_t),
    Case("add_4", ">=0.67", *_binary((4,), (4,))),  # at most 1.5x numpy's time
    Case("from_numpy_64MB", "few us", _from_numpy_np, _from_numpy_t, cpu_only=True),
    Case("poly_fwd_bwd_1elem", ">=0.25", _poly_np, _poly_t),  # at most 4x numpy's time
    Case("mlp_step_784-256-10", ">=0.77", _mlp_np, _mlp_t),  # at most 1.3x numpy's time
    # issue 12 aims at >= 0.9x torch's CPU time here; numpy's figure is im2col by window views
    Case("conv2d_fwd_bwd_32x16x32", "-", _conv_np, _conv_t),
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


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter repeats")
    parser.add_argument(
        "--only", metavar="NAME", help="comma-separated words; run cases whose name contains one"
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--no-torch", action="store_true", help="skip torch even if importable")
    parser.add_argument("--gpu-only", action="store_true", help="with --device gpu: only the GPU figures")
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

    header = f"{'case':<24}{'target':>8}{'numpy':>12}{'rustensor':>12}{'ratio':>8}"
    if th is not None:
        header += f"{'torch':>12}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    errors: List[str] = []
    for case in cases:
        np_t = _timed(case.numpy, _no_sync, min_time, repeats)
        libs = [(rt, rt_device, rt_sync, "rustensor")]
        if th is not None:
            libs.append((th, th_device, th_sync, "torch"))
        cells = [f"{case.name:<24}{case.target:>8}{_fmt_time(np_t):>12}"]
        if np_t.error:
            errors.append(f"{case.name} / numpy: {np_t.error}")
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
        print("".join(cells), flush=True)

    if errors:
        print()
        print("n/a reasons:")
        for line in errors:
            print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
