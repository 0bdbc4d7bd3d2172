"""nn.Module and nn.Parameter semantics: registration, naming and order, state_dict and
load_state_dict (with torch's messages), conversions, hooks, containers, copying, and torch's
nested repr; a differential test against torch when it is installed."""

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import rustensor as torch
from rustensor import nn

F64 = torch.float64

try:
    import torch as _real_torch

    HAVE_TORCH = _real_torch.__name__ == "torch" and hasattr(_real_torch, "_C")
except ImportError:
    HAVE_TORCH = False


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.norm = nn.BatchNorm1d(4)

    def forward(self, x):
        return self.norm(self.fc(x)).relu()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.scale = nn.Parameter(torch.ones(1))
        self.register_buffer("steps", torch.zeros(1))
        self.register_buffer("scratch", torch.zeros(2), persistent=False)
        self.layers = nn.Sequential(Block(), nn.ReLU(), Block())
        self.head = nn.Linear(4, 2, bias=False)

    def forward(self, x):
        return self.head(self.layers(self.fc1(x))) * self.scale


# ------------------------------------------------------------------------------ Parameter
def test_parameter_is_a_tensor_sharing_storage():
    t = torch.randn(2, 3)
    p = nn.Parameter(t)
    assert isinstance(p, torch.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and not t.requires_grad
    assert p.data_ptr() == t.data_ptr()
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert tuple(nn.Parameter().shape) == (0,)
    # ops on a parameter give plain tensors, as in torch
    for out in (p * 2, p + 1, p.sum(), p.t(), p.detach(), p.data, p.clone()):
        assert type(out) is torch.Tensor
    assert repr(p).startswith("Parameter containing:\ntensor(")
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(torch.arange(3))


def test_parameter_grad_deepcopy_pickle():
    p = nn.Parameter(torch.tensor([1.0, 2.0]))
    (p * p).sum().backward()
    np.testing.assert_allclose(p.grad.numpy(), [2.0, 4.0])
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q is not p and q.requires_grad
    assert q.data_ptr() != p.data_ptr()
    np.testing.assert_allclose(q.detach().numpy(), [1.0, 2.0])
    r = pickle.loads(pickle.dumps(p))
    assert type(r) is nn.Parameter and r.requires_grad
    np.testing.assert_allclose(r.detach().numpy(), [1.0, 2.0])


def test_buffer_marker_registers_a_buffer():
    m = nn.Module()
    m.b = nn.Buffer(torch.ones(2))
    m.c = nn.Buffer(torch.ones(1), persistent=False)
    assert list(m.state_dict()) == ["b"] and [n for n, _ in m.named_buffers()] == ["b", "c"]


# ------------------------------------------------------------------------------ registration and naming
def test_names_and_order_follow_torch():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "scale", "fc1.weight", "fc1.bias", "layers.0.fc.weight", "layers.0.fc.bias", "layers.0.norm.weight",
        "layers.0.norm.bias", "layers.2.fc.weight", "layers.2.fc.bias", "layers.2.norm.weight",
        "layers.2.norm.bias", "head.weight",
    ]
    assert list(net.state_dict()) == [
        "scale", "steps", "fc1.weight", "fc1.bias", "layers.0.fc.weight", "layers.0.fc.bias",
        "layers.0.norm.weight", "layers.0.norm.bias", "layers.0.norm.running_mean", "layers.0.norm.running_var",
        "layers.0.norm.num_batches_tracked", "layers.2.fc.weight", "layers.2.fc.bias", "layers.2.norm.weight",
        "layers.2.norm.bias", "layers.2.norm.running_mean", "layers.2.norm.running_var",
        "layers.2.norm.num_batches_tracked", "head.weight",
    ]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "layers", "layers.0", "layers.0.fc", "layers.0.norm",
                                                 "layers.1", "layers.2", "layers.2.fc", "layers.2.norm", "head"]
    assert [n for n, _ in net.named_children()] == ["fc1", "layers", "head"]
    assert [n for n, _ in net.named_buffers()][:2] == ["steps", "scratch"]
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert len(list(net.parameters())) == 12 and len(list(net.modules())) == 11
    assert [n for n, _ in net.named_parameters(prefix="model")][0] == "model.scale"


