"""The generated .py file loads the checkpoints the explorer's training writes, as a module and as a script."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from explorer import build_model, load_preset, parse_spec
from explorer.export import to_pytorch_source
from explorer.specs import GoogLeNetSpec
from explorer.training import TrainConfig
from explorer.training.engine import load_checkpoint, save_checkpoint


def write_app_checkpoint(spec, folder: Path) -> Path:  # noqa: ANN001
    """A checkpoint as training writes it, with weights that differ from any fresh initialisation."""
    torch.manual_seed(1)
    model = build_model(spec)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
        for name, buffer in model.named_buffers():
            if name.endswith("running_var"):
                buffer.uniform_(0.5, 2.0)
    config = TrainConfig(dataset="shapes", checkpoint_dir=str(folder))
    pipeline = SimpleNamespace(mean=torch.zeros(spec.in_channels), std=torch.ones(spec.in_channels))
    return save_checkpoint(model, spec, config, {"test_acc": 0.5}, ["a"] * spec.num_classes, pipeline)


def exec_source(source: str) -> dict:
    namespace: dict = {"__name__": "generated_network"}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - our generated code, not user input
    return namespace


SPECS = {
    "nin": lambda: load_preset("nin_cifar"),
    "googlenet_aux": lambda: GoogLeNetSpec(inceptions=[(8, 4, 8, 2, 4, 4)] * 9, stem_channels=(8, 8, 16),
                                           input_size=64, num_classes=5, aux_logits=True),
}


@pytest.mark.parametrize("name", SPECS)
def test_generated_module_computes_what_the_apps_checkpoint_computes(name: str, tmp_path: Path) -> None:
    spec = SPECS[name]()
    path = write_app_checkpoint(spec, tmp_path)
    reference, checkpoint = load_checkpoint(path)  # the explorer's own loader
    generated = exec_source(to_pytorch_source(spec))["build_model"]()
    generated.load_state_dict(checkpoint["model_state_dict"], strict=True)
    images = torch.randn(2, spec.in_channels, spec.input_size, spec.input_size)
    with torch.no_grad():
        expected = reference.eval()(images)
        torch.testing.assert_close(generated.eval()(images), expected, rtol=0, atol=0)
        # Not a tautology: a fresh network computes something else.
        assert not torch.allclose(build_model(spec).eval()(images), expected)


def test_the_script_loads_a_checkpoint_and_refuses_a_wrong_one(tmp_path: Path) -> None:
    spec = load_preset("nin_cifar")
    checkpoint = write_app_checkpoint(spec, tmp_path / "checkpoints")
    wrong = write_app_checkpoint(load_preset("nin_cifar").replace(num_classes=7), tmp_path / "other")
    script = tmp_path / "nin_network.py"
    script.write_text(to_pytorch_source(spec), encoding="utf-8")
    plain_state = tmp_path / "state.pt"  # a bare state_dict works too
    torch.save(build_model(spec).state_dict(), plain_state)
    args = {"good": [str(checkpoint)], "plain": [str(plain_state)], "wrong": [str(wrong)],
            "missing": [str(tmp_path / "nope.pt")], "help": ["--help"]}
    # -I: no PYTHONPATH, no script or current directory on sys.path: the explorer cannot be imported.
    runs = {key: subprocess.Popen([sys.executable, "-I", str(script), *value], cwd=tmp_path, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for key, value in args.items()}
    results = {key: (run.communicate(timeout=180), run.returncode) for key, run in runs.items()}
    for key in ("good", "plain"):
        (stdout, stderr), code = results[key]
        assert code == 0, stderr
        assert f"weights: {args[key][0]}" in stdout and f"output shape: (1, {spec.num_classes})" in stdout
        assert f"parameters: {spec.planned_params():,}" in stdout
    (stdout, stderr), code = results["wrong"]
    assert code != 0 and "do not fit this network" in stderr and "output shape" not in stdout
    (stdout, stderr), code = results["missing"]
    assert code != 0 and "cannot read" in stderr
    (stdout, stderr), code = results["help"]
    assert code == 0 and "checkpoint" in stdout


# -- ``python -m explorer export --checkpoint``: the network that was trained -----------------------------------

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Three steps on ``shapes`` with a spec the run has to adapt: 7 classes in the spec (shapes has 10) and
    input 32 in the spec (the run trains at 40)."""
    from explorer.training import train

    folder = tmp_path_factory.mktemp("trained")
    spec = load_preset("d2l_vgg11_small").replace(input_size=32, ratio=16, hidden_sizes=(32,), dropout=0.0,
                                                  num_classes=7)
    config = TrainConfig(dataset="shapes", epochs=1, max_steps=3, train_subset=96, test_subset=32, batch_size=32,
                         input_size=40, device="cpu", precision="fp32", checkpoint_dir=str(folder), num_samples=0)
    done = list(train(spec, config))[-1]
    assert done.event == "done" and done.steps == 3, getattr(done, "message", done)
    return {"path": Path(done.checkpoint_path), "spec": spec, "config": config}


