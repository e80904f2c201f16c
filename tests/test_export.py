"""explorer.export: generated PyTorch source, ONNX, JSON and text summary."""
from __future__ import annotations

import ast
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import explorer.export
from explorer import build_model, list_presets, load_preset, parse_spec
from explorer.analysis import analyze
from explorer.export import (EXPORT_KINDS, MAX_ONNX_WEIGHT_BYTES, export_notes, export_onnx, to_json,
                             to_onnx_bytes, to_pytorch_source, to_text_summary, write_export)
from explorer.export import _literal
from explorer.families import FAMILIES
from explorer.models import layers
from explorer.specs import GoogLeNetSpec, VGGSpec

PRESETS = {preset.name: preset.spec for preset in list_presets()}
# Options no preset uses, so every branch of the generated builders is compared with the explorer's.
VARIANTS = {
    "vgg_fc_as_conv": lambda: load_preset("d2l_vgg11_small").replace(fc_as_conv=True),
    "vgg_fc_as_conv_avgpool_no_hidden": lambda: load_preset("vgg11_bn").replace(
        fc_as_conv=True, hidden_sizes=(), ratio=8),
    "vgg_no_hidden_no_dropout": lambda: load_preset("vgg11").replace(hidden_sizes=(), dropout=0.0, ratio=8),
    "nin_no_dropout": lambda: load_preset("d2l_nin").replace(dropout=0.0, head_kernel_size=1),
    "alexnet_no_hidden_no_dropout": lambda: load_preset("alexnet").replace(hidden_sizes=(), dropout=0.0),
    "googlenet_d2l_with_aux": lambda: load_preset("d2l_googlenet").replace(aux_logits=True, dropout=0.4),
    # torchvision's layout (BN, ceil-mode pools, aux heads) at a size a CPU test runs in milliseconds.
    "googlenet_tiny_aux": lambda: GoogLeNetSpec(inceptions=[(8, 4, 8, 2, 4, 4)] * 9, stem_channels=(8, 8, 16),
                                                input_size=64, num_classes=5, aux_logits=True),
}
# Every registered family's default network, so a family added to the registry is exported from day one.
FAMILY_DEFAULTS = {f"family_{name}": load_preset(family.default_preset) for name, family in FAMILIES.items()}
ALL_SPECS = {**PRESETS, **FAMILY_DEFAULTS, **{name: make() for name, make in VARIANTS.items()}}


def exec_source(source: str) -> dict:
    """Run our own generated file as a module that is not ``__main__``."""
    namespace: dict = {"__name__": "generated_network"}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - our generated code, not user input
    return namespace


def leaf_modules(model: nn.Module) -> list[tuple[str, str, str]]:
    return [(name, type(module).__name__, module.extra_repr())
            for name, module in model.named_modules() if not list(module.children())]


def shapes(model: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(key, tuple(value.shape)) for key, value in model.state_dict().items()]


def imported_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module or "")
            modules.update(f"{node.module}.{alias.name}" for alias in node.names if node.module == "torch")
    return modules


# --- PyTorch source ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL_SPECS)
def test_generated_source_rebuilds_the_same_network(name: str) -> None:
    spec = ALL_SPECS[name]
    source = to_pytorch_source(spec)
    # torch and the standard library only (the -I test below runs files without the explorer on the path).
    assert {module.split(".")[0] for module in imported_modules(source)} <= {"torch", *sys.stdlib_module_names}
    namespace = exec_source(source)
    with torch.device("meta"):
        generated = namespace["build_model"]()
    reference = build_model(spec, device="meta")
    assert shapes(generated) == shapes(reference)  # same keys, same order, same shapes: checkpoints load
    assert leaf_modules(generated) == leaf_modules(reference)  # same layers with the same arguments
    count = sum(parameter.numel() for parameter in generated.parameters())
    assert count == sum(parameter.numel() for parameter in reference.parameters()) == spec.planned_params()
    with torch.no_grad():
        output = generated.eval()(torch.empty(2, spec.in_channels, spec.input_size, spec.input_size, device="meta"))
    assert tuple(output.shape) == (2, spec.num_classes)