def test_shared_parameters_and_modules_are_deduplicated():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert len(list(seq.named_modules(remove_duplicate=False))) == 4
    # tied weights: the state dict still names both
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_setattr_getattr_delattr():
    m = nn.Module()
    m.w = nn.Parameter(torch.ones(2))
    m.sub = nn.Linear(2, 2)
    m.register_buffer("buf", torch.zeros(2))
    m.plain = 3
    assert "w" in m._parameters and "sub" in m._modules and "buf" in m._buffers and m.plain == 3
    m.buf = torch.ones(2)  # re-assigning a buffer keeps it a buffer
    assert float(m._buffers["buf"].sum()) == 2
    m.w = None
    assert m._parameters["w"] is None and m.w is None
    del m.sub
    assert "sub" not in m._modules
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'sub'"):
        m.sub
    # a registered parameter name only takes a Parameter or None (torch's rule)
    with pytest.raises(TypeError, match="as parameter 'w'"):
        m.w = nn.Linear(1, 1)
    # a plain attribute replaced by a module moves into _modules
    m.plain = nn.Linear(1, 1)
    assert "plain" in m._modules and "plain" not in m.__dict__
    assert "w" in dir(m) and "buf" in dir(m)


def test_registration_errors_match_torch():
    m = nn.Module()
    m.fc = nn.Linear(2, 2)
    m.register_buffer("b", torch.zeros(1))
    with pytest.raises(TypeError, match=r"cannot assign 'int' as child module 'fc' \(torch.nn.Module or None expected\)"):
        m.fc = 3
    m.p = nn.Parameter(torch.ones(1))
    with pytest.raises(TypeError, match=r"cannot assign 'rustensor.FloatTensor' as parameter 'p' \(torch.nn.Parameter or None expected\)"):
        m.p = torch.ones(1)
    with pytest.raises(TypeError, match=r"cannot assign 'int' as buffer 'b'"):
        m.b = 3
    with pytest.raises(KeyError, match="attribute 'fc' already exists"):
        m.register_buffer("fc", None)
    with pytest.raises(KeyError) as e:
        m.add_module("a.b", None)
    assert e.value.args[0] == 'module name can\'t contain ".", got: a.b'
    with pytest.raises(KeyError) as e:
        m.register_buffer("", None)
    assert e.value.args[0] == 'buffer name can\'t be empty string ""'
    with pytest.raises(TypeError, match="object to buffer 'x'"):
        m.register_buffer("x", 3)
    with pytest.raises(TypeError, match=r"cannot assign 'rustensor.FloatTensor' object to parameter 'q' \(torch.nn.Parameter or None required\)"):
        m.register_parameter("q", torch.ones(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("z", 3)

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(torch.ones(1))

    with pytest.raises(AttributeError, match=r"cannot assign parameters before Module.__init__\(\) call"):
        Early()


def test_get_submodule_parameter_buffer():
    net = Net()
    assert net.get_submodule("layers.0.fc") is net.layers[0].fc
    assert net.get_parameter("layers.2.norm.bias") is net.layers[2].norm.bias
    assert net.get_buffer("layers.0.norm.running_mean") is net.layers[0].norm.running_mean
    with pytest.raises(AttributeError, match="Net has no attribute `nope`"):
        net.get_submodule("nope")
    with pytest.raises(AttributeError, match="`weight` is not an nn.Module"):
        net.get_submodule("fc1.weight.x")
    with pytest.raises(AttributeError, match="`fc1` is not an nn.Parameter"):
        net.get_parameter("fc1")
    assert net.get_submodule("") is net


# ------------------------------------------------------------------------------ modes and grads
def test_train_eval_requires_grad_zero_grad_apply():
    net = Net()
    assert net.training and net.layers[0].norm.training
    net.eval()
    assert not net.training and not net.layers[2].norm.training
    net.train()
    assert net.layers[2].fc.training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("yes")
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    out = net(torch.randn(5, 3)).sum()
    out.backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen[-1] == "Net" and seen[0] == "Linear"


def test_forward_missing_raises():
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required "forward" function'):
        nn.Module()(torch.ones(1))


# ------------------------------------------------------------------------------ conversions
def test_dtype_conversions_convert_floats_only():
    net = Net()
    net.register_buffer("count", torch.tensor(3))
    net.double()
    assert all(p.dtype == F64 for p in net.parameters())
    assert all(isinstance(p, nn.Parameter) for p in net.parameters())
    assert net.count.dtype == torch.int64 and net.layers[0].norm.num_batches_tracked.dtype == torch.int64
    assert net.steps.dtype == F64
    net.float()
    assert net.fc1.weight.dtype == torch.float32
    w = net.fc1.weight
    assert net.to(torch.float32) is net and net.fc1.weight is w  # a no-op keeps identity
    net.half()
    assert net.fc1.weight.dtype == torch.float16
    net.to(dtype=torch.float64)
    assert net.head.weight.dtype == F64
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point or complex dtypes"):
        net.to(torch.int64)


def test_conversion_keeps_grad_and_requires_grad():
    lin = nn.Linear(2, 2)
    lin.weight.requires_grad_(False)
    lin(torch.ones(1, 2)).sum().backward()
    lin.double()
    assert not lin.weight.requires_grad and lin.bias.requires_grad
    assert lin.bias.grad is not None and lin.bias.grad.dtype == F64


# ------------------------------------------------------------------------------ state dict
def test_state_dict_values_keep_vars_prefix_and_metadata():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    assert not sd["fc1.weight"].requires_grad and type(sd["fc1.weight"]) is torch.Tensor
    assert sd["fc1.weight"].data_ptr() == net.fc1.weight.data_ptr()  # the same storage, detached
    assert net.state_dict(keep_vars=True)["fc1.weight"] is net.fc1.weight
    assert list(net.fc1.state_dict(prefix="x.")) == ["x.weight", "x.bias"]
    assert sd._metadata["layers.0.norm"]["version"] == 2
    assert "scratch" not in sd


def test_load_state_dict_round_trip_copies_in_place():
    a, b = Net(), Net()
    w = b.fc1.weight
    res = b.load_state_dict(a.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert repr(res) == "<All keys matched successfully>"
    assert b.fc1.weight is w  # copied into the existing parameter
    np.testing.assert_array_equal(b.fc1.weight.detach().numpy(), a.fc1.weight.detach().numpy())
    x = torch.randn(4, 3)
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())


def test_load_state_dict_errors_match_torch():
    net = Net()
    sd = net.state_dict()
    del sd["fc1.weight"]
    sd["extra.x"] = torch.zeros(1)
    sd["fc1.bias"] = torch.zeros(3)
    with pytest.raises(RuntimeError) as e:
        net.load_state_dict(sd)
    assert str(e.value) == (
        "Error(s) in loading state_dict for Net:\n"
        '\tMissing key(s) in state_dict: "fc1.weight". \n'
        '\tUnexpected key(s) in state_dict: "extra.x". \n'
        "\tsize mismatch for fc1.bias: copying a param with shape rustensor.Size([3]) from checkpoint, "
        "the shape in current model is rustensor.Size([4])."
    )
    del sd["fc1.bias"]
    res = net.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["fc1.weight", "fc1.bias"] and res.unexpected_keys == ["extra.x"]
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        net.load_state_dict([1, 2])
    sd2 = net.state_dict()
    sd2["scale"] = np.ones(1)
    with pytest.raises(RuntimeError, match='While copying the parameter named "scale", expected torch.Tensor'):
        net.load_state_dict(sd2)


def test_load_state_dict_assign_and_old_batchnorm_checkpoints():
    lin = nn.Linear(2, 2)
    new_w = torch.ones(2, 2)
    lin.load_state_dict({"weight": new_w, "bias": torch.zeros(2)}, assign=True)
    assert isinstance(lin.weight, nn.Parameter) and lin.weight.data_ptr() == new_w.data_ptr()
    bn = nn.BatchNorm1d(3)
    old = {k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
    assert bn.load_state_dict(old).missing_keys == []  # no metadata: treated as a pre-v2 checkpoint


def test_extra_state_round_trips():
    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.value = 1

        def get_extra_state(self):
            return {"value": self.value}

        def set_extra_state(self, state):
            self.value = state["value"]

    a, b = WithExtra(), WithExtra()
    a.value = 7
    sd = a.state_dict()
    assert list(sd) == ["_extra_state"]
    b.load_state_dict(sd)
    assert b.value == 7


# ------------------------------------------------------------------------------ hooks
def test_forward_hooks_pre_hooks_and_kwargs():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(tuple(out.shape)))
    h3 = lin.register_forward_hook(lambda m, args, kwargs, out: out + 1, with_kwargs=True)
    out = lin(torch.ones(3, 2))
    np.testing.assert_allclose(out.detach().numpy(), (lin.bias.detach().numpy() + 1)[None].repeat(3, 0), rtol=1e-6)
    assert calls == [(3, 2)]
    h1.remove(), h2.remove(), h3.remove()
    lin(torch.ones(3, 2))
    assert calls == [(3, 2)]
    with lin.register_forward_pre_hook(lambda m, a, k: 5, with_kwargs=True):
        with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple of"):
            lin(torch.ones(1, 2))
    lin(torch.ones(1, 2))  # the context manager removed it


def test_full_backward_hooks_see_and_replace_gradients():
    lin = nn.Linear(3, 2).double()
    seen = {}

    def pre(m, go):
        seen["pre"] = [tuple(g.shape) for g in go]

    def post(m, gi, go):
        seen["post"] = ([tuple(g.shape) for g in gi], [tuple(g.shape) for g in go])

    lin.register_full_backward_pre_hook(pre)
    lin.register_full_backward_hook(post)
    x = torch.randn(4, 3, dtype=F64, requires_grad=True)
    lin(x).sum().backward()
    assert seen == {"pre": [(4, 2)], "post": ([(4, 3)], [(4, 2)])}
    np.testing.assert_allclose(x.grad.numpy(), np.tile(lin.weight.detach().numpy().sum(0), (4, 1)))
    zeroing = nn.Linear(3, 2).double()
    zeroing.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0,))
    x.grad = None
    zeroing(x).sum().backward()
    assert float(x.grad.abs().sum()) == 0.0


