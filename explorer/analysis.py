"""Per-layer analysis of a spec on the ``meta`` device: shapes, parameters, MACs, memory, receptive fields.

torchinfo does the counting it already does (output shapes, parameters, multiply-adds) during one forward
pass of a meta model, which allocates no weights; forward hooks registered alongside it track each layer's
receptive field and effective stride. The result is a plain, JSON-ready record that charts, the UI, training
and export all read.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, Mapping

import torch
from torch import nn
from torchinfo import summary

from .models import GoogLeNet, build_model
from .specs import ArchSpec, parse_spec

if TYPE_CHECKING:
    from .training.memory import MemoryEstimate

#: Bytes per value for fp32 activations and weights.
FP32_BYTES = 4

_KINDS = {
    "Conv2d": "conv", "Linear": "linear", "BatchNorm2d": "batchnorm", "ReLU": "relu", "MaxPool2d": "maxpool",
    "AdaptiveAvgPool2d": "avgpool", "AvgPool2d": "avgpool", "Flatten": "flatten", "Dropout": "dropout",
    "LocalResponseNorm": "lrn",
}
#: Layers whose output the backward pass does not need to keep (in-place or free to recompute).
_NOT_SAVED = {"relu", "flatten", "dropout", "add"}


#: Block kinds that are not part of the feature extractor (the headline receptive field ignores them).
HEAD_KINDS = frozenset({"head", "aux"})


@dataclass(frozen=True)
class LayerAnalysis:
    """One leaf layer (or a block's merge of its branches), in execution order."""

    name: str  # module path, e.g. "features.block3.conv2"; a merge row is "<block path>.concat" / ".add"
    kind: str  # conv, linear, batchnorm, relu, maxpool, avgpool, flatten, dropout, lrn, concat, add
    block: str  # the recorded block it belongs to, e.g. "block3", "inception4e", "head", "aux1"
    output_shape: tuple[int, ...]  # without the batch dimension
    params: int
    macs: int  # multiply-adds for one image (torchinfo's count)
    activation_bytes: int  # output size for one image, fp32
    receptive_field: int  # input pixels per side one output value can see
    effective_stride: int  # input pixels between neighbouring outputs (the cumulative "jump")
    kernel_size: int | None = None
    stride: int | None = None  # the layer's own stride
    groups: int = 1
    input_shape: tuple[int, ...] = ()  # without the batch dimension
    padding: int | None = None


@dataclass(frozen=True)
class BranchAnalysis:
    """One of a block's parallel paths (an Inception branch, a residual block's shortcut)."""

    name: str  # "branch1" ... or "main", "shortcut"
    modules: tuple[str, ...]  # empty for an identity shortcut
    output_shape: tuple[int, ...]
    params: int
    macs: int
    receptive_field: int
    effective_stride: int

    @property
    def width(self) -> int:
        """Output channels."""
        return self.output_shape[0] if self.output_shape else 0


@dataclass(frozen=True)
class BlockAnalysis:
    """One block as the builder recorded it, with every number measured on its modules."""

    name: str  # e.g. "block3", "inception4e", "head"
    kind: str  # stem, conv_block, conv_stage, pool, inception, residual, aux, head
    modules: tuple[str, ...]  # its module paths
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]  # an Inception block's is the concatenation of its branches
    params: int
    macs: int
    receptive_field: int  # of the block's output: the largest over parallel branches
    effective_stride: int
    layers: tuple[str, ...]  # names of its leaf layers, in order
    branches: tuple[BranchAnalysis, ...] = ()
    merge: str | None = None  # "concat" or "add" when there are branches

    @property
    def is_feature(self) -> bool:
        """Whether the block belongs to the feature extractor (not a classifier head)."""
        return self.kind not in HEAD_KINDS

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(modules=list(self.modules), input_shape=list(self.input_shape),
                    output_shape=list(self.output_shape), layers=list(self.layers),
                    branches=[{**asdict(branch), "modules": list(branch.modules),
                               "output_shape": list(branch.output_shape), "width": branch.width}
                              for branch in self.branches])
        return data


