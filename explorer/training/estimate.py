"""Before launching a run: will it fit in memory, and how long will an epoch take?"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import torch

from ..analysis import analyze
from ..models import build_model
from ..specs import ArchSpec, parse_spec
from .config import TrainConfig
from .data import dataset_info, make_pipeline, num_batches, split_sizes
from .devices import autocast, free_memory_bytes, release_memory, resolve_device, resolve_precision
from .engine import adapt_spec, forward_loss, init_weights, make_optimizer
from .memory import GIB, SAFETY_FACTOR, check_memory, dataset_device_bytes

__all__ = ["GIB", "SAFETY_FACTOR", "RunEstimate", "estimate_run"]


@dataclass(frozen=True)
class RunEstimate:
    """Memory and time expected for a run, measured where it can be."""

    device: str
    precision: str
    input_size: int
    training_memory_bytes: int  # the modelled peak of a step (explorer.training.memory), data excluded
    dataset_bytes: int  # both splits as uint8 on the device
    estimated_memory_bytes: int  # the two together
    available_memory_bytes: int | None  # free GPU memory or available RAM
    fits: bool
    max_batch_size: int | None  # the largest batch that would fit, when known
    steps_per_epoch: int
    seconds_per_step: float | None  # measured on a few real steps (None when not measured)
    seconds_per_epoch: float | None  # training plus evaluation
    total_seconds: float | None
    message: str  # one or two sentences for a person
    memory: dict[str, Any] | None = None  # the memory estimate term by term (MemoryEstimate.to_dict())
    message_zh: str = ""  # the message in Simplified Chinese, with the same numbers

    def message_for(self, zh: bool = False) -> str:
        """The message in Chinese when ``zh`` and there is one, otherwise in English."""
        return self.message_zh if zh and self.message_zh else self.message

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate_run(spec: ArchSpec | Mapping[str, Any] | str, config: TrainConfig | None = None, *,
                 measure: bool = True, measure_steps: int = 2) -> RunEstimate:
    """Estimate a run's memory (from the analysis) against free device memory, and time a few real steps.

    Args:
        spec: what :func:`explorer.training.train` would train.
        config: its settings.
        measure: time ``measure_steps`` training steps on random data (after one warm-up step); skipped when the
            run would not fit.

    Raises:
        SpecError: for an invalid spec, a spec the dataset cannot feed, or a device that does not exist.
    """
    if config is None:  # what train(spec) runs: the short recipe for this network
        from .recipes import config_from_choices

        config = config_from_choices(parse_spec(spec))
    spec, _notes = adapt_spec(parse_spec(spec), config)
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    info = dataset_info(config.dataset)
    num_train, num_test = split_sizes(info, config.train_subset, config.test_subset)
    dataset_bytes = dataset_device_bytes(num_train, num_test, info.channels, info.size)
    analysis = analyze(spec, batch_size=1)
    available = free_memory_bytes(device)
    verdict = check_memory(analysis, config.batch_size, optimizer=config.optimizer, precision=precision,
                           device_type=device.type, device=str(device), available_bytes=available,
                           weight_decay=config.weight_decay, data_bytes=dataset_bytes)
    needed = verdict.needed_bytes
    training_bytes = needed - dataset_bytes
    fits, max_batch = verdict.fits, verdict.max_batch_size
    steps_per_epoch = num_batches(num_train, config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)

    seconds_per_step = seconds_per_epoch = total_seconds = None
    if measure and fits:
        seconds_per_step = _time_steps(spec, config, device, precision, info.channels, info.size, measure_steps)
        test_batches = num_batches(num_test, config.batch_size, shuffle=False)
        eval_seconds = test_batches * seconds_per_step / 3  # a forward pass is about a third of a step
        seconds_per_epoch = steps_per_epoch * seconds_per_step + eval_seconds
        evals = math.ceil(total_steps / max(steps_per_epoch, 1))
        total_seconds = total_steps * seconds_per_step + evals * eval_seconds

    message = verdict.message()
    message_zh = verdict.message(zh=True)
    if fits and seconds_per_epoch is not None and total_seconds is not None:
        message += (f" About {_duration(seconds_per_epoch)} per epoch ({steps_per_epoch} steps at "
                    f"{seconds_per_step:.3f} s), {_duration(total_seconds)} in all.")
        message_zh += (f"每轮约 {_duration(seconds_per_epoch, zh=True)}（{steps_per_epoch} 步，每步 "
                       f"{seconds_per_step:.3f} 秒），总共约 {_duration(total_seconds, zh=True)}。")
    return RunEstimate(device=str(device), precision=precision, input_size=spec.input_size,
                       training_memory_bytes=training_bytes, dataset_bytes=dataset_bytes,
                       estimated_memory_bytes=needed, available_memory_bytes=available, fits=fits,
                       max_batch_size=max_batch, steps_per_epoch=steps_per_epoch, seconds_per_step=seconds_per_step,
                       seconds_per_epoch=seconds_per_epoch, total_seconds=total_seconds, message=message,
                       memory=verdict.estimate.to_dict(), message_zh=message_zh)


def _time_steps(spec: ArchSpec, config: TrainConfig, device: torch.device, precision: str, source_channels: int,
                source_size: int, steps: int) -> float:
    """Mean seconds per training step on random images, after one warm-up step."""
    generator = torch.Generator().manual_seed(0)
    model = optimizer = images = labels = None
    try:
        images = torch.randint(0, 256, (config.batch_size, source_channels, source_size, source_size),
                               dtype=torch.uint8, generator=generator).to(device)
        labels = torch.randint(0, spec.num_classes, (config.batch_size,), generator=generator).to(device)
        pipeline = make_pipeline(images, model_channels=spec.in_channels, input_size=spec.input_size,
                                 augment=config.augment, flip=True, channels_last=config.channels_last)
        model = build_model(spec)
        init_weights(model, config.init)
        model = model.to(device)
        if config.channels_last:
            model = model.to(memory_format=torch.channels_last)
        model.train()
        optimizer = make_optimizer(model.parameters(), config)
        durations = []
        for _ in range(steps + 1):
            start = time.perf_counter()
            batch = pipeline(images, train=True)
            with autocast(device, precision):
                loss, _, _ = forward_loss(model, batch, labels, config.aux_weight)
            loss.backward()
            if config.grad_clip is not None:  # as the engine does: one more pass over the gradients
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            float(loss.detach())  # wait for the device
            durations.append(time.perf_counter() - start)
        return sum(durations[1:]) / max(len(durations) - 1, 1)
    finally:
        del model, optimizer, images, labels
        release_memory(device)


def _duration(seconds: float, *, zh: bool = False) -> str:
    if seconds < 90:
        return f"{seconds:.0f} 秒" if zh else f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} 分钟" if zh else f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} 小时" if zh else f"{seconds / 3600:.1f} h"