@pytest.mark.parametrize("name", ["nin_cifar", "d2l_googlenet", "googlenet_tiny_aux", "alexnet_original"])
def test_generated_model_loads_a_checkpoint_and_computes_the_same(name: str) -> None:
    spec = ALL_SPECS[name]
    if spec.family == "alexnet":
        spec = spec.replace(hidden_sizes=(64,))
    reference = build_model(spec)
    generated = exec_source(to_pytorch_source(spec))["build_model"]()
    generated.load_state_dict(reference.state_dict(), strict=True)
    images = torch.randn(2, spec.in_channels, spec.input_size, spec.input_size)
    with torch.no_grad():
        torch.testing.assert_close(generated.eval()(images), reference.eval()(images), rtol=0, atol=0)
        if getattr(spec, "aux_logits", False):  # training mode: (logits, aux2, aux1), same dropout draws
            outputs = []
            for model in (generated, reference):
                torch.manual_seed(0)
                outputs.append(tuple(model.train()(images)))
            torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)


def test_the_header_names_the_spec_and_its_json_reads_back() -> None:
    spec = load_preset("googlenet_aux")
    source = to_pytorch_source(spec)
    assert source.startswith('"""GoogLeNet network')
    assert ast.get_docstring(ast.parse(source)).count(f"{spec.planned_params():,}") == 1
    commented = re.search(r"^# The spec.*?\n((?:#   .*\n)+)", source, re.MULTILINE)
    assert commented is not None
    text = "".join(line[4:] + "\n" for line in commented.group(1).splitlines())
    assert parse_spec(text) == spec


@pytest.mark.parametrize("name", FAMILIES)
def test_the_model_code_is_the_explorers_own(name: str) -> None:
    """The file holds the builders' source verbatim (a template re-implementation would differ)."""
    family = FAMILIES[name]
    source = to_pytorch_source(load_preset(family.default_preset))
    for piece in (family.model_class(), layers.conv_relu, layers.mlp_head, layers.RecordedNet, layers.ClassicCNN):
        assert inspect.getsource(piece) in source
    assert "from ." not in source and "explorer" not in {module.split(".")[0] for module in imported_modules(source)}
    assert source.count("from __future__ import annotations") == 1


def test_export_module_has_no_per_family_code() -> None:
    """export.py asks the registry: no family name or spec class appears in its code (docstrings aside)."""
    tree = ast.parse(inspect.getsource(explorer.export))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    words = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            words.add(node.id)
        elif isinstance(node, ast.Attribute):
            words.add(node.attr)
        elif isinstance(node, ast.alias):
            words.add(node.name)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            words.add(node.value)
    tokens = {token for word in words for token in re.split(r"[^a-z0-9]+", word.lower())}
    forbidden = {name.lower() for name in FAMILIES} | {family.spec_class.__name__.lower()
                                                       for family in FAMILIES.values()}
    assert "vgg" in forbidden and not tokens & forbidden


@pytest.mark.parametrize("name", ["googlenet_aux", "vgg11_bn"])
def test_the_block_table_matches_a_forward_pass(name: str) -> None:
    spec = PRESETS[name]
    source = to_pytorch_source(spec)
    table = source[source.index("# What build_model() builds"):source.index("# The arguments of")].splitlines()[1:]
    rows = [line[1:].split("  ") for line in table if line.strip("# ")]
    rows = [[cell.strip() for cell in row if cell.strip()] for row in rows]
    model = build_model(spec).eval()
    shapes_seen: dict[str, torch.Size] = {}

    def recorder(key: str):  # noqa: ANN202
        def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
            shapes_seen.setdefault(key, output.shape)
        return hook

    for block in model.block_info:  # hooks on the recorded modules: an independent measurement
        model.get_submodule(block["modules"][-1]).register_forward_hook(recorder(block["name"]))
    if hasattr(model, "run_aux_in_eval"):
        model.run_aux_in_eval = True
    with torch.no_grad():
        model(torch.randn(1, spec.in_channels, spec.input_size, spec.input_size))
    assert [row[0] for row in rows] == [block["name"] for block in model.block_info]
    for block_name, _, shape, params in rows:
        assert shape == " x ".join(map(str, shapes_seen[block_name][1:]))
    assert sum(int(row[3].replace(",", "")) for row in rows) == spec.planned_params()


