"""Unit tests of tensor printing: format_tensor on NumPy arrays, against torch's output.

The expected strings were produced by torch 2.15 printing the same arrays
(with `torch.` renamed `rustensor.` where no line wrap depends on the name);
they do not need torch or the compiled module to run.
"""

import importlib.util
import pathlib
import sys
import time

import numpy as np
import pytest


def _load_tensor_str():
    # Loaded from its file so this test runs before the compiled module exists;
    # once rustensor is installed the installed copy is used.
    try:
        from rustensor import _tensor_str

        return _tensor_str
    except ImportError:
        path = pathlib.Path(__file__).resolve().parents[1] / "python/rustensor/_tensor_str.py"
        spec = importlib.util.spec_from_file_location("_rustensor_tensor_str", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module


ts = _load_tensor_str()

DTYPE_NAMES = {
    np.dtype(np.bool_): "bool",
    np.dtype(np.int32): "int32",
    np.dtype(np.int64): "int64",
    np.dtype(np.float32): "float32",
    np.dtype(np.float64): "float64",
}


@pytest.fixture(autouse=True)
def _default_printoptions():
    ts.set_printoptions(profile="default")
    yield
    ts.set_printoptions(profile="default")


def fmt(values, **kwargs):
    values = np.asarray(values)
    kwargs.setdefault("dtype_name", DTYPE_NAMES[values.dtype])
    return ts.format_tensor(values, **kwargs)


TORCH_CASES = [
    pytest.param(
        lambda: np.array([7.0], np.float32),
        {},
        None,
        "tensor([7.])",
        id='one_float',
    ),
    pytest.param(
        lambda: np.array([[1., 2.], [3., 4.]], np.float32),
        {},
        None,
        (
            "tensor([[1., 2.],\n"
            "        [3., 4.]])"
        ),
        id='matrix_2x2',
    ),
    pytest.param(
        lambda: np.array(3.5, np.float32),
        {},
        None,
        "tensor(3.5000)",
        id='scalar_float',
    ),
    pytest.param(
        lambda: np.array(5, np.int64),
        {},
        None,
        "tensor(5)",
        id='scalar_int',
    ),
    pytest.param(
        lambda: np.array(-0.25, np.float32),
        {},
        None,
        "tensor(-0.2500)",
        id='scalar_negative',
    ),
    pytest.param(
        lambda: np.array(0.0, np.float32),
        {},
        None,
        "tensor(0.)",
        id='scalar_zero',
    ),
    pytest.param(
        lambda: np.array(True),
        {},
        None,
        "tensor(True)",
        id='scalar_bool',
    ),
    pytest.param(
        lambda: np.array(1.5e10, np.float32),
        {},
        None,
        "tensor(1.5000e+10)",
        id='scalar_sci',
    ),
    pytest.param(
        lambda: np.array([1e-5, 1e5], np.float32),
        {},
        None,
        "tensor([1.0000e-05, 1.0000e+05])",
        id='sci_small_and_large',
    ),
    pytest.param(
        lambda: np.array([1.0, 1001.0], np.float32),
        {},
        None,
        "tensor([1.0000e+00, 1.0010e+03])",
        id='sci_ratio',
    ),
    pytest.param(
        lambda: np.array([0.5, 500.0], np.float32),
        {},
        None,
        "tensor([  0.5000, 500.0000])",
        id='no_sci_ratio_1000',
    ),
    pytest.param(
        lambda: np.array([2e8, 3e8], np.float32),
        {},
        None,
        "tensor([2.0000e+08, 3.0000e+08])",
        id='sci_big',
    ),
    pytest.param(
        lambda: np.array([5e-5, 6e-5], np.float32),
        {},
        None,
        "tensor([5.0000e-05, 6.0000e-05])",
        id='sci_tiny',
    ),
    pytest.param(
        lambda: np.array([0.0, 1e-8, np.nan, -np.inf], np.float32),
        {},
        None,
        "tensor([0.0000e+00, 1.0000e-08,        nan,       -inf])",
        id='sci_with_zero_nan',
    ),
    pytest.param(
        lambda: np.array([0.1, 0.25, -1.5], np.float32),
        {},
        None,
        "tensor([ 0.1000,  0.2500, -1.5000])",
        id='decimals',
    ),
    pytest.param(
        lambda: np.array([1.23456, 2.0], np.float32),
        {},
        None,
        "tensor([1.2346, 2.0000])",
        id='rounding_precision4',
    ),
    pytest.param(
        lambda: np.array([1., 2.], np.float64),
        {},
        None,
        "tensor([1., 2.], dtype=rustensor.float64)",
        id='float64_dtype',
    ),
    pytest.param(
        lambda: np.array([1, 2, 3], np.int64),
        {},
        None,
        "tensor([1, 2, 3])",
        id='int64_vector',
    ),
    pytest.param(
        lambda: np.array([1, -20, 300], np.int64),
        {},
        None,
        "tensor([  1, -20, 300])",
        id='int_negative_widths',
    ),
    pytest.param(
        lambda: np.array([1, 2, 3], np.int32),
        {},
        None,
        "tensor([1, 2, 3], dtype=rustensor.int32)",
        id='int32_dtype',
    ),
    pytest.param(
        lambda: np.array([True, False]),
        {},
        None,
        "tensor([ True, False])",
        id='bool_vector',
    ),
    pytest.param(
        lambda: np.array([True, True]),
        {},
        None,
        "tensor([True, True])",
        id='bool_all_true',
    ),
    pytest.param(
        lambda: np.zeros((0,), np.float32),
        {},
        None,
        "tensor([])",
        id='empty_1d',
    ),
    pytest.param(
        lambda: np.zeros((0, 3), np.float32),
        {},
        None,
        "tensor([], size=(0, 3))",
        id='empty_2d',
    ),
    pytest.param(
        lambda: np.zeros((0,), np.int64),
        {},
        None,
        "tensor([], dtype=rustensor.int64)",
        id='empty_int',
    ),
    pytest.param(
        lambda: np.zeros((2, 0), np.bool_),
        {},
        None,
        "tensor([], size=(2, 0), dtype=rustensor.bool)",
        id='empty_bool_2d',
    ),
    pytest.param(
        lambda: np.zeros((0,), np.float64),
        {},
        None,
        "tensor([], dtype=rustensor.float64)",
        id='empty_float64',
    ),
    pytest.param(
        lambda: np.array([np.nan, np.inf, -np.inf], np.float32),
        {},
        None,
        "tensor([nan, inf, -inf])",
        id='nan_inf_only',
    ),
    pytest.param(
        lambda: np.array([1.0, np.nan, 2.0], np.float32),
        {},
        None,
        "tensor([1., nan, 2.])",
        id='nan_with_ints',
    ),
    pytest.param(
        lambda: np.array([1.5, np.inf, -np.inf], np.float32),
        {},
        None,
        "tensor([1.5000,    inf,   -inf])",
        id='inf_with_decimals',
    ),
    pytest.param(
        lambda: np.array([-0.0, 1.0], np.float32),
        {},
        None,
        "tensor([-0., 1.])",
        id='negative_zero',
    ),
    pytest.param(
        lambda: np.array([-0.0, 0.5], np.float32),
        {},
        None,
        "tensor([-0.0000, 0.5000])",
        id='negative_zero_decimals',
    ),
    pytest.param(
        lambda: np.zeros((2, 3), np.float32),
        {},
        None,
        (
            "tensor([[0., 0., 0.],\n"
            "        [0., 0., 0.]])"
        ),
        id='zeros',
    ),
    pytest.param(
        lambda: np.array([10., -3., 100.], np.float32),
        {},
        None,
        "tensor([ 10.,  -3., 100.])",
        id='ones_int_valued_floats',
    ),
    pytest.param(
        lambda: np.arange(12, dtype=np.float32).reshape(2, 2, 3),
        {},
        None,
        (
            "tensor([[[ 0.,  1.,  2.],\n"
            "         [ 3.,  4.,  5.]],\n"
            "\n"
            "        [[ 6.,  7.,  8.],\n"
            "         [ 9., 10., 11.]]])"
        ),
        id='three_d',
    ),
    pytest.param(
        lambda: np.arange(16, dtype=np.int64).reshape(2, 2, 2, 2),
        {},
        None,
        (
            "tensor([[[[ 0,  1],\n"
            "          [ 2,  3]],\n"
            "\n"
            "         [[ 4,  5],\n"
            "          [ 6,  7]]],\n"
            "\n"
            "\n"
            "        [[[ 8,  9],\n"
            "          [10, 11]],\n"
            "\n"
            "         [[12, 13],\n"
            "          [14, 15]]]])"
        ),
        id='four_d',
    ),
    pytest.param(
        lambda: np.arange(30, dtype=np.float32) / 7,
        {},
        None,
        (
            "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n"
            "        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n"
            "        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,\n"
            "        3.8571, 4.0000, 4.1429])"
        ),
        id='wrap_long_vector',
    ),
    pytest.param(
        lambda: np.arange(40, dtype=np.int64) * 1000,
        {},
        None,
        (
            "tensor([    0,  1000,  2000,  3000,  4000,  5000,  6000,  7000,  8000,  9000,\n"
            "        10000, 11000, 12000, 13000, 14000, 15000, 16000, 17000, 18000, 19000,\n"
            "        20000, 21000, 22000, 23000, 24000, 25000, 26000, 27000, 28000, 29000,\n"
            "        30000, 31000, 32000, 33000, 34000, 35000, 36000, 37000, 38000, 39000])"
        ),
        id='wrap_int_vector',
    ),
    pytest.param(
        lambda: (np.arange(40, dtype=np.float32).reshape(2, 20) - 20) / 3,
        {},
        None,
        (
            "tensor([[-6.6667, -6.3333, -6.0000, -5.6667, -5.3333, -5.0000, -4.6667, -4.3333,\n"
            "         -4.0000, -3.6667, -3.3333, -3.0000, -2.6667, -2.3333, -2.0000, -1.6667,\n"
            "         -1.3333, -1.0000, -0.6667, -0.3333],\n"
            "        [ 0.0000,  0.3333,  0.6667,  1.0000,  1.3333,  1.6667,  2.0000,  2.3333,\n"
            "          2.6667,  3.0000,  3.3333,  3.6667,  4.0000,  4.3333,  4.6667,  5.0000,\n"
            "          5.3333,  5.6667,  6.0000,  6.3333]])"
        ),
        id='wrap_matrix',
    ),
    pytest.param(
        lambda: np.arange(2000, dtype=np.float32),
        {},
        None,
        (
            "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
            "        1.9990e+03])"
        ),
        id='summarize_1d',
    ),
    pytest.param(
        lambda: np.arange(10000, dtype=np.int64),
        {},
        None,
        "tensor([   0,    1,    2,  ..., 9997, 9998, 9999])",
        id='summarize_int',
    ),
    pytest.param(
        lambda: np.arange(1001 * 3, dtype=np.float32).reshape(1001, 3),
        {},
        None,
        (
            "tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00],\n"
            "        [3.0000e+00, 4.0000e+00, 5.0000e+00],\n"
            "        [6.0000e+00, 7.0000e+00, 8.0000e+00],\n"
            "        ...,\n"
            "        [2.9940e+03, 2.9950e+03, 2.9960e+03],\n"
            "        [2.9970e+03, 2.9980e+03, 2.9990e+03],\n"
            "        [3.0000e+03, 3.0010e+03, 3.0020e+03]])"
        ),
        id='summarize_2d',
    ),
    pytest.param(
        lambda: np.arange(100 * 100, dtype=np.float32).reshape(100, 100) / 3,
        {},
        None,
        (
            "tensor([[0.0000e+00, 3.3333e-01, 6.6667e-01,  ..., 3.2333e+01, 3.2667e+01,\n"
            "         3.3000e+01],\n"
            "        [3.3333e+01, 3.3667e+01, 3.4000e+01,  ..., 6.5667e+01, 6.6000e+01,\n"
            "         6.6333e+01],\n"
            "        [6.6667e+01, 6.7000e+01, 6.7333e+01,  ..., 9.9000e+01, 9.9333e+01,\n"
            "         9.9667e+01],\n"
            "        ...,\n"
            "        [3.2333e+03, 3.2337e+03, 3.2340e+03,  ..., 3.2657e+03, 3.2660e+03,\n"
            "         3.2663e+03],\n"
            "        [3.2667e+03, 3.2670e+03, 3.2673e+03,  ..., 3.2990e+03, 3.2993e+03,\n"
            "         3.2997e+03],\n"
            "        [3.3000e+03, 3.3003e+03, 3.3007e+03,  ..., 3.3323e+03, 3.3327e+03,\n"
            "         3.3330e+03]])"
        ),
        id='summarize_2d_both',
    ),
    pytest.param(
        lambda: np.arange(20 * 10 * 10, dtype=np.int64).reshape(20, 10, 10),
        {},
        None,
        (
            "tensor([[[   0,    1,    2,  ...,    7,    8,    9],\n"
            "         [  10,   11,   12,  ...,   17,   18,   19],\n"
            "         [  20,   21,   22,  ...,   27,   28,   29],\n"
            "         ...,\n"
            "         [  70,   71,   72,  ...,   77,   78,   79],\n"
            "         [  80,   81,   82,  ...,   87,   88,   89],\n"
            "         [  90,   91,   92,  ...,   97,   98,   99]],\n"
            "\n"
            "        [[ 100,  101,  102,  ...,  107,  108,  109],\n"
            "         [ 110,  111,  112,  ...,  117,  118,  119],\n"
            "         [ 120,  121,  122,  ...,  127,  128,  129],\n"
            "         ...,\n"
            "         [ 170,  171,  172,  ...,  177,  178,  179],\n"
            "         [ 180,  181,  182,  ...,  187,  188,  189],\n"
            "         [ 190,  191,  192,  ...,  197,  198,  199]],\n"
            "\n"
            "        [[ 200,  201,  202,  ...,  207,  208,  209],\n"
            "         [ 210,  211,  212,  ...,  217,  218,  219],\n"
            "         [ 220,  221,  222,  ...,  227,  228,  229],\n"
            "         ...,\n"
            "         [ 270,  271,  272,  ...,  277,  278,  279],\n"
            "         [ 280,  281,  282,  ...,  287,  288,  289],\n"
            "         [ 290,  291,  292,  ...,  297,  298,  299]],\n"
            "\n"
            "        ...,\n"
            "\n"
            "        [[1700, 1701, 1702,  ..., 1707, 1708, 1709],\n"
            "         [1710, 1711, 1712,  ..., 1717, 1718, 1719],\n"
            "         [1720, 1721, 1722,  ..., 1727, 1728, 1729],\n"
            "         ...,\n"
            "         [1770, 1771, 1772,  ..., 1777, 1778, 1779],\n"
            "         [1780, 1781, 1782,  ..., 1787, 1788, 1789],\n"
            "         [1790, 1791, 1792,  ..., 1797, 1798, 1799]],\n"
            "\n"
            "        [[1800, 1801, 1802,  ..., 1807, 1808, 1809],\n"
            "         [1810, 1811, 1812,  ..., 1817, 1818, 1819],\n"
            "         [1820, 1821, 1822,  ..., 1827, 1828, 1829],\n"
            "         ...,\n"
            "         [1870, 1871, 1872,  ..., 1877, 1878, 1879],\n"
            "         [1880, 1881, 1882,  ..., 1887, 1888, 1889],\n"
            "         [1890, 1891, 1892,  ..., 1897, 1898, 1899]],\n"
            "\n"
            "        [[1900, 1901, 1902,  ..., 1907, 1908, 1909],\n"
            "         [1910, 1911, 1912,  ..., 1917, 1918, 1919],\n"
            "         [1920, 1921, 1922,  ..., 1927, 1928, 1929],\n"
            "         ...,\n"
            "         [1970, 1971, 1972,  ..., 1977, 1978, 1979],\n"
            "         [1980, 1981, 1982,  ..., 1987, 1988, 1989],\n"
            "         [1990, 1991, 1992,  ..., 1997, 1998, 1999]]])"
        ),
        id='summarize_3d',
    ),
    pytest.param(
        lambda: np.concatenate([np.ones(3), np.full(1000, 1e9), np.ones(3)]).astype(np.float32),
        {},
        None,
        "tensor([1., 1., 1.,  ..., 1., 1., 1.])",
        id='summarize_hidden_middle_ignored',
    ),
    pytest.param(
        lambda: np.zeros(1000, np.int64),
        {},
        None,
        (
            "tensor([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,\n"
            "        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])"
        ),
        id='no_summarize_at_1000',
    ),
    pytest.param(
        lambda: np.array([1., 2.], np.float32),
        {},
        'leaf',
        "tensor([1., 2.], requires_grad=True)",
        id='requires_grad',
    ),
    pytest.param(
        lambda: np.array(2.0, np.float32),
        {},
        'leaf',
        "tensor(2., requires_grad=True)",
        id='requires_grad_scalar',
    ),
    pytest.param(
        lambda: np.array([3.], np.float32),
        {},
        'mul',
        "tensor([3.], grad_fn=<MulBackward0>)",
        id='grad_fn',
    ),
    pytest.param(
        lambda: np.array([3.], np.float64),
        {},
        'mul',
        "tensor([3.], dtype=rustensor.float64, grad_fn=<MulBackward0>)",
        id='grad_fn_float64',
    ),
    pytest.param(
        lambda: np.arange(12, dtype=np.float32).reshape(2, 6) / 3,
        {},
        'leaf',
        (
            "tensor([[0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667],\n"
            "        [2.0000, 2.3333, 2.6667, 3.0000, 3.3333, 3.6667]], requires_grad=True)"
        ),
        id='suffix_wraps',
    ),
    pytest.param(
        lambda: np.array([1.23456, 2.5], np.float32),
        {'precision': 2},
        None,
        "tensor([1.23, 2.50])",
        id='precision_2',
    ),
    pytest.param(
        lambda: np.array([1.5, 2.25], np.float32),
        {'precision': 0},
        None,
        "tensor([2, 2])",
        id='precision_0',
    ),
    pytest.param(
        lambda: np.array([1.0, 2.5], np.float32),
        {'sci_mode': True},
        None,
        "tensor([1.0000e+00, 2.5000e+00])",
        id='sci_mode_forced',
    ),
    pytest.param(
        lambda: np.array([1.0, 20.0], np.float32),
        {'sci_mode': True},
        None,
        "tensor([1.0000e+00, 2.0000e+01])",
        id='sci_mode_forced_int',
    ),
    pytest.param(
        lambda: np.array([1e-5, 1e5], np.float32),
        {'sci_mode': False},
        None,
        "tensor([     0.0000, 100000.0000])",
        id='sci_mode_off',
    ),
    pytest.param(
        lambda: np.arange(10, dtype=np.int64),
        {'threshold': 5},
        None,
        "tensor([0, 1, 2,  ..., 7, 8, 9])",
        id='threshold_5',
    ),
    pytest.param(
        lambda: np.arange(10, dtype=np.int64),
        {'threshold': 5, 'edgeitems': 1},
        None,
        "tensor([0,  ..., 9])",
        id='edgeitems_1',
    ),
    pytest.param(
        lambda: np.arange(10, dtype=np.int64).reshape(2, 5),
        {'threshold': 5, 'edgeitems': 0},
        None,
        "tensor([...], size=(2, 5))",
        id='edgeitems_0',
    ),
    pytest.param(
        lambda: np.arange(10, dtype=np.float32),
        {'linewidth': 20},
        None,
        (
            "tensor([0., 1., 2.,\n"
            "        3., 4., 5.,\n"
            "        6., 7., 8.,\n"
            "        9.])"
        ),
        id='linewidth_20',
    ),
    pytest.param(
        lambda: np.arange(3000, dtype=np.float32) * 1.5e6,
        {},
        None,
        (
            "tensor([0.0000e+00, 1.5000e+06, 3.0000e+06,  ..., 4.4955e+09, 4.4970e+09,\n"
            "        4.4985e+09])"
        ),
        id='summarize_long_wrap',
    ),
]


@pytest.mark.parametrize("make, options, grad, expected", TORCH_CASES)
def test_matches_torch(make, options, grad, expected):
    ts.set_printoptions(**options)
    kwargs = {}
    if grad == "leaf":
        kwargs["requires_grad"] = True
    elif grad == "mul":
        kwargs.update(requires_grad=True, grad_fn="MulBackward0")
    assert fmt(make(), **kwargs) == expected


def test_dtype_name_may_be_qualified():
    a = np.array([1.0, 2.0])
    assert fmt(a, dtype_name="rustensor.float64") == "tensor([1., 2.], dtype=rustensor.float64)"


def test_grad_fn_with_angle_brackets():
    a = np.array([3.0], np.float32)
    text = fmt(a, grad_fn="<AddBackward0>", requires_grad=True)
    assert text == "tensor([3.], grad_fn=<AddBackward0>)"


def test_device_suffix_comes_first():
    a = np.array([1.0, 2.0], np.float32)
    assert fmt(a, device="cpu") == "tensor([1., 2.])"
    assert fmt(a, device="gpu:0") == "tensor([1., 2.], device='gpu:0')"
    assert fmt(a.astype(np.float64), device="gpu:0", requires_grad=True) == (
        "tensor([1., 2.], device='gpu:0', dtype=rustensor.float64, requires_grad=True)"
    )
    # A longer name takes torch's count of the line to 81 > 80: the last suffix wraps.
    assert fmt(a.astype(np.float64), device="gpu:1000", requires_grad=True) == (
        "tensor([1., 2.], device='gpu:1000', dtype=rustensor.float64,\n"
        "       requires_grad=True)"
    )
    assert fmt(np.zeros((0, 2), np.int64), device="gpu:0") == (
        "tensor([], device='gpu:0', size=(0, 2), dtype=rustensor.int64)"
    )


def test_default_dtype_float64():
    # As after torch.set_default_dtype(torch.float64): float64 is unnamed, float32 named.
    f64 = np.array([1.0, 2.0])
    f32 = f64.astype(np.float32)
    assert fmt(f64, is_default_dtype=True) == "tensor([1., 2.])"
    assert fmt(f32, is_default_dtype=False) == "tensor([1., 2.], dtype=rustensor.float32)"
    assert fmt(np.zeros(0), is_default_dtype=True) == "tensor([])"
    assert fmt(np.zeros(0, np.float32), is_default_dtype=False) == (
        "tensor([], dtype=rustensor.float32)"
    )


def test_is_default_dtype_ignored_for_ints_and_bools():
    assert fmt(np.array([1, 2]), is_default_dtype=False) == "tensor([1, 2])"
    assert fmt(np.array([True]), is_default_dtype=False) == "tensor([True])"
    assert fmt(np.array([1, 2], np.int32), is_default_dtype=True) == (
        "tensor([1, 2], dtype=rustensor.int32)"
    )


def test_non_contiguous_input():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert fmt(a.T) == "tensor([[0., 3.],\n        [1., 4.],\n        [2., 5.]])"
    assert fmt(a[:, ::2]) == "tensor([[0., 2.],\n        [3., 5.]])"
    b = np.broadcast_to(np.float32(1.5), (2, 2))
    assert fmt(b) == "tensor([[1.5000, 1.5000],\n        [1.5000, 1.5000]])"


def test_set_printoptions_resets_sci_mode_and_round_trips():
    ts.set_printoptions(sci_mode=True)
    assert fmt(np.array([1.0], np.float32)) == "tensor([1.0000e+00])"
    ts.set_printoptions(precision=4)  # sci_mode omitted: back to automatic, as torch
    assert fmt(np.array([1.0], np.float32)) == "tensor([1.])"
    with ts.printoptions(precision=1):
        assert fmt(np.array([0.25], np.float32)) == "tensor([0.2])"
    assert ts.get_printoptions()["precision"] == 4
    assert fmt(np.array([0.25], np.float32)) == "tensor([0.2500])"


def test_unknown_profile_is_an_error():
    with pytest.raises(ValueError):
        ts.set_printoptions(profile="loud")


def test_large_tensor_formats_fast():
    # Summarised printing only looks at the edges: never a Python loop over 16M values.
    a = np.arange(16 * 1024 * 1024, dtype=np.float32).reshape(4096, 4096)
    start = time.perf_counter()
    text = fmt(a)
    assert time.perf_counter() - start < 1.0
    assert text == (
        "tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 4.0930e+03, 4.0940e+03,\n"
        "         4.0950e+03],\n"
        "        [4.0960e+03, 4.0970e+03, 4.0980e+03,  ..., 8.1890e+03, 8.1900e+03,\n"
        "         8.1910e+03],\n"
        "        [8.1920e+03, 8.1930e+03, 8.1940e+03,  ..., 1.2285e+04, 1.2286e+04,\n"
        "         1.2287e+04],\n"
        "        ...,\n"
        "        [1.6765e+07, 1.6765e+07, 1.6765e+07,  ..., 1.6769e+07, 1.6769e+07,\n"
        "         1.6769e+07],\n"
        "        [1.6769e+07, 1.6769e+07, 1.6769e+07,  ..., 1.6773e+07, 1.6773e+07,\n"
        "         1.6773e+07],\n"
        "        [1.6773e+07, 1.6773e+07, 1.6773e+07,  ..., 1.6777e+07, 1.6777e+07,\n"
        "         1.6777e+07]])"
    )
