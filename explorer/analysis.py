"""Per-layer analysis of a spec on the ``meta`` device: shapes, parameters, MACs, memory, receptive fields.

One forward pass of a meta model (no weight memory, no initialisation, no arithmetic) under one global forward
hook records, for every leaf module as it runs, its output shape and receptive field; parameters and
multiply-adds follow from those with torchinfo's definitions (``tests/test_analysis.py`` checks every layer
against ``torchinfo.summary``, which this module used to call: its two hooks on every module and its own
counting made GoogLeNet's analysis ~3x slower). The result is a plain, JSON-ready record that charts, the UI,
training and export all read.
"""
from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache, partial, wraps
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

import torch
from torch import nn

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
    with _initialisation_skipped():  # meta tensors hold no values: initialising them is pure overhead
        model = build_model(spec, device="meta")
    model.eval()  # as torchinfo's mode="eval": dropout and BN's inference path
    if isinstance(model, GoogLeNet):
        model.run_aux_in_eval = True
    names = {module: name for name, module in model.named_modules()}
    for module in names:
        shape_only = _SHAPE_ONLY.get(type(module))
        if shape_only is not None:
            module.forward = partial(shape_only, module)  # type: ignore[method-assign]
    recorder = _ForwardRecorder(names)
    handle = torch.nn.modules.module.register_module_forward_hook(recorder.hook)
    try:
        with torch.no_grad():
            model(torch.empty((1, spec.in_channels, spec.input_size, spec.input_size), device="meta"))
    finally:
        handle.remove()

    record = model.block_info
    block_of = _block_lookup(record)
    params_under = _params_under(names)
    leaves, leaves_by_block = [], {entry["name"]: [] for entry in record}
    for module, output_size in recorder.leaf_calls:
        name = names[module]
        kind = _KINDS.get(type(module).__name__, type(module).__name__.lower())
        output_shape = output_size[1:]
        rf, jump = recorder.by_module.get(module, (0, 0))
        padding = getattr(module, "padding", None)
        leaf = LayerAnalysis(
            name=name, kind=kind, block=block_of(name), output_shape=output_shape, params=params_under[name],
            macs=_torchinfo_macs(module, output_size), activation_bytes=math.prod(output_shape) * FP32_BYTES,
            receptive_field=rf, effective_stride=jump,
            kernel_size=_first(getattr(module, "kernel_size", None)), stride=_first(getattr(module, "stride", None)),
            groups=int(getattr(module, "groups", 1)), input_shape=recorder.input_shapes.get(module, ()),
            padding=None if isinstance(padding, str) else _first(padding))
        leaves.append(leaf)
        leaves_by_block.setdefault(leaf.block, []).append(leaf)
    unrecorded = [layer.name for layer in leaves_by_block.get("", ())]
    if unrecorded:  # a builder that forgot a block would silently lose its layers
        raise RuntimeError(f"layers outside every recorded block: {', '.join(unrecorded[:5])}")
    modules_by_name = {name: module for module, name in names.items()}
    blocks, layers = [], []
    for entry in record:
        block_layers = leaves_by_block[entry["name"]]
        block = _measure_block(entry, block_layers, modules_by_name, recorder, params_under)
        blocks.append(block)
        layers += block_layers
        if block.merge:
            layers.append(LayerAnalysis(
                name=f"{block.modules[0]}.{block.merge}", kind=block.merge, block=block.name,
                output_shape=block.output_shape, params=0, macs=0,
                activation_bytes=math.prod(block.output_shape) * FP32_BYTES, receptive_field=block.receptive_field,
                effective_stride=block.effective_stride, input_shape=block.input_shape))
    total_params = params_under[""]
    features = [block for block in blocks if block.is_feature]
    return Analysis(
        family=spec.family, input_shape=(spec.in_channels, spec.input_size, spec.input_size),
        batch_size=batch_size, layers=tuple(layers), total_params=total_params,
        total_macs=sum(layer.macs for layer in leaves), param_bytes=total_params * FP32_BYTES,
        feature_receptive_field=features[-1].receptive_field if features else 1,
        output_shape=next(block for block in reversed(blocks) if block.kind == "head").output_shape,
        blocks=tuple(blocks))


def _params_under(names: Mapping[nn.Module, str]) -> dict[str, int]:
    """Each module path's parameter count with everything below it (``module.parameters()``'s, as no model here
    shares a parameter between two modules), for all of them in one pass instead of one walk per block."""
    totals = dict.fromkeys(names.values(), 0)
    for module, name in reversed(names.items()):  # named_modules() lists a parent before its children
        totals[name] += sum(parameter.numel() for parameter in module.parameters(recurse=False))
        if name:
            totals[name.rpartition(".")[0]] += totals[name]
    return totals


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
                   tracker: "_ForwardRecorder", params_under: Mapping[str, int]) -> BlockAnalysis:
    first, last = modules[entry["modules"][0]], modules[entry["modules"][-1]]
    params = sum(params_under[path] for path in entry["modules"])
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
            params=sum(params_under[path] for path in paths),
            macs=sum(layer.macs for layer in branch_layers), receptive_field=branch_rf,
            effective_stride=branch_jump))
    if branches:  # the merged output sees what its widest branch sees
        rf = max(rf, *(branch.receptive_field for branch in branches))
    return BlockAnalysis(
        name=entry["name"], kind=entry["kind"], modules=tuple(entry["modules"]),
        input_shape=input_shape, output_shape=tracker.output_shapes.get(last, ()),
        params=params, macs=sum(layer.macs for layer in layers), receptive_field=rf, effective_stride=jump,
        layers=tuple(layer.name for layer in layers), branches=tuple(branches), merge=entry.get("merge"))