def test_class_name() -> None:
    spec = load_preset("nin_cifar")
    assert "class NiN(ClassicCNN):" in to_pytorch_source(spec)
    assert to_pytorch_source(spec, class_name="NiN") == to_pytorch_source(spec)
    source = to_pytorch_source(spec, class_name="MyNet")
    assert "class MyNet(NiN):" in source and "def build_model() -> MyNet:" in source
    model = exec_source(source)["build_model"]()
    assert type(model).__name__ == "MyNet"
    assert shapes(model) == shapes(build_model(spec))
    for bad in ("", "1net", "class", "my net", "Net\nimport os", "Net;import os", "nn", "torch", "build_model",
                "OrderedDict", "print", "KWARGS", "ClassicCNN", "conv_relu", "x" * 65, "Netté", 3):
        with pytest.raises(ValueError):
            to_pytorch_source(spec, class_name=bad)  # type: ignore[arg-type]


def test_only_plain_literals_reach_the_generated_code() -> None:
    class Sneaky(int):
        def __repr__(self) -> str:
            return "__import__('os').system('echo hi')"

    class SneakyText(str):
        def __repr__(self) -> str:
            return "__import__('os')"

    assert _literal((Sneaky(3), 0.5, True, None, [1, 2])) == "(3, 0.5, True, None, (1, 2))"
    assert _literal((7,)) == "(7,)"
    assert _literal({"3a": (3, 2, 0, True)}) == '{"3a": (3, 2, 0, True)}'
    assert ast.literal_eval(_literal(SneakyText("4a"))) == "4a"
    for text in ("it's", 'say "hi"', "line\nbreak\")\nimport os", "\\", "ü\u2028"):
        assert ast.literal_eval(_literal(text)) == text  # quotes, breaks, escapes: still one string literal
    for bad in (float("nan"), float("inf"), {1: 2}, {"a": b"x"}, b"x", object(), {1, 2}):
        with pytest.raises(ValueError):
            _literal(bad)


def test_generated_files_run_as_standalone_scripts(tmp_path: Path) -> None:
    specs = [load_preset("d2l_vgg11_small").replace(input_size=32), load_preset("nin_cifar"),
             load_preset("googlenet_aux").replace(input_size=64)]
    runs = []
    for index, spec in enumerate(specs):
        path = tmp_path / f"network{index}.py"
        path.write_text(to_pytorch_source(spec), encoding="utf-8")
        # -I: no PYTHONPATH, no script or current directory on sys.path: the explorer cannot be imported.
        runs.append(subprocess.Popen([sys.executable, "-I", str(path)], cwd=tmp_path, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True))
    for spec, run in zip(specs, runs):  # started together: three torch imports overlap
        stdout, stderr = run.communicate(timeout=180)
        assert run.returncode == 0, stderr
        assert f"output shape: (1, {spec.num_classes})" in stdout
        assert f"parameters: {spec.planned_params():,}" in stdout


# --- ONNX --------------------------------------------------------------------------------------------------

ONNX_CASES = {
    "d2l_vgg11_small": lambda: load_preset("d2l_vgg11_small").replace(input_size=32),
    "nin_cifar": lambda: load_preset("nin_cifar"),
    "d2l_googlenet": lambda: load_preset("d2l_googlenet"),  # 96 x 96
    # The paper's AlexNet (LRN, two-group convs) with a small classifier.
    "alexnet_original_small": lambda: load_preset("alexnet_original").replace(hidden_sizes=(256, 256)),
}


def run_onnx(data: bytes, images: torch.Tensor) -> tuple[torch.Tensor, list]:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    (output,) = session.run(["logits"], {"input": images.numpy()})
    return torch.from_numpy(output), session.get_inputs()[0].shape


