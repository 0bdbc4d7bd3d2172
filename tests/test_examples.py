"""The examples a user runs first, each run briefly (few epochs or steps) so they keep working.

They need scikit-learn, tqdm and matplotlib (examples/02_neural_network.py); without them these
tests skip, except in CI (CI=true), where a missing package fails them.
"""

import importlib.util
import os
from pathlib import Path

import pytest

import rustensor as torch

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available() and os.environ.get("CI") != "true",
                               reason="no GPU adapter (set RUSTENSOR_ALLOW_SOFTWARE_GPU=1)")


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _require(*modules):
    for m in modules:
        if importlib.util.find_spec(m) is None:
            if os.environ.get("CI") == "true":
                pytest.fail(f"CI=true but {m} is not installed (pip install scikit-learn tqdm matplotlib)")
            pytest.skip(f"{m} not installed")


def test_digits_mlp_and_cnn_train_and_write_curves(tmp_path):
    _require("sklearn", "tqdm", "matplotlib")
    out = tmp_path / "curves.png"
    results = _load("02_neural_network").main(["--epochs", "2", "--out", str(out)])
    assert set(results) == {"MLP", "CNN"}
    for name, (acc, n_params, _) in results.items():
        assert acc > 0.5, (name, acc)  # two epochs: far above chance (10%), not yet the full run's 97%+
        assert n_params > 1000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_digits_with_worker_processes(tmp_path):
    _require("sklearn", "matplotlib")
    results = _load("02_neural_network").main(["--epochs", "1", "--model", "mlp", "--workers", "2", "--no-progress",
                                               "--out", str(tmp_path / "c.png")])
    assert results["MLP"][0] > 0.3


@needs_gpu
def test_digits_on_the_gpu(tmp_path):
    _require("sklearn", "matplotlib")
    results = _load("02_neural_network").main(["--epochs", "1", "--model", "mlp", "--device", "gpu", "--no-progress",
                                               "--out", str(tmp_path / "c.png")])
    assert results["MLP"][0] > 0.3


def test_xor_learns_the_truth_table(capsys):
    accuracy, loss = _load("xor").main(["--steps", "300"])
    assert accuracy == 1.0 and loss < 0.1
    assert "1 xor 1 = 0" in capsys.readouterr().out


@pytest.mark.parametrize("model", ["lstm", "transformer"])
def test_char_model_loss_falls_and_samples_print(model, capsys):
    losses = _load("char_model").main(["--model", model, "--steps", "40", "--sample-every", "20", "--max-seconds", "30"])
    assert len(losses) >= 20
    assert sum(losses[-5:]) / 5 < 0.8 * losses[0]
    out = capsys.readouterr().out
    assert "step 20" in out and "Love " in out
