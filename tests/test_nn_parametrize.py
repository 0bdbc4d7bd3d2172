"""nn.utils.parametrize and nn.utils.parametrizations: registration (class swap, state_dict and
parameter names), chains, right_inverse on registration and assignment, removal, caching,
gradients to the originals (float64 finite differences), orthogonal / weight_norm /
spectral_norm against NumPy, and a differential test against torch when it is installed."""

import copy
import pickle

import numpy as np
import pytest

import rustensor as rt
from rustensor import nn
from rustensor.autograd import gradcheck
from rustensor.nn.utils import parametrizations as PZ
from rustensor.nn.utils import parametrize as P

F64 = rt.float64


def _np(t):
    return np.array(t.detach().numpy(), copy=True)


def _t(a, requires_grad=False):
    return rt.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def _R(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


def _linear(i, o, seed=0, bias=True):
    m = nn.Linear(i, o, bias=bias).double()
    with rt.no_grad():
        m.weight.copy_(_t(_R(seed, o, i)))
        if bias:
            m.bias.copy_(_t(_R(seed + 1, o)))
    return m


def _fd_grad(loss_fn, p, eps=1e-6):
    """Central differences of a scalar loss with respect to the tensor p, perturbed in place."""
    base = _np(p)
    g = np.zeros_like(base)
    for idx in np.ndindex(*base.shape):
        for sign in (1.0, -1.0):
            a = base.copy()
            a[idx] += sign * eps
            with rt.no_grad():
                p.copy_(_t(a))
            g[idx] += sign * float(loss_fn()) / (2 * eps)
    with rt.no_grad():
        p.copy_(_t(base))
    return g


def _check_grads(loss_fn, params, atol=1e-6, rtol=1e-5):
    for p in params:
        p.grad = None
    loss_fn().backward()
    analytic = [_np(p.grad) for p in params]
    for p, a in zip(params, analytic):
        np.testing.assert_allclose(a, _fd_grad(loss_fn, p), atol=atol, rtol=rtol)


class Symmetric(nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).transpose(0, 1)

    def right_inverse(self, A):
        return A.triu()


class Exp(nn.Module):
    def forward(self, X):
        return X.exp()

    def right_inverse(self, Y):
        return Y.log()


class Scale(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, X):
        return X * self.c

    def right_inverse(self, Y):
        return Y / self.c


class NoInverse(nn.Module):
    def forward(self, X):
        return X * 2.0


class Split(nn.Module):
    """Parametrized by two tensors: w = a + b, right_inverse gives (w/2, w/2)."""

    def forward(self, a, b):
        return a + b

    def right_inverse(self, w):
        return w * 0.5, w * 0.5


def _sym_np(x):
    return np.triu(x) + np.triu(x, 1).T


# ------------------------------------------------------------------ registration


def test_register_swaps_class_and_names():
    m = _linear(4, 4)
    w = m.weight
    P.register_parametrization(m, "weight", Symmetric())
    assert type(m).__name__ == "ParametrizedLinear"
    assert isinstance(m, nn.Linear) and type(m) is not nn.Linear
    assert P.type_before_parametrizations(m) is nn.Linear
    assert P.type_before_parametrizations(nn.Linear(2, 2)) is nn.Linear
    assert P.is_parametrized(m) and P.is_parametrized(m, "weight")
    assert not P.is_parametrized(m, "bias") and not P.is_parametrized(nn.Linear(2, 2))
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original"]
    assert [n for n, _ in m.named_parameters()] == ["bias", "parametrizations.weight.original"]
    assert "weight" not in m._parameters
    plist = m.parametrizations.weight
    assert isinstance(plist, P.ParametrizationList) and isinstance(plist, nn.ModuleList)
    assert isinstance(m.parametrizations, nn.ModuleDict)
    # the original keeps its identity (an optimizer holding it still works); right_inverse ran
    assert plist.original is w and isinstance(plist.original, nn.Parameter)
    np.testing.assert_allclose(_np(plist.original), np.triu(_R(0, 4, 4)))
    np.testing.assert_allclose(_np(m.weight), _sym_np(np.triu(_R(0, 4, 4))))
    x = _R(5, 3, 4)
    np.testing.assert_allclose(_np(m(_t(x))), x @ _sym_np(np.triu(_R(0, 4, 4))).T + _R(1, 4), rtol=1e-12)
    assert m.weight.grad_fn is not None
    # only this instance changed class
    assert type(nn.Linear(2, 2)) is nn.Linear and not hasattr(nn.Linear(2, 2), "parametrizations")


def test_register_errors():
    m = _linear(3, 4)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
        P.register_parametrization(m, "nope", Symmetric())

    class Shrink(nn.Module):
        def forward(self, X):
            return X[:1]

    with pytest.raises(ValueError, match="may not change the shape"):
        P.register_parametrization(m, "weight", Shrink())
    assert type(m) is nn.Linear and "weight" in m._parameters  # untouched after a failed check

    class ToFloat32(nn.Module):
        def forward(self, X):
            return X.float()

    with pytest.raises(ValueError, match="may not change the dtype"):
        P.register_parametrization(m, "weight", ToFloat32())
    # unsafe skips the checks
    P.register_parametrization(m, "weight", Shrink(), unsafe=True)
    assert tuple(m.weight.shape) == (1, 3)
    assert m.parametrizations.weight.unsafe


def test_parametrize_buffer():
    m = nn.Module()
    m.register_buffer("scale", _t([1.0, 2.0]))
    P.register_parametrization(m, "scale", Scale(3.0))
    assert list(m.state_dict()) == ["parametrizations.scale.original"]
    assert not isinstance(m.parametrizations.scale.original, nn.Parameter)
    assert list(m.parameters()) == []
    np.testing.assert_allclose(_np(m.scale), [1.0, 2.0])
    np.testing.assert_allclose(_np(m.parametrizations.scale.original), [1 / 3, 2 / 3])


def test_chain_of_parametrizations():
    m = _linear(3, 3)
    P.register_parametrization(m, "weight", Symmetric())
    P.register_parametrization(m, "weight", Scale(2.0))
    P.register_parametrization(m, "weight", Exp())
    plist = m.parametrizations.weight
    assert len(plist) == 3 and [type(p).__name__ for p in plist] == ["Symmetric", "Scale", "Exp"]
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original"]
    orig = np.triu(_R(0, 3, 3))
    np.testing.assert_allclose(_np(m.weight), np.exp(2.0 * _sym_np(orig)), rtol=1e-12)
    # assignment runs the right_inverses last to first: log, /2, triu
    target = np.exp(_sym_np(_R(7, 3, 3)))
    m.weight = _t(target)
    np.testing.assert_allclose(_np(plist.original), np.triu(np.log(target) / 2), rtol=1e-12)
    np.testing.assert_allclose(_np(m.weight), target, rtol=1e-12)
    # a parametrization added later must keep the shape (checked unless unsafe)

    class Flatten(nn.Module):
        def forward(self, X):
            return X.reshape(-1)

    with pytest.raises(ValueError, match="may not change the shape"):
        P.register_parametrization(m, "weight", Flatten())
    assert len(plist) == 3


def test_assignment_goes_through_right_inverse():
    m = _linear(3, 2)
    P.register_parametrization(m, "weight", Exp())
    orig = m.parametrizations.weight.original
    target = np.abs(_R(3, 2, 3)) + 0.5
    m.weight = _t(target)
    assert m.parametrizations.weight.original is orig  # written in place
    np.testing.assert_allclose(_np(orig), np.log(target), rtol=1e-12)
    np.testing.assert_allclose(_np(m.weight), target, rtol=1e-12)
    # torch: assigning a Parameter to a parametrized name is refused by register_parameter
    with pytest.raises(KeyError, match="already exists"):
        m.weight = nn.Parameter(_t(target))

    n = _linear(3, 2)
    P.register_parametrization(n, "weight", NoInverse())
    np.testing.assert_allclose(_np(n.parametrizations.weight.original), _R(0, 2, 3))  # identity at registration
    with pytest.raises(RuntimeError, match="does not implement right_inverse"):
        n.weight = _t(np.ones((2, 3)))


def test_right_inverse_tuple_gives_original0_original1():
    m = _linear(3, 4)
    w0 = _R(0, 4, 3)
    P.register_parametrization(m, "weight", Split())
    plist = m.parametrizations.weight
    assert not plist.is_tensor and plist.ntensors == 2
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
    assert all(isinstance(getattr(plist, f"original{i}"), nn.Parameter) for i in range(2))
    np.testing.assert_allclose(_np(plist.original0), w0 / 2)
    np.testing.assert_allclose(_np(m.weight), w0)
    m.weight = _t(np.ones((4, 3)))
    np.testing.assert_allclose(_np(plist.original1), np.full((4, 3), 0.5))
    with pytest.raises(ValueError, match="sequence of tensors"):
        P.remove_parametrizations(m, "weight", leave_parametrized=False)


# ------------------------------------------------------------------ removal


def test_remove_leave_parametrized_true():
    m = _linear(3, 3)
    P.register_parametrization(m, "weight", Symmetric())
    orig = m.parametrizations.weight.original
    value = _np(m.weight)
    P.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and not hasattr(m, "parametrizations") and not P.is_parametrized(m)
    assert isinstance(m._parameters["weight"], nn.Parameter) and m.weight is orig
    np.testing.assert_allclose(_np(m.weight), value)
    assert list(m.state_dict()) == ["bias", "weight"]  # re-registered last, as in torch
    assert "weight" not in type(m).__dict__


def test_remove_leave_parametrized_false_and_two_tensors():
    m = _linear(3, 3)
    P.register_parametrization(m, "weight", Scale(2.0))
    P.register_parametrization(m, "bias", Scale(4.0))
    cls = type(m)
    P.remove_parametrizations(m, "weight", leave_parametrized=False)
    # the bias is still parametrized: the class stays
    assert type(m) is cls and P.is_parametrized(m, "bias") and not P.is_parametrized(m, "weight")
    np.testing.assert_allclose(_np(m.weight), _R(0, 3, 3) / 2)  # the original, not the value
    assert list(m.state_dict()) == ["weight", "parametrizations.bias.original"]
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        P.remove_parametrizations(m, "weight")
    P.remove_parametrizations(m, "bias")
    assert type(m) is nn.Linear
    np.testing.assert_allclose(_np(m.bias), _R(1, 3))


def test_remove_tuple_leave_parametrized():
    m = _linear(3, 2)
    P.register_parametrization(m, "weight", Split())
    P.remove_parametrizations(m, "weight")
    assert isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    np.testing.assert_allclose(_np(m.weight), _R(0, 2, 3))
    assert list(m.state_dict()) == ["bias", "weight"]


# ------------------------------------------------------------------ caching


class Counting(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, X):
        self.calls += 1
        return X * 2.0


def test_cached():
    m = _linear(3, 2)
    c = Counting()
    P.register_parametrization(m, "weight", c)
    c.calls = 0
    m.weight
    m.weight
    assert c.calls == 2  # no caching outside the block
    with P.cached():
        a = m.weight
        b = m.weight
        m(_t(_R(1, 4, 3)))
        with P.cached():  # nested: still the same cache
            assert m.weight is a
        assert m.weight is a
        assert a is b and c.calls == 3
    m.weight
    assert c.calls == 4  # the cache is dropped on exit


# ------------------------------------------------------------------ gradients


def test_gradients_flow_to_original():
    m = _linear(3, 3)
    P.register_parametrization(m, "weight", Symmetric())
    P.register_parametrization(m, "weight", Exp())
    x = _t(_R(2, 4, 3))

    def loss():
        return (m(x) * _t(np.cos(np.arange(12)).reshape(4, 3))).sum()

    _check_grads(loss, [m.parametrizations.weight.original, m.bias])
    # the symmetric map reads only the upper triangle: the lower one gets zero gradient
    assert np.all(np.tril(_np(m.parametrizations.weight.original.grad), -1) == 0)


def test_gradients_tuple_originals():
    m = _linear(3, 2)
    P.register_parametrization(m, "weight", Split())
    x = _t(_R(3, 5, 3))
    plist = m.parametrizations.weight
    _check_grads(lambda: (m(x) ** 2).sum(), [plist.original0, plist.original1])


def test_optimizer_updates_original():
    m = _linear(3, 3)
    P.register_parametrization(m, "weight", Exp())
    opt = rt.optim.SGD(m.parameters(), lr=0.1)
    before = _np(m.parametrizations.weight.original)
    m(_t(_R(1, 2, 3))).sum().backward()
    opt.step()
    assert not np.allclose(before, _np(m.parametrizations.weight.original))
    np.testing.assert_allclose(_np(m.weight), np.exp(_np(m.parametrizations.weight.original)))


# ------------------------------------------------------------------ module protocol


def test_state_dict_round_trip_and_conversion():
    a, b = _linear(3, 3, seed=0), _linear(3, 3, seed=10)
    for m in (a, b):
        P.register_parametrization(m, "weight", Symmetric())
    b.load_state_dict(a.state_dict())
    np.testing.assert_allclose(_np(b.weight), _np(a.weight))
    c = _linear(3, 3)
    P.register_parametrization(c, "weight", Symmetric())
    c.float()
    assert c.weight.dtype == rt.float32 and c.parametrizations.weight.original.dtype == rt.float32
    np.testing.assert_allclose(_np(c.weight), _np(a.weight), rtol=1e-6)


def test_deepcopy_and_pickle():
    m = _linear(3, 3)
    P.register_parametrization(m, "weight", Exp())
    d = copy.deepcopy(m)
    assert type(d).__name__ == "ParametrizedLinear"
    assert d.parametrizations.weight.original is not m.parametrizations.weight.original
    np.testing.assert_allclose(_np(d.weight), _np(m.weight))
    with rt.no_grad():
        d.parametrizations.weight.original.zero_()
    assert not np.allclose(_np(m.weight), 1.0)
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        pickle.dumps(m)


def test_repr():
    m = _linear(3, 3)
    P.register_parametrization(m, "weight", Symmetric())
    assert repr(m) == (
        "ParametrizedLinear(\n"
        "  in_features=3, out_features=3, bias=True\n"
        "  (parametrizations): ModuleDict(\n"
        "    (weight): ParametrizationList(\n"
        "      (0): Symmetric()\n"
        "    )\n"
        "  )\n"
        ")"
    )


def test_train_mode_follows_module_and_transfer():
    m = _linear(3, 3)
    m.eval()
    s = Scale(2.0)
    P.register_parametrization(m, "weight", s)
    assert not s.training
    to = nn.Linear(3, 3).double()
    P.transfer_parametrizations_and_params(m, to)
    assert P.is_parametrized(to, "weight")
    assert to.parametrizations.weight.original is m.parametrizations.weight.original
    assert to.parametrizations.weight[0] is s
    np.testing.assert_allclose(_np(to.weight), _np(m.weight))
    # to a module without the parameter: it is created
    bare = nn.Module()
    P.transfer_parametrizations_and_params(m, bare, "weight")
    np.testing.assert_allclose(_np(bare.weight), _np(m.weight))


# ------------------------------------------------------------------ orthogonal


def _orth_err(W):
    W = np.asarray(W)
    if W.shape[-2] < W.shape[-1]:
        W = np.swapaxes(W, -1, -2)
    k = W.shape[-1]
    return np.abs(np.swapaxes(W, -1, -2) @ W - np.eye(k)).max()


def _expm_np(A):
    w, V = np.linalg.eig(A)
    return np.real(V @ np.diag(np.exp(w)) @ np.linalg.inv(V))


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 4), (2, 3, 5), (1, 1)])
@pytest.mark.parametrize("orthogonal_map", [None, "matrix_exp", "cayley", "householder"])
def test_orthogonal_is_orthogonal(shape, orthogonal_map):
    m = nn.Module()
    m.weight = nn.Parameter(_t(_R(0, *shape)))
    PZ.orthogonal(m, orthogonal_map=orthogonal_map)
    assert _orth_err(_np(m.weight)) < 1e-12
    assert list(m.state_dict()) == ["parametrizations.weight.original", "parametrizations.weight.0.base"]
    orth = m.parametrizations.weight[0]
    expected = orthogonal_map or ("matrix_exp" if shape[-1] == shape[-2] else "householder")
    assert orth.orthogonal_map.name == expected
    # the original starts at -Id and base holds the orthogonal matrix
    neg_id = np.zeros(shape)
    idx = np.arange(min(shape[-2:]))
    neg_id[..., idx, idx] = -1.0
    np.testing.assert_array_equal(_np(m.parametrizations.weight.original), neg_id)
    # after moving the original off -Id (diagonal kept: householder reads its signs)
    with rt.no_grad():
        m.parametrizations.weight.original.add_(_t(np.tril(0.5 * _R(1, *shape), -1)))
    assert _orth_err(_np(m.weight)) < 1e-12
    m.weight.sum().backward()
    assert m.parametrizations.weight.original.grad is not None


