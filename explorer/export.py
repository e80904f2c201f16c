"""Export a spec: standalone PyTorch source, ONNX, JSON and a text summary.

The PyTorch source is the explorer's own model code (the family's module in ``explorer/models`` and the
shared ``layers.py``, found through the family registry and copied from their source files) followed by a
short generated part: the spec's model arguments as literals and ``build_model()``. It imports only ``torch``
and the standard library, so the file runs wherever PyTorch does. Only plain literals (numbers, booleans,
``None``, strings, tuples and string-keyed dicts of them) reach the generated code, each through ``repr()``
of its exact built-in type and checked with ``ast.literal_eval``; the spec's JSON appears in a comment (JSON
escapes every line break).
"""
from __future__ import annotations

import ast
import builtins
import functools
import importlib
import importlib.util
import inspect
import io
import json
import keyword
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Union

import torch
from torch import nn

from .analysis import analyze
from .families import family_of
from .models import build_model
from .report import format_summary
from .specs import ArchSpec, parse_spec

SpecLike = Union[ArchSpec, Mapping[str, Any], str]


#: What :func:`write_export` writes: kind -> (file name suffix, what the file holds).
EXPORT_KINDS: dict[str, tuple[str, str]] = {
    "pytorch": ("_network.py", "standalone PyTorch source"),
    "onnx": ("_network.onnx", "ONNX model (random weights)"),
    "json": ("_spec.json", "the spec as JSON"),
    "summary": ("_summary.txt", "per-layer text summary"),
}
#: What :func:`estimate_export_bytes` sizes: the exports, and a checkpoint (``torch.save`` of the state_dict).
ESTIMATE_KINDS: tuple[str, ...] = (*EXPORT_KINDS, "checkpoint")
#: protobuf refuses messages over 2 GiB; keep room for the graph itself.
MAX_ONNX_WEIGHT_BYTES = 2**31 - 2**26
ONNX_INPUT_NAME = "input"
ONNX_OUTPUT_NAME = "logits"
_FILE_STEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CLASS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class ExportError(RuntimeError):
    """``torch.onnx.export`` failed; the message names the exporter and the torch version."""


# --- JSON and text summary ---------------------------------------------------------------------------------

def to_json(spec: SpecLike) -> str:
    """The spec as JSON, one field a line, that :func:`explorer.parse_spec` reads back into an equal spec."""
    return _readable_json(parse_spec(spec).to_dict()) + "\n"


def _readable_json(data: Mapping[str, Any], *, width: int = 100) -> str:
    """JSON with one top-level field a line; a long list of rows (Inception blocks, NiN blocks) gets one row a
    line. ``json.dumps`` escapes every control character, so no line break hides inside a value."""
    def compact(value: Any) -> str:
        return json.dumps(value, separators=(", ", ": "))

    lines = []
    for index, (key, value) in enumerate(data.items()):
        comma = "," if index < len(data) - 1 else ""
        text = f"  {compact(key)}: {compact(value)}"
        if isinstance(value, list) and value and len(text) > width:
            rows = [f"    {compact(item)}{',' if row < len(value) - 1 else ''}" for row, item in enumerate(value)]
            lines += [f"  {compact(key)}: [", *rows, f"  ]{comma}"]
        else:
            lines.append(text + comma)
    return "\n".join(["{", *lines, "}"])


def to_text_summary(spec: SpecLike, *, batch_size: int = 1) -> str:
    """The per-layer table and totals of :func:`explorer.report.format_summary`."""
    spec = parse_spec(spec)
    title = (f"{spec.family_label} network, input {spec.in_channels}x{spec.input_size}x{spec.input_size}, "
             f"{spec.num_classes} classes")
    return format_summary(analyze(spec, batch_size=batch_size), title=title) + "\n"


# --- PyTorch source ----------------------------------------------------------------------------------------

#: What the generated part of the file defines; the copied model code must not define these names.
_GENERATED_NAMES = frozenset({"KWARGS", "INPUT_SHAPE", "build_model", "main"})
#: What the generated part itself imports.
_GENERATED_IMPORTS = ("import argparse", "import sys", "import torch")


