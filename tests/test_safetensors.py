"""rustensor.utils.safetensors: round trips of every dtype and shape, interop with the
`safetensors` package's NumPy module both ways, zero-copy mapped loading, lazy safe_open,
and clean errors on bad input and corrupt files."""

import json
import struct
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rustensor as torch
from rustensor.utils import safetensors as rst
from conftest import ALL_DTYPES, np_dtype, random_array, shapes

SAVE_DTYPES = ALL_DTYPES + [torch.float16]


def assert_same_array(t, ref):
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t
    assert a.dtype == ref.dtype and a.shape == ref.shape, (a.dtype, ref.dtype, a.shape, ref.shape)
    np.testing.assert_array_equal(a, ref)


@given(data=st.data())
def test_roundtrip_bytes_random_dtypes_and_shapes(data):
    arrays = {}
    for i in range(data.draw(st.integers(1, 4))):
        dtype = data.draw(st.sampled_from(SAVE_DTYPES))
        shape = data.draw(shapes(max_dims=3))
        arrays[f"t{i}"] = random_array(np.random.default_rng(i), shape, dtype)
    ts = {k: torch.from_numpy(v) for k, v in arrays.items()}
    out = rst.load(rst.save(ts, metadata={"format": "pt", "n": str(len(ts))}))
    assert sorted(out) == sorted(arrays)
    for k, v in arrays.items():
        assert_same_array(out[k], v)


def test_roundtrip_file_with_metadata_and_safe_open(tmp_path):
    p = tmp_path / "m.safetensors"
    ts = {"w": torch.randn(3, 4), "b": torch.arange(3, dtype=torch.int32), "s": torch.tensor(2.5, dtype=torch.float64),
          "e": torch.zeros(0, 2, dtype=torch.float16), "m": torch.tensor([True, False])}
    rst.save_file(ts, p, metadata={"format": "pt"})
    got = rst.load_file(p)
    assert sorted(got) == sorted(ts)
    for k, v in ts.items():
        assert_same_array(got[k], v.numpy())
    with rst.safe_open(p, framework="pt") as f:
        assert f.keys() == sorted(ts) and f.metadata() == {"format": "pt"}
        assert_same_array(f.get_tensor("w"), ts["w"].numpy())
        sl = f.get_slice("w")
        assert sl.get_shape() == [3, 4] and sl.get_dtype() == "F32"
        assert_same_array(sl[1:, ::2], ts["w"].numpy()[1:, ::2])
        with pytest.raises(KeyError, match="nope"):
            f.get_tensor("nope")
    with rst.safe_open(p, framework="np") as f:
        assert isinstance(f.get_tensor("b"), np.ndarray)
        assert_same_array(f.get_tensor("b"), ts["b"].numpy())


def mapped_file(addr):
    with open("/proc/self/maps") as fh:
        for line in fh:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if lo <= addr < hi:
                return parts[5] if len(parts) > 5 else None
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_load_is_zero_copy_over_a_private_mapping(tmp_path):
    p = tmp_path / "z.safetensors"
    rst.save_file({"a": torch.arange(4096, dtype=torch.float32), "b": torch.ones(7, dtype=torch.float64)}, p)
    before = p.read_bytes()
    got = rst.load_file(p)
    assert mapped_file(got["a"].data_ptr()) == str(p) and mapped_file(got["b"].data_ptr()) == str(p)
    got["a"].mul_(2.0)  # copy-on-write: the file is untouched
    assert got["a"][3].item() == 6.0 and p.read_bytes() == before
    # saving over a file that is still mapped replaces it; the old tensors stay valid
    rst.save_file({"a": torch.zeros(2)}, p)
    assert got["b"].sum().item() == 7.0 and rst.load_file(p)["a"].tolist() == [0.0, 0.0]


def test_tensors_outlive_the_safe_open_object(tmp_path):
    import gc

    p = tmp_path / "l.safetensors"
    rst.save_file({"a": torch.arange(10, dtype=torch.int64)}, p)
    f = rst.safe_open(p, "pt")
    t = f.get_tensor("a")
    del f
    gc.collect()
    assert t.tolist() == list(range(10))


@pytest.fixture(scope="module")
def st_numpy():
    return pytest.importorskip("safetensors.numpy")


