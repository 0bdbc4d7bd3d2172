"""rustensor.save / rustensor.load: torch's own checkpoints (fixtures written by real torch), round
trips of every object kind, storage sharing, map_location, mmap, the weights_only allowlist
against malicious pickles, and corrupt or truncated files."""

import collections
import copyreg
import fractions
import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rustensor as torch
from rustensor import serialization as ser
from conftest import ALL_DTYPES, np_dtype, tensors

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
EXPECTED = np.load(os.path.join(DATA, "torch_expected.npz"))
FIXTURES = ["module_state_dict", "optimizer_state_dict", "checkpoint", "shared_views", "dtypes"]
SAVE_DTYPES = ALL_DTYPES + [torch.float16]


def skeleton(prefix, obj):
    """The structure of a loaded object, in the form make_torch_fixtures.py wrote torch's."""
    if isinstance(obj, torch.Tensor):
        P = ser._parameter_class()
        return {"tensor": prefix, "dtype": str(obj.dtype).split(".")[-1], "requires_grad": obj.requires_grad,
                "parameter": P is not None and isinstance(obj, P)}
    if isinstance(obj, dict):
        return {"dict": [[k, skeleton(f"{prefix}.{k}", v)] for k, v in obj.items()],
                "ordered": isinstance(obj, collections.OrderedDict)}
    if isinstance(obj, (list, tuple)):
        return {type(obj).__name__: [skeleton(f"{prefix}.{i}", v) for i, v in enumerate(obj)]}
    return obj


def tensors_of(prefix, obj, out):
    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            tensors_of(f"{prefix}.{k}", v, out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            tensors_of(f"{prefix}.{i}", v, out)
    return out


def assert_same_array(t, ref):
    a = t.detach().cpu().numpy()
    assert a.dtype == ref.dtype and a.shape == ref.shape, (a.dtype, ref.dtype, a.shape, ref.shape)
    np.testing.assert_array_equal(a, ref)


# ------------------------------------------------------------------------------ torch's files


@pytest.mark.parametrize("name", FIXTURES)
@pytest.mark.parametrize("mmap", [False, True])
def test_torch_fixture_loads_with_exact_values(name, mmap):
    obj = torch.load(os.path.join(DATA, f"torch_{name}.pt"), mmap=mmap)
    expected_skeleton = json.loads(str(EXPECTED[f"{name}.__skeleton__"]))
    # json turns tuples inside dict keys' pairs into lists; the skeleton already spells kinds out
    assert json.loads(json.dumps(skeleton(name, obj))) == expected_skeleton
    loaded = tensors_of(name, obj, {})
    keys = [k for k in EXPECTED.files if k.startswith(name + ".") and not k.endswith("__skeleton__")]
    assert keys
    assert sorted(loaded) == sorted(keys)
    for k in keys:
        assert_same_array(loaded[k], EXPECTED[k])


def test_torch_views_share_storage_after_load():
    v = torch.load(os.path.join(DATA, "torch_shared_views.pt"))
    base = v["base"]
    for k in ("row", "col", "t", "tail"):
        assert v[k]._storage_id() == base._storage_id(), k
    assert v["col"].stride() == (4,) and v["col"].storage_offset() == 2
    assert v["t"].stride() == (1, 4) and v["tail"].storage_offset() == 5
    base[1, 2] = -7.0  # one write, seen through every view
    assert v["row"][2].item() == -7.0 and v["col"][1].item() == -7.0 and v["t"][2, 1].item() == -7.0
    assert v["tail"][1].item() == -7.0


def test_torch_parameters_and_leaves_keep_requires_grad():
    d = torch.load(os.path.join(DATA, "torch_dtypes.pt"))
    assert d["param"].requires_grad and d["param"].is_leaf
    P = ser._parameter_class()
    if P is not None:
        assert isinstance(d["param"], P)
    assert d["grad_leaf"].requires_grad and not d["float32"].requires_grad
    sd = torch.load(os.path.join(DATA, "torch_module_state_dict.pt"))
    # state_dict() holds detached tensors and the BatchNorm counter as an int64 scalar
    assert isinstance(sd, collections.OrderedDict)
    assert list(sd)[:2] == ["0.weight", "0.bias"] and "2.running_var" in sd
    assert sd["2.num_batches_tracked"].dtype == torch.int64 and sd["2.num_batches_tracked"].shape == ()
    assert sd["2.num_batches_tracked"].item() == 3


def _has_nn_modules():
    nn = torch.nn
    need = ("Sequential", "Linear", "BatchNorm1d", "ReLU")
    return all(isinstance(getattr(nn, n, None), type) for n in need) and hasattr(nn.Module, "load_state_dict")


@pytest.mark.skipif(not _has_nn_modules(), reason="rustensor.nn has no Sequential/Linear/BatchNorm1d/load_state_dict yet")
def test_torch_state_dict_drives_a_rustensor_module_like_torch():
    nn = torch.nn
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.BatchNorm1d(3), nn.Linear(3, 2))
    model.load_state_dict(torch.load(os.path.join(DATA, "torch_module_state_dict.pt")))
    model.eval()
    out = model(torch.from_numpy(EXPECTED["module_eval.input"]))
    np.testing.assert_allclose(out.detach().numpy(), EXPECTED["module_eval.output"], rtol=1e-5, atol=1e-6)
    again = roundtrip(model.state_dict())
    assert list(again) == list(model.state_dict())