@dataclass(frozen=True)
class _CopiedModule:
    """One model module, taken apart for pasting into a single file."""

    path: str  # where it lives in the repository, e.g. "explorer/models/vgg.py"
    summary: str  # the first paragraph of its docstring
    imports: tuple[str, ...]  # its top-level absolute imports, unparsed
    body: str  # its code without the docstring, the imports and ``__all__``
    defines: frozenset[str]  # the top-level names it binds


def to_pytorch_source(spec: SpecLike, *, class_name: str | None = None) -> str:
    """A standalone Python file that rebuilds the network of ``spec`` with plain PyTorch.

    The model code in the file is the explorer's own: the source of the family's model module (named by the
    family registry) and of the modules it imports from ``explorer.models`` (``layers.py``), copied as they are.
    Only the last part is generated: ``KWARGS`` (``spec.model_kwargs()`` as literals), ``build_model()`` and a
    ``main()`` that, run as a script (``python FILE [CHECKPOINT]``), builds the network, loads the weights of a
    checkpoint the explorer wrote if one is named, pushes one random input through it and prints the output
    shape and the parameter count.

    Args:
        spec: a spec, or anything :func:`explorer.parse_spec` accepts.
        class_name: the name of the network's class (a Python identifier); defaults to the model class's name.
            Another name defines a subclass of the model class under that name.

    Raises:
        ValueError: if ``class_name`` is not a plain identifier or clashes with a name the file uses.
    """
    spec = parse_spec(spec)
    module_name, _, model_class = family_of(spec).model.partition(":")
    modules = _copied_modules(module_name)
    if class_name is None or class_name == model_class:
        return _render(spec, modules, model_class, model_class)
    if not isinstance(class_name, str) or not _CLASS_NAME.match(class_name) or keyword.iskeyword(class_name):
        raise ValueError(f"class_name must be a Python identifier of at most 64 ASCII characters, "
                         f"got {class_name!r:.80}")
    if class_name in _names_used(_render(spec, modules, model_class, model_class)):
        raise ValueError(f"class_name {class_name!r} clashes with a name the generated file already uses")
    return _render(spec, modules, model_class, class_name)


def _render(spec: ArchSpec, modules: tuple[_CopiedModule, ...], model_class: str, class_name: str) -> str:
    parts = [_header(spec, modules), _imports(modules)]
    for module in modules:
        rule = "-" * max(3, 103 - len(module.path))
        summary = "\n".join(f"# {line}".rstrip() for line in module.summary.splitlines())
        parts.append(f"# --- {module.path} {rule}\n{summary}\n\n\n{module.body}")
    parts.append(_generated_part(spec, model_class, class_name))
    return "\n\n\n".join(parts) + "\n"


def _header(spec: ArchSpec, modules: tuple[_CopiedModule, ...]) -> str:
    input_shape = f"{spec.in_channels} x {spec.input_size} x {spec.input_size}"
    commented = "\n".join(f"#   {line}" for line in _readable_json(spec.to_dict()).splitlines())
    copied = " and ".join(module.path for module in modules)
    return (
        f'"""{spec.family_label} network, generated by CNN Architecture Explorer.\n'
        "\n"
        "Plain PyTorch. The model code is the explorer's own, copied unchanged from\n"
        f"{copied}.\n"
        "Only the part at the end is generated for this spec: ``KWARGS`` and ``build_model()``. The module names\n"
        "are those of the explorer's ``build_model(spec)``, so ``model.load_state_dict(...)`` accepts its\n"
        "checkpoints.\n"
        "\n"
        "Run ``python THIS_FILE [CHECKPOINT]`` to build the network, load the weights of CHECKPOINT (a .pt file\n"
        "the explorer's training wrote, or a saved state_dict) if given, push one random input through it and\n"
        "print the output shape and the parameter count.\n"
        "\n"
        f"Input: N x {input_shape}. Output: N x {spec.num_classes} logits. "
        f"Parameters: {spec.planned_params():,}.\n"
        '"""\n'
        "# The spec, as JSON (explorer.parse_spec reads it back):\n"
        f"{commented}"
    )


