"""Reliability: long training runs keep memory flat on both devices, several Python threads
share the engine (and the GPU queue) without wrong results or deadlock, and memory shared
with NumPy lives exactly as long as it must.

Soak length: RUSTENSOR_SOAK_STEPS steps on each device (unset: 2000 on the CPU and 500 on
the GPU, which CI runs on a software adapter). The long soak of issue 5 is

    RUSTENSOR_SOAK_STEPS=10000 python -m pytest -q tests/test_reliability.py -k soak
"""

import gc
import os
import threading
import weakref

import numpy as np
import pytest

import rustensor as torch

_SOAK_ENV = os.environ.get("RUSTENSOR_SOAK_STEPS")
SOAK_STEPS = {"cpu": int(_SOAK_ENV or 2000), "gpu": int(_SOAK_ENV or 500)}
HAS_GPU = torch.cuda.is_available()
if os.environ.get("CI") == "true" and not HAS_GPU:
    raise RuntimeError("CI=true but no GPU adapter: the GPU soak and thread tests must run")
DEVICES = ["cpu"] + (["gpu"] if HAS_GPU else [])


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _mlp(device, seed=0):
    torch.manual_seed(seed)
    X = torch.randn(64, 784, device=device)
    Y = torch.randint(0, 10, (64,), device=device)
    W1 = (torch.randn(784, 128, device=device) * 0.05).requires_grad_()
    b1 = torch.zeros(128, device=device, requires_grad=True)
    W2 = (torch.randn(128, 10, device=device) * 0.05).requires_grad_()
    b2 = torch.zeros(10, device=device, requires_grad=True)
    params = [W1, b1, W2, b2]

    def step():
        h = (X @ W1 + b1).relu()
        logp = torch.log_softmax(h @ W2 + b2, dim=1)
        loss = -logp.gather(1, Y.unsqueeze(1)).mean()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= 0.1 * p.grad
                p.grad.zero_()
        return loss

    return step


@pytest.mark.parametrize("device", DEVICES)
def test_soak_training_loop_memory_is_flat(device):
    steps = SOAK_STEPS[device]
    step = _mlp(device)
    first = step().item()
    for _ in range(50):  # warm-up: pools, pipeline caches
        step()
    if device == "gpu":
        torch.cuda.synchronize()
    gc.collect()
    rss0 = _rss_bytes()
    dev0 = torch.cuda.memory_allocated() if device == "gpu" else 0
    for i in range(steps):
        loss = step()
        if device == "gpu" and i % 100 == 0:
            torch.cuda.synchronize()
    last = loss.item()
    gc.collect()
    if device == "gpu":
        torch.cuda.synchronize()
        dev1 = torch.cuda.memory_allocated()
        assert dev1 <= dev0 + (1 << 20), f"GPU memory grew from {dev0} to {dev1} bytes over {steps} steps"
    growth = _rss_bytes() - rss0
    # shown with -s: the figures the README's Reliability section quotes
    print(f"\nsoak {device}: {steps} steps, loss {first:.3f} -> {last:.3f}, resident memory "
          f"{rss0 / 2**20:.1f} -> {(rss0 + growth) / 2**20:.1f} MiB"
          + (f", gpu allocated {dev0} -> {dev1} bytes" if device == "gpu" else ""))
    assert growth < 32 * 2**20, f"resident memory grew by {growth / 2**20:.1f} MiB over {steps} steps"
    assert last < first


def test_reference_cycles_through_grad_are_collected():
    x = torch.randn(1000, 1000, requires_grad=True)
    y = (x * 2).sum()
    y.backward(create_graph=True)  # x.grad holds a graph that reaches x
    r = weakref.ref(x)
    del x, y
    gc.collect()
    assert r() is None


@pytest.mark.parametrize("device", DEVICES)
def test_del_frees_at_once(device):
    if device == "gpu":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        x = torch.ones(1 << 22, device="gpu")
        assert torch.cuda.memory_allocated() >= base + (16 << 20)
        del x
        torch.cuda.synchronize()
        assert torch.cuda.memory_allocated() == base
    else:
        gc.collect()
        rss0 = _rss_bytes()
        x = torch.ones(1 << 25)  # 128 MiB
        assert _rss_bytes() > rss0 + (64 << 20)
        del x
        assert _rss_bytes() < rss0 + (32 << 20)


def test_from_numpy_keeps_its_array_alive():
    a = np.arange(1000, dtype=np.float32)
    t = torch.from_numpy(a)
    r = weakref.ref(a) if hasattr(a, "__weakref__") else None
    del a
    gc.collect()
    assert t[999].item() == 999.0
    if r is not None:
        assert r() is not None  # the tensor holds it
        del t
        gc.collect()
        assert r() is None


def test_numpy_view_keeps_the_storage_alive():
    t = torch.arange(1000.0)
    v = t.numpy()
    del t
    gc.collect()
    assert v[999] == 999.0
    v[0] = 5.0
    assert v.sum() == sum(range(1000)) + 5.0


@pytest.mark.parametrize("device", DEVICES)
def test_threads_give_the_same_results_as_one_thread(device):
    """4 threads run forward, backward and readbacks at once on separate graphs."""

    def work(seed):
        rng = np.random.default_rng(seed)
        x = torch.tensor(rng.standard_normal((32, 48)).astype(np.float32)).to(device)
        w = torch.tensor(rng.standard_normal((48, 16)).astype(np.float32), device=device, requires_grad=True)
        out = []
        for _ in range(20):
            y = torch.softmax((x @ w).tanh(), 1)
            loss = (y * y).sum()
            loss.backward()
            out.append((loss.item(), w.grad.cpu().numpy().copy()))
            with torch.no_grad():
                w -= 0.01 * w.grad
                w.grad.zero_()
        return out

    serial = [work(s) for s in range(4)]
    results = [None] * 4
    errors = []

    def run(i):
        try:
            results[i] = work(i)
        except Exception as e:  # noqa: BLE001 - surfaced below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "deadlock: a worker thread never finished"
    assert not errors, errors
    for got, want in zip(results, serial):
        for (lg, gg), (lw, gw) in zip(got, want):
            assert lg == lw
            np.testing.assert_array_equal(gg, gw)


def test_no_grad_is_per_thread_with_gpu_work():
    seen = {}

    def other():
        x = torch.ones(3, device=DEVICES[-1], requires_grad=True)
        seen["grad_enabled"] = torch.is_grad_enabled()
        seen["requires_grad"] = (x * 2).requires_grad

    with torch.no_grad():
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert seen == {"grad_enabled": True, "requires_grad": True}