def _has_adam():
    return _has_nn_modules() and isinstance(getattr(torch.optim, "Adam", None), type) and hasattr(torch.optim.Adam, "load_state_dict")


@pytest.mark.skipif(not _has_adam(), reason="rustensor.optim has no Adam with load_state_dict yet")
def test_training_resumes_from_a_torch_checkpoint_like_torch():
    nn = torch.nn
    ckpt = torch.load(os.path.join(DATA, "torch_checkpoint.pt"))
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.BatchNorm1d(3), nn.Linear(3, 2))
    model.load_state_dict(ckpt["model"])
    opt = torch.optim.Adam(model.parameters(), lr=0.5)  # the checkpoint's lr (0.01) replaces this
    opt.load_state_dict(ckpt["optimizer"])
    model.train()
    loss = model(torch.from_numpy(EXPECTED["resume.input"])).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(v.detach().numpy(), EXPECTED[f"resume.after.{k}"], rtol=1e-5, atol=1e-6, err_msg=k)


@pytest.mark.parametrize("dtype", ["complex64"])
def test_unsupported_dtype_raises_naming_it(dtype):
    with pytest.raises(RuntimeError, match=dtype):
        torch.load(os.path.join(DATA, f"torch_unsupported_{dtype}.pt"))


# ------------------------------------------------------------------------------ round trips


def roundtrip(obj, **load_kwargs):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, **load_kwargs)


@given(data=st.data())
def test_roundtrip_random_tensors_every_dtype_and_layout(data):
    dtype = data.draw(st.sampled_from(SAVE_DTYPES))
    t, ref = data.draw(tensors(dtype))
    out = roundtrip(t)
    assert out.dtype == t.dtype and tuple(out.shape) == tuple(t.shape)
    assert out.stride() == t.stride() and out.storage_offset() == t.storage_offset()
    assert_same_array(out, ref)
    assert out._storage_id() != t._storage_id()  # a new storage, not an alias of the saved one


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_roundtrip_every_binary_pickle_protocol(protocol):
    base = torch.arange(6, dtype=torch.int32).reshape(2, 3)
    buf = io.BytesIO()
    torch.save({"b": base, "t": base.t(), "dt": torch.int32, "s": torch.Size([1])}, buf, pickle_protocol=protocol)
    buf.seek(0)
    out = torch.load(buf)
    assert out["t"]._storage_id() == out["b"]._storage_id() and out["t"].tolist() == base.t().tolist()
    assert out["dt"] is torch.int32 and out["s"] == (1,)