@pytest.mark.parametrize("dtype", SAVE_DTYPES, ids=str)
def test_interop_with_safetensors_numpy_both_ways(tmp_path, st_numpy, dtype):
    rng = np.random.default_rng(3)
    arrays = {"x": random_array(rng, (3, 5), dtype), "s": random_array(rng, (), dtype), "e": random_array(rng, (0, 4), dtype)}
    ours = tmp_path / "ours.safetensors"
    rst.save_file({k: torch.from_numpy(v) for k, v in arrays.items()}, ours, metadata={"who": "rustensor"})
    theirs = st_numpy.load_file(str(ours))
    for k, v in arrays.items():
        assert_same_array(theirs[k], v)
    other = tmp_path / "theirs.safetensors"
    st_numpy.save_file(arrays, str(other), metadata={"who": "numpy"})
    back = rst.load_file(other)
    for k, v in arrays.items():
        assert_same_array(back[k], v)
    assert st_numpy.load(rst.save({"x": torch.from_numpy(arrays["x"])}))["x"].tobytes() == arrays["x"].tobytes()
    assert_same_array(rst.load(st_numpy.save({"x": arrays["x"]}))["x"], arrays["x"])
    with rst.safe_open(other, "pt") as f:
        assert f.metadata() == {"who": "numpy"}


def test_unsupported_dtype_in_a_file_raises_naming_it(st_numpy, tmp_path):
    p = tmp_path / "u16.safetensors"
    st_numpy.save_file({"ok": np.ones(2, np.float32), "u": np.ones(3, np.uint16)}, str(p))
    with rst.safe_open(p, "pt") as f:
        assert f.get_tensor("ok").tolist() == [1.0, 1.0]
        with pytest.raises(TypeError, match="U16"):
            f.get_tensor("u")


def test_save_rejects_what_safetensors_torch_rejects():
    base = torch.arange(6.0)
    with pytest.raises(ValueError, match="non contiguous"):
        rst.save({"t": base.reshape(2, 3).t()})
    with pytest.raises(RuntimeError, match="share memory"):
        rst.save({"a": base, "b": base[2:]})
    # disjoint views of one storage are fine, as in the package
    out = rst.load(rst.save({"a": base[:3], "b": base[3:]}))
    assert out["a"].tolist() == [0.0, 1.0, 2.0] and out["b"].tolist() == [3.0, 4.0, 5.0]
    with pytest.raises(ValueError, match="expected torch.Tensor"):
        rst.save({"a": [1, 2]})
    with pytest.raises(ValueError, match="dict"):
        rst.save([base])
    with pytest.raises(TypeError, match="metadata"):
        rst.save({"a": base}, metadata={"k": 1})


def handmade(header: dict, data: bytes, pad_to=None) -> bytes:
    h = json.dumps(header).encode()
    if pad_to is not None:
        h += b" " * (-len(h) % pad_to)
    return struct.pack("<Q", len(h)) + h + data


def test_misaligned_and_odd_bool_files_load_correctly():
    vals = np.array([1.5, -2.0, 3.25], np.float64)
    # a header of odd length puts the float64 data off its alignment: loaded through a copy
    raw = handmade({"x": {"dtype": "F64", "shape": [3], "data_offsets": [0, 24]}}, vals.tobytes())
    assert (len(raw) - 24) % 8 != 0
    assert_same_array(rst.load(raw)["x"], vals)
    raw = handmade({"m": {"dtype": "BOOL", "shape": [4], "data_offsets": [0, 4]}}, bytes([0, 1, 2, 255]), pad_to=8)
    assert rst.load(raw)["m"].tolist() == [False, True, True, True]


def test_corrupt_and_truncated_files_raise_cleanly(tmp_path):
    good = rst.save({"a": torch.arange(10, dtype=torch.float32), "b": torch.ones(3, dtype=torch.int64)})
    for n in range(0, len(good), 5):
        with pytest.raises(RuntimeError):
            rst.load(good[:n])
        p = tmp_path / f"t{n}.safetensors"
        p.write_bytes(good[:n])
        with pytest.raises(RuntimeError):
            rst.load_file(p)
    bad = [
        handmade({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}, b"\0" * 8),  # shape vs bytes
        handmade({"x": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 8]}}, b"\0" * 8),
        handmade({"x": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, b"\0" * 8),
        handmade({"x": {"dtype": "WHAT", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),
        struct.pack("<Q", 2**63) + b"{}",
        struct.pack("<Q", 4) + b"{no}",
    ]
    for raw in bad:
        with pytest.raises(RuntimeError):
            rst.load(raw)
    with pytest.raises(OSError):
        rst.load_file(tmp_path / "missing.safetensors")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU adapter")
def test_load_to_gpu_matches_cpu(tmp_path):
    p = tmp_path / "g.safetensors"
    ts = {"w": torch.randn(4, 3), "i": torch.arange(5, dtype=torch.int32)}
    rst.save_file(ts, p)
    got = rst.load_file(p, device="cuda")
    for k, v in ts.items():
        assert got[k].device.type == "gpu"
        assert_same_array(got[k], v.numpy())
    # GPU tensors save through the host
    back = rst.load(rst.save({k: v.cuda() for k, v in ts.items()}))
    for k, v in ts.items():
        assert_same_array(back[k], v.numpy())