def _torchinfo_macs(module: nn.Module, output_size: Sequence[int]) -> int:
    """Multiply-adds of one call of a leaf module, by torchinfo's definition (``LayerInfo.calculate_macs``).

    ``output_size`` includes the batch dimension. A convolution's weight and bias count once per output
    position: ``numel x N x H_out x W_out`` (its output channels are already in the weight), so a bias adds one
    per output value. Any other layer's weight and bias (Linear, BatchNorm) count once per sample: ``numel x N``,
    so BN adds 2 per channel. Other parameters named like weights or biases (an RNN's ``weight_ih_l0``) count
    ``numel x N x C``. Layers without parameters cost nothing. (torchinfo also reads pruning masks; no model
    here is pruned.)
    """
    macs = 0
    is_conv = "Conv" in type(module).__name__
    for name, parameter in module.named_parameters():
        count = parameter.numel()
        if name in ("weight", "bias"):
            macs += count * (math.prod(output_size[:1]) * math.prod(output_size[2:]) if is_conv else output_size[0])
        elif "weight" in name or "bias" in name:
            macs += count * math.prod(output_size[:2])
    return macs


#: Whether this thread is building a meta model for analysis (see :func:`_initialisation_skipped`).
_SKIPPING_INIT = threading.local()
_INIT_GUARDS_LOCK = threading.Lock()
#: The initialisers :func:`_initialisation_skipped` skips (BatchNorm's resets its running statistics too).
_INITIALISED = (nn.modules.conv._ConvNd, nn.Linear, nn.modules.batchnorm._NormBase)


def _skippable(initialise: Callable[[nn.Module], None]) -> Callable[[nn.Module], None]:
    @wraps(initialise)
    def reset_parameters(self: nn.Module) -> None:
        if not getattr(_SKIPPING_INIT, "active", False):
            initialise(self)

    reset_parameters.__analysis_guard__ = True  # type: ignore[attr-defined]
    return reset_parameters


@contextmanager
def _initialisation_skipped() -> Iterator[None]:
    """Skip the weight initialisation of convolutions, linear and norm layers built in this thread meanwhile.

    On the meta device an initialiser has no values to write, yet ``reset_parameters`` still costs the Python
    of ``kaiming_uniform_`` and friends: half of building a meta GoogLeNet. The guards wrap those methods once
    (the first time this runs) and call the original everywhere else: in other threads, and in this one outside
    the ``with``, so a model built for training is initialised as before.
    """
    with _INIT_GUARDS_LOCK:
        for owner in _INITIALISED:
            method = owner.__dict__["reset_parameters"]
            if not getattr(method, "__analysis_guard__", False):
                owner.reset_parameters = _skippable(method)  # type: ignore[method-assign]
    previous = getattr(_SKIPPING_INIT, "active", False)
    _SKIPPING_INIT.active = True
    try:
        yield
    finally:
        _SKIPPING_INIT.active = previous


# --- shape-only forwards ----------------------------------------------------------------------------------------
# On the meta device a layer's forward still runs PyTorch's Python shape checks and decompositions: ~25 us for a
# convolution, ~0.1 ms for BN, ~1 ms for F.linear's addmm, a large share of the analysis. All the counting needs
# is the output shape, so the analysed copy's layers compute it from their own arguments (PyTorch's formulas),
# refusing what the real layer would refuse. tests/test_analysis.py checks every layer's shape against torchinfo's
# real forward on the same meta model, and tests/test_blocks.py against a real forward on the CPU.
def _batch_norm_shape(module: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    if x.dim() != 4:
        raise ValueError(f"expected 4D input (got {x.dim()}D input)")
    if x.shape[1] != module.num_features:
        raise RuntimeError(f"BatchNorm2d expects {module.num_features} channels, got shape {tuple(x.shape)}")
    return x


def _lrn_shape(module: nn.LocalResponseNorm, x: torch.Tensor) -> torch.Tensor:
    if x.dim() < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {x.dim()} dimensions)")
    return x