def test_orthogonal_square_matches_numpy():
    M = _R(0, 4, 4)
    q, r = np.linalg.qr(M)
    base = q * np.sign(np.diag(r))
    X = np.tril(_R(1, 4, 4), -1) - np.eye(4)
    refs = {
        "matrix_exp": base @ _expm_np(np.tril(X) - np.tril(X).T),
        "cayley": base @ np.linalg.solve(np.eye(4) - (np.tril(X) - np.tril(X).T) / 2, np.eye(4) + (np.tril(X) - np.tril(X).T) / 2),
    }
    for name, ref in refs.items():
        m = nn.Module()
        m.weight = nn.Parameter(_t(M))
        PZ.orthogonal(m, orthogonal_map=name)
        # a non-orthogonal weight becomes the Q of its QR with diag(R) > 0
        np.testing.assert_allclose(_np(m.parametrizations.weight[0].base), base, atol=1e-12)
        np.testing.assert_allclose(_np(m.weight), base, atol=1e-12)
        with rt.no_grad():
            m.parametrizations.weight.original.copy_(_t(X))
        np.testing.assert_allclose(_np(m.weight), ref, atol=1e-12)


def test_orthogonal_householder_matches_numpy():
    shape = (5, 3)
    m = nn.Module()
    m.weight = nn.Parameter(_t(_R(0, *shape)))
    PZ.orthogonal(m, orthogonal_map="householder")
    base = _np(m.parametrizations.weight[0].base)
    X = np.tril(_R(1, *shape), -1) - np.eye(5, 3)
    with rt.no_grad():
        m.parametrizations.weight.original.copy_(_t(X))
    Q = np.eye(5)
    for i in range(3):
        v = np.zeros(5)
        v[i] = 1.0
        v[i + 1:] = X[i + 1:, i]
        Q = Q @ (np.eye(5) - 2.0 * np.outer(v, v) / (v @ v))
    ref = base @ (Q[:, :3] * np.diag(X)[None, :])
    np.testing.assert_allclose(_np(m.weight), ref, atol=1e-12)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_orthogonal_assignment(shape):
    m = nn.Module()
    m.weight = nn.Parameter(_t(_R(0, *shape)))
    PZ.orthogonal(m)
    tall = shape[-2] >= shape[-1]
    q, _ = np.linalg.qr(_R(2, *shape) if tall else _R(2, *shape).T)
    Q = q if tall else q.T
    m.weight = _t(Q)  # orthogonal: kept exactly
    np.testing.assert_allclose(_np(m.weight), Q, atol=1e-12)
    with pytest.raises(ValueError, match="Expected a matrix or batch of matrices of shape"):
        m.weight = _t(np.eye(2))


