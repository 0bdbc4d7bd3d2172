"""optim.swa_utils: AveragedModel (SWA and EMA averages, buffers), SWALR's annealing against its
closed form, update_bn's cumulative BatchNorm statistics."""

import math

import numpy as np
import pytest

import rustensor as torch
import rustensor.nn as nn
from rustensor.optim.swa_utils import SWALR, AveragedModel, get_ema_avg_fn, get_ema_multi_avg_fn, update_bn


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))


def test_swa_average_is_the_mean_of_the_snapshots_and_copies_buffers():
    m = _model()
    swa = AveragedModel(m)
    snaps = []
    for i in range(4):
        with torch.no_grad():
            m[0].weight.mul_(1.5).add_(0.25)
            m[1].running_mean.fill_(float(i))
        snaps.append(m[0].weight.detach().numpy().copy())
        swa.update_parameters(m)
    np.testing.assert_allclose(swa.module[0].weight.detach().numpy(), np.mean(snaps, 0), rtol=1e-6)
    assert swa.n_averaged.item() == 4 and swa.n_averaged.dtype == torch.int64
    np.testing.assert_array_equal(swa.module[1].running_mean.numpy(), [3.0, 3.0, 3.0])  # buffers copied, not averaged
    x = torch.randn(5, 2)
    swa.eval()
    assert tuple(swa(x).shape) == (5, 3)
    assert m[0].weight is not swa.module[0].weight  # a deep copy


@pytest.mark.parametrize("multi", [False, True])
def test_ema_average(multi):
    m = _model()
    ema = AveragedModel(m, multi_avg_fn=get_ema_multi_avg_fn(0.9)) if multi else AveragedModel(m, avg_fn=get_ema_avg_fn(0.9))
    want = m[0].weight.detach().numpy().astype(np.float64)
    ema.update_parameters(m)
    for _ in range(3):
        with torch.no_grad():
            m[0].weight.add_(1.0)
        ema.update_parameters(m)
        want = 0.9 * want + 0.1 * m[0].weight.detach().numpy()
    np.testing.assert_allclose(ema.module[0].weight.detach().numpy(), want, rtol=1e-5)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn should be provided"):
        AveragedModel(m, avg_fn=get_ema_avg_fn(), multi_avg_fn=get_ema_multi_avg_fn())
    with pytest.raises(ValueError, match="Invalid decay value 1.5 provided"):
        get_ema_avg_fn(1.5)


@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_swalr_anneals_to_swa_lr(strategy):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=1.0)
    s = SWALR(opt, swa_lr=0.1, anneal_epochs=4, anneal_strategy=strategy)
    got = []
    for _ in range(6):
        opt.step()
        s.step()
        got.append(s.get_last_lr()[0])

    def alpha(t):
        return (1 - math.cos(math.pi * t)) / 2 if strategy == "cos" else t

    want = [0.1 * alpha(min(k, 4) / 4) + 1.0 * (1 - alpha(min(k, 4) / 4)) for k in range(1, 7)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear', instead got step"):
        SWALR(opt, 0.1, anneal_strategy="step")


def test_update_bn_recomputes_running_statistics():
    m = _model()
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((8, 2)).astype(np.float32) + 3 for _ in range(3)]
    m.eval()
    update_bn([(torch.tensor(b), 0) for b in batches], m)
    assert not m.training and m[1].momentum == 0.1
    h = np.concatenate([b @ m[0].weight.detach().numpy().T + m[0].bias.detach().numpy() for b in batches])
    # momentum None: a cumulative average of the batch means (equal batches: the overall mean)
    np.testing.assert_allclose(m[1].running_mean.numpy(), h.mean(0), rtol=1e-4, atol=1e-5)