def test_roundtrip_preserves_sharing_between_views():
    base = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4)
    obj = {"base": base, "t": base.transpose(0, 2), "step": base[:, ::2, 1:], "exp": base[0, 0, :1].expand(5, 3),
           "other": torch.ones(3)}
    out = roundtrip(obj)
    for k in ("t", "step", "exp"):
        assert out[k]._storage_id() == out["base"]._storage_id(), k
        assert out[k].stride() == obj[k].stride() and out[k].storage_offset() == obj[k].storage_offset()
        np.testing.assert_array_equal(out[k].numpy(), obj[k].numpy())
    assert out["other"]._storage_id() != out["base"]._storage_id()
    out["base"][0, 0, 0] = 100.0
    assert out["exp"][4, 2].item() == 100.0 and out["t"][0, 0, 0].item() == 100.0


def test_roundtrip_plain_objects_and_containers():
    obj = collections.OrderedDict(
        a=1, b=-2.5, c="text", d=None, e=True, f=[1, (2, 3), {"x": [None]}], g=(), h=b"\x00\xffbytes",
        i={1, 2}, j=frozenset({3}), k=3 + 4j, l=bytearray(b"ab"), m=collections.OrderedDict(z=0), n=2**70,
        dt=torch.float16, dev=torch.device("cpu"), size=torch.Size([2, 3]),
    )
    out = roundtrip(obj)
    assert out == obj and type(out) is collections.OrderedDict and list(out) == list(obj)
    assert type(out["m"]) is collections.OrderedDict and type(out["f"][1]) is tuple
    assert out["dt"] is torch.float16 and isinstance(out["size"], torch.Size)


def test_roundtrip_state_dict_shapes_of_a_module_and_an_optimizer():
    # what Module.state_dict() / Optimizer.state_dict() hold, built by hand so this runs whatever
    # state nn and optim are in
    w, b = torch.randn(3, 4), torch.randn(3)
    model = collections.OrderedDict([("0.weight", w), ("0.bias", b), ("1.running_mean", torch.zeros(3)),
                                     ("1.num_batches_tracked", torch.tensor(5))])
    opt = {"state": {0: {"step": torch.tensor(2.0), "exp_avg": torch.ones(3, 4), "exp_avg_sq": torch.ones(3, 4)}},
           "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "amsgrad": False,
                             "foreach": None, "params": [0, 1]}]}
    out = roundtrip({"model": model, "optimizer": opt, "epoch": 7})
    assert list(out["model"]) == list(model) and out["epoch"] == 7
    for k, v in model.items():
        assert_same_array(out["model"][k], v.numpy())
    assert out["optimizer"]["param_groups"] == opt["param_groups"]
    assert_same_array(out["optimizer"]["state"][0]["exp_avg"], np.ones((3, 4), np.float32))


def test_roundtrip_requires_grad_and_parameters():
    leaf = torch.randn(3, requires_grad=True)
    y = leaf * 2  # a non-leaf: loads as a leaf that requires grad, as in torch
    out = roundtrip({"leaf": leaf, "y": y})
    assert out["leaf"].requires_grad and out["leaf"].is_leaf and out["y"].requires_grad and out["y"].is_leaf
    P = ser._parameter_class()
    if P is not None:
        p = P(torch.ones(2), True)
        got = roundtrip(p)
        assert isinstance(got, P) and got.requires_grad
        assert_same_array(got, np.ones(2, np.float32))


def test_save_to_path_and_file_object(tmp_path):
    t = torch.arange(10)
    p = tmp_path / "ckpt.pt"
    torch.save({"t": t}, p)
    torch.save({"t": t}, str(tmp_path / "b.pt"))
    with open(tmp_path / "c.pt", "wb") as fh:
        torch.save({"t": t}, fh)
    for name in ("ckpt.pt", "b.pt", "c.pt"):
        assert_same_array(torch.load(tmp_path / name)["t"], np.arange(10))
        with open(tmp_path / name, "rb") as fh:
            assert_same_array(torch.load(fh)["t"], np.arange(10))
    # the archive layout torch writes: prefix/data.pkl first, storages 64-byte aligned
    with zipfile.ZipFile(p) as z:
        names = z.namelist()
        assert names[0] == "ckpt/data.pkl" and "ckpt/data/0" in names and "ckpt/version" in names
        info = z.getinfo("ckpt/data/0")
    with open(p, "rb") as fh:
        fh.seek(info.header_offset + 26)
        n, m = np.frombuffer(fh.read(4), "<u2")
    assert (info.header_offset + 30 + int(n) + int(m)) % 64 == 0


