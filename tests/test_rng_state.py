"""Saving and restoring random state: torch.get_rng_state/set_rng_state, torch.random,
torch.cuda's forms, Generator.get_state/set_state and fork_rng make the next draws repeat."""

import numpy as np
import pytest

import rustensor as torch
import rustensor.nn.functional as F


def _draws(generator=None, device=None):
    kw = {} if generator is None else {"generator": generator}
    out = [
        torch.rand(4, **kw, device=device),
        torch.randn(2, 3, **kw, device=device),
        torch.randint(0, 10, (5,), **kw, device=device),
        torch.randint(-(2**40), 2**40, (3,), **kw),
        torch.randperm(7, **kw),
        torch.multinomial(torch.tensor([0.1, 0.5, 0.4]), 4, replacement=True, **kw),
        torch.multinomial(torch.tensor([0.1, 0.5, 0.4]), 2, **kw),
        torch.empty(3, device=device).normal_(**kw),
        torch.empty(3, device=device).uniform_(-1, 1, **kw),
        torch.normal(0.0, 1.0, (2,), **kw),
    ]
    if generator is None:
        out.append(F.dropout(torch.ones(8, device=device), 0.5, training=True))
    return [np.asarray(t.cpu().numpy()) for t in out]


def _same(a, b):
    return all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("get, set_", [
    (torch.get_rng_state, torch.set_rng_state),
    (torch.random.get_rng_state, torch.random.set_rng_state),
    (torch.default_generator.get_state, torch.default_generator.set_state),
])
def test_restoring_the_global_state_repeats_every_draw(get, set_):
    torch.manual_seed(5)
    torch.rand(3)
    state = get()
    first = _draws()
    set_(state)
    assert _same(first, _draws())
    # and the state is a snapshot: drawing afterwards does not change it
    set_(state)
    assert _same(first, _draws())


def test_state_is_an_opaque_cpu_integer_tensor_and_unseeded_state_works():
    s = torch.get_rng_state()
    assert isinstance(s, torch.Tensor) and s.device.type == "cpu" and not s.dtype.is_floating_point
    a = torch.rand(5)
    torch.set_rng_state(s)
    assert np.array_equal(a.numpy(), torch.rand(5).numpy())


def test_cuda_rng_state_round_trips(gpu):
    torch.manual_seed(11)
    s = torch.cuda.get_rng_state()
    first = _draws(device=gpu)
    torch.cuda.set_rng_state(s)
    assert _same(first, _draws(device=gpu))
    torch.cuda.set_rng_state_all(torch.cuda.get_rng_state_all())


def test_generator_state_round_trips():
    g = torch.Generator().manual_seed(3)
    torch.rand(2, generator=g)
    s = g.get_state()
    first = _draws(generator=g)
    g2 = torch.Generator().set_state(s)
    assert _same(first, _draws(generator=g2))
    g.set_state(s)
    assert _same(first, _draws(generator=g))
    assert g2.initial_seed() == 3


def test_fork_rng_leaves_the_outer_stream_as_it_was():
    torch.manual_seed(0)
    expect = torch.rand(4).numpy()
    torch.manual_seed(0)
    with torch.random.fork_rng():
        torch.rand(100)
    assert np.array_equal(torch.rand(4).numpy(), expect)
    torch.manual_seed(0)
    with torch.random.fork_rng(enabled=False):
        torch.rand(1)
    assert not np.array_equal(torch.rand(4).numpy(), expect)


def test_bad_states_are_rejected():
    with pytest.raises(TypeError, match="set_rng_state"):
        torch.set_rng_state([1, 2, 3, 4])
    with pytest.raises(RuntimeError, match="set_rng_state"):
        torch.set_rng_state(torch.zeros(3, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="set_rng_state"):
        torch.set_rng_state(torch.zeros(4))
    with pytest.raises(RuntimeError, match="all-zero"):
        torch.set_rng_state(torch.zeros(4, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="Generator.set_state"):
        torch.Generator().set_state(torch.get_rng_state())