def test_orthogonal_without_trivialization():
    m = _linear(3, 5)
    PZ.orthogonal(m, orthogonal_map="householder", use_trivialization=False)
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original"]
    assert _orth_err(_np(m.weight)) < 1e-12
    q, _ = np.linalg.qr(_R(4, 5, 3))
    m.weight = _t(q)  # the inverse of the Householder map: the reflectors of q's QR
    np.testing.assert_allclose(_np(m.weight), q, atol=1e-12)
    e = _linear(4, 4)
    PZ.orthogonal(e, orthogonal_map="matrix_exp", use_trivialization=False)
    assert _orth_err(_np(e.weight)) < 1e-12
    with pytest.raises(NotImplementedError, match="use_trivialization=False"):
        e.weight = _t(np.eye(4))


def test_orthogonal_errors():
    m = _linear(3, 3)
    with pytest.raises(ValueError, match="Expected a matrix or batch of matrices"):
        PZ.orthogonal(m, "bias")
    with pytest.raises(ValueError, match="orthogonal_map has to be one of"):
        PZ.orthogonal(m, orthogonal_map="svd")
    with pytest.raises(ValueError, match="has no parameter or buffer"):
        PZ.orthogonal(m, "nope")


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4)])
def test_orthogonal_gradcheck(orthogonal_map, shape):
    m = nn.Module()
    m.weight = nn.Parameter(_t(_R(0, *shape)))
    PZ.orthogonal(m, orthogonal_map=orthogonal_map)
    orth = m.parametrizations.weight[0]
    # diagonal -1.5: away from the jumps of the truncated signs householder reads there
    X = _t(np.tril(0.7 * _R(1, *shape), -1) - 1.5 * np.eye(*shape), requires_grad=True)
    assert gradcheck(lambda x: orth(x), (X,))


