"""How much memory a training step needs at its peak, modelled from the analysis (no weights, nothing allocated).

A step's memory, in the order the engine's loop creates it (``zero_grad(set_to_none=True)`` right after
``optimizer.step()``, so no gradients exist while the next forward pass runs):

- **weights** (fp32 parameters), **optimizer state** (momentum: one copy of the weights; Adam: two), always;
- **forward and backward**: the activations autograd keeps for the backward pass, at the compute precision
  (bf16 autocast: 2 bytes a value, fp32: 4), plus what the per-layer sum of outputs leaves out: max-pool's int64
  indices (8 bytes per output value), dropout's mask (CUDA: a bool per value; the CPU kernel keeps a float noise
  tensor), the input batch in fp32 and, under autocast, its bf16 copy, and the bf16 copies of the conv and linear
  weights autocast makes (kept by autograd until their layer's backward has run). The backward pass is walked
  layer by layer in reverse: at each layer the activations of the layers before it are still kept, the gradients
  of the parameters after it exist, and the gradients of its output and input are being computed; the largest
  sum is the forward/backward peak (VGG and AlexNet reach it after their fully connected layers, which hold most
  of the parameters, have their gradients; NiN and GoogLeNet at the end of the forward pass);
- **the optimizer step**: weights, gradients, state and the step's temporaries. On CUDA PyTorch's default
  ``foreach`` implementations work on all parameters at once: Adam allocates one temporary copy of every
  parameter (``_foreach_sqrt`` of the second moment), and weight decay one more (``_foreach_add``). On the CPU
  the single-tensor implementation works one parameter at a time (Adam: two temporaries of the largest one).
- on CUDA, a fixed **workspace** allowance (cuBLAS keeps 32 MiB per handle on Hopper; cuDNN allocates a
  per-convolution workspace while it runs).

The peak is the larger of the forward/backward and the optimizer-step totals, plus the dataset the engine keeps
on the device. On the CPU, against the live tensor bytes of real runs (every allocation tracked with a
``TorchDispatchMode``), the model is within 1% for the four d2l networks in fp32 and bf16, with SGD and Adam
(and with Adam forced to its foreach implementation, as on CUDA). Allocator rounding (CUDA rounds every block
up to 512 bytes) is below 1% for these networks and is left out. cuDNN's autotuning (``cudnn.benchmark``) tries
algorithms with large workspaces during the first step; that transient is not part of the model, which is why
the engine reports the first step's peak apart.
``torch.compile`` changes what is kept (fusion, recomputation); the model describes eager execution.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

#: Bytes per activation value kept for the backward pass, by compute precision.
ACTIVATION_BYTES = {"fp32": 4, "bf16": 2}
FP32_BYTES = 4
INDEX_BYTES = 8  # max-pool indices are int64
CUDA_MASK_BYTES = 1  # CUDA's fused dropout keeps a bool mask
#: Optimizer state, in copies of the weights.
STATE_COPIES = {"sgd": 0, "momentum": 1, "adam": 2}
#: cuBLAS's workspace (32 MiB per handle and stream on Hopper, about 8 MiB on older GPUs) and room for cuDNN's
#: per-convolution workspace of the algorithms it picked.
CUDA_WORKSPACE_BYTES = 64 * 2**20
#: A run is said to fit when the estimate times this factor is free (fragmentation of the caching allocator,
#: cuDNN's autotuning in the first step, the CUDA context's own allocations outside PyTorch's allocator).
SAFETY_FACTOR = 1.25
GIB = 2**30
#: The largest batch :func:`check_memory` looks for (the engine's own limit is 65,536).
MAX_SEARCHED_BATCH = 2**20

# Layer kinds (the analysis's names) whose output is not a new tensor kept for backward: in-place ReLU writes
# into its input (and keeps that buffer, already counted), flatten is a view.
_NO_NEW_TENSOR = frozenset({"relu", "flatten"})
_WEIGHTED = frozenset({"conv", "linear"})


@dataclass(frozen=True)
class MemoryEstimate:
    """The modelled peak of a training step, term by term (bytes)."""

    batch_size: int
    optimizer: str
    precision: str  # "fp32" or "bf16" (what autocast does)
    device_type: str  # "cuda" or "cpu"
    weights: int
    gradients: int
    optimizer_state: int
    optimizer_temporaries: int  # during optimizer.step()
    autocast_weights: int  # bf16 copies of conv/linear weights, forward to backward
    activations: int  # kept for the backward pass, for the whole batch
    activation_bytes_per_image: int
    workspace: int
    data: int  # the dataset on the device (0 when not given)
    forward_backward: int  # weights + state + workspace + the largest (activations + gradients + copies) in backward
    optimizer_step: int  # weights + gradients + state + temporaries + workspace
    total: int  # max(forward_backward, optimizer_step) + data
    peak_phase: str  # "forward/backward" or "optimizer step"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _kept_per_layer(analysis: Any, precision: str, device_type: str) -> list[tuple[int, int]]:
    """Per layer, in execution order: (bytes kept for the backward pass per image, output values per image)."""
    value = ACTIVATION_BYTES[precision]
    layers = list(analysis.layers)
    rows = []
    for layer in layers:
        kind = layer.kind
        values = math.prod(layer.output_shape)
        if kind in _NO_NEW_TENSOR:
            kept = 0
        elif kind == "maxpool":
            kept = values * (value + INDEX_BYTES)
        elif kind == "dropout":
            kept = values * (value + (CUDA_MASK_BYTES if device_type == "cuda" else value))
        elif kind == "lrn":
            # x*x padded (avg-pooled), k + alpha*avg, its power: three fp32 intermediates, and the fp32 output
            kept = values * 4 * FP32_BYTES
        else:  # conv, linear, batchnorm, avgpool, concat, add, and anything new: its output is kept
            kept = values * value
        rows.append((kept, values))
    unlisted = _unlisted_concat_values(layers)
    if unlisted and rows:
        kept, values = rows[-1]
        rows[-1] = (kept + unlisted * value, values)
    return rows


def _input_bytes(analysis: Any, precision: str) -> int:
    """The input batch per image: fp32, and its bf16 copy under autocast."""
    values = math.prod(analysis.input_shape)
    return values * FP32_BYTES + (values * ACTIVATION_BYTES[precision] if precision == "bf16" else 0)


def activation_bytes_per_image(analysis: Any, *, precision: str = "fp32", device_type: str = "cuda") -> int:
    """Bytes autograd keeps for one image between the forward and the backward pass.

    Every layer's output is kept at the compute precision except in-place ReLU's and flatten's (the same buffer);
    max-pool adds its int64 indices, dropout its mask (CUDA) or noise (CPU), LRN the intermediates of PyTorch's
    composite implementation (fp32 under autocast). The input batch is kept in fp32, plus a bf16 copy under
    autocast.
    """
    return _input_bytes(analysis, precision) + sum(kept for kept, _ in _kept_per_layer(analysis, precision,
                                                                                        device_type))


def _backward_peak(analysis: Any, batch_size: int, precision: str, device_type: str) -> int:
    """The peak of activations + gradients + autocast weight copies during forward and backward, for the batch.

    The backward pass runs the layers in reverse: when it reaches layer k, the activations and bf16 weight
    copies of the layers before k are still kept, the gradients of the parameters of layers k and after exist,
    and the gradient of layer k's output and of its input are being computed.
    """
    value = ACTIVATION_BYTES[precision]
    rows = _kept_per_layer(analysis, precision, device_type)
    layers = list(analysis.layers)
    copies = [int(layer.params) * ACTIVATION_BYTES["bf16"] if precision == "bf16" and layer.kind in _WEIGHTED
              else 0 for layer in layers]
    grads = [int(layer.params) * FP32_BYTES for layer in layers]
    input_bytes = _input_bytes(analysis, precision) * batch_size
    kept_before = [0]
    for (kept, _values), copy in zip(rows, copies):
        kept_before.append(kept_before[-1] + kept * batch_size + copy)
    grads_after = [0] * (len(rows) + 1)
    for index in range(len(rows) - 1, -1, -1):
        grads_after[index] = grads_after[index + 1] + grads[index]
    input_values = math.prod(analysis.input_shape)
    peak = input_bytes + kept_before[-1]  # the end of the forward pass
    for index in range(len(rows), 0, -1):  # layer index - 1 is being differentiated
        out_values = rows[index - 1][1]
        in_values = rows[index - 2][1] if index >= 2 else input_values
        transient = (out_values + in_values) * value * batch_size
        peak = max(peak, input_bytes + kept_before[index] + grads_after[index - 1] + transient)
    return peak


def _unlisted_concat_values(layers: list[Any]) -> int:
    """Values of multi-branch outputs (Inception's torch.cat) an older analysis did not list as layers."""
    if any(layer.kind == "concat" for layer in layers):
        return 0
    branch_ends: dict[tuple[str, str], int] = {}
    for layer in layers:
        parts = layer.name.split(".")
        for index, part in enumerate(parts[:-1]):
            if part.startswith("branch") and index > 0:
                branch_ends[(".".join(parts[:index]), part)] = math.prod(layer.output_shape)
                break
    return sum(branch_ends.values())


def estimate_training_memory(analysis: Any, batch_size: int, *, optimizer: str = "adam", precision: str = "fp32",
                             device_type: str = "cuda", weight_decay: float = 0.0,
                             data_bytes: int = 0) -> MemoryEstimate:
    """The modelled peak memory of a training step (see the module's description).

    Args:
        analysis: :func:`explorer.analyze`'s result for the network as trained (its input size).
        batch_size: images per step.
        optimizer: ``sgd``, ``momentum`` or ``adam``.
        precision: ``fp32`` or ``bf16`` (autocast), as :func:`~explorer.training.devices.resolve_precision` says.
        device_type: ``cuda`` (foreach optimizers, workspaces) or ``cpu``.
        weight_decay: non-zero adds the optimizer's decayed-gradient temporaries.
        data_bytes: the dataset kept on the device.
    """
    weights = int(analysis.param_bytes)
    gradients = weights
    state = STATE_COPIES[optimizer] * weights
    per_layer = [int(layer.params) * FP32_BYTES for layer in analysis.layers if layer.params]
    largest = max(per_layer, default=weights)
    if device_type == "cuda":  # foreach: one temporary per parameter, for all parameters at once
        temporaries = (weights if optimizer == "adam" else 0) + (weights if weight_decay else 0)
    else:  # single-tensor: the largest parameter's temporaries
        temporaries = (2 * largest if optimizer == "adam" else 0) + (largest if weight_decay else 0)
    autocast_weights = 0
    if precision == "bf16":
        weighted = sum(int(layer.params) for layer in analysis.layers if layer.kind in _WEIGHTED)
        autocast_weights = weighted * ACTIVATION_BYTES["bf16"]
    per_image = activation_bytes_per_image(analysis, precision=precision, device_type=device_type)
    activations = batch_size * per_image
    workspace = CUDA_WORKSPACE_BYTES if device_type == "cuda" else 0
    backward_peak = _backward_peak(analysis, batch_size, precision, device_type)
    forward_backward = weights + state + backward_peak + workspace
    optimizer_step = weights + gradients + state + temporaries + workspace
    phase = "forward/backward" if forward_backward >= optimizer_step else "optimizer step"
    return MemoryEstimate(
        batch_size=batch_size, optimizer=optimizer, precision=precision, device_type=device_type, weights=weights,
        gradients=gradients, optimizer_state=state, optimizer_temporaries=temporaries,
        autocast_weights=autocast_weights, activations=activations, activation_bytes_per_image=per_image,
        workspace=workspace, data=int(data_bytes), forward_backward=forward_backward, optimizer_step=optimizer_step,
        total=max(forward_backward, optimizer_step) + int(data_bytes), peak_phase=phase)


def dataset_device_bytes(num_train: int, num_test: int, channels: int, size: int) -> int:
    """Both splits as the engine keeps them on the device: uint8 images and int64 labels."""
    count = num_train + num_test
    return count * channels * size * size + count * 8


@dataclass(frozen=True)
class MemoryCheck:
    """A run's estimated memory against what the device has free."""

    estimate: MemoryEstimate
    needed_bytes: int
    available_bytes: int | None  # free GPU memory or available RAM; None when unknown
    fits: bool
    max_batch_size: int | None  # the largest batch that would fit, when known
    device: str

    def message(self, zh: bool = False) -> str:
        """One or two sentences for a person; ``zh``: the same numbers in Simplified Chinese."""
        if zh:
            return self._message_zh()
        where = "the GPU" if self.estimate.device_type == "cuda" else "the CPU"
        free = "unknown" if self.available_bytes is None else f"{self.available_bytes / GIB:.2f} GiB"
        estimate = self.estimate
        fixed = estimate.weights + estimate.gradients + estimate.optimizer_state
        data = f", data {estimate.data / GIB:.2f} GiB" if estimate.data else ""
        need = (f"about {self.needed_bytes / GIB:.2f} GiB at batch {estimate.batch_size} "
                f"({estimate.precision}, {estimate.optimizer}: activations {estimate.activations / GIB:.2f} GiB, "
                f"weights + gradients + optimizer {fixed / GIB:.2f} GiB{data})")
        if self.fits:
            return f"Fits: needs {need}; {free} free on {where} ({self.device})."
        advice = (f"try batch size {self.max_batch_size} or less, " if self.max_batch_size else "") + (
            "a smaller input size or network" + (", or bf16 precision" if estimate.precision == "fp32" else ""))
        return (f"Won't fit: needs {need} (x{SAFETY_FACTOR:g} margin) but only {free} is free on {where} "
                f"({self.device}); {advice}.")

    def _message_zh(self) -> str:
        where = "GPU 显存" if self.estimate.device_type == "cuda" else "CPU 内存"
        free = "未知" if self.available_bytes is None else f"{self.available_bytes / GIB:.2f} GiB"
        estimate = self.estimate
        fixed = estimate.weights + estimate.gradients + estimate.optimizer_state
        data = f"，数据 {estimate.data / GIB:.2f} GiB" if estimate.data else ""
        need = (f"约 {self.needed_bytes / GIB:.2f} GiB（批量大小 {estimate.batch_size}，{estimate.precision}，"
                f"`{estimate.optimizer}`：激活值 {estimate.activations / GIB:.2f} GiB，"
                f"权重 + 梯度 + 优化器状态 {fixed / GIB:.2f} GiB{data}）")
        if self.fits:
            return f"放得下：需要{need}；{where}（`{self.device}`）可用 {free}。"
        advice = (f"把批量大小减到 {self.max_batch_size} 或更小、" if self.max_batch_size else "") + (
            "用更小的输入尺寸或网络" + ("，或改用 bf16 精度" if estimate.precision == "fp32" else ""))
        return (f"放不下：需要{need}（留 x{SAFETY_FACTOR:g} 余量），但{where}（`{self.device}`）只有 {free} 可用；"
                f"请{advice}。")


def check_memory(analysis: Any, batch_size: int, *, optimizer: str, precision: str, device_type: str,
                 device: str, available_bytes: int | None, weight_decay: float = 0.0,
                 data_bytes: int = 0) -> MemoryCheck:
    """Whether the estimate, with :data:`SAFETY_FACTOR`, fits in ``available_bytes``; and the largest batch that
    would."""
    def at(batch: int) -> MemoryEstimate:
        return estimate_training_memory(analysis, batch, optimizer=optimizer, precision=precision,
                                        device_type=device_type, weight_decay=weight_decay, data_bytes=data_bytes)

    def fits_at(batch: int) -> bool:
        return available_bytes is None or at(batch).total * SAFETY_FACTOR <= available_bytes

    estimate = at(batch_size)
    fits = fits_at(batch_size)
    max_batch = None
    if available_bytes is not None:  # the estimate grows with the batch: double, then bisect
        low, high = 0, 1
        while fits_at(high) and high < MAX_SEARCHED_BATCH:
            low, high = high, high * 2
        if fits_at(high):
            low = high
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if fits_at(middle) else (low, middle)
        max_batch = low
    return MemoryCheck(estimate=estimate, needed_bytes=estimate.total, available_bytes=available_bytes, fits=fits,
                       max_batch_size=max_batch, device=device)


class LiveTensorBytes:
    """Measure the peak of live tensor memory of the operations run inside ``with LiveTensorBytes() as live:``.

    Every tensor an operation creates is counted by its storage until the storage is freed (a
    ``TorchDispatchMode`` sees every operation, the backward pass included; storages keep their Python objects,
    so a finalizer tells when one dies). Tensors that existed before the block count only once used in it.
    On any device this is what a caching allocator's ``max_memory_allocated`` counts, without rounding and
    without the kernels' private workspaces; on the CPU it is the only exact measurement (RSS includes the
    libraries' own buffers). It slows every operation down: for tests and checks, not for training.
    """

    def __init__(self) -> None:
        self.live_bytes = 0
        self.peak_bytes = 0
        self._storages: set[int] = set()
        self._mode: Any = None

    def reset_peak(self) -> None:
        self.peak_bytes = self.live_bytes

    def _freed(self, key: int, nbytes: int) -> None:
        self._storages.discard(key)
        self.live_bytes -= nbytes

    def _record(self, output: Any) -> None:
        import weakref

        import torch
        from torch.utils._pytree import tree_flatten

        for tensor in tree_flatten(output)[0]:
            if not isinstance(tensor, torch.Tensor) or tensor.device.type == "meta":
                continue
            storage = tensor.untyped_storage()
            key = id(storage)
            if key in self._storages:
                continue
            nbytes = int(storage.nbytes())
            self._storages.add(key)
            self.live_bytes += nbytes
            weakref.finalize(storage, self._freed, key, nbytes)
        self.peak_bytes = max(self.peak_bytes, self.live_bytes)

    def __enter__(self) -> "LiveTensorBytes":
        from torch.utils._python_dispatch import TorchDispatchMode

        tracker = self

        class _Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
                output = func(*args, **(kwargs or {}))
                tracker._record(output)
                return output

        self._mode = _Mode()
        self._mode.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._mode.__exit__(*exc_info)
        self._mode = None