def shapes_batch(spec, checkpoint: dict) -> torch.Tensor:  # noqa: ANN001
    """Eight test images of ``shapes`` as the run's evaluation prepares them (its normalisation and input size)."""
    from explorer.training.data import load_dataset, make_pipeline

    images = load_dataset("shapes", train=False, limit=8).images
    pipeline = make_pipeline(images, model_channels=spec.in_channels, input_size=spec.input_size, augment=False,
                             flip=False, channels_last=False)
    pipeline.mean = torch.tensor(checkpoint["normalization"]["mean"]).view_as(pipeline.mean)
    pipeline.std = torch.tensor(checkpoint["normalization"]["std"]).view_as(pipeline.std)
    return pipeline(images, train=False)


def test_the_checkpoint_records_the_network_as_trained(trained: dict) -> None:
    _model, checkpoint = load_checkpoint(trained["path"])
    saved = parse_spec(checkpoint["spec"])
    assert saved == trained["spec"].replace(input_size=40, num_classes=10)  # what the run built, not the request
    assert build_model(saved).state_dict().keys() == checkpoint["model_state_dict"].keys()


def test_export_checkpoint_py_computes_what_the_trained_model_computes(trained: dict, tmp_path: Path) -> None:
    import importlib.util

    from explorer.cli import main

    assert main(["export", "--checkpoint", str(trained["path"]), "--out", str(tmp_path)]) == 0
    (source,) = tmp_path.glob("*.py")
    module_spec = importlib.util.spec_from_file_location("exported_vgg", source)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    reference, checkpoint = load_checkpoint(trained["path"])  # the engine's loaded model
    exported = module.build_model()
    exported.load_state_dict(checkpoint["model_state_dict"], strict=True)
    saved = parse_spec(checkpoint["spec"])
    images = shapes_batch(saved, checkpoint)
    assert images.shape == (8, 1, 40, 40)
    with torch.no_grad():
        expected = reference.eval()(images)
        assert expected.shape == (8, 10)
        assert torch.allclose(exported.eval()(images), expected)
        assert not torch.allclose(module.build_model().eval()(images), expected)  # the weights made the difference


def test_export_checkpoint_onnx_carries_the_trained_weights(trained: dict, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    from explorer.cli import main

    assert main(["export", "--checkpoint", str(trained["path"]), "--format", "onnx", "--out", str(tmp_path)]) == 0
    (onnx_file,) = tmp_path.glob("*.onnx")
    reference, checkpoint = load_checkpoint(trained["path"])
    images = shapes_batch(parse_spec(checkpoint["spec"]), checkpoint)
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"input": images.numpy()})
    with torch.no_grad():
        expected = reference.eval()(images)
    assert torch.allclose(torch.from_numpy(logits), expected, atol=1e-4, rtol=1e-4)