def _imports(modules: tuple[_CopiedModule, ...]) -> str:
    """``from __future__``, then the standard library's imports, then torch's; each once."""
    statements = {*_GENERATED_IMPORTS, *(statement for module in modules for statement in module.imports)}

    def top_package(statement: str) -> str:
        node = ast.parse(statement).body[0]
        name = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
        return (name or "").split(".")[0]

    def order(statement: str) -> tuple[bool, str]:  # isort's: plain imports first, then by module
        return statement.startswith("from "), statement.split()[1]

    groups: dict[bool, list[str]] = {True: [], False: []}
    for statement in statements:
        groups[top_package(statement) in sys.stdlib_module_names].append(statement)
    ordered = ["from __future__ import annotations", *("\n".join(sorted(groups[stdlib], key=order))
                                                       for stdlib in (True, False))]
    return "\n\n".join(group for group in ordered if group)


def _generated_part(spec: ArchSpec, model_class: str, class_name: str) -> str:
    kwargs = spec.model_kwargs()
    kwargs_text = _formatted_literal(kwargs, indent=0, prefix=len("KWARGS = "))
    # A last guard: what goes into the file reads back as the same plain literal, with no code in it.
    if ast.literal_eval(kwargs_text) != _plain(kwargs):
        raise ValueError("the spec's model arguments do not read back as the same literals")
    input_shape = _literal((spec.in_channels, spec.input_size, spec.input_size))
    lines = [
        f"# --- generated for this spec {'-' * 80}",
        *_block_table(spec),
        f"# The arguments of {model_class} for the spec above ({type(spec).__name__}.model_kwargs()).",
        f"KWARGS = {kwargs_text}",
        f"INPUT_SHAPE = {input_shape}  # channels, height, width of the input the spec was planned for",
    ]
    if class_name != model_class:
        lines += ["", "", f"class {class_name}({model_class}):",
                  f'    """{model_class}, under the name this file was asked to use."""']
    lines += ["", "", f"def build_model() -> {class_name}:",
              '    """The network of the spec above, with PyTorch\'s default initialisation."""',
              f"    return {class_name}(**KWARGS)"]
    return "\n".join(lines) + _MAIN


def _block_table(spec: ArchSpec) -> list[str]:
    """Comment lines listing the blocks the model records, with the analysis's output shape and parameters."""
    blocks = analyze(spec).blocks
    if not blocks:
        return []

    def clean(text: str) -> str:  # names come from the model code; keep each on its comment line
        return "".join(char if char.isprintable() else "?" for char in " ".join(str(text).split()))[:40]

    rows = [(clean(block.name), clean(block.kind), " x ".join(map(str, block.output_shape)), f"{block.params:,}")
            for block in blocks]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = ["# What build_model() builds, block by block (output shape for one image, parameters):"]
    lines += [f"#   {name:<{widths[0]}}  {kind:<{widths[1]}}  {shape:<{widths[2]}}  {params:>{widths[3]}}".rstrip()
              for name, kind, shape, params in rows]
    return [*lines, "#"]


_MAIN = '''


def main(argv: list[str] | None = None) -> None:
    """Build the network, load a checkpoint's weights if one is named, push one random input through it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?",
                        help="a .pt file the explorer's training wrote, or a saved state_dict")
    args = parser.parse_args(argv)
    model = build_model()
    if args.checkpoint is not None:
        try:
            checkpoint = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - a missing file, not a checkpoint, an unsafe pickle...
            sys.exit(f"cannot read {args.checkpoint}: {exc}")
        state = checkpoint.get("model_state_dict", checkpoint) if isinstance(checkpoint, dict) else checkpoint
        try:
            model.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError) as exc:
            sys.exit(f"the weights in {args.checkpoint} do not fit this network: {exc}")
        print(f"weights: {args.checkpoint}")
    model.eval()
    images = torch.randn(1, *INPUT_SHAPE)
    with torch.no_grad():
        logits = model(images)
    print(f"output shape: {tuple(logits.shape)}")
    print(f"parameters: {sum(parameter.numel() for parameter in model.parameters()):,}")


if __name__ == "__main__":
    main()'''