def test_gpu_tensor_saves_as_cuda_location_and_needs_map_location_without_gpu():
    saved = torch.randn(2, 3)
    buf = io.BytesIO()
    pickler_storage_location(buf, saved, "cuda:0")
    for ml in ("cpu", torch.device("cpu"), {"cuda:0": "cpu"}, lambda storage, loc: storage):
        buf.seek(0)
        out = torch.load(buf, map_location=ml)
        assert out.device.type == "cpu"
        assert_same_array(out, saved.numpy())
    if not torch.cuda.is_available():
        buf.seek(0)
        with pytest.raises(RuntimeError, match="map_location"):
            torch.load(buf)


def pickler_storage_location(buf, t, location):
    """Writes `t` as if saved from `location` (a machine with that device)."""
    pbuf = io.BytesIO()
    p = ser._Pickler(pbuf, 2)
    s = p._storage_of(t)
    s.location = location
    p.dump(t)
    ser._write_archive(buf, "archive", pbuf.getvalue(), p.storages.values(), False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU adapter")
def test_map_location_gpu_keeps_sharing_and_values():
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    out = roundtrip({"base": base, "t": base.t()}, map_location="cuda")
    assert out["base"].device.type == "gpu" and out["t"].device.type == "gpu"
    assert out["t"]._storage_id() == out["base"]._storage_id()
    np.testing.assert_array_equal(out["t"].cpu().numpy(), base.t().numpy())
    g = roundtrip({"g": base.cuda()[1:]})  # saved from the GPU, restored there
    assert g["g"].device.type == "gpu"
    np.testing.assert_array_equal(g["g"].cpu().numpy(), base[1:].numpy())


def test_map_location_callable_sees_location():
    seen = []
    out = roundtrip(torch.ones(2), map_location=lambda s, loc: seen.append(loc))
    assert seen == ["cpu"] and out.device.type == "cpu"
    with pytest.raises(TypeError, match="map_location"):
        roundtrip(torch.ones(2), map_location=3)


def proc_maps_path(addr):
    """The file backing the mapping that holds `addr` (Linux), or None."""
    with open("/proc/self/maps") as fh:
        for line in fh:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if lo <= addr < hi:
                return parts[5] if len(parts) > 5 else None
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_mmap_shares_file_pages_and_never_writes_the_file(tmp_path):
    p = tmp_path / "m.pt"
    torch.save({"a": torch.arange(1000, dtype=torch.float32), "v": torch.ones(4, dtype=torch.int64)}, p)
    before = p.read_bytes()
    out = torch.load(p, mmap=True)
    assert proc_maps_path(out["a"].data_ptr()) == str(p)
    assert proc_maps_path(torch.load(p)["a"].data_ptr()) != str(p)
    out["a"].add_(1.0)  # copy-on-write: the file keeps its bytes
    assert out["a"][0].item() == 1.0 and p.read_bytes() == before
    with pytest.raises(ValueError, match="file path"):
        torch.load(io.BytesIO(before), mmap=True)


# ------------------------------------------------------------------------------ weights_only


class Evil:
    """Unpickling this runs a shell command (when a loader lets it)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def archive_with_pickle(pkl: bytes) -> io.BytesIO:
    buf = io.BytesIO()
    ser._write_archive(buf, "archive", pkl, [], False)
    buf.seek(0)
    return buf


@pytest.mark.parametrize("protocol", [0, 1, 2, 4, 5])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, protocol):
    marker = tmp_path / "pwned"
    files = [archive_with_pickle(pickle.dumps({"w": [1.0], "x": Evil(marker)}, protocol=protocol))]
    if protocol >= 2:  # persistent ids (tensors) need a binary protocol, in torch too
        buf = io.BytesIO()
        torch.save({"weights": torch.ones(2), "x": Evil(marker)}, buf, pickle_protocol=protocol)
        buf.seek(0)
        files.append(buf)
    for f in files:
        with pytest.raises(pickle.UnpicklingError, match=r"(posix|os|nt)\.system"):
            torch.load(f)
        assert not marker.exists()


def test_other_dangerous_globals_are_refused(tmp_path):
    marker = tmp_path / "pwned"

    class ViaEval:
        def __reduce__(self):
            return (eval, (f"open({str(marker)!r}, 'w')",))

    class ViaGetattr:  # getattr is how pickles reach methods of allowed objects
        def __reduce__(self):
            return (getattr, (collections.OrderedDict(), "clear"))

    for obj, name in ((ViaEval(), "builtins.eval"), (ViaGetattr(), "builtins.getattr"),
                      (fractions.Fraction(1, 3), "fractions.Fraction")):
        with pytest.raises(pickle.UnpicklingError, match=name.replace(".", r"\.")):
            torch.load(archive_with_pickle(pickle.dumps(obj, protocol=2)))
    assert not marker.exists()
    # the EXT opcodes go through the same check
    copyreg.add_extension("fractions", "Fraction", 0x7E57)
    try:
        data = pickle.dumps(fractions.Fraction(1, 3), protocol=2)
    finally:
        copyreg.remove_extension("fractions", "Fraction", 0x7E57)
    assert pickle.EXT2 in data
    copyreg.add_extension("fractions", "Fraction", 0x7E57)
    try:
        with pytest.raises(pickle.UnpicklingError, match=r"fractions\.Fraction"):
            torch.load(archive_with_pickle(data))
    finally:
        copyreg.remove_extension("fractions", "Fraction", 0x7E57)


def test_build_cannot_patch_allowed_classes_or_functions():
    def build_on(module, name, key):
        k = key.encode()
        # GLOBAL module name; state (None, {key: 1}); BUILD: setattr(global, key, 1) if let through
        return (b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"N}X" + len(k).to_bytes(4, "little") + k
                + b"K\x01s\x86b.")

    before = torch.Size.numel
    for module, name, key in (("torch", "Size", "numel"), ("torch._utils", "_rebuild_tensor_v2", "__defaults__"),
                              ("collections", "OrderedDict", "x")):
        with pytest.raises(pickle.UnpicklingError, match="BUILD"):
            torch.load(archive_with_pickle(build_on(module, name, key)))
    assert torch.Size.numel is before and ser._rebuild_tensor_v2.__defaults__ == (None,)
    # what state_dict() pickles: an OrderedDict carrying a _metadata attribute, which is allowed
    sd = collections.OrderedDict(w=torch.ones(1))
    sd._metadata = {"": {"version": 1}}
    assert roundtrip(sd)._metadata == {"": {"version": 1}}


def test_weights_only_false_and_safe_globals_opt_in():
    obj = {"f": fractions.Fraction(1, 3), "t": torch.ones(2)}
    with pytest.raises(pickle.UnpicklingError, match=r"fractions\.Fraction"):
        roundtrip(obj)
    out = roundtrip(obj, weights_only=False)
    assert out["f"] == fractions.Fraction(1, 3) and out["t"].tolist() == [1.0, 1.0]
    with ser.safe_globals([fractions.Fraction]):
        assert roundtrip(obj)["f"] == fractions.Fraction(1, 3)
    with pytest.raises(pickle.UnpicklingError):
        roundtrip(obj)
    with pytest.raises(RuntimeError, match="pickle_module"):
        roundtrip(obj, pickle_module=pickle, weights_only=True)


# ------------------------------------------------------------------------------ corrupt files


def saved_bytes():
    buf = io.BytesIO()
    torch.save({"a": torch.arange(20, dtype=torch.float32), "b": [torch.tensor(True), "s"]}, buf)
    return buf.getvalue()


CLEAN_ERRORS = (RuntimeError, pickle.UnpicklingError, EOFError, ValueError, TypeError)


def test_every_truncation_raises_cleanly():
    data = saved_bytes()
    for n in list(range(0, 200, 7)) + list(range(200, len(data), 23)) + [len(data) - 1]:
        with pytest.raises(CLEAN_ERRORS):
            torch.load(io.BytesIO(data[:n]))


def test_corrupt_bytes_raise_cleanly():
    data = saved_bytes()
    rng = np.random.default_rng(0)
    for _ in range(60):
        b = bytearray(data)
        for i in rng.integers(0, len(b), size=3):
            b[i] ^= int(rng.integers(1, 256))
        try:
            torch.load(io.BytesIO(bytes(b)))
        except CLEAN_ERRORS:
            pass
    # a flipped byte in a storage record is caught by its CRC
    z = zipfile.ZipFile(io.BytesIO(data))
    info = z.getinfo("archive/data/0")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    b = bytearray(data)
    b[start + 4] ^= 0xFF
    with pytest.raises(RuntimeError, match="CRC"):
        torch.load(io.BytesIO(bytes(b)))


def test_not_a_checkpoint():
    with pytest.raises(EOFError):
        torch.load(io.BytesIO(b""))
    with pytest.raises(pickle.UnpicklingError):
        torch.load(io.BytesIO(b"hello, this is not a checkpoint"))
    with pytest.raises(RuntimeError, match="Invalid magic number"):
        torch.load(io.BytesIO(pickle.dumps({"a": 1}, protocol=2)))
    with pytest.raises(RuntimeError, match="legacy"):
        torch.load(io.BytesIO(pickle.dumps(ser._MAGIC_NUMBER, protocol=2) + b"rest"))
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("x/other.txt", b"1")
    with pytest.raises(RuntimeError, match="data.pkl"):
        torch.load(io.BytesIO(zbuf.getvalue()))


def test_bad_storage_references_raise():
    flat = torch.arange(4, dtype=torch.float32)

    def archive(args, storages=True, key="0"):
        class Bad:
            def __reduce__(self):
                return (ser._g("torch._utils", "_rebuild_tensor_v2"), args(s))

        s = ser._SavedStorage(key, flat, "cpu")
        pbuf = io.BytesIO()
        ser._Pickler(pbuf, 2).dump(Bad())
        buf = io.BytesIO()
        ser._write_archive(buf, "archive", pbuf.getvalue(), [ser._SavedStorage("0", flat, "cpu")] if storages else [], False)
        buf.seek(0)
        return buf

    od = collections.OrderedDict()
    ok = torch.load(archive(lambda s: (s, 1, (3,), (1,), False, od)))
    assert ok.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(RuntimeError, match="out of bounds"):
        torch.load(archive(lambda s: (s, 1, (4,), (1,), False, od)))
    with pytest.raises(RuntimeError, match="out of bounds"):
        torch.load(archive(lambda s: (s, 0, (2, 2), (3, 1), False, od)))
    with pytest.raises(RuntimeError, match="[Nn]egative"):
        torch.load(archive(lambda s: (s, 3, (2,), (-1,), False, od)))
    with pytest.raises(RuntimeError, match="overflow"):
        torch.load(archive(lambda s: (s, 0, (2**62, 2**62), (2**62, 1), False, od)))
    with pytest.raises(RuntimeError, match="not found"):
        torch.load(archive(lambda s: (s, 0, (1,), (1,), False, od), storages=False))


def test_storage_larger_than_its_record_raises():
    class S:
        pass

    class Bad:
        def __reduce__(self):
            return (ser._g("torch._utils", "_rebuild_tensor_v2"), (S(), 0, (4,), (1,), False, collections.OrderedDict()))

    pbuf = io.BytesIO()
    p = ser._Pickler(pbuf, 2)
    # the reference claims 4 int64s (32 bytes); the record holds 4 float32s (16 bytes)
    p.persistent_id = lambda o: ("storage", ser._g("torch", "LongStorage"), "0", "cpu", 4) if isinstance(o, S) else None
    p.dump(Bad())
    buf = io.BytesIO()
    ser._write_archive(buf, "archive", pbuf.getvalue(), [ser._SavedStorage("0", torch.ones(4), "cpu")], False)
    buf.seek(0)
    with pytest.raises(RuntimeError, match="16 bytes"):
        torch.load(buf)


def test_bool_bytes_other_than_0_1_are_normalised():
    raw = torch.from_numpy(np.array([0, 1, 2, 255], np.uint8).view(np.bool_))
    out = roundtrip(raw)
    assert out.tolist() == [False, True, True, True]


# ------------------------------------------------------------------------------ real torch


def torch_python():
    """An interpreter that has torch: this one, else $RUSTENSOR_TORCH_PYTHON, else None."""
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    exe = os.environ.get("RUSTENSOR_TORCH_PYTHON")
    return exe if exe and os.path.exists(exe) else None


@pytest.mark.skipif(torch_python() is None, reason="needs real torch (set RUSTENSOR_TORCH_PYTHON to a python that has it)")
def test_real_torch_loads_what_rustensor_saved(tmp_path):
    base = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    P = ser._parameter_class()
    obj = collections.OrderedDict(
        base=base, t=base.t(), row=base[1, 1:], f16=torch.tensor([0.5, -2.0], dtype=torch.float16),
        i32=torch.tensor([1, -2], dtype=torch.int32), i64=torch.tensor([2**40]), b=torch.tensor([True, False]),
        f32=torch.randn(2, 3), scalar=torch.tensor(1.5), empty=torch.zeros(0, 2), leaf=torch.ones(2, requires_grad=True),
        meta={"epoch": 3, "betas": (0.9, 0.99), "name": "x", "none": None, "dt": torch.float32, "size": torch.Size([2])},
    )
    if P is not None:
        obj["param"] = P(torch.ones(3), True)
    path = tmp_path / "from_rustensor.pt"
    torch.save(obj, path)
    script = textwrap.dedent(f"""
        import json, numpy as np, torch
        o = torch.load({str(path)!r}, weights_only=True)
        out = {{k: v.detach().numpy() for k, v in o.items() if isinstance(v, torch.Tensor)}}
        np.savez({str(tmp_path / 'back.npz')!r}, **out)
        info = {{"shared": o["t"].untyped_storage().data_ptr() == o["base"].untyped_storage().data_ptr()
                            and o["row"].untyped_storage().data_ptr() == o["base"].untyped_storage().data_ptr(),
                 "strides": {{k: list(v.stride()) for k, v in o.items() if isinstance(v, torch.Tensor)}},
                 "rg": o["leaf"].requires_grad, "meta": repr(o["meta"]),
                 "param": type(o["param"]).__name__ if "param" in o else None}}
        print(json.dumps(info))
    """)
    res = subprocess.run([torch_python(), "-c", script], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout.strip().splitlines()[-1])
    assert info["shared"] and info["rg"]
    assert info["meta"] == "{'epoch': 3, 'betas': (0.9, 0.99), 'name': 'x', 'none': None, 'dt': torch.float32, 'size': torch.Size([2])}"
    if P is not None:
        assert info["param"] == "Parameter"
    back = np.load(tmp_path / "back.npz")
    for k, v in obj.items():
        if isinstance(v, torch.Tensor):
            assert_same_array(v, back[k])
            assert info["strides"][k] == list(v.stride()), k


@pytest.mark.skipif(torch_python() is None or not _has_nn_modules(), reason="needs real torch and rustensor.nn")
def test_real_torch_module_runs_a_rustensor_state_dict(tmp_path):
    nn = torch.nn
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.BatchNorm1d(3), nn.Linear(3, 2))
    model.train()
    for _ in range(2):  # move the BatchNorm buffers off their defaults
        model(torch.randn(6, 4))
    model.eval()
    x = torch.randn(5, 4)
    want = model(x).detach().numpy()
    torch.save({"sd": model.state_dict(), "x": x}, tmp_path / "sd.pt")
    script = textwrap.dedent(f"""
        import numpy as np, torch
        nn = torch.nn
        o = torch.load({str(tmp_path / 'sd.pt')!r})
        m = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.BatchNorm1d(3), nn.Linear(3, 2))
        m.load_state_dict(o["sd"])
        m.eval()
        np.save({str(tmp_path / 'out.npy')!r}, m(o["x"]).detach().numpy())
    """)
    res = subprocess.run([torch_python(), "-c", script], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), want, rtol=1e-5, atol=1e-6)