# ------------------------------------------------------------------------------ containers
def test_sequential_indexing_slicing_and_mutation():
    layers = [nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 3)]
    s = nn.Sequential(*layers)
    assert len(s) == 3 and s[0] is layers[0] and s[-1] is layers[2]
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and list(sub._modules) == ["1", "2"] and sub[0] is layers[1]
    s.append(nn.Tanh())
    s.insert(1, nn.Identity())
    assert [type(m).__name__ for m in s] == ["Linear", "Identity", "ReLU", "Linear", "Tanh"]
    popped = s.pop(1)
    assert isinstance(popped, nn.Identity) and list(s._modules) == ["0", "1", "2", "3"]
    del s[-1]
    s.extend([nn.Sigmoid()])
    s[3] = nn.Softsign()
    assert isinstance(s[3], nn.Softsign)
    with pytest.raises(IndexError, match="index 9 is out of range"):
        s[9]
    named = nn.Sequential(OrderedDict([("conv", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["conv.weight", "conv.bias"] and isinstance(named.act, nn.ReLU)
    y = nn.Sequential(nn.Linear(2, 2), nn.ReLU())(torch.randn(3, 2))
    assert tuple(y.shape) == (3, 2) and float(y.min()) >= 0


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    ml.append(nn.ReLU())
    ml += [nn.Tanh()]
    assert len(ml) == 5 and isinstance(ml[-1], nn.Tanh) and isinstance(ml[1:3], nn.ModuleList)
    ml.insert(0, nn.Identity())
    assert isinstance(ml[0], nn.Identity) and len(list(ml.parameters())) == 6
    del ml[0]
    assert [n for n, _ in ml.named_children()] == ["0", "1", "2", "3", "4"]
    md = nn.ModuleDict({"b": nn.Linear(1, 1), "a": nn.ReLU()})
    md["c"] = nn.Tanh()
    assert list(md.keys()) == ["b", "a", "c"] and "a" in md and len(md) == 3
    assert isinstance(md.pop("a"), nn.ReLU) and list(md) == ["b", "c"]
    md.update([("d", nn.Identity())])
    assert list(md.state_dict()) == ["b.weight", "b.bias"]


def test_parameter_list_and_dict():
    pl = nn.ParameterList([torch.ones(2), nn.Parameter(torch.zeros(3))])
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(pl) == 2
    pl.append(torch.ones(1))
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    pd = nn.ParameterDict({"w": torch.ones(2)})
    pd["b"] = nn.Parameter(torch.zeros(1))
    assert list(pd.keys()) == ["w", "b"] and isinstance(pd["w"], nn.Parameter)
    assert [n for n, _ in pd.named_parameters()] == ["w", "b"]
    assert "b" in pd and pd.get("zz") is None
    with pytest.raises(RuntimeError, match="ParameterList should not be called."):
        pl()


# ------------------------------------------------------------------------------ repr and copies
def test_nested_repr_matches_torch():
    net = nn.Sequential(OrderedDict([
        ("fc", nn.Linear(3, 4)),
        ("blocks", nn.ModuleList([nn.Sequential(nn.Linear(4, 4), nn.GELU()) for _ in range(2)] + [nn.ReLU()])),
        ("drop", nn.Dropout(0.1)),
    ]))
    assert repr(net) == (
        "Sequential(\n"
        "  (fc): Linear(in_features=3, out_features=4, bias=True)\n"
        "  (blocks): ModuleList(\n"
        "    (0-1): 2 x Sequential(\n"
        "      (0): Linear(in_features=4, out_features=4, bias=True)\n"
        "      (1): GELU(approximate='none')\n"
        "    )\n"
        "    (2): ReLU()\n"
        "  )\n"
        "  (drop): Dropout(p=0.1, inplace=False)\n"
        ")"
    )
    pl = nn.ParameterList([torch.ones(2, 3)])
    assert repr(pl) == "ParameterList(  (0): Parameter containing: [rustensor.float32 of size 2x3])"


def test_deepcopy_and_pickle_of_modules():
    net = Net()
    net.tied = net.fc1  # a shared submodule stays shared in the copy
    c = copy.deepcopy(net)
    assert c.tied is c.fc1 and c.fc1 is not net.fc1
    assert c.fc1.weight.data_ptr() != net.fc1.weight.data_ptr()
    x = torch.randn(4, 3)
    net.eval(), c.eval()
    np.testing.assert_array_equal(c(x).detach().numpy(), net(x).detach().numpy())
    p = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(p(x).detach().numpy(), net(x).detach().numpy())
    assert isinstance(p.fc1.weight, nn.Parameter)
    hooked = nn.Linear(1, 1)
    hooked.register_forward_hook(_global_hook)
    assert len(copy.deepcopy(hooked)._forward_hooks) == 1


def _global_hook(m, args, out):
    return None


# ------------------------------------------------------------------------------ torch differential
@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed (differential check only)")
def test_torch_state_dict_loads_and_gives_torch_outputs():
    import torch as T

    def build(lib):
        n = lib.nn
        return n.Sequential(OrderedDict([
            ("emb", n.Embedding(10, 4, padding_idx=0)),
            ("flat", n.Flatten()),
            ("fc1", n.Linear(12, 8)),
            ("bn", n.BatchNorm1d(8)),
            ("act", n.GELU()),
            ("ln", n.LayerNorm(8)),
            ("fc2", n.Linear(8, 3)),
        ]))

    tm, rm = build(T), build(torch)
    assert repr(tm) == repr(rm)
    assert list(tm.state_dict()) == list(rm.state_dict())
    rng = np.random.default_rng(0)
    tm.train()
    for _ in range(3):  # move the running statistics away from their initial values
        tm(T.tensor(rng.integers(0, 10, size=(6, 3))))
    rm.load_state_dict(OrderedDict((k, torch.tensor(v.detach().numpy().copy())) for k, v in tm.state_dict().items()))
    tm.eval(), rm.eval()
    idx = rng.integers(0, 10, size=(5, 3))
    np.testing.assert_allclose(rm(torch.tensor(idx)).detach().numpy(), tm(T.tensor(idx)).detach().numpy(), rtol=1e-5, atol=1e-6)
    tm.train(), rm.train()
    to, ro = tm(T.tensor(idx)), rm(torch.tensor(idx))
    np.testing.assert_allclose(ro.detach().numpy(), to.detach().numpy(), rtol=1e-5, atol=1e-5)
    to.square().sum().backward(), ro.square().sum().backward()
    for (n, p), (_, q) in zip(tm.named_parameters(), rm.named_parameters()):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=n)
    for k in ("bn.running_mean", "bn.running_var", "bn.num_batches_tracked"):
        np.testing.assert_allclose(rm.state_dict()[k].numpy(), tm.state_dict()[k].numpy(), rtol=1e-5, atol=1e-6)
