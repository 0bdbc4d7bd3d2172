"""Printing: repr/str laid out exactly as torch prints tensors (dtype names read rustensor.*)."""

import numpy as np
import pytest

import rustensor as torch

# Each expected string is what torch 2.x prints for the same expression, with the one deliberate
# difference that dtypes are named rustensor.float64 (not torch.float64).
CASES = [
    ('lesson_grad', lambda: torch.tensor([7.]),
     'tensor([7.])'),
    ('float2d', lambda: torch.tensor([[1., 2.], [3., 4.]]),
     'tensor([[1., 2.],\n        [3., 4.]])'),
    ('int1d', lambda: torch.tensor([1, 2, 3]),
     'tensor([1, 2, 3])'),
    ('scalar_float', lambda: torch.tensor(3.5),
     'tensor(3.5000)'),
    ('scalar_int', lambda: torch.tensor(3),
     'tensor(3)'),
    ('scalar_bool', lambda: torch.tensor(True),
     'tensor(True)'),
    ('scalar_int_float', lambda: torch.tensor(2.),
     'tensor(2.)'),
    ('f64', lambda: torch.tensor([1., 2.], dtype=torch.float64),
     'tensor([1., 2.], dtype=rustensor.float64)'),
    ('f64_scalar', lambda: torch.tensor(2.5, dtype=torch.float64),
     'tensor(2.5000, dtype=rustensor.float64)'),
    ('i32', lambda: torch.tensor([1, 2], dtype=torch.int32),
     'tensor([1, 2], dtype=rustensor.int32)'),
    ('bool', lambda: torch.tensor([True, False]),
     'tensor([ True, False])'),
    ('bool2d', lambda: torch.tensor([[True], [False]]),
     'tensor([[ True],\n        [False]])'),
    ('neg', lambda: torch.tensor([-1.5, 2.25]),
     'tensor([-1.5000,  2.2500])'),
    ('ints_width', lambda: torch.tensor([1, -10, 100]),
     'tensor([  1, -10, 100])'),
    ('floats_int_width', lambda: torch.tensor([1., 10., -100.]),
     'tensor([   1.,   10., -100.])'),
    ('frac', lambda: torch.tensor([0.1, 0.25, 1/3]),
     'tensor([0.1000, 0.2500, 0.3333])'),
    ('sci_small', lambda: torch.tensor([1e-5, 1.]),
     'tensor([1.0000e-05, 1.0000e+00])'),
    ('sci_big', lambda: torch.tensor([1., 1e9]),
     'tensor([1.0000e+00, 1.0000e+09])'),
    ('sci_ratio', lambda: torch.tensor([0.5, 1000.5]),
     'tensor([5.0000e-01, 1.0005e+03])'),
    ('nan_inf_int', lambda: torch.tensor([float("nan"), float("inf"), -float("inf")]),
     'tensor([nan, inf, -inf])'),
    ('nan_mix', lambda: torch.tensor([1.5, float("nan")]),
     'tensor([1.5000,    nan])'),
    ('nan_int_mix', lambda: torch.tensor([1., float("nan"), -float("inf")]),
     'tensor([1., nan, -inf])'),
    ('zeros', lambda: torch.zeros(3),
     'tensor([0., 0., 0.])'),
    ('neg_zero', lambda: torch.tensor([-0., 1.]),
     'tensor([-0., 1.])'),
    ('empty', lambda: torch.tensor([]),
     'tensor([])'),
    ('empty_i64', lambda: torch.zeros(0, dtype=torch.int64),
     'tensor([], dtype=rustensor.int64)'),
    ('empty_2d', lambda: torch.zeros(2, 0),
     'tensor([], size=(2, 0))'),
    ('empty_2d_i32', lambda: torch.zeros(0, 3, dtype=torch.int32),
     'tensor([], size=(0, 3), dtype=rustensor.int32)'),
    ('empty_bool', lambda: torch.zeros(0, dtype=torch.bool),
     'tensor([], dtype=rustensor.bool)'),
    ('empty_f64', lambda: torch.zeros(0, dtype=torch.float64),
     'tensor([], dtype=rustensor.float64)'),
    ('3d', lambda: torch.arange(8).reshape(2, 2, 2),
     'tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]])'),
    ('3d_f', lambda: torch.arange(12.).reshape(2, 3, 2) / 4,
     'tensor([[[0.0000, 0.2500],\n         [0.5000, 0.7500],\n         [1.0000, 1.2500]],\n\n        [[1.5000, 1.7500],\n         [2.0000, 2.2500],\n         [2.5000, 2.7500]]])'),
    ('4d', lambda: torch.arange(16).reshape(2, 2, 2, 2),
     'tensor([[[[ 0,  1],\n          [ 2,  3]],\n\n         [[ 4,  5],\n          [ 6,  7]]],\n\n\n        [[[ 8,  9],\n          [10, 11]],\n\n         [[12, 13],\n          [14, 15]]]])'),
    ('wrap', lambda: torch.arange(30.),
     'tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n        28., 29.])'),
    ('wrap_int', lambda: torch.arange(40),
     'tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,\n        36, 37, 38, 39])'),
    ('wrap_2d', lambda: torch.arange(40.).reshape(2, 20) / 3,
     'tensor([[ 0.0000,  0.3333,  0.6667,  1.0000,  1.3333,  1.6667,  2.0000,  2.3333,\n          2.6667,  3.0000,  3.3333,  3.6667,  4.0000,  4.3333,  4.6667,  5.0000,\n          5.3333,  5.6667,  6.0000,  6.3333],\n        [ 6.6667,  7.0000,  7.3333,  7.6667,  8.0000,  8.3333,  8.6667,  9.0000,\n          9.3333,  9.6667, 10.0000, 10.3333, 10.6667, 11.0000, 11.3333, 11.6667,\n         12.0000, 12.3333, 12.6667, 13.0000]])'),
    ('sum1001', lambda: torch.arange(1001),
     'tensor([   0,    1,    2,  ...,  998,  999, 1000])'),
    ('sum_float', lambda: torch.zeros(2000),
     'tensor([0., 0., 0.,  ..., 0., 0., 0.])'),
    ('sum2d', lambda: torch.arange(10000).reshape(100, 100),
     'tensor([[   0,    1,    2,  ...,   97,   98,   99],\n        [ 100,  101,  102,  ...,  197,  198,  199],\n        [ 200,  201,  202,  ...,  297,  298,  299],\n        ...,\n        [9700, 9701, 9702,  ..., 9797, 9798, 9799],\n        [9800, 9801, 9802,  ..., 9897, 9898, 9899],\n        [9900, 9901, 9902,  ..., 9997, 9998, 9999]])'),
    ('sum2d_narrow', lambda: torch.arange(2000).reshape(1000, 2),
     'tensor([[   0,    1],\n        [   2,    3],\n        [   4,    5],\n        ...,\n        [1994, 1995],\n        [1996, 1997],\n        [1998, 1999]])'),
    ('req_grad', lambda: torch.tensor([1., 2.], requires_grad=True),
     'tensor([1., 2.], requires_grad=True)'),
    ('req_grad_f64', lambda: torch.tensor([1., 2.], dtype=torch.float64, requires_grad=True),
     'tensor([1., 2.], dtype=rustensor.float64, requires_grad=True)'),
    ('req_grad_scalar', lambda: torch.tensor(1.5, requires_grad=True),
     'tensor(1.5000, requires_grad=True)'),
    ('transposed', lambda: torch.tensor([[1, 2, 3], [4, 5, 6]]).t(),
     'tensor([[1, 4],\n        [2, 5],\n        [3, 6]])'),
    ('sliced', lambda: torch.arange(10)[1::3],
     'tensor([1, 4, 7])'),
    ('expanded', lambda: torch.tensor([[1.5], [2.]]).expand(2, 3),
     'tensor([[1.5000, 1.5000, 1.5000],\n        [2.0000, 2.0000, 2.0000]])'),
    ('big_int', lambda: torch.tensor([123456789012]),
     'tensor([123456789012])'),
    ('f64_prec', lambda: torch.tensor([0.1, 0.2], dtype=torch.float64),
     'tensor([0.1000, 0.2000], dtype=rustensor.float64)'),
    ('large_vals', lambda: torch.tensor([100000., 1.5]),
     'tensor([1.0000e+05, 1.5000e+00])'),
    ('i32_scalar', lambda: torch.tensor(5, dtype=torch.int32),
     'tensor(5, dtype=rustensor.int32)'),
    ('int_1e8', lambda: torch.tensor([1e8, 1.]),
     'tensor([1.0000e+08, 1.0000e+00])'),
]