def _linear_shape(module: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    if x.shape[-1] != module.in_features:
        raise RuntimeError(f"Linear expects {module.in_features} input features, got shape {tuple(x.shape)}")
    return x.new_empty((*x.shape[:-1], module.out_features))


def _window_outputs(module: nn.Module, x: torch.Tensor, padding: Any, *, ceil_mode: bool = False) -> list[int]:
    """Output height and width of a sliding window (PyTorch's ``pooling_output_shape``; floor for a conv)."""
    kernels, strides, dilations = (_pair(getattr(module, attribute, 1))
                                   for attribute in ("kernel_size", "stride", "dilation"))
    sizes = []
    for size, kernel, stride, pad, dilation in zip(x.shape[-2:], kernels, strides, _pair(padding), dilations):
        span = dilation * (kernel - 1) + 1
        out = (size + 2 * pad - span + (stride - 1 if ceil_mode else 0)) // stride + 1
        if ceil_mode and (out - 1) * stride >= size + pad:  # the last window must start inside the input
            out -= 1
        if out < 1:
            raise RuntimeError(f"{type(module).__name__}: input of size {tuple(x.shape)} is too small for "
                               f"kernel {kernel}, stride {stride}, padding {pad}")
        sizes.append(out)
    return sizes


def _conv_shape(module: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    if x.dim() not in (3, 4) or x.shape[-3] != module.in_channels:
        raise RuntimeError(f"Conv2d expects {module.in_channels} input channels, got shape {tuple(x.shape)}")
    if module.padding == "same":
        sizes = list(x.shape[-2:])
    else:
        sizes = _window_outputs(module, x, 0 if module.padding == "valid" else module.padding)
    return x.new_empty((*x.shape[:-3], module.out_channels, *sizes))


def _max_pool_shape(module: nn.MaxPool2d, x: torch.Tensor) -> torch.Tensor:
    if x.dim() not in (3, 4) or module.return_indices:
        return nn.MaxPool2d.forward(module, x)
    for kernel, pad in zip(_pair(module.kernel_size), _pair(module.padding)):
        if pad > kernel // 2:
            raise RuntimeError(f"MaxPool2d: padding {pad} is more than half the kernel {kernel}")
    return x.new_empty((*x.shape[:-2], *_window_outputs(module, x, module.padding, ceil_mode=module.ceil_mode)))


def _adaptive_pool_shape(module: nn.AdaptiveAvgPool2d, x: torch.Tensor) -> torch.Tensor:
    if x.dim() not in (3, 4):
        return nn.AdaptiveAvgPool2d.forward(module, x)
    sizes = [size if out is None else out for size, out in zip(x.shape[-2:], _pair(module.output_size))]
    return x.new_empty((*x.shape[:-2], *sizes))


def _pair(value: Any) -> tuple[Any, Any]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)  # type: ignore[return-value]


#: Layer type -> its shape-only forward (the exact type: a subclass may compute something else).
_SHAPE_ONLY: dict[type, Callable[..., torch.Tensor]] = {
    nn.Conv2d: _conv_shape, nn.Linear: _linear_shape, nn.BatchNorm2d: _batch_norm_shape,
    nn.LocalResponseNorm: _lrn_shape, nn.MaxPool2d: _max_pool_shape, nn.AdaptiveAvgPool2d: _adaptive_pool_shape,
}


def _output_size(output: Any) -> tuple[int, ...]:
    """A leaf's output size as torchinfo reads it: a tensor's, or the first tensor's of a tuple or list."""
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise TypeError(f"a layer returned {type(output).__name__}, not a tensor")
    return tuple(output.shape)


def _first(value: Any) -> int | None:
    if value is None:
        return None
    return int(value[0]) if isinstance(value, (tuple, list)) else int(value)


class _ForwardRecorder:
    """One global forward hook that records what each module of one model does, as it runs.

    For every call of a leaf module (one without children, as torchinfo defines it), in execution order: the
    module and its output size (with the batch dimension), the rows of torchinfo's summary. For every module:
    its input and output shape and the (receptive field, jump) of its output, carried from tensor to tensor.

    The standard recurrence: ``rf_out = rf_in + (k - 1) * dilation * jump_in`` and ``jump_out = jump_in * s``.
    A module whose output is a new tensor built from its children (Inception's concatenation) takes the
    largest receptive field among its children's outputs. Global pooling, flatten and linear layers see the
    whole map they are given.
    """

    def __init__(self, modules: Mapping[nn.Module, str]) -> None:
        self.modules = modules  # the hook is global (one registration): ignore other models' modules
        # torchinfo's test, kept literally: an empty Sequential child is falsy, so it does not make a parent.
        self.children = {module: list(module.children()) for module in modules}
        self.leaves = {module for module, children in self.children.items() if not any(children)}
        self.leaf_calls: list[tuple[nn.Module, tuple[int, ...]]] = []
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
        if module not in self.modules:
            return
        if module in self.leaves:
            self.leaf_calls.append((module, _output_size(output)))
        if not isinstance(output, torch.Tensor):
            return
        if args and isinstance(args[0], torch.Tensor):
            self.input_shapes[module] = tuple(args[0].shape[1:])
            self.input_fields[module] = self._lookup(args[0])
        self.output_shapes[module] = tuple(output.shape[1:])
        children = self.children[module]
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