@dataclass(frozen=True)
class Analysis:
    """The analysis of one spec at one batch size."""

    family: str
    input_shape: tuple[int, int, int]  # (C, H, W)
    batch_size: int
    layers: tuple[LayerAnalysis, ...]
    total_params: int
    total_macs: int  # per image
    param_bytes: int
    feature_receptive_field: int  # receptive field of the last feature block's output (before the head)
    output_shape: tuple[int, ...]
    blocks: tuple[BlockAnalysis, ...] = field(default=())  # the builder's record, in order

    @property
    def activation_bytes(self) -> int:
        """Output bytes of all layers for one image."""
        return sum(layer.activation_bytes for layer in self.layers)

    @property
    def saved_activation_bytes(self) -> int:
        """What the backward pass keeps for one image (the input and every non in-place output)."""
        input_bytes = math.prod(self.input_shape) * FP32_BYTES
        return input_bytes + sum(layer.activation_bytes for layer in self.layers if layer.kind not in _NOT_SAVED)

    def training_memory(self, batch_size: int | None = None, *, optimizer: str = "adam", precision: str = "fp32",
                        device_type: str = "cuda") -> MemoryEstimate:
        """The modelled peak memory of one training step, term by term (a
        :class:`~explorer.training.memory.MemoryEstimate`, without the dataset): the model the Train tab's memory
        check uses (:func:`explorer.training.memory.estimate_training_memory`), so both tabs show one number for
        the same network, batch size, optimizer, precision and device (defaults: fp32, Adam, on a GPU)."""
        from .training.memory import estimate_training_memory  # here, not above: training imports this module

        batch = self.batch_size if batch_size is None else batch_size
        return estimate_training_memory(self, batch, optimizer=optimizer, precision=precision,
                                        device_type=device_type)

    def training_memory_bytes(self, batch_size: int | None = None, *, optimizer: str = "adam",
                              precision: str = "fp32", device_type: str = "cuda") -> int:
        """The peak of :meth:`training_memory` in bytes (default: fp32, Adam, on a GPU)."""
        return int(self.training_memory(batch_size, optimizer=optimizer, precision=precision,
                                        device_type=device_type).total)

    def block(self, name: str) -> BlockAnalysis:
        """The recorded block called ``name``; KeyError if there is none."""
        for block in self.blocks:
            if block.name == name:
                return block
        raise KeyError(name)

    @property
    def feature_blocks(self) -> tuple[BlockAnalysis, ...]:
        return tuple(block for block in self.blocks if block.is_feature)

    def layers_of(self, block: str) -> list[LayerAnalysis]:
        """The leaf layers (and merge row) of one block."""
        return [layer for layer in self.layers if layer.block == block]

    def block_totals(self) -> list[dict[str, Any]]:
        """Parameters, MACs and input/output shape per block, in order (rows of the block record)."""
        return [{"block": block.name, "kind": block.kind, "params": block.params, "macs": block.macs,
                 "layers": len(block.layers), "input_shape": block.input_shape, "output_shape": block.output_shape}
                for block in self.blocks]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: lists instead of tuples, derived totals included."""
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        data["output_shape"] = list(self.output_shape)
        data["blocks"] = [block.to_dict() for block in self.blocks]
        data["layers"] = [{**asdict(layer), "output_shape": list(layer.output_shape),
                           "input_shape": list(layer.input_shape)} for layer in self.layers]
        data["activation_bytes"] = self.activation_bytes
        data["training_memory_bytes"] = self.training_memory_bytes()
        data["block_totals"] = [{**row, "input_shape": list(row["input_shape"]),
                                 "output_shape": list(row["output_shape"])} for row in self.block_totals()]
        return data


def analyze(spec: ArchSpec | Mapping[str, Any] | str, *, batch_size: int = 1) -> Analysis:
    """Analyse a spec (or anything :func:`explorer.parse_spec` takes) without allocating weights.

    Raises:
        SpecError: when the spec is invalid.
    """
    spec = parse_spec(spec)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= 65_536:
        from .specs import SpecError

        raise SpecError("batch_size", f"must be an integer between 1 and 65536, got {batch_size!r}")
    return _analyze_cached(spec, batch_size)


def clear_cache() -> None:
    """Forget cached analyses (benchmarks use it to time the real work)."""
    _analyze_cached.cache_clear()


@lru_cache(maxsize=256)
def _analyze_cached(spec: ArchSpec, batch_size: int) -> Analysis:
    model = build_model(spec, device="meta")
    if isinstance(model, GoogLeNet):
        model.run_aux_in_eval = True
    names = {module: name for name, module in model.named_modules()}
    for module in names:
        if isinstance(module, nn.BatchNorm2d):
            # BN keeps the shape; on the meta device its decomposition costs ~0.1 ms a call for nothing.
            module.forward = _identity  # type: ignore[method-assign]
        elif isinstance(module, nn.Linear):
            # On the meta device F.linear goes through the addmm decomposition (~1 ms per layer, a fifth of
            # VGG-16's analysis); its output shape is all torchinfo needs (MACs come from params x output size).
            module.forward = partial(_linear_shape, module)  # type: ignore[method-assign]
    tracker = _ReceptiveFieldTracker(names)
    handle = torch.nn.modules.module.register_module_forward_hook(tracker.hook)
    try:
        input_size = (1, spec.in_channels, spec.input_size, spec.input_size)
        stats = summary(model, input_size=input_size, device="meta", mode="eval", verbose=0,
                        col_names=("output_size", "num_params", "mult_adds"))
    finally:
        handle.remove()

    record = model.block_info
    block_of = _block_lookup(record)
    leaves = []
    for info in stats.summary_list:
        if not info.is_leaf_layer or not info.executed:
            continue
        module = info.module
        name = names.get(module, info.var_name)
        kind = _KINDS.get(type(module).__name__, type(module).__name__.lower())
        output_shape = tuple(int(size) for size in info.output_size[1:])
        rf, jump = tracker.by_module.get(module, (0, 0))
        leaves.append(LayerAnalysis(
            name=name, kind=kind, block=block_of(name), output_shape=output_shape, params=int(info.num_params),
            macs=int(info.macs), activation_bytes=math.prod(output_shape) * FP32_BYTES,
            receptive_field=rf, effective_stride=jump,
            kernel_size=_first(getattr(module, "kernel_size", None)), stride=_first(getattr(module, "stride", None)),
            groups=int(getattr(module, "groups", 1)), input_shape=tracker.input_shapes.get(module, ()),
            padding=_first(getattr(module, "padding", None)) if not isinstance(getattr(module, "padding", 0), str)
            else None))
    modules_by_name = dict(model.named_modules())
    blocks, layers = [], []
    for entry in record:
        block_layers = [layer for layer in leaves if layer.block == entry["name"]]
        blocks.append(_measure_block(entry, block_layers, modules_by_name, tracker))
        layers += block_layers
        if entry.get("merge"):
            block = blocks[-1]
            layers.append(LayerAnalysis(
                name=f"{block.modules[0]}.{block.merge}", kind=block.merge, block=block.name,
                output_shape=block.output_shape, params=0, macs=0,
                activation_bytes=math.prod(block.output_shape) * FP32_BYTES, receptive_field=block.receptive_field,
                effective_stride=block.effective_stride, input_shape=block.input_shape))
    unrecorded = [layer.name for layer in leaves if layer.block == ""]
    if unrecorded:  # a builder that forgot a block would silently lose its layers
        raise RuntimeError(f"layers outside every recorded block: {', '.join(unrecorded[:5])}")
    total_params = sum(parameter.numel() for parameter in model.parameters())
    features = [block for block in blocks if block.is_feature]
    return Analysis(
        family=spec.family, input_shape=(spec.in_channels, spec.input_size, spec.input_size),
        batch_size=batch_size, layers=tuple(layers), total_params=total_params,
        total_macs=int(stats.total_mult_adds), param_bytes=total_params * FP32_BYTES,
        feature_receptive_field=features[-1].receptive_field if features else 1,
        output_shape=next(block for block in reversed(blocks) if block.kind == "head").output_shape,
        blocks=tuple(blocks))


def _block_lookup(record: list[dict]):  # noqa: ANN202 - Callable[[str], str]
    """Module path -> name of the recorded block that contains it ("" for none)."""
    prefixes = [(path, entry["name"]) for entry in record for path in entry["modules"]]

    def block_of(name: str) -> str:
        for path, block in prefixes:
            if name == path or name.startswith(path + "."):
                return block
        return ""

    return block_of


def _measure_block(entry: dict, layers: list[LayerAnalysis], modules: Mapping[str, nn.Module],
                   tracker: "_ReceptiveFieldTracker") -> BlockAnalysis:
    first, last = modules[entry["modules"][0]], modules[entry["modules"][-1]]
    params = sum(parameter.numel() for path in entry["modules"] for parameter in modules[path].parameters())
    rf, jump = tracker.by_module.get(last, (0, 0))
    input_shape = tracker.input_shapes.get(first, ())
    branches = []
    for branch in entry.get("branches", ()):
        paths = branch["modules"]
        branch_layers = [layer for layer in layers if any(layer.name == path or layer.name.startswith(path + ".")
                                                          for path in paths)]
        if paths:
            end = modules[paths[-1]]
            shape, (branch_rf, branch_jump) = tracker.output_shapes.get(end, ()), tracker.by_module.get(end, (0, 0))
        else:  # the identity: what the block was given
            shape, (branch_rf, branch_jump) = input_shape, tracker.input_fields.get(first, (1, 1))
        branches.append(BranchAnalysis(
            name=branch["name"], modules=tuple(paths), output_shape=shape,
            params=sum(parameter.numel() for path in paths for parameter in modules[path].parameters()),
            macs=sum(layer.macs for layer in branch_layers), receptive_field=branch_rf,
            effective_stride=branch_jump))
    if branches:  # the merged output sees what its widest branch sees
        rf = max(rf, *(branch.receptive_field for branch in branches))
    return BlockAnalysis(
        name=entry["name"], kind=entry["kind"], modules=tuple(entry["modules"]),
        input_shape=input_shape, output_shape=tracker.output_shapes.get(last, ()),
        params=params, macs=sum(layer.macs for layer in layers), receptive_field=rf, effective_stride=jump,
        layers=tuple(layer.name for layer in layers), branches=tuple(branches), merge=entry.get("merge"))


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _linear_shape(module: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """A meta Linear's output without the arithmetic, refusing the inputs the real layer would refuse."""
    if x.shape[-1] != module.in_features:
        raise RuntimeError(f"Linear expects {module.in_features} input features, got shape {tuple(x.shape)}")
    return x.new_empty((*x.shape[:-1], module.out_features))


