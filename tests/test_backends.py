"""torch.backends: the flags torch code sets are accepted, remembered and harmless."""

import rustensor as torch


def test_cudnn_flags_settable():
    cudnn = torch.backends.cudnn
    old = (cudnn.benchmark, cudnn.deterministic, cudnn.enabled, cudnn.allow_tf32)
    try:
        cudnn.benchmark = True
        cudnn.deterministic = True
        cudnn.enabled = False
        cudnn.allow_tf32 = False
        assert (cudnn.benchmark, cudnn.deterministic, cudnn.enabled, cudnn.allow_tf32) == (True, True, False, False)
        x = torch.ones(2, 2)
        assert (x @ x).tolist() == [[2.0, 2.0], [2.0, 2.0]]
    finally:
        cudnn.benchmark, cudnn.deterministic, cudnn.enabled, cudnn.allow_tf32 = old
    assert cudnn.is_available() is False
    with cudnn.flags(enabled=False, benchmark=True):
        assert cudnn.enabled is False and cudnn.benchmark is True
    assert cudnn.enabled == old[2] and cudnn.benchmark == old[0]


def test_mps_cuda_opt_einsum():
    assert torch.backends.mps.is_available() is False and torch.backends.mps.is_built() is False
    m = torch.backends.cuda.matmul
    old = m.allow_tf32
    m.allow_tf32 = True
    assert torch.backends.cuda.matmul.allow_tf32 is True
    m.allow_tf32 = old
    torch.backends.opt_einsum.enabled = True
    assert torch.backends.opt_einsum.enabled is True
    torch.backends.opt_einsum.enabled = False
    from rustensor.backends import cudnn  # noqa: F401 - importable as a submodule, as in torch
