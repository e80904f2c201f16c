"""CUDA-only checks of the training engine: bf16 + channels_last steps, the measured peak against the estimate, a real
out-of-memory error and the recovery from it, the pre-launch memory check.

Every test here skips without CUDA. The module imports neither gradio nor plotly (nor anything that does), so it
runs on a GPU machine that has only PyTorch, torchvision, torchinfo, psutil and pytest.
"""
from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from explorer import analyze, build_model, load_preset
from explorer.training import DoneEvent, ErrorEvent, StartEvent, TrainConfig, estimate_run, train
from explorer.training.data import make_pipeline
from explorer.training.devices import autocast
from explorer.training.engine import forward_loss, init_weights, make_optimizer
from explorer.training.memory import estimate_training_memory

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (torch.cuda.is_available())")
MIB = 2**20


def warm_cuda() -> None:
    """Create the process's persistent CUDA workspaces (cuBLAS, cuBLASLt, cuDNN handles) before a test reads
    ``memory_allocated`` as its baseline: they are allocated once per process, on first use, and kept."""
    device = torch.device("cuda")
    layer = torch.nn.Conv2d(1, 8, 3).to(device)
    head = torch.nn.Linear(8, 4).to(device)
    for precision in ("fp32", "bf16"):
        with autocast(device, precision):
            output = head(layer(torch.randn(2, 1, 8, 8, device=device)).mean(dim=(2, 3)))
        output.float().sum().backward()
    torch.cuda.synchronize()
    del layer, head, output
    torch.cuda.empty_cache()


def small_config(**changes: Any) -> TrainConfig:
    settings: dict[str, Any] = dict(dataset="shapes", batch_size=32, train_subset=128, test_subset=64, epochs=1,
                                    device="cuda", precision="bf16", channels_last=True, save_checkpoint=False,
                                    num_samples=4, log_every=2)
    settings.update(changes)
    return TrainConfig(**settings)


def test_bf16_channels_last_run_reports_cuda_precision_and_peak() -> None:
    warm_cuda()
    before = torch.cuda.memory_allocated()
    events = list(train(load_preset("d2l_vgg11_small").replace(input_size=64), small_config()))
    start, done = events[0], events[-1]
    assert isinstance(start, StartEvent) and isinstance(done, DoneEvent), done
    assert start.device == f"cuda:{torch.cuda.current_device()}"
    assert start.precision == "bf16" and start.channels_last
    assert start.memory_estimate["device_type"] == "cuda" and start.memory_estimate["precision"] == "bf16"
    assert done.peak_memory_kind == "cuda max allocated"
    assert done.peak_memory_bytes and done.peak_memory_first_step_bytes and done.peak_memory_steady_bytes
    assert done.peak_memory_bytes == max(done.peak_memory_first_step_bytes, done.peak_memory_steady_bytes)
    assert math.isfinite(done.train_loss) and 0.0 <= done.test_acc <= 1.0
    assert torch.backends.cudnn.benchmark  # the engine lets cuDNN pick its fastest convolutions
    assert torch.cuda.memory_allocated() <= before + MIB  # the run gave back what it took