def _first(value: Any) -> int | None:
    if value is None:
        return None
    return int(value[0]) if isinstance(value, (tuple, list)) else int(value)


class _ReceptiveFieldTracker:
    """Forward hooks that carry (receptive field, jump) from tensor to tensor.

    The standard recurrence: ``rf_out = rf_in + (k - 1) * dilation * jump_in`` and ``jump_out = jump_in * s``.
    A module whose output is a new tensor built from its children (Inception's concatenation) takes the
    largest receptive field among its children's outputs. Global pooling, flatten and linear layers see the
    whole map they are given.
    """

    def __init__(self, modules: Mapping[nn.Module, str]) -> None:
        self.modules = modules  # the hook is global (one registration): ignore other models' modules
        self.by_tensor: dict[int, tuple[int, int]] = {}
        self.keep_alive: list[torch.Tensor] = []  # ids stay unique while the tensors live
        self.by_module: dict[nn.Module, tuple[int, int]] = {}
        self.input_shapes: dict[nn.Module, tuple[int, ...]] = {}  # without the batch dimension
        self.output_shapes: dict[nn.Module, tuple[int, ...]] = {}
        self.input_fields: dict[nn.Module, tuple[int, int]] = {}  # (receptive field, jump) of the input

    def _lookup(self, tensor: Any) -> tuple[int, int]:
        if isinstance(tensor, torch.Tensor) and id(tensor) in self.by_tensor:
            return self.by_tensor[id(tensor)]
        return (1, 1)  # the network's input

    def hook(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if module not in self.modules or not isinstance(output, torch.Tensor):
            return
        if args and isinstance(args[0], torch.Tensor):
            self.input_shapes[module] = tuple(int(size) for size in args[0].shape[1:])
            self.input_fields[module] = self._lookup(args[0])
        self.output_shapes[module] = tuple(int(size) for size in output.shape[1:])
        children = list(module.children())
        if children:
            if id(output) not in self.by_tensor:
                seen = [self.by_module[child] for child in children if child in self.by_module]
                if seen:
                    self._record(module, output, max(seen))
            else:
                self.by_module[module] = self.by_tensor[id(output)]
            return
        rf, jump = self._lookup(args[0] if args else None)
        source = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            kernel = _first(module.kernel_size) or 1
            stride = _first(module.stride) or 1
            dilation = _first(getattr(module, "dilation", 1)) or 1
            rf, jump = rf + (kernel - 1) * dilation * jump, jump * stride
        elif isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Flatten)) and source is not None \
                and source.dim() == 4:
            size_in = int(source.shape[-1])
            size_out = int(output.shape[-1]) if output.dim() == 4 else 1
            kernel = -(-size_in // size_out)
            stride = max(size_in // size_out, 1)
            rf, jump = rf + (kernel - 1) * jump, jump * stride
        self._record(module, output, (rf, jump))

    def _record(self, module: nn.Module, output: torch.Tensor, value: tuple[int, int]) -> None:
        self.by_tensor[id(output)] = value
        self.keep_alive.append(output)
        self.by_module[module] = value