@pytest.mark.parametrize("name, make, expected", CASES, ids=[c[0] for c in CASES])
def test_repr_matches_torch(name, make, expected):
    t = make()
    assert repr(t) == expected
    assert str(t) == expected


def test_print_writes_the_repr(capsys):
    print(torch.tensor([7.0]))
    assert capsys.readouterr().out == "tensor([7.])\n"


def test_dtype_repr():
    assert repr(torch.float32) == "rustensor.float32"
    assert str(torch.float64) == "rustensor.float64"
    assert repr(torch.int64) == "rustensor.int64"
    assert repr(torch.int32) == "rustensor.int32"
    assert repr(torch.bool) == "rustensor.bool"
    assert repr(torch.float) == "rustensor.float32"
    assert repr(torch.long) == "rustensor.int64"


def test_repr_threshold_is_more_than_1000_elements():
    r1000 = repr(torch.arange(1000))
    assert "..." not in r1000
    assert r1000.startswith("tensor([  0,   1,   2,")
    assert r1000.endswith(" 997, 998, 999])")
    # Width-3 items take 5 columns: 14 per 80-column line after "tensor(", so 72 lines.
    assert r1000.count("\n") == 71
    assert "..." in repr(torch.arange(1001))


def test_repr_of_summarised_view_uses_logical_order():
    t = torch.arange(2002).reshape(2, 1001).t()
    assert repr(t) == (
        "tensor([[   0, 1001],\n"
        "        [   1, 1002],\n"
        "        [   2, 1003],\n"
        "        ...,\n"
        "        [ 998, 1999],\n"
        "        [ 999, 2000],\n"
        "        [1000, 2001]])"
    )


def test_repr_does_not_change_the_tensor():
    t = torch.tensor([[1.5, 2.0], [3.0, 4.0]])
    before = t.tolist()
    repr(t)
    str(t.t())
    assert t.tolist() == before


def test_set_printoptions_precision_round_trip():
    t = torch.tensor([1 / 3, 2 / 3])
    try:
        torch.set_printoptions(precision=2)
        assert repr(t) == "tensor([0.33, 0.67])"
    finally:
        torch.set_printoptions(precision=4)
    assert repr(t) == "tensor([0.3333, 0.6667])"


def test_repr_of_numpy_backed_tensor():
    t = torch.from_numpy(np.array([[1, 2], [3, 4]], dtype=np.int32))
    assert repr(t) == "tensor([[1, 2],\n        [3, 4]], dtype=rustensor.int32)"