def test_a_bf16_channels_last_step_on_cuda() -> None:
    """The engine's step, piece by piece: channels_last batches and weights, bf16 activations under autocast,
    fp32 gradients, a finite loss and weights that move."""
    device = torch.device("cuda")
    spec = load_preset("d2l_vgg11_small").replace(input_size=64)
    images = torch.randint(0, 256, (16, 1, 28, 28), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 10, (16,), device=device)
    pipeline = make_pipeline(images, model_channels=1, input_size=64, augment=True, flip=True, channels_last=True)
    batch = pipeline(images, train=True)
    assert batch.shape == (16, 1, 64, 64) and batch.dtype == torch.float32 and batch.device.type == "cuda"
    model = build_model(spec)
    init_weights(model, "kaiming")
    model = model.to(device).to(memory_format=torch.channels_last).train()
    conv = next(module for module in model.modules() if isinstance(module, torch.nn.Conv2d)
                and module.in_channels > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    seen: list[torch.Tensor] = []
    handle = conv.register_forward_hook(lambda module, args, output: seen.append(output))
    optimizer = make_optimizer(model.parameters(), TrainConfig(optimizer="adam"))
    before = conv.weight.detach().clone()
    with autocast(device, "bf16"):
        loss, _, logits = forward_loss(model, batch, labels, 0.3)
    handle.remove()
    assert seen[0].dtype == torch.bfloat16 and seen[0].is_contiguous(memory_format=torch.channels_last)
    assert logits.dtype == torch.float32 and math.isfinite(float(loss))
    loss.backward()
    assert conv.weight.grad is not None and conv.weight.grad.dtype == torch.float32
    optimizer.step()
    assert not torch.equal(before, conv.weight.detach())


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_estimate_is_close_to_the_measured_steady_peak(precision: str) -> None:
    spec = load_preset("d2l_vgg11_small").replace(input_size=96)
    config = small_config(batch_size=64, train_subset=256, test_subset=64, precision=precision,
                          channels_last=precision == "bf16", optimizer="adam")
    events = list(train(spec, config))
    start, done = events[0], events[-1]
    assert isinstance(done, DoneEvent), done
    ratio = start.estimated_memory_bytes / done.peak_memory_steady_bytes
    assert 0.8 <= ratio <= 1.25, (ratio, start.memory_estimate, done.peak_memory_steady_bytes)


def test_the_pre_launch_check_refuses_what_cannot_fit() -> None:
    warm_cuda()
    before = torch.cuda.memory_allocated()
    events = list(train(load_preset("vgg16"), small_config(batch_size=65_536, train_subset=65_536,
                                                           precision="fp32", channels_last=False)))
    assert len(events) == 1 and isinstance(events[0], ErrorEvent)
    assert events[0].kind == "config" and events[0].field == "batch_size"
    assert "Won't fit" in events[0].message and "GiB" in events[0].message and "cuda:0" in events[0].message
    assert torch.cuda.memory_allocated() == before  # refused before anything was allocated
    estimate = estimate_run(load_preset("vgg16"), small_config(batch_size=65_536, precision="fp32"), measure=False)
    assert not estimate.fits and estimate.max_batch_size is not None and estimate.max_batch_size < 65_536


def test_a_real_out_of_memory_error_is_reported_and_the_memory_released() -> None:
    """VGG-16 at 224 with a batch whose activations need twice the card: forced past the pre-launch check, the run
    ends with the out-of-memory event, the allocated memory is back where it was, and the next run works."""
    warm_cuda()
    spec = load_preset("vgg16")
    total = torch.cuda.get_device_properties(0).total_memory
    per_image = estimate_training_memory(analyze(spec.replace(num_classes=10)), 1, optimizer="sgd",
                                         precision="fp32", device_type="cuda").activation_bytes_per_image
    batch = min(math.ceil(2 * total / per_image), 65_536)
    before = torch.cuda.memory_allocated()
    config = small_config(batch_size=batch, train_subset=batch, test_subset=32, precision="fp32",
                          channels_last=False, optimizer="sgd")
    events = list(train(spec, config, check_memory=False))
    error = events[-1]
    assert isinstance(error, ErrorEvent), error
    assert error.kind == "out of memory" and error.field == "batch_size" and error.step == 0
    assert error.message.startswith(f"Out of memory on cuda:{torch.cuda.current_device()} at step 0")
    assert f"batch size {batch}" in error.message and "released" in error.message
    assert torch.cuda.memory_allocated() <= before + MIB
    after = list(train(load_preset("d2l_vgg11_small").replace(input_size=64), small_config()))
    assert isinstance(after[-1], DoneEvent), after[-1]


def test_estimate_run_on_cuda_measures_steps() -> None:
    estimate = estimate_run(load_preset("d2l_nin").replace(input_size=96), small_config(batch_size=64),
                            measure=True, measure_steps=2)
    assert estimate.device.startswith("cuda") and estimate.precision == "bf16" and estimate.fits
    assert estimate.seconds_per_step and estimate.seconds_per_step > 0
    assert estimate.memory and estimate.memory["device_type"] == "cuda" and estimate.memory["workspace"] > 0
    assert estimate.available_memory_bytes and estimate.max_batch_size and estimate.max_batch_size > 64
