"""The forward code of the lesson in shared/seed (tensors and autograd, PyTorch 2.x), run on the CPU.

Each test follows the lesson's code blocks line by line; autograd parts live in test_autograd*.py.
"""

import numpy as np

import rustensor as torch
from conftest import assert_close, to_np


def test_creation_block():
    np_arr = np.array([1, 2, 3])
    pt_tensor = torch.tensor([1, 2, 3])
    pt_zeros = torch.zeros(3, 4)
    pt_rand = torch.randn(3, 4)
    assert_close(pt_tensor, np_arr)
    assert_close(pt_zeros, np.zeros((3, 4), np.float32))
    assert pt_rand.shape == (3, 4) and pt_rand.dtype == torch.float32


def test_conversion_block():
    np_arr = np.array([1, 2, 3])
    tensor = torch.from_numpy(np_arr)
    array = tensor.numpy()
    assert_close(tensor, np_arr)
    np.testing.assert_array_equal(array, np_arr)
    # "from_numpy는 공유": the three share one buffer.
    np_arr[0] = 10
    assert tensor[0].item() == 10 and array[0] == 10


def test_default_dtype_is_float32():
    assert torch.zeros(1).dtype == torch.float32
    assert np.zeros(1).dtype == np.float64


def test_polynomial_forward_values():
    x = torch.tensor([2.0], requires_grad=True)
    y = x**2 + 3 * x + 1
    assert_close(y, np.array([11.0], np.float32))
    y = x**3 + 2 * x**2 - 5 * x + 3
    assert y.item() == 9.0
    assert x.item() == 2.0
    assert f"f({x.item()}) = {y.item()}" == "f(2.0) = 9.0"


def test_numpy_manual_derivative_matches_tensor_forward():
    def f(x):
        return x**3 + 2 * x**2 - 5 * x + 3

    def df(x):
        return 3 * x**2 + 4 * x - 5

    t = torch.tensor([2.0])
    assert f(t).item() == f(2.0)
    assert df(t).item() == df(2.0) == 15.0


def test_operations_block():
    a = torch.tensor([[1, 2], [3, 4]], dtype=torch.float32)
    b = torch.tensor([[5, 6], [7, 8]], dtype=torch.float32)
    an, bn = to_np(a), to_np(b)
    assert_close(a + b, an + bn)
    assert_close(a * b, an * bn)
    assert_close(a @ b, an @ bn)
    assert_close(torch.matmul(a, b), an @ bn)


def test_broadcasting_block():
    a = torch.tensor([[1], [2], [3]])
    b = torch.tensor([10, 20, 30])
    c = a + b
    assert c.shape == (3, 3)
    assert_close(c, np.array([[1], [2], [3]]) + np.array([10, 20, 30]))


def test_device_block_on_cpu():
    if torch.cuda.is_available():
        device = torch.device("cuda")
    else:
        device = torch.device("cpu")
    x = torch.randn(64, 64)
    x_gpu = x.to(device)
    y_gpu = x_gpu @ x_gpu
    y_cpu = y_gpu.cpu()
    xn = to_np(x).astype(np.float64)
    assert_close(y_cpu, (xn @ xn).astype(np.float32), rtol=1e-4, atol=1e-4)
    assert y_cpu.device.type == "cpu"


def test_in_place_and_detach_block():
    x = torch.tensor([1.0], requires_grad=True)
    x = x + 1
    assert x.item() == 2.0
    y = x.detach()
    assert not y.requires_grad
    assert y.item() == 2.0


def test_no_grad_block():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with torch.no_grad():
        y = x * 2
    assert not y.requires_grad
    assert_close(y, np.array([2.0, 4.0], np.float32))