@functools.lru_cache(maxsize=None)
def _copied_modules(module_name: str) -> tuple[_CopiedModule, ...]:
    """``module_name`` and, before it, every module of its package it imports (depth first, each once)."""
    ordered: dict[str, _CopiedModule] = {}
    _copy_module(module_name, ordered, ())
    modules = tuple(ordered.values())
    owners: dict[str, str] = {}
    for module in modules:
        for name in module.defines:
            if name in _GENERATED_NAMES or name in owners:
                raise ValueError(f"{module.path} defines {name!r}, which "
                                 f"{owners.get(name, 'the generated part')} also defines; one file cannot hold both")
            owners[name] = module.path
    return modules


def _copy_module(module_name: str, ordered: dict[str, _CopiedModule], importing: tuple[str, ...]) -> None:
    if module_name in ordered:
        return
    if module_name in importing:
        raise ValueError(f"circular imports between {', '.join(importing)}")
    # Read, not imported: what cannot be copied is refused before any of it runs.
    found = importlib.util.find_spec(module_name)
    if found is None or not found.origin or not found.origin.endswith(".py"):
        raise ValueError(f"no Python source for the model module {module_name!r}")
    text = Path(found.origin).read_text(encoding="utf-8")
    package = module_name.rpartition(".")[0]
    path = f"{module_name.replace('.', '/')}.py"
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level and node not in tree.body:
            raise ValueError(f"{path}:{node.lineno}: a relative import inside a block cannot be copied")
        names = ([node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else
                 [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
        if any(name.split(".")[0] == "explorer" for name in names):
            raise ValueError(f"{path}:{node.lineno}: model code must import only torch and the standard library")
    lines = text.splitlines()
    dropped: set[int] = set()
    imports: list[str] = []
    aliases: list[str] = []
    summary = ""
    defines: set[str] = set()
    for index, node in enumerate(tree.body):
        span = range(node.lineno - 1, node.end_lineno or node.lineno)
        if index == 0 and isinstance(node, ast.Expr) and isinstance(getattr(node.value, "value", None), str):
            summary = inspect.cleandoc(node.value.value).split("\n\n")[0]
        elif isinstance(node, ast.ImportFrom) and node.level:
            if node.level != 1 or node.module is None:
                raise ValueError(f"{path}:{node.lineno}: only 'from .module import name' imports can be copied")
            _copy_module(f"{package}.{node.module}", ordered, (*importing, module_name))
            aliases += [f"{alias.asname} = {alias.name}" for alias in node.names if alias.asname]
            defines.update(alias.asname for alias in node.names if alias.asname)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if not (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
                imports.append(ast.unparse(node))  # __future__: the file states it once, at the top
        elif isinstance(node, ast.Assign) and any(getattr(target, "id", "") == "__all__" for target in node.targets):
            pass
        else:
            defines.update(_bound_names(node))
            continue
        dropped.update(span)
    kept = "\n".join(line for number, line in enumerate(lines) if number not in dropped)
    body = re.sub(r"\n{4,}", "\n\n\n", kept).strip("\n")
    if aliases:
        body = "\n".join(aliases) + "\n\n\n" + body
    ordered[module_name] = _CopiedModule(path, summary, tuple(imports), body, frozenset(defines))


def _bound_names(node: ast.stmt) -> set[str]:
    """The module-level names a top-level statement binds."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return {name.id for target in targets if target is not None for name in ast.walk(target)
            if isinstance(name, ast.Name)}


def _names_used(source: str) -> set[str]:
    """Every identifier the generated file binds or reads, plus the builtins."""
    names = set(dir(builtins)) | {"__name__", "__doc__"}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def _plain(value: Any) -> Any:
    """``value`` with lists as tuples (what :func:`_literal` writes)."""
    if isinstance(value, (tuple, list)):
        return tuple(_plain(item) for item in value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _literal(value: Any) -> str:
    """``repr`` of a value made only of ints, finite floats, bools, None, strings, tuples (lists become tuples)
    and dicts with string keys."""
    # Converting to the exact built-in type first means a subclass with a custom __repr__ cannot smuggle text
    # into the file; repr of a str always reads back as that str, whatever it holds.
    if value is None or isinstance(value, bool):
        return repr(None if value is None else bool(value))
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write the non-finite number {value!r} into source code")
        return repr(float(value))
    if isinstance(value, str):
        text = repr(str.__str__(value))
        # The project's double quotes where swapping the delimiters cannot change the meaning.
        return f'"{text[1:-1]}"' if "'" not in value and '"' not in value else text
    if isinstance(value, (tuple, list)):
        items = [_literal(item) for item in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise ValueError("only dicts with string keys go into generated code")
        return "{" + ", ".join(f"{_literal(key)}: {_literal(item)}" for key, item in value.items()) + "}"
    raise ValueError(f"only numbers, booleans, None, strings, tuples and dicts go into generated code, "
                     f"got {type(value).__name__}")


def _formatted_literal(value: Any, *, indent: int, prefix: int = 0, width: int = 110) -> str:
    """:func:`_literal`, with a tuple or dict that does not fit on its line (``indent`` spaces and ``prefix``
    characters before it) broken into one item a line."""
    flat = _literal(value)
    if indent + prefix + len(flat) < width or not isinstance(value, (tuple, list, dict)) or not value:
        return flat
    inner = " " * (indent + 4)
    if isinstance(value, dict):
        keys = [_literal(key) for key in value]
        items = [f"{inner}{key}: {_formatted_literal(item, indent=indent + 4, prefix=len(key) + 2)},"
                 for key, item in zip(keys, value.values())]
        return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"
    items = [f"{inner}{_formatted_literal(item, indent=indent + 4)}," for item in value]
    return "(\n" + "\n".join(items) + "\n" + " " * indent + ")"


# --- ONNX --------------------------------------------------------------------------------------------------

def to_onnx_bytes(spec: SpecLike, *, batch_size: int = 1, dynamic_batch: bool = True,
                  dynamic_size: bool | None = None, opset: int | None = None, model: nn.Module | None = None,
                  dynamo: bool | None = None) -> bytes:
    """The network as an ONNX model (input ``"input"``, output ``"logits"``), exported in eval mode.

    The model's ``doc_string`` and its metadata (``explorer_spec``: the spec's JSON, ``explorer_notes``: what
    :func:`export_notes` says) describe the export; auxiliary classifiers, which only run in training, are not
    part of the eval-mode graph. The exporter's per-node debugging metadata is removed.

    Args:
        spec: a spec, or anything :func:`explorer.parse_spec` accepts.
        batch_size: batch size of the example input; the exported batch size when ``dynamic_batch`` is off.
        dynamic_batch: export the batch axis as symbolic (``"batch"``).
        dynamic_size: export height and width as symbolic (``"height"``, ``"width"``); None: when the spec
            accepts any input size (``spec.accepts_any_input_size``, e.g. a VGG with ``fc_as_conv``).
        opset: ONNX opset version; None lets torch choose.
        model: export this model (say, trained weights) instead of a freshly initialised one; it must have
            the module names and shapes of ``build_model(spec)``. Its training flag is restored afterwards.
        dynamo: True: the torch.export-based exporter; False: the TorchScript one (deprecated since torch 2.9);
            None: torch's default (the torch.export one from 2.9 on).

    Raises:
        ValueError: for bad arguments, a model that does not match the spec, or weights over protobuf's 2 GiB.
        ExportError: when torch.onnx.export itself fails.
    """
    spec = parse_spec(spec)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= 1024:
        raise ValueError(f"batch_size must be an integer between 1 and 1024, got {batch_size!r:.40}")
    if opset is not None and (isinstance(opset, bool) or not isinstance(opset, int) or opset < 7):
        raise ValueError(f"opset must be an integer >= 7 or None, got {opset!r:.40}")
    any_size = spec.accepts_any_input_size if dynamic_size is None else bool(dynamic_size)
    if any_size and not spec.accepts_any_input_size:
        raise ValueError(f"this {spec.family_label} takes only {spec.input_size} x {spec.input_size} inputs, so its "
                         "height and width cannot be symbolic")
    weight_bytes = spec.planned_params() * 4
    if weight_bytes > MAX_ONNX_WEIGHT_BYTES:
        raise ValueError(f"this {spec.family_label} has {weight_bytes / 2**30:.2f} GiB of fp32 weights; one ONNX "
                         f"file holds at most {MAX_ONNX_WEIGHT_BYTES / 2**30:.2f} GiB (protobuf's 2 GiB limit)")
    use_dynamo = _onnx_dynamo_default() if dynamo is None else bool(dynamo)
    if use_dynamo and "dynamo" not in inspect.signature(torch.onnx.export).parameters:
        raise ValueError(f"torch {torch.__version__} has no torch.export-based ONNX exporter; pass dynamo=False")
    trained = model is not None
    if model is None:
        model = build_model(spec)
    else:
        _check_model_matches(spec, model)
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    if device.type == "meta":
        raise ValueError("the model lives on the meta device (shapes only, no weights); build it on a real device")
    example = torch.randn(batch_size, spec.in_channels, spec.input_size, spec.input_size, device=device)
    axes = {**({0: "batch"} if dynamic_batch else {}), **({2: "height", 3: "width"} if any_size else {})}
    was_training = model.training
    model.eval()
    try:
        if use_dynamo:
            proto = _export_dynamo(model, example, axes=axes, opset=opset)
        else:
            proto = _export_torchscript(model, example, axes=axes, opset=opset)
    except Exception as exc:  # noqa: BLE001 - the exporter fails in many ways; name it and keep the cause
        exporter = "torch.export-based" if use_dynamo else "TorchScript"
        raise ExportError(f"ONNX export of this {spec.family_label} failed (torch {torch.__version__}, {exporter} "
                          f"exporter): {type(exc).__name__}: {str(exc)[:500]}") from exc
    finally:
        model.train(was_training)
    notes = _notes(spec, "onnx", model, trained=trained, any_size=any_size)
    return _describe_onnx(proto, spec, notes)


def export_onnx(spec: SpecLike, path: str | Path, **options: Any) -> Path:
    """Write :func:`to_onnx_bytes` to ``path`` (same keyword options); returns the path."""
    path = Path(path)
    path.write_bytes(to_onnx_bytes(spec, **options))
    return path


def _onnx_dynamo_default() -> bool:
    """Whether this torch's ``torch.onnx.export`` uses the torch.export-based exporter by default (2.9+)."""
    parameter = inspect.signature(torch.onnx.export).parameters.get("dynamo")
    return parameter is not None and parameter.default is True


def _check_model_matches(spec: ArchSpec, model: nn.Module) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    expected = {key: tuple(value.shape) for key, value in build_model(spec, device="meta").state_dict().items()}
    actual = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    if expected != actual:
        differing = sorted(set(expected.items()) ^ set(actual.items()))[:3]
        raise ValueError(f"the model does not match this {spec.family_label} spec (first differences: {differing})")


def _export_dynamo(model: nn.Module, example: torch.Tensor, *, axes: dict[int, str], opset: int | None) -> Any:
    # A string names the axis in the ONNX graph; torch.onnx turns it into a dynamic torch.export dimension.
    program = torch.onnx.export(model, (example,), None, dynamo=True, verbose=False, opset_version=opset,
                                input_names=[ONNX_INPUT_NAME], output_names=[ONNX_OUTPUT_NAME],
                                dynamic_shapes=(axes,) if axes else None)
    return program.model_proto


def _export_torchscript(model: nn.Module, example: torch.Tensor, *, axes: dict[int, str],
                        opset: int | None) -> bytes:
    buffer = io.BytesIO()
    dynamic_axes = {ONNX_INPUT_NAME: axes, ONNX_OUTPUT_NAME: {0: "batch"} if 0 in axes else {}} if axes else None
    options: dict[str, Any] = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    # torch >= 2.9 warns that this exporter is deprecated; the caller asked for it (or runs an older torch).
    torch.onnx.export(model, (example,), buffer, input_names=[ONNX_INPUT_NAME], output_names=[ONNX_OUTPUT_NAME],
                      dynamic_axes=dynamic_axes, opset_version=opset, **options)
    return buffer.getvalue()


def _describe_onnx(proto: Any, spec: ArchSpec, notes: tuple[str, ...]) -> bytes:
    """The serialised model with a doc string and metadata naming the spec and the notes, and without the
    exporter's per-node debugging metadata (stack traces that name the server's files, FX nodes: often more
    bytes than a small network's weights)."""
    if isinstance(proto, bytes):
        try:
            import onnx  # the TorchScript exporter does not need it; without it, skip the description
        except ImportError:
            return proto
        proto = onnx.load_model_from_string(proto)
    for graph in (proto.graph, *proto.functions):
        for node in graph.node:
            del node.metadata_props[:]
    proto.doc_string = " ".join((f"{spec.family_label} network from CNN Architecture Explorer, eval mode.",
                                 *notes))
    for key, value in (("explorer_spec", json.dumps(spec.to_dict(), separators=(",", ":"))),
                       ("explorer_notes", "\n".join(notes))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto.SerializeToString()


# --- Notes and sizes ---------------------------------------------------------------------------------------

def export_notes(spec: SpecLike, kind: str, *, zh: bool = False) -> tuple[str, ...]:
    """What to know about one export of ``spec`` (as :func:`write_export` writes it), in plain sentences
    (Simplified Chinese with ``zh``, same facts).

    For ONNX: the weights are untrained, auxiliary classifiers are left out (they only run in training),
    and which input sizes the graph takes.
    """
    spec = parse_spec(spec)
    _check_kind(kind, ESTIMATE_KINDS)
    return _notes(spec, kind, build_model(spec, device="meta"), trained=False,
                  any_size=spec.accepts_any_input_size, zh=zh)


def _notes(spec: ArchSpec, kind: str, model: nn.Module, *, trained: bool, any_size: bool,
           zh: bool = False) -> tuple[str, ...]:
    aux = [block["name"] for block in getattr(model, "block_info", []) if block["kind"] == "aux"]
    if zh:
        return _notes_zh(spec, kind, aux, trained=trained, any_size=any_size)
    notes = []
    if kind == "onnx":
        if not trained:
            notes.append("The weights are PyTorch's random initialisation: export a trained model for predictions.")
        if aux:
            notes.append(f"The auxiliary classifiers ({', '.join(aux)}) are left out: they only run in training, "
                         f"and this is the eval-mode network with one output, '{ONNX_OUTPUT_NAME}'.")
        if any_size:
            notes.append(f"Height and width are free: any input large enough for the network works, not only "
                         f"{spec.input_size} x {spec.input_size}.")
        else:
            notes.append(f"The input must be N x {spec.in_channels} x {spec.input_size} x {spec.input_size}.")
    elif kind == "pytorch" and aux:
        notes.append(f"The auxiliary classifiers ({', '.join(aux)}) are in the file; as in the explorer, they run "
                     "only in training mode.")
    return tuple(notes)


def _notes_zh(spec: ArchSpec, kind: str, aux: list[str], *, trained: bool, any_size: bool) -> tuple[str, ...]:
    """:func:`_notes` in Simplified Chinese (the page's export notes for a Chinese browser)."""
    notes = []
    if kind == "onnx":
        if not trained:
            notes.append("权重是 PyTorch 的随机初始化值：要用来预测，请导出训练好的模型。")
        if aux:
            notes.append(f"辅助分类器（{', '.join(aux)}）没有导出：它们只在训练时运行，这里是评估模式下的网络，"
                         f"只有一个输出 '{ONNX_OUTPUT_NAME}'。")
        if any_size:
            notes.append(f"高和宽不固定：任何对网络来说足够大的输入都可以，不只是 {spec.input_size} x {spec.input_size}。")
        else:
            notes.append(f"输入必须是 N x {spec.in_channels} x {spec.input_size} x {spec.input_size}。")
    elif kind == "pytorch" and aux:
        notes.append(f"辅助分类器（{', '.join(aux)}）包含在文件中；和在本应用中一样，它们只在训练模式下运行。")
    return tuple(notes)


#: ONNX bytes beyond the raw weights: per exported tensor (name, shape, type) and per leaf module (graph nodes).
_ONNX_BYTES_PER_TENSOR = 120
_ONNX_BYTES_PER_MODULE = 200
_ONNX_BYTES_BASE = 2_000
#: ``torch.save`` bytes beyond the raw tensors: per tensor (zip entry, pickled key and storage record).
_CHECKPOINT_BYTES_PER_TENSOR = 250
_CHECKPOINT_BYTES_BASE = 1_500


def estimate_export_bytes(spec: SpecLike, kind: str) -> int:
    """About how many bytes an export of ``spec`` takes, without exporting.

    ``kind`` is one of :data:`EXPORT_KINDS` or ``"checkpoint"`` (a ``torch.save``d state_dict, as training
    writes). Exact for the text kinds (the ``.py`` file, JSON, summary: they are generated, which is quick);
    for ONNX and checkpoints the tensors' bytes (fp32 weights, batch-norm statistics) plus a small overhead per
    tensor and module. ONNX leaves out what only runs in training (auxiliary classifiers, BN's batch counter).
    """
    spec = parse_spec(spec)
    _check_kind(kind, ESTIMATE_KINDS)
    if kind in _TEXT_EXPORTS:
        return len(_TEXT_EXPORTS[kind](spec).encode("utf-8"))
    model = build_model(spec, device="meta")
    if kind == "checkpoint":
        tensors = list(model.state_dict().values())
        return (sum(tensor.numel() * tensor.element_size() for tensor in tensors)
                + _CHECKPOINT_BYTES_PER_TENSOR * len(tensors) + _CHECKPOINT_BYTES_BASE)
    training_only = tuple(f"{path}." for block in getattr(model, "block_info", []) if block["kind"] == "aux"
                          for path in block["modules"])
    tensors = [tensor for name, tensor in model.state_dict().items()
               if tensor.is_floating_point() and not name.startswith(training_only)]
    leaves = [name for name, module in model.named_modules()
              if not list(module.children()) and not f"{name}.".startswith(training_only)]
    return (sum(tensor.numel() * tensor.element_size() for tensor in tensors)
            + _ONNX_BYTES_PER_TENSOR * len(tensors) + _ONNX_BYTES_PER_MODULE * len(leaves) + _ONNX_BYTES_BASE)


# --- Files ---------------------------------------------------------------------------------------------------

def write_export(spec: SpecLike, kind: str, directory: str | Path, *, name: str | None = None,
                 model: nn.Module | None = None) -> Path:
    """Write one export of ``spec`` into ``directory`` (created if missing) and return the file's path.

    Args:
        kind: one of :data:`EXPORT_KINDS`: ``"pytorch"``, ``"onnx"``, ``"json"`` or ``"summary"``.
        name: file name stem (letters, digits, ``_ . -``); defaults to the family, e.g. ``vgg_network.py``.
        model: for ONNX, export this model's weights (a trained network, e.g. a loaded checkpoint's model)
            instead of a fresh initialisation; it must match ``spec`` (see :func:`to_onnx_bytes`). The other
            kinds hold no weights and ignore it (the ``.py`` file loads a checkpoint itself).
    """
    spec = parse_spec(spec)
    _check_kind(kind, EXPORT_KINDS)
    if name is not None and (not isinstance(name, str) or not _FILE_STEM.match(name)):
        raise ValueError(f"name must be 1-64 letters, digits, '_', '.' or '-', got {name!r:.80}")
    suffix = EXPORT_KINDS[kind][0]
    file_name = f"{name}{Path(suffix).suffix}" if name is not None else f"{spec.family}{suffix}"
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name
    if kind == "onnx":
        return export_onnx(spec, path, model=model)
    path.write_text(_TEXT_EXPORTS[kind](spec), encoding="utf-8")
    return path


def _check_kind(kind: str, kinds: Iterable[str]) -> None:
    if kind not in kinds:
        raise ValueError(f"kind must be one of {', '.join(kinds)}, got {kind!r:.40}")


_TEXT_EXPORTS: dict[str, Callable[[ArchSpec], str]] = {"pytorch": to_pytorch_source, "json": to_json,
                                                   "summary": to_text_summary}


__all__ = ["ESTIMATE_KINDS", "EXPORT_KINDS", "ExportError", "MAX_ONNX_WEIGHT_BYTES", "estimate_export_bytes",
           "export_notes", "export_onnx", "to_json", "to_onnx_bytes", "to_pytorch_source", "to_text_summary",
           "write_export"]