def test_orthogonal_training_stays_orthogonal():
    m = _linear(4, 4)
    PZ.orthogonal(m)
    opt = rt.optim.SGD(m.parameters(), lr=0.2)
    x, y = _t(_R(1, 16, 4)), _t(_R(2, 16, 4))
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = ((m(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]
    assert _orth_err(_np(m.weight)) < 1e-12


def test_matrix_exp_helper():
    from rustensor.nn.utils.parametrizations import _matrix_exp

    for seed, scale in [(0, 0.1), (1, 1.0), (2, 8.0), (3, 40.0)]:
        A = scale * _R(seed, 5, 5)
        np.testing.assert_allclose(_np(_matrix_exp(_t(A))), _expm_np(A), rtol=1e-9, atol=1e-9 * np.abs(_expm_np(A)).max())
    B = _R(4, 2, 3, 3)
    out = _np(_matrix_exp(_t(B)))
    for i in range(2):
        np.testing.assert_allclose(out[i], _expm_np(B[i]), rtol=1e-10, atol=1e-12)
    assert gradcheck(_matrix_exp, (_t(1.5 * _R(5, 3, 3), requires_grad=True),))


def test_householder_product_and_geqrf_helpers():
    from rustensor.nn.utils.parametrizations import _geqrf_np, _householder_product

    for shape in [(5, 3), (4, 4), (2, 4, 2)]:
        M = _R(0, *shape)
        a, tau = _geqrf_np(M)
        Q = _np(_householder_product(_t(a), _t(tau)))
        np.testing.assert_allclose(Q @ np.triu(a[..., : shape[-1], :]), M, atol=1e-12)
        assert _orth_err(Q) < 1e-12


# ------------------------------------------------------------------ weight_norm


def _wn_ref(g, v, dim):
    if dim is None or dim == -1:
        return g * v / np.linalg.norm(v)
    axes = tuple(i for i in range(v.ndim) if i != dim)
    return g * v / np.sqrt((v ** 2).sum(axis=axes, keepdims=True))


@pytest.mark.parametrize("dim", [0, 1, None, -1])
def test_weight_norm_matches_numpy(dim):
    conv = nn.Conv2d(3, 4, 3).double()
    w0 = _np(conv.weight)
    PZ.weight_norm(conv, dim=dim)
    assert type(conv).__name__ == "ParametrizedConv2d"
    assert list(conv.state_dict()) == ["bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
    g, v = conv.parametrizations.weight.original0, conv.parametrizations.weight.original1
    gshape = {0: (4, 1, 1, 1), 1: (1, 3, 1, 1), None: (), -1: ()}[dim]
    assert tuple(g.shape) == gshape and tuple(v.shape) == w0.shape
    np.testing.assert_allclose(_np(conv.weight), w0, rtol=1e-12)  # starts at the old weight
    with rt.no_grad():
        g.copy_(_t(np.abs(_R(1, *gshape)) + 0.5))
        v.copy_(_t(_R(2, *w0.shape)))
    np.testing.assert_allclose(_np(conv.weight), _wn_ref(_np(g), _np(v), dim), rtol=1e-12)
    x = _t(_R(3, 2, 3, 5, 5))
    _check_grads(lambda: (conv(x) * _t(np.sin(np.arange(2 * 4 * 9)).reshape(2, 4, 3, 3))).sum(), [g, v])


def test_weight_norm_remove_and_old_checkpoint():
    m = _linear(3, 5)
    PZ.weight_norm(m)
    with rt.no_grad():
        m.parametrizations.weight.original0.mul_(2.0)
    value = _np(m.weight)
    P.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(_np(m.weight), value)
    # a checkpoint of the hook-based weight_norm (weight_g, weight_v) loads into the parametrization
    old = nn.utils.weight_norm(_linear(3, 5, seed=20))
    sd = old.state_dict()
    assert set(sd) == {"bias", "weight_g", "weight_v"}
    new = PZ.weight_norm(_linear(3, 5))
    new.load_state_dict(sd)
    np.testing.assert_allclose(_np(new.weight), _R(20, 5, 3), rtol=1e-12)


# ------------------------------------------------------------------ spectral_norm


def test_spectral_norm_sigma_matches_numpy():
    W = _R(0, 4, 6)
    m = _linear(6, 4)
    PZ.spectral_norm(m)
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original", "parametrizations.weight.0._u", "parametrizations.weight.0._v"]
    sn = m.parametrizations.weight[0]
    u = sn._u
    for _ in range(50):
        m.weight  # each access in training mode is one power iteration, in place
    assert sn._u is u
    m.eval()
    sigma = np.linalg.svd(W, compute_uv=False)[0]
    w_eval = _np(m.weight)
    np.testing.assert_allclose(W / w_eval, np.full(W.shape, sigma), rtol=1e-10)
    np.testing.assert_allclose(np.linalg.svd(w_eval, compute_uv=False)[0], 1.0, rtol=1e-10)
    u_before = _np(sn._u)
    m.weight
    np.testing.assert_array_equal(_np(sn._u), u_before)  # eval: no power iteration
    U, S, Vt = np.linalg.svd(W)
    np.testing.assert_allclose(np.abs(_np(sn._u)), np.abs(U[:, 0]), atol=1e-8)
    np.testing.assert_allclose(np.abs(_np(sn._v)), np.abs(Vt[0]), atol=1e-8)


def test_spectral_norm_conv_dims_and_vector():
    # seeded: the power iteration's convergence depends on the weights' spectral gap
    rt.manual_seed(0)
    conv = nn.Conv2d(3, 4, 2).double()
    W = _np(conv.weight)
    PZ.spectral_norm(conv, n_power_iterations=300)
    conv.eval()
    sigma = np.linalg.svd(W.reshape(4, -1), compute_uv=False)[0]
    np.testing.assert_allclose(_np(conv.weight), W / sigma, rtol=1e-9)

    tconv = nn.ConvTranspose2d(3, 5, 2).double()  # weight (in, out, kh, kw): dim 1 by default
    W = _np(tconv.weight)
    PZ.spectral_norm(tconv, n_power_iterations=300)
    sn = tconv.parametrizations.weight[0]
    assert sn.dim == 1 and tuple(sn._u.shape) == (5,) and tuple(sn._v.shape) == (12,)
    tconv.eval()
    sigma = np.linalg.svd(np.moveaxis(W, 1, 0).reshape(5, -1), compute_uv=False)[0]
    np.testing.assert_allclose(_np(tconv.weight), W / sigma, rtol=1e-9)

    m = _linear(3, 4)
    PZ.spectral_norm(m, "bias")  # a vector is just normalised
    assert list(m.state_dict()) == ["weight", "parametrizations.bias.original"]
    np.testing.assert_allclose(_np(m.bias), _R(1, 4) / np.linalg.norm(_R(1, 4)), rtol=1e-12)


def test_spectral_norm_gradients_and_errors():
    m = _linear(4, 3)
    PZ.spectral_norm(m, n_power_iterations=3)
    m.eval()
    x = _t(_R(5, 2, 4))
    _check_grads(lambda: (m(x) * _t(np.cos(np.arange(6)).reshape(2, 3))).sum(), [m.parametrizations.weight.original])
    with pytest.raises(ValueError, match="Expected n_power_iterations to be positive"):
        PZ.spectral_norm(_linear(2, 2), n_power_iterations=0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        PZ.spectral_norm(_linear(2, 2), dim=2)
    # assignment takes the value as the new original
    m.weight = _t(np.eye(3, 4) * 3.0)
    np.testing.assert_allclose(_np(m.parametrizations.weight.original), np.eye(3, 4) * 3.0)


def test_exports():
    assert nn.utils.parametrize is P and nn.utils.parametrizations is PZ
    assert nn.utils.parametrizations.weight_norm is not nn.utils.weight_norm  # the hook-based one stays
    for name in ("register_parametrization", "is_parametrized", "remove_parametrizations", "cached",
                 "type_before_parametrizations", "transfer_parametrizations_and_params", "ParametrizationList"):
        assert hasattr(P, name)
    for name in ("orthogonal", "weight_norm", "spectral_norm"):
        assert hasattr(PZ, name)


# ------------------------------------------------------------------ differential, against torch


@pytest.fixture
def T():
    torch = pytest.importorskip("torch")
    if not hasattr(torch, "_C"):
        pytest.skip("torch is rustensor here")
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(torch.float32)


def _to_rt(sd):
    return {k: rt.tensor(v.detach().cpu().numpy().copy()) for k, v in sd.items()}


def _pair(T, cls, *args, seed=0):
    """The same module in torch and rustensor, with torch's weights."""
    tm = getattr(T.nn, cls)(*args).double()
    with T.no_grad():
        for i, p in enumerate(tm.parameters()):
            p.copy_(T.tensor(_R(seed + i, *p.shape)))
    rm = getattr(nn, cls)(*args).double()
    rm.load_state_dict(_to_rt(tm.state_dict()))
    return tm, rm


def _compare(T, tm, rm, x, params_t, params_r, atol=1e-10):
    assert list(tm.state_dict()) == list(rm.state_dict())
    assert [n for n, _ in tm.named_parameters()] == [n for n, _ in rm.named_parameters()]
    assert type(tm).__name__ == type(rm).__name__
    yt, yr = tm(T.tensor(x)), rm(_t(x))
    np.testing.assert_allclose(_np(yr), yt.detach().numpy(), atol=atol, rtol=1e-9)
    c = np.cos(np.arange(yt.numel())).reshape(tuple(yt.shape))
    (yt * T.tensor(c)).sum().backward()
    (yr * _t(c)).sum().backward()
    for pt, pr in zip(params_t, params_r):
        np.testing.assert_allclose(_np(pr.grad), pt.grad.numpy(), atol=atol, rtol=1e-8)


def test_torch_custom_parametrization(T):
    class TSym(T.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(0, 1)

        def right_inverse(self, A):
            return A.triu()

    tm, rm = _pair(T, "Linear", 4, 4)
    T.nn.utils.parametrize.register_parametrization(tm, "weight", TSym())
    P.register_parametrization(rm, "weight", Symmetric())
    np.testing.assert_allclose(_np(rm.parametrizations.weight.original), tm.parametrizations.weight.original.detach().numpy())
    _compare(T, tm, rm, _R(9, 3, 4), [tm.parametrizations.weight.original, tm.bias], [rm.parametrizations.weight.original, rm.bias])


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3)])
def test_torch_orthogonal(T, orthogonal_map, shape):
    tm, rm = _pair(T, "Linear", shape[1], shape[0])
    T.nn.utils.parametrizations.orthogonal(tm, orthogonal_map=orthogonal_map)
    PZ.orthogonal(rm, orthogonal_map=orthogonal_map)
    if shape[0] == shape[1]:
        # square: registration is deterministic (the weight's QR), so it agrees as is
        np.testing.assert_allclose(_np(rm.weight), tm.weight.detach().numpy(), atol=1e-12)
    # the same state (base completed with torch's random columns), moved off -Id
    with T.no_grad():
        tm.parametrizations.weight.original.add_(T.tensor(np.tril(0.5 * _R(3, *shape), -1)))
    rm.load_state_dict(_to_rt(tm.state_dict()))
    _compare(T, tm, rm, _R(9, 2, shape[1]), [tm.parametrizations.weight.original, tm.bias],
             [rm.parametrizations.weight.original, rm.bias])


def test_torch_orthogonal_assignment(T):
    M = _R(5, 4, 4)
    for triv in (True, False):
        tm, rm = _pair(T, "Linear", 4, 4)
        T.nn.utils.parametrizations.orthogonal(tm, orthogonal_map="householder", use_trivialization=triv)
        PZ.orthogonal(rm, orthogonal_map="householder", use_trivialization=triv)
        Q = M if triv else np.linalg.qr(M)[0]
        tm.weight = T.tensor(Q)
        rm.weight = _t(Q)
        np.testing.assert_allclose(_np(rm.weight), tm.weight.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(_np(rm.parametrizations.weight.original), tm.parametrizations.weight.original.detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_torch_weight_norm(T, dim):
    tm, rm = _pair(T, "Conv2d", 3, 4, 3)
    T.nn.utils.parametrizations.weight_norm(tm, dim=dim)
    PZ.weight_norm(rm, dim=dim)
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(_np(rm.state_dict()[k]), v.numpy(), rtol=1e-12)
    pt = tm.parametrizations.weight
    pr = rm.parametrizations.weight
    _compare(T, tm, rm, _R(9, 2, 3, 6, 5), [pt.original0, pt.original1, tm.bias], [pr.original0, pr.original1, rm.bias])


def test_torch_spectral_norm(T):
    tm, rm = _pair(T, "Linear", 5, 3)
    T.nn.utils.parametrizations.spectral_norm(tm, n_power_iterations=2)
    PZ.spectral_norm(rm, n_power_iterations=2)
    rm.load_state_dict(_to_rt(tm.state_dict()))  # torch's random u and v
    x = _R(9, 4, 5)
    for _ in range(3):  # training mode: each forward iterates u and v in both
        np.testing.assert_allclose(_np(rm(_t(x))), tm(T.tensor(x)).detach().numpy(), atol=1e-12)
        for k, v in tm.state_dict().items():
            np.testing.assert_allclose(_np(rm.state_dict()[k]), v.numpy(), atol=1e-12)
    tm.eval()
    rm.eval()
    _compare(T, tm, rm, x, [tm.parametrizations.weight.original], [rm.parametrizations.weight.original])


def test_torch_remove(T):
    for leave in (True, False):
        tm, rm = _pair(T, "Linear", 3, 3)
        T.nn.utils.parametrizations.orthogonal(tm)
        PZ.orthogonal(rm)
        T.nn.utils.parametrize.remove_parametrizations(tm, "weight", leave_parametrized=leave)
        P.remove_parametrizations(rm, "weight", leave_parametrized=leave)
        assert type(tm).__name__ == type(rm).__name__ == "Linear"
        assert list(tm.state_dict()) == list(rm.state_dict())
        np.testing.assert_allclose(_np(rm.weight), tm.weight.detach().numpy(), atol=1e-12)