@pytest.mark.parametrize("name", ONNX_CASES)
def test_onnx_export_computes_what_pytorch_computes(name: str) -> None:
    pytest.importorskip("onnxscript")
    spec = ONNX_CASES[name]()
    model = build_model(spec)
    model.train()
    data = to_onnx_bytes(spec, model=model)
    assert model.training  # restored after the export
    images = torch.randn(3, spec.in_channels, spec.input_size, spec.input_size)  # exported with batch 1
    output, input_shape = run_onnx(data, images)
    assert input_shape[1:] == [spec.in_channels, spec.input_size, spec.input_size]
    assert input_shape[0] == "batch"
    with torch.no_grad():
        expected = model.eval()(images)
    torch.testing.assert_close(output, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_onnx_torchscript_exporter_with_a_fixed_batch(tmp_path: Path) -> None:
    spec = load_preset("nin_cifar")
    model = build_model(spec)
    path = export_onnx(spec, tmp_path / "nin.onnx", model=model, dynamo=False, dynamic_batch=False, batch_size=2)
    images = torch.randn(2, 3, 32, 32)
    output, input_shape = run_onnx(path.read_bytes(), images)
    assert input_shape == [2, 3, 32, 32]
    with torch.no_grad():
        torch.testing.assert_close(output, model.eval()(images), rtol=1e-4, atol=1e-4)


def test_onnx_refuses_bad_requests_before_building_anything() -> None:
    huge = VGGSpec(hidden_sizes=(32_768,), avgpool_size=7)  # 25088 x 32768 weights: over 2 GiB
    assert huge.planned_params() * 4 > MAX_ONNX_WEIGHT_BYTES
    with pytest.raises(ValueError, match="2 GiB"):
        to_onnx_bytes(huge)
    spec = load_preset("nin_cifar")
    for options in ({"batch_size": 0}, {"batch_size": True}, {"opset": 3}, {"opset": "17"}):
        with pytest.raises(ValueError):
            to_onnx_bytes(spec, **options)
    with pytest.raises(ValueError, match="does not match"):
        to_onnx_bytes(spec, model=build_model(load_preset("d2l_nin"), device="meta"))
    with pytest.raises(ValueError, match="meta"):
        to_onnx_bytes(spec, model=build_model(spec, device="meta"))


# --- JSON, summary, files ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", PRESETS)
def test_json_round_trip(name: str) -> None:
    spec = PRESETS[name]
    text = to_json(spec)
    assert json.loads(text) == spec.to_dict()
    assert parse_spec(text) == spec
    assert max(len(line) for line in text.splitlines()) <= 110


def test_text_summary_has_the_totals() -> None:
    spec = load_preset("d2l_googlenet")
    text = to_text_summary(spec, batch_size=8)
    total = analyze(spec).total_params
    assert f"total params            {total:,}" in text
    assert text.startswith("GoogLeNet network, input 1x96x96, 10 classes")
    assert "training memory, batch 8" in text


def test_write_export_writes_each_kind(tmp_path: Path) -> None:
    spec = load_preset("nin_cifar")
    paths = {kind: write_export(spec, kind, tmp_path / "out") for kind in EXPORT_KINDS if kind != "onnx"}
    assert {kind: path.name for kind, path in paths.items()} == {
        "pytorch": "nin_network.py", "json": "nin_spec.json", "summary": "nin_summary.txt"}
    assert paths["pytorch"].read_text(encoding="utf-8") == to_pytorch_source(spec)
    assert parse_spec(paths["json"].read_text(encoding="utf-8")) == spec
    assert "total params" in paths["summary"].read_text(encoding="utf-8")
    assert write_export(spec, "json", tmp_path, name="my-net_v2").name == "my-net_v2.json"


def test_write_export_onnx(tmp_path: Path) -> None:
    pytest.importorskip("onnxscript")
    spec = parse_spec({"family": "nin", "blocks": [[16, 3, 1, 1]], "in_channels": 3, "input_size": 16,
                       "num_classes": 5})
    path = write_export(spec, "onnx", tmp_path)
    assert path.name == "nin_network.onnx"
    output, _ = run_onnx(path.read_bytes(), torch.randn(2, 3, 16, 16))
    assert output.shape == (2, 5)


def test_write_export_refuses_bad_kinds_and_names(tmp_path: Path) -> None:
    spec = load_preset("nin_cifar")
    with pytest.raises(ValueError, match="kind"):
        write_export(spec, "pickle", tmp_path)
    for bad in ("../escape", "a/b", "", ".hidden", "x" * 65, "name with spaces"):
        with pytest.raises(ValueError, match="name"):
            write_export(spec, "json", tmp_path, name=bad)
    assert list(tmp_path.iterdir()) == []


# --- ONNX: input sizes and training-only heads (issue #12) ----------------------------------------------------

def onnx_model(data: bytes):  # noqa: ANN201 - an onnx.ModelProto
    onnx = pytest.importorskip("onnx")
    return onnx.load_model_from_string(data)


@pytest.mark.parametrize("dynamo", [True, False])
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_onnx_of_a_network_that_takes_any_size_has_free_height_and_width(dynamo: bool) -> None:
    pytest.importorskip("onnxscript")
    spec = load_preset("d2l_vgg11_small").replace(fc_as_conv=True, hidden_sizes=(64,))
    assert spec.accepts_any_input_size and spec.input_size == 224
    model = build_model(spec).eval()
    data = to_onnx_bytes(spec, model=model, dynamo=dynamo)
    for size in (224, 320, 250):
        images = torch.randn(2, spec.in_channels, size, size)
        output, input_shape = run_onnx(data, images)
        with torch.no_grad():
            torch.testing.assert_close(output, model(images), rtol=1e-4, atol=1e-4)
    assert input_shape[0] == "batch" and isinstance(input_shape[2], str) and isinstance(input_shape[3], str)
    assert "Height and width are free" in dict((p.key, p.value) for p in onnx_model(data).metadata_props)[
        "explorer_notes"]


def test_onnx_sizes_stay_fixed_where_the_network_needs_them() -> None:
    pytest.importorskip("onnxscript")
    spec = load_preset("d2l_vgg11_small").replace(input_size=32, hidden_sizes=(64,))  # flattens a fixed map
    assert not spec.accepts_any_input_size
    _, input_shape = run_onnx(to_onnx_bytes(spec), torch.randn(1, 1, 32, 32))
    assert input_shape == ["batch", 1, 32, 32]
    with pytest.raises(ValueError, match="cannot be symbolic"):
        to_onnx_bytes(spec, dynamic_size=True)
    fixed = to_onnx_bytes(spec.replace(fc_as_conv=True), dynamic_size=False, dynamic_batch=False)
    assert run_onnx(fixed, torch.randn(1, 1, 32, 32))[1] == [1, 1, 32, 32]


def test_onnx_says_that_it_leaves_out_the_aux_heads() -> None:
    pytest.importorskip("onnxscript")
    spec = VARIANTS["googlenet_tiny_aux"]()
    data = to_onnx_bytes(spec)
    proto = onnx_model(data)
    assert [output.name for output in proto.graph.output] == ["logits"]
    initializers = {tensor.name for tensor in proto.graph.initializer}
    assert initializers and not any("aux" in name for name in initializers)  # the heads really are not there
    metadata = {entry.key: entry.value for entry in proto.metadata_props}
    assert "auxiliary classifiers (aux1, aux2) are left out" in metadata["explorer_notes"]
    assert "left out" in proto.doc_string
    assert parse_spec(metadata["explorer_spec"]) == spec
    assert any("left out" in note for note in export_notes(spec, "onnx"))
    assert not any("auxiliary" in note for note in export_notes(spec.replace(aux_logits=False), "onnx"))
    assert any("auxiliary" in note for note in export_notes(spec, "pytorch"))
    # The exporter's debugging metadata (stack traces naming this machine's files) does not ship.
    assert not any(node.metadata_props for node in proto.graph.node)
    assert str(Path(__file__).resolve().parents[1]) not in data.decode("latin-1")
