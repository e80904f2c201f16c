"""The memory model (explorer.training.memory) against live tensor bytes of real CPU runs, and the engine's
pre-launch memory check."""
from __future__ import annotations

from typing import Any

import pytest
import torch

from explorer import analyze, load_preset
from explorer.training import DoneEvent, ErrorEvent, StartEvent, TrainConfig, train
from explorer.training import engine
from explorer.training.memory import (LiveTensorBytes, activation_bytes_per_image, check_memory,
                                      estimate_training_memory)


def cpu_config(**changes: Any) -> TrainConfig:
    settings: dict[str, Any] = dict(dataset="shapes", batch_size=16, train_subset=32, test_subset=16, epochs=1,
                                    device="cpu", save_checkpoint=False, num_samples=0, log_every=1)
    settings.update(changes)
    return TrainConfig(**settings)


@pytest.mark.parametrize(("preset", "size", "precision", "optimizer", "phase"), [
    pytest.param("d2l_vgg11_small", 32, "fp32", "adam", "optimizer step", id="vgg-adam-step-peak"),
    pytest.param("d2l_googlenet", 32, "bf16", "sgd", "forward/backward", id="googlenet-bf16-concat"),
    pytest.param("d2l_alexnet", 96, "fp32", "momentum", "forward/backward", id="alexnet-dropout-momentum"),
])
def test_estimate_matches_the_live_tensor_peak_of_a_real_run(preset: str, size: int, precision: str,
                                                             optimizer: str, phase: str) -> None:
    """Every tensor a real run creates is tracked; the model's peak is within 3% of the measured one."""
    config = cpu_config(precision=precision, channels_last=precision == "bf16", optimizer=optimizer)
    with LiveTensorBytes() as live:
        events = list(train(load_preset(preset).replace(input_size=size), config))
    start = events[0]
    assert isinstance(start, StartEvent) and isinstance(events[-1], DoneEvent), events[-1]
    assert start.memory_estimate["peak_phase"] == phase
    assert 0.97 <= start.estimated_memory_bytes / live.peak_bytes <= 1.03, (start.memory_estimate, live.peak_bytes)


def test_foreach_optimizers_match_the_cuda_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """CUDA's default foreach Adam keeps a temporary copy of every parameter: forced on the CPU, the run's peak
    is what the model says for CUDA (less its workspace allowance)."""
    original = engine.make_optimizer

    def foreach(parameters: Any, config: TrainConfig) -> torch.optim.Optimizer:
        optimizer = original(parameters, config)
        for group in optimizer.param_groups:
            group["foreach"] = True
        return optimizer

    monkeypatch.setattr(engine, "make_optimizer", foreach)
    spec = load_preset("d2l_vgg11_small").replace(input_size=32)
    with LiveTensorBytes() as live:
        events = list(train(spec, cpu_config(batch_size=8)))
    assert isinstance(events[-1], DoneEvent)
    cuda = estimate_training_memory(analyze(spec), 8, optimizer="adam", precision="fp32", device_type="cuda",
                                    data_bytes=events[0].memory_estimate["data"])
    assert cuda.peak_phase == "optimizer step" and cuda.optimizer_temporaries == cuda.weights
    assert 0.98 <= (cuda.total - cuda.workspace) / live.peak_bytes <= 1.02


def test_terms_of_the_model() -> None:
    analysis = analyze(load_preset("d2l_vgg11_small").replace(input_size=64))
    fp32 = estimate_training_memory(analysis, 32, optimizer="adam", precision="fp32", device_type="cuda")
    bf16 = estimate_training_memory(analysis, 32, optimizer="adam", precision="bf16", device_type="cuda")
    sgd = estimate_training_memory(analysis, 32, optimizer="sgd", precision="fp32", device_type="cuda")
    assert fp32.weights == fp32.gradients == analysis.param_bytes and fp32.optimizer_state == 2 * fp32.weights
    assert sgd.optimizer_state == 0 and sgd.optimizer_temporaries == 0 and sgd.total < fp32.total
    assert bf16.activations < fp32.activations and bf16.autocast_weights > 0 == fp32.autocast_weights
    # max-pool's int64 indices make the kept activations larger than the layers' fp32 outputs alone
    assert activation_bytes_per_image(analysis, precision="fp32") > analysis.saved_activation_bytes
    cpu = estimate_training_memory(analysis, 32, optimizer="adam", precision="fp32", device_type="cpu")
    largest = max(layer.params for layer in analysis.layers) * 4
    assert cpu.workspace == 0 < fp32.workspace and cpu.optimizer_temporaries == 2 * largest  # one tensor at a time
    assert estimate_training_memory(analysis, 32, optimizer="sgd", weight_decay=5e-4).optimizer_temporaries \
        == analysis.param_bytes


def test_the_largest_batch_that_fits_is_the_boundary() -> None:
    analysis = analyze(load_preset("d2l_nin").replace(input_size=96))
    options = dict(optimizer="adam", precision="bf16", device_type="cuda", device="cuda:0", data_bytes=10**6)
    verdict = check_memory(analysis, 64, available_bytes=2 * 2**30, **options)
    assert verdict.fits and verdict.max_batch_size and verdict.max_batch_size > 64
    assert check_memory(analysis, verdict.max_batch_size, available_bytes=2 * 2**30, **options).fits
    assert not check_memory(analysis, verdict.max_batch_size + 1, available_bytes=2 * 2**30, **options).fits
    refused = check_memory(analysis, 10_000, available_bytes=2 * 2**30, **options)
    assert not refused.fits and refused.message().startswith("Won't fit")
    assert f"batch size {verdict.max_batch_size} or less" in refused.message()
    assert check_memory(analysis, 64, available_bytes=None, **options).fits  # unknown: not refused


def test_the_engine_refuses_a_run_that_will_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "free_memory_bytes", lambda device: 64 * 2**20)
    built = []
    monkeypatch.setattr(engine, "build_model", lambda spec: built.append(spec))
    events = list(train(load_preset("d2l_vgg11_small").replace(input_size=32), cpu_config()))
    assert len(events) == 1 and isinstance(events[0], ErrorEvent)
    assert events[0].kind == "config" and events[0].field == "batch_size"
    assert "Won't fit" in events[0].message and "0.06 GiB is free" in events[0].message
    assert built == []  # refused before the model (or the data) existed


def test_the_check_can_be_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "free_memory_bytes", lambda device: 64 * 2**20)
    events = list(train(load_preset("d2l_vgg11_small").replace(input_size=32), cpu_config(),
                        check_memory=False))
    assert isinstance(events[-1], DoneEvent)
    assert events[-1].peak_memory_first_step_bytes is None and events[-1].peak_memory_steady_bytes is None
