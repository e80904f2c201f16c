"""The command line: ``python -m explorer {presets,summary,export,inspect,train,gpu}``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from .presets import list_presets, resolve_spec
from .specs import Spec, SpecError, parse_spec


def load_spec_argument(value: str) -> Spec:
    """A preset name, a JSON file path, or inline JSON."""
    if not value.strip().startswith("{") and (value.endswith(".json") or _is_file(value)):
        path = Path(value)
        if not _is_file(value):
            raise SpecError("spec", f"no such file: {value[:200]}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise SpecError("spec", f"could not read {value[:200]}: it is not a text file (a spec is JSON text)") \
                from None
        except OSError as exc:
            reason = exc.strerror or "the file could not be opened"
            raise SpecError("spec", f"could not read {value[:200]}: {reason.lower()}") from None
        return parse_spec(text)
    return resolve_spec(value)


def _is_file(value: str) -> bool:
    try:
        return Path(value).is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False


def cmd_presets(args: argparse.Namespace) -> int:
    presets = list_presets()
    if args.json:
        print(json.dumps([{"name": p.name, "family": p.spec.family, "description": p.description,
                           "source": p.source} for p in presets], indent=2))
        return 0
    width = max(len(p.name) for p in presets)
    for preset in presets:
        print(f"{preset.name:<{width}}  {preset.spec.family:<9}  {preset.description}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from .analysis import analyze  # PyTorch is imported only by the commands that need it
    from .report import format_summary

    spec = load_spec_argument(args.spec)
    if args.input_size is not None:
        spec = spec.replace(input_size=args.input_size)
    analysis = analyze(spec, batch_size=args.batch_size)
    if args.json:
        print(json.dumps({"spec": spec.to_dict(), "analysis": analysis.to_dict()}, indent=2))
    else:
        print(format_summary(analysis, title=f"{args.spec} ({spec.family})"))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import write_export  # ONNX machinery is heavy: import it only when asked

    if args.checkpoint is not None:
        if args.spec is not None:
            raise SpecError("checkpoint", "give a spec or --checkpoint, not both (the checkpoint holds its spec)")
        if args.input_size is not None:
            raise SpecError("input_size", "--input-size does not apply to --checkpoint: the export is the network "
                                          "as trained, at the input size its weights were trained at")
        from .inspection import load_checkpoint  # checks the file like any upload; builds the trained model

        checkpoint = load_checkpoint(args.checkpoint)
        print(write_export(checkpoint.spec, args.format, Path(args.out), model=checkpoint.model))
        return 0
    if args.spec is None:
        raise SpecError("spec", "name what to export: a preset, a JSON spec file or inline JSON, or "
                                "--checkpoint FILE for a trained network")
    spec = load_spec_argument(args.spec)
    if args.input_size is not None:
        spec = spec.replace(input_size=args.input_size)
    print(write_export(spec, args.format, Path(args.out)))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from .inspection import inspect_image, load_checkpoint, write_inspection  # PyTorch and PIL: only when asked

    checkpoint = load_checkpoint(args.checkpoint)
    result = inspect_image(checkpoint, args.image, block=args.block, target_class=args.target_class,
                           top_channels=args.top_channels, fit=args.fit)
    written = write_inspection(result, checkpoint, Path(args.out))
    for score in result.top:
        print(f"{score.probability:7.2%}  {score.index:>3}  {score.name}")
    if result.gradcam is not None:
        print(f"Grad-CAM of {result.gradcam.class_name!r} at {result.gradcam.block}")
    print(f"wrote {len(written)} files to {args.out}")
    return 0


def build_parser(*, with_training: bool = True) -> argparse.ArgumentParser:
    """The CLI's parser. ``with_training=False`` lists ``train`` without importing PyTorch's training stack,
    so light commands (``gpu``, ``presets``) start fast."""
    parser = argparse.ArgumentParser(prog="python -m explorer", description="CNN Architecture Explorer")
    commands = parser.add_subparsers(dest="command", required=True)

    presets = commands.add_parser("presets", help="list the presets")
    presets.add_argument("--json", action="store_true", help="print JSON")
    presets.set_defaults(func=cmd_presets)

    summary = commands.add_parser("summary", help="per-layer shapes, params, MACs and receptive fields")
    summary.add_argument("spec", help="a preset name, a JSON spec file, or inline JSON")
    summary.add_argument("--batch-size", type=int, default=1, help="batch size for the training-memory estimate")
    summary.add_argument("--input-size", type=int, default=None, help="override the spec's input size")
    summary.add_argument("--json", action="store_true", help="print the spec and analysis as JSON")
    summary.set_defaults(func=cmd_summary)

    export = commands.add_parser("export", help="write the network as PyTorch source, ONNX, JSON or a text summary")
    export.add_argument("spec", nargs="?", default=None,
                        help="a preset name, a JSON spec file, or inline JSON (or --checkpoint instead)")
    export.add_argument("--checkpoint", default=None, metavar="FILE",
                        help="a checkpoint training wrote (.pt): export the network as trained (its input size and "
                             "classes); ONNX carries its trained weights, and the .py file loads them with "
                             "`python FILE.py CHECKPOINT`")
    export.add_argument("--format", choices=("pytorch", "onnx", "json", "summary"), default="pytorch")
    export.add_argument("--out", default=".", help="output folder (created if missing)")
    export.add_argument("--input-size", type=int, default=None, help="override the spec's input size")
    export.set_defaults(func=cmd_export)

    inspect = commands.add_parser("inspect", help="look inside a trained network: probabilities, feature maps, "
                                                  "filters and Grad-CAM for one image")
    inspect.add_argument("checkpoint", help="a checkpoint written by training (.pt)")
    inspect.add_argument("--image", required=True, help="an image file (PNG, JPEG, GIF, BMP, WebP, TIFF)")
    inspect.add_argument("--out", required=True, help="output folder for the PNGs and inspection.json")
    inspect.add_argument("--block", default=None, help="Grad-CAM's block (default: the last with a map >= 4x4)")
    inspect.add_argument("--target-class", type=int, default=None,
                         help="Grad-CAM's class index (default: the predicted class)")
    inspect.add_argument("--top-channels", type=int, default=16, help="most active channels shown per block")
    inspect.add_argument("--fit", choices=("pad", "crop"), default="pad",
                         help="make a non-square image square by padding (default) or cropping")
    inspect.set_defaults(func=cmd_inspect)

    _add_optional_commands(commands, with_training=with_training)
    return parser


def _add_optional_commands(commands: argparse._SubParsersAction, *, with_training: bool = True) -> None:
    """Commands whose modules register themselves (training, GPU monitor)."""
    if not with_training:
        commands.add_parser("train", help="train a network (python -m explorer train --help)")
    for module_name in ("explorer.training.cli", "explorer.gpu_cli")[0 if with_training else 1:]:
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(commands)


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    command = next((word for word in words if not word.startswith("-")), None)
    parser = build_parser(with_training=command == "train")
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
