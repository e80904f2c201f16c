"""The training engine: ``train(spec, config)`` is a generator of typed events. It neither prints nor plots.

Closing the generator at any ``yield`` (a Stop button, a closed browser tab, Ctrl-C in the CLI) runs its
``finally``, which drops the model, optimizer and data tensors and empties the CUDA cache. An exception inside a
run (a missing dataset, CUDA out of memory, a bad setting) ends it with an :class:`ErrorEvent` whose message
says what to do, yielded after the memory has been released.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..analysis import analyze
from ..models import GoogLeNetOutputs, build_model, main_logits
from ..runs import add_curve_points
from ..specs import ArchSpec, SpecError, parse_spec
from ..specs.fields import plural
from . import distributed
from .config import TrainConfig
from .data import (DatasetUnavailable, ImageData, batch_indices, dataset_info, default_checkpoint_dir, load_dataset,
                   make_pipeline, num_batches, split_sizes)
from .devices import (DeviceUnavailable, PeakMemory, autocast, free_memory_bytes, release_memory, resolve_device,
                      resolve_precision)
from .memory import check_memory, dataset_device_bytes, estimate_training_memory
from .events import (DoneEvent, EpochEvent, ErrorEvent, EvalEvent, SamplePrediction, StartEvent, StepEvent,
                     TrainEvent)

#: Fewer steps than this in a run draws a warning: the curves will be short and mostly noise.
FEW_STEPS = 5
#: The loss is checked after every one of the first WATCH_STEPS steps (where a too-large learning rate blows up),
#: then at every logged step (a check waits for the device, so it is not done on every step of a long run).
WATCH_STEPS = 20
#: A training loss above this many times ln(classes) (chance level) means the run has diverged: 23 for 10 classes.
DIVERGED_FACTOR = 10.0
#: Lower-case text of errors that mean the device ran out of memory: PyTorch's allocator (CUDA, CPU), and cuDNN or
#: cuBLAS failing to allocate their own workspace when the card is nearly full.
_OUT_OF_MEMORY_SIGNS = ("out of memory", "can't allocate memory", "cudnn_status_alloc_failed",
                        "cublas_status_alloc_failed")


@dataclass
class RunHooks:
    """Callbacks into a run, for tests and tools (fault injection, watching memory being released)."""

    on_model: Callable[[nn.Module], None] | None = None  # called once with the model, after it is built
    on_step: Callable[[int], None] | None = None  # called after every optimizer step with the step count
    on_cleanup: Callable[[], None] | None = None  # called at the end of the run's ``finally``


class OwnRandomState:
    """The run's own stream of PyTorch's global random numbers (dropout draws from them), swapped in around each
    step. Between steps the generator yields, and whatever else runs in the process then (another tab's forward
    pass, a test) may draw from the global generator; without this the same seed could give different runs."""

    def __init__(self, seed: int, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        outside = self._get()
        torch.manual_seed(seed)
        self.state = self._get()
        self._set(outside)

    def _get(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return torch.get_rng_state(), torch.cuda.get_rng_state() if self.cuda else None

    def _set(self, state: tuple[torch.Tensor, torch.Tensor | None]) -> None:
        torch.set_rng_state(state[0])
        if self.cuda and state[1] is not None:
            torch.cuda.set_rng_state(state[1])

    def __enter__(self) -> "OwnRandomState":
        self.outside = self._get()
        self._set(self.state)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.state = self._get()
        self._set(self.outside)


class LossDiverged(SpecError):
    """The training loss became NaN or infinite, or grew far above chance level: the run cannot recover."""

    def __init__(self, message: str, message_zh: str = "") -> None:
        super().__init__("lr", message, message_zh)


class MemoryCheckFailed(SpecError):
    """The pre-launch check: the run's estimated memory does not fit in what the device has free."""

    def __init__(self, message: str, message_zh: str = "") -> None:
        super().__init__("batch_size", message, message_zh)


def train(spec: ArchSpec | Mapping[str, Any] | str, config: TrainConfig | None = None, *,
          hooks: RunHooks | None = None, check_memory: bool = True) -> Iterator[TrainEvent]:
    """Train ``spec`` as ``config`` says, yielding events (see :mod:`explorer.training.events`).

    Args:
        spec: a spec, or anything :func:`explorer.parse_spec` accepts. Its ``num_classes`` is adapted to the
            dataset and ``config.input_size`` (if set) replaces its input size; the StartEvent says so.
        config: the run's settings (default: ``config_from_choices(spec)``, the short recipe for this network,
            which is what ``python -m explorer train SPEC`` and the Train tab's defaults run).
        hooks: optional callbacks (see :class:`RunHooks`).
        check_memory: before loading anything, compare the estimated memory with what the device has free and
            refuse a run that won't fit (an ``error`` event, kind ``config``, field ``batch_size``). Only tests
            and the GPU suite turn it off, to provoke a real out-of-memory error.

    Yields:
        ``start``, then ``step`` events, an ``eval`` and an ``epoch`` after each epoch, and ``done``; or an
        ``error`` as the last event.
    """
    if config is None:  # the short recipe for this network, as ``python -m explorer train SPEC`` runs it
        from .recipes import config_from_choices

        try:
            config = config_from_choices(parse_spec(spec))
        except SpecError as exc:
            yield ErrorEvent(message=str(exc), kind="config", field=exc.field, step=0, elapsed_s=0.0,
                             message_zh=_chinese_text(exc))
            return
    run = _Run(spec, config, hooks or RunHooks(), check_memory=check_memory)
    error: ErrorEvent | None = None
    try:
        yield from run.events()
    except GeneratorExit:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes an ErrorEvent for the user
        error = run.error_event(exc)
    finally:
        run.release()
    if error is not None:
        yield error


def _chinese_text(exc: SpecError) -> str:
    """``"field：消息"`` for a SpecError with a Chinese message; empty when it has none (the page shows the English)."""
    return exc.text(zh=True) if exc.message_zh else ""


def init_weights(model: nn.Module, init: str, *, num_classes: int | None = None) -> None:
    """``xavier``: d2l's ``xavier_uniform_`` on conv and linear weights (biases as PyTorch made them);
    ``kaiming``: He-normal weights for ReLU and zero biases, each residual block's last batch-norm scale set to
    zero (the block starts as the identity; Goyal et al. 2017, torchvision's ``zero_init_residual``), and the
    classifier's output layers (linear layers with ``num_classes`` outputs) drawn small (std 0.01), so that the
    first loss is about ln(classes) instead of several times that; ``default``: leave PyTorch's initialisation."""
    if init == "default":
        return
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            if init == "xavier":
                nn.init.xavier_uniform_(module.weight)
            else:
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
    if init != "kaiming":
        return
    from ..models.resnet import BasicBlock, Bottleneck

    for module in model.modules():
        last_norm = (module.bn2 if isinstance(module, BasicBlock)
                     else module.bn3 if isinstance(module, Bottleneck) else None)
        if isinstance(last_norm, nn.BatchNorm2d):
            nn.init.zeros_(last_norm.weight)
        if isinstance(module, nn.Linear) and num_classes is not None and module.out_features == num_classes:
            nn.init.normal_(module.weight, std=0.01)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def make_optimizer(parameters: Any, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)
    momentum = config.momentum if config.optimizer == "momentum" else 0.0
    return torch.optim.SGD(parameters, lr=config.lr, momentum=momentum, weight_decay=config.weight_decay)


def adapt_spec(spec: ArchSpec, config: TrainConfig) -> tuple[ArchSpec, list[str]]:
    """The spec a run trains: classes from the dataset, the config's input size. Returns it and notes."""
    info = dataset_info(config.dataset)
    changes: dict[str, Any] = {}
    notes = []
    if spec.num_classes != len(info.classes):
        changes["num_classes"] = len(info.classes)
        notes.append(f"the classifier has {len(info.classes)} outputs for {info.label}'s classes "
                     f"(the spec says {spec.num_classes})")
    if config.input_size is not None and config.input_size != spec.input_size:
        changes["input_size"] = config.input_size
        notes.append(f"images are resized to {config.input_size}x{config.input_size} "
                     f"(the spec says {spec.input_size})")
    if changes:
        try:
            spec = spec.replace(**changes)  # type: ignore[assignment]
        except SpecError as exc:
            field = "input_size" if "input_size" in changes and "input" in str(exc) else exc.field
            raise SpecError(field, exc.message, exc.message_zh) from None
    if spec.in_channels != info.channels:
        how = "by luminance" if spec.in_channels == 1 else "by repeating the gray channel"
        notes.append(f"{info.label} has {plural(info.channels, 'channel')}; the network takes "
                     f"{spec.in_channels}, converted {how}")
    return spec, notes


def forward_loss(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                 aux_weight: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss to optimise, main-head loss, main logits). GoogLeNet's aux heads add ``aux_weight`` x their loss."""
    output = model(images)
    logits = main_logits(output).float()
    main_loss = F.cross_entropy(logits, labels)
    loss = main_loss
    if isinstance(output, GoogLeNetOutputs) and aux_weight > 0:
        loss = main_loss + aux_weight * (F.cross_entropy(output.aux_logits1.float(), labels)
                                         + F.cross_entropy(output.aux_logits2.float(), labels))
    return loss, main_loss, logits


@dataclass
class _Evaluation:
    loss: float
    accuracy: float
    count: int
    confusion: torch.Tensor  # K x K on the CPU
    predictions: torch.Tensor  # this process's predictions, on the CPU
    confidences: torch.Tensor
    seconds: float


class _Run:
    """One training run's state, so that :meth:`release` can drop every tensor it holds."""

    def __init__(self, spec: Any, config: TrainConfig, hooks: RunHooks, *, check_memory: bool = True) -> None:
        self.spec_input = spec
        self.config = config
        self.hooks = hooks
        self.check_memory = check_memory
        self.device: torch.device | None = None
        self.model: nn.Module | None = None
        self.train_model: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.train_data: ImageData | None = None
        self.test_data: ImageData | None = None
        self.pipeline: Any = None
        self.step = 0
        self.examples_seen = 0  # training examples this process has stepped on
        self.started = time.perf_counter()
        self.batch_size = config.batch_size
        self.input_size = 0
        self.estimated_bytes = 0
        self.context = distributed.current()

    # -- the run ---------------------------------------------------------------------------------------------

    def events(self) -> Iterator[TrainEvent]:
        config = self.config
        self.started = time.perf_counter()
        spec = parse_spec(self.spec_input)
        device = self.device = resolve_device(config.device)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # every batch has the same shape: let cuDNN pick its fastest convs
        spec, notes = adapt_spec(spec, config)
        self.input_size = spec.input_size
        precision = resolve_precision(config.precision, device)
        context = self.context
        info = dataset_info(config.dataset)
        analysis = analyze(spec, batch_size=1)
        if self.check_memory:
            num_train, num_test = split_sizes(info, config.train_subset, config.test_subset)
            verdict = check_memory(analysis, config.batch_size, optimizer=config.optimizer, precision=precision,
                                   device_type=device.type, device=str(device),
                                   available_bytes=free_memory_bytes(device), weight_decay=config.weight_decay,
                                   data_bytes=dataset_device_bytes(num_train, num_test, info.channels, info.size))
            if not verdict.fits:
                raise MemoryCheckFailed(verdict.message(), verdict.message(zh=True))
        peak = PeakMemory(device)

        train_data = load_dataset(config.dataset, train=True, data_dir=config.data_dir, download=config.download,
                                  limit=config.train_subset, seed=config.seed)
        test_data = load_dataset(config.dataset, train=False, data_dir=config.data_dir, download=config.download,
                                 limit=config.test_subset, seed=config.seed)
        train_shard = distributed.shard(len(train_data), context, equal=True)
        test_shard = distributed.shard(len(test_data), context, equal=False)
        if train_shard is not None:
            train_data = train_data.subset(train_shard)
        if test_shard is not None:
            test_data = test_data.subset(test_shard)
        if len(train_data) == 0:
            raise SpecError("train_subset", "no training examples for this process; use a larger subset",
                            "这个进程没有分到训练样本；请用更大的训练子集")
        self.train_data = train_data = train_data.to(device)
        self.test_data = test_data = test_data.to(device)
        flip = info.flip_ok if config.flip is None else config.flip
        self.pipeline = pipeline = make_pipeline(train_data.images, model_channels=spec.in_channels,
                                                 input_size=spec.input_size, augment=config.augment, flip=flip,
                                                 channels_last=config.channels_last)

        torch.manual_seed(config.seed)
        model = build_model(spec)
        init_weights(model, config.init, num_classes=len(info.classes))
        model = model.to(device)
        if config.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        if self.hooks.on_model is not None:
            self.hooks.on_model(model)
        train_model: nn.Module = model
        if context.enabled:
            from torch.nn.parallel import DistributedDataParallel

            train_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        if config.compile:
            train_model = torch.compile(train_model)  # type: ignore[assignment]
        self.train_model = train_model
        self.optimizer = optimizer = make_optimizer(model.parameters(), config)

        memory = estimate_training_memory(analysis, config.batch_size, optimizer=config.optimizer,
                                          precision=precision, device_type=device.type,
                                          weight_decay=config.weight_decay,
                                          data_bytes=train_data.nbytes + test_data.nbytes)
        self.estimated_bytes = memory.total
        steps_per_epoch = num_batches(len(train_data), config.batch_size)
        total_steps = config.epochs * steps_per_epoch
        if config.max_steps is not None:
            total_steps = min(total_steps, config.max_steps)
        if total_steps < FEW_STEPS:
            notes.append(f"only {total_steps} optimizer step(s): the curves will be short and the accuracy "
                         f"mostly chance; use more examples or epochs for a real result")
        if context.enabled:
            notes.append(f"{context.world_size} processes, {len(train_data)} training examples each")
        yield StartEvent(
            family=spec.family, dataset=info.name, classes=list(info.classes),
            num_train=len(train_data) * context.world_size, num_test=self._global_count(len(test_data)),
            input_shape=list(pipeline.input_shape), device=str(device), precision=precision,
            channels_last=config.channels_last, steps_per_epoch=steps_per_epoch, total_steps=total_steps,
            epochs=config.epochs, total_params=analysis.total_params, estimated_memory_bytes=self.estimated_bytes,
            world_size=context.world_size, notes=notes, memory_estimate=memory.to_dict())

        generator = torch.Generator(device=device).manual_seed(config.seed * 1_000 + context.rank)
        own_random = OwnRandomState(config.seed * 1_000 + context.rank + 1, device)  # dropout's draws
        num_classes = len(info.classes)
        loss_limit = DIVERGED_FACTOR * math.log(max(num_classes, 2))
        worst_loss = torch.zeros((), device=device)  # the largest step loss since the last check (NaN sticks)
        train_seconds = 0.0
        eval_seconds_estimate: float | None = None
        evaluation: _Evaluation | None = None
        epoch_loss = epoch_acc = 0.0
        epochs_completed = 0
        time_up = False
        curves: dict[str, list[float]] = {}  # what the checkpoint saves: explorer.runs' curves of these events
        for epoch in range(1, config.epochs + 1):
            train_model.train()
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), dtype=torch.int64, device=device)
            seen = 0
            epoch_step = 0
            epoch_seconds = 0.0
            window_start, window_examples = time.perf_counter(), 0
            for indices in batch_indices(len(train_data), config.batch_size, shuffle=True, generator=generator,
                                         device=device):
                step_start = time.perf_counter()
                images = pipeline(train_data.images[indices], train=True, generator=generator)
                labels = train_data.labels[indices]
                if self.step < config.warmup_steps:
                    for group in optimizer.param_groups:
                        group["lr"] = config.lr * (self.step + 1) / config.warmup_steps
                elif self.step == config.warmup_steps and config.warmup_steps > 0:
                    for group in optimizer.param_groups:
                        group["lr"] = config.lr
                with own_random, autocast(device, precision):
                    loss, main_loss, logits = forward_loss(train_model, images, labels, config.aux_weight)
                loss.backward()
                if config.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)  # now, so that no gradients exist during the next forward
                self.step += 1
                if self.step == 1:
                    peak.end_first_step()
                epoch_step += 1
                batch = int(labels.shape[0])
                seen += batch
                self.examples_seen += batch
                window_examples += batch
                loss_sum += main_loss.detach() * batch
                worst_loss = torch.maximum(worst_loss, main_loss.detach())  # NaN propagates
                correct += (logits.detach().argmax(dim=1) == labels).sum()
                del images, labels, loss, main_loss, logits
                if self.hooks.on_step is not None:
                    self.hooks.on_step(self.step)
                last_of_epoch = epoch_step == steps_per_epoch or self.step >= total_steps
                due = config.log_seconds is not None and time.perf_counter() - window_start >= config.log_seconds
                log_now = self.step % config.log_every == 0 or last_of_epoch or due
                if log_now or self.step <= WATCH_STEPS:
                    self._check_loss(float(worst_loss), loss_limit, num_classes, precision)
                    worst_loss.zero_()
                if log_now:
                    epoch_loss, epoch_acc = self._epoch_means(loss_sum, correct, seen)  # synchronises
                    now = time.perf_counter()
                    epoch_seconds += now - step_start
                    train_seconds += now - step_start
                    peak.sample()
                    window_seconds = max(now - window_start, 1e-9)
                    step_event = StepEvent(
                        step=self.step, total_steps=total_steps, epoch=epoch, epochs=config.epochs,
                        epoch_step=epoch_step, steps_per_epoch=steps_per_epoch, loss=epoch_loss, train_acc=epoch_acc,
                        examples_per_s=window_examples * context.world_size / window_seconds,
                        elapsed_s=self._elapsed(),
                        eta_s=self._eta(train_seconds, total_steps, epoch - 1, eval_seconds_estimate,
                                        len(test_data)))
                    add_curve_points(curves, step_event.to_dict())
                    yield step_event
                    window_start, window_examples = time.perf_counter(), 0
                else:
                    elapsed = time.perf_counter() - step_start
                    epoch_seconds += elapsed
                    train_seconds += elapsed
                if self.step >= total_steps or self._time_up(config, context):
                    break
            evaluation = self._evaluate(model, test_data, pipeline, precision, num_classes)
            eval_seconds_estimate = evaluation.seconds
            peak.sample()
            yield EvalEvent(epoch=epoch, step=self.step, test_loss=evaluation.loss, test_acc=evaluation.accuracy,
                            num_examples=evaluation.count, seconds=evaluation.seconds, elapsed_s=self._elapsed())
            epochs_completed = epoch
            epoch_event = EpochEvent(
                epoch=epoch, epochs=config.epochs, step=self.step, train_loss=epoch_loss, train_acc=epoch_acc,
                test_acc=evaluation.accuracy,
                examples_per_s=seen * context.world_size / max(epoch_seconds, 1e-9),
                elapsed_s=self._elapsed(),
                eta_s=self._eta(train_seconds, total_steps, epoch, eval_seconds_estimate, len(test_data)))
            add_curve_points(curves, epoch_event.to_dict())
            yield epoch_event
            if self.step >= total_steps:
                break
            if self._time_up(config, context):
                time_up = True
                break

        assert evaluation is not None  # at least one epoch ran
        confusion = evaluation.confusion
        totals = confusion.sum(dim=1)
        per_class = [None if int(total) == 0 else float(confusion[k, k]) / float(total)
                     for k, total in enumerate(totals)]
        samples = self._samples(test_data, evaluation, config.num_samples)
        done_notes: list[str] = []
        if time_up or (self._time_up(config, context) and epochs_completed < config.epochs):
            done_notes.append(f"stopped at the time limit of {config.max_seconds:.0f} s per run")
        checkpoint_path = None
        examples_per_s = self.examples_seen * context.world_size / max(train_seconds, 1e-9)
        metrics = {"test_acc": evaluation.accuracy, "test_loss": evaluation.loss, "train_acc": epoch_acc,
                   "train_loss": epoch_loss, "steps": self.step, "epochs_completed": epochs_completed,
                   "elapsed_s": self._elapsed(), "train_seconds": train_seconds, "examples_per_s": examples_per_s}
        if config.save_checkpoint and context.is_main:
            try:
                checkpoint_path = str(save_checkpoint(model, spec, config, metrics, list(info.classes), pipeline,
                                                      curves=curves, device=str(device), precision=precision))
            except OSError as exc:
                done_notes.append(f"the checkpoint could not be saved: {exc}")
        yield DoneEvent(
            epochs_completed=epochs_completed, steps=self.step, train_loss=epoch_loss, train_acc=epoch_acc,
            test_loss=evaluation.loss, test_acc=evaluation.accuracy, classes=list(info.classes),
            per_class_accuracy=per_class, confusion_matrix=confusion.tolist(), samples=samples,
            examples_per_s=examples_per_s, train_seconds=train_seconds, elapsed_s=self._elapsed(),
            peak_memory_bytes=peak.peak_bytes(), peak_memory_kind=peak.kind, estimated_memory_bytes=self.estimated_bytes,
            checkpoint_path=checkpoint_path,
            stopped_early=epochs_completed < config.epochs, notes=done_notes,
            peak_memory_first_step_bytes=peak.first_step_peak, peak_memory_steady_bytes=peak.steady_peak_bytes())

    # -- pieces ------------------------------------------------------------------------------------------------
    def _check_loss(self, worst: float, limit: float, num_classes: int, precision: str) -> None:
        """Raise :class:`LossDiverged` when the worst recent step loss is not finite or above ``limit``."""
        if math.isfinite(worst) and worst <= limit:
            return
        config = self.config
        what = (f"{'NaN' if math.isnan(worst) else 'infinite'} at step {self.step}" if not math.isfinite(worst)
                else f"{worst:.3g} at step {self.step}, where chance level is {math.log(num_classes):.2f}")
        what_zh = (f"第 {self.step} 步时为 {'`NaN`' if math.isnan(worst) else '无穷大'}" if not math.isfinite(worst)
                   else f"第 {self.step} 步时为 {worst:.3g}，而随机猜测的水平是 {math.log(num_classes):.2f}")
        # (English, Chinese) pairs of what to try
        advice = [(f"a smaller learning rate (this run used {config.lr:g})", f"更小的学习率（本次用的是 {config.lr:g}）")]
        if config.warmup_steps == 0:
            advice.append(("a learning-rate warm-up", "学习率预热"))
        if config.grad_clip is None:
            advice.append(("gradient clipping", "梯度裁剪"))
        if self.model is not None and not any(isinstance(module, nn.BatchNorm2d) for module in self.model.modules()):
            advice.append(("batch norm on (a network without it is much more sensitive to the learning rate)",
                           "打开批量规范化（没有它的网络对学习率敏感得多）"))
        if config.init == "xavier" or config.init == "default":
            advice.append(("He (Kaiming) initialisation", "He 初始化"))
        if precision == "bf16":
            advice.append(("fp32 precision", "fp32 精度"))
        english = [item for item, _ in advice]
        chinese = [item for _, item in advice]
        tried_zh = "、".join(chinese[:-1]) + "或" + chinese[-1] if len(chinese) > 1 else chinese[0]
        raise LossDiverged(f"The loss exploded ({what}); the run was stopped because it cannot recover. "
                           f"Try {', '.join(english[:-1])} or {english[-1]}.",
                           f"损失爆炸了（{what_zh}）；训练已停止，因为它无法恢复。请尝试{tried_zh}。")

    def _time_up(self, config: TrainConfig, context: Any) -> bool:
        return (config.max_seconds is not None and not context.enabled
                and self._elapsed() >= config.max_seconds)


    def _elapsed(self) -> float:
        return time.perf_counter() - self.started

    def _global_count(self, count: int) -> int:
        counts = distributed.all_reduce_sum(torch.tensor([count], device=self.device), self.context)
        return int(counts.item())

    def _epoch_means(self, loss_sum: torch.Tensor, correct: torch.Tensor, seen: int) -> tuple[float, float]:
        totals = torch.stack([loss_sum.float(), correct.float(), torch.tensor(float(seen), device=loss_sum.device)])
        totals = distributed.all_reduce_sum(totals, self.context).tolist()
        count = max(totals[2], 1.0)
        return totals[0] / count, totals[1] / count

    def _eta(self, train_seconds: float, total_steps: int, evals_done: int, eval_seconds: float | None,
             num_test: int) -> float:
        """Seconds left: the remaining steps at the mean step time so far, plus the remaining evaluations."""
        if self.step == 0:
            return math.nan
        per_step = train_seconds / self.step
        steps_left = max(total_steps - self.step, 0)
        steps_per_epoch = num_batches(len(self.train_data or ()), self.config.batch_size) or 1
        evals_left = max(math.ceil(total_steps / steps_per_epoch) - evals_done, 0)
        if eval_seconds is None:  # forward only, about a third of a training step per batch
            eval_seconds = per_step / 3 * max(num_batches(num_test, self.config.batch_size, shuffle=False), 1)
        return steps_left * per_step + evals_left * eval_seconds

    @torch.no_grad()
    def _evaluate(self, model: nn.Module, data: ImageData, pipeline: Any, precision: str,
                  num_classes: int) -> _Evaluation:
        """Loss, accuracy and confusion matrix on ``data`` with ``model.eval()`` and no gradients."""
        start = time.perf_counter()
        device = data.images.device
        was_training = model.training
        model.eval()
        loss_sum = torch.zeros((), device=device)
        confusion = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=device)
        predictions, confidences = [], []
        try:
            for indices in batch_indices(len(data), self.config.batch_size, shuffle=False, device=device):
                images = pipeline(data.images[indices], train=False)
                labels = data.labels[indices]
                with autocast(device, precision):
                    logits = main_logits(model(images)).float()
                    if self.config.tta_flip:
                        logits = (logits + main_logits(model(images.flip(-1))).float()) / 2
                loss_sum += F.cross_entropy(logits, labels, reduction="sum")
                probabilities = logits.softmax(dim=1)
                confidence, predicted = probabilities.max(dim=1)
                confusion += torch.bincount(labels * num_classes + predicted, minlength=num_classes * num_classes)
                predictions.append(predicted)
                confidences.append(confidence)
        finally:
            model.train(was_training)
        count = torch.tensor(float(len(data)), device=device)
        totals = distributed.all_reduce_sum(torch.stack([loss_sum.float(), count]), self.context)
        confusion = distributed.all_reduce_sum(confusion, self.context)
        total_count = max(float(totals[1]), 1.0)
        confusion_cpu = confusion.view(num_classes, num_classes).cpu()
        return _Evaluation(
            loss=float(totals[0]) / total_count, accuracy=float(confusion_cpu.diagonal().sum()) / total_count,
            count=int(totals[1]), confusion=confusion_cpu,
            predictions=torch.cat(predictions).cpu() if predictions else torch.zeros(0, dtype=torch.int64),
            confidences=torch.cat(confidences).cpu() if confidences else torch.zeros(0),
            seconds=time.perf_counter() - start)

    def _samples(self, data: ImageData, evaluation: _Evaluation, count: int) -> list[SamplePrediction]:
        """Up to ``count`` test images: half of them wrong predictions where there are enough, the rest right."""
        if count == 0 or len(data) == 0:
            return []
        labels = data.labels.cpu()
        generator = torch.Generator().manual_seed(self.config.seed)
        order = torch.randperm(len(labels), generator=generator)
        wrong = order[(evaluation.predictions[order] != labels[order])]
        right = order[(evaluation.predictions[order] == labels[order])]
        num_wrong = min(len(wrong), max(count // 2, count - len(right)))
        chosen = torch.cat([wrong[:num_wrong], right[: count - num_wrong]])
        images = data.images[chosen.to(data.images.device)].cpu()
        samples = []
        for index, image in zip(chosen.tolist(), images):
            pixels = image[0] if image.shape[0] == 1 else image.permute(1, 2, 0)
            samples.append(SamplePrediction(index=index, label=int(labels[index]),
                                            prediction=int(evaluation.predictions[index]),
                                            confidence=round(float(evaluation.confidences[index]), 4),
                                            image=pixels.tolist()))
        return samples

    # -- endings -----------------------------------------------------------------------------------------------

    def error_event(self, exc: Exception) -> ErrorEvent:
        """The user-facing description of a failed run (``message_zh``: the same in Chinese)."""
        elapsed = self._elapsed()
        text = str(exc).lower()
        if isinstance(exc, torch.OutOfMemoryError) or (isinstance(exc, RuntimeError) and any(
                sign in text for sign in _OUT_OF_MEMORY_SIGNS)):
            where = str(self.device) if self.device is not None else "the device"
            estimate = f"; the estimate was {self.estimated_bytes / 2**30:.2f} GiB" if self.estimated_bytes else ""
            message = (f"Out of memory on {where} at step {self.step} (batch size {self.batch_size}, input "
                       f"{self.input_size or '?'}px{estimate}). Try a smaller batch size or input size, bf16 "
                       f"precision, or a smaller network. The run's memory has been released.")
            memory_zh = "显存" if self.device is not None and self.device.type == "cuda" else "内存"
            where_zh = f"`{self.device}` " if self.device is not None else "设备"
            estimate_zh = f"；估计需要 {self.estimated_bytes / 2**30:.2f} GiB" if self.estimated_bytes else ""
            message_zh = (f"{where_zh}在第 {self.step} 步{memory_zh}不足（批量大小 {self.batch_size}，输入 "
                          f"{self.input_size or '?'}px{estimate_zh}）。请尝试更小的批量大小或输入尺寸、bf16 精度，"
                          f"或更小的网络。本次训练占用的{memory_zh}已经释放。")
            return ErrorEvent(message=message, kind="out of memory", field="batch_size", step=self.step,
                              elapsed_s=elapsed, message_zh=message_zh)
        if isinstance(exc, DatasetUnavailable):
            return ErrorEvent(message=exc.message, kind="dataset", field="dataset", step=self.step, elapsed_s=elapsed,
                              message_zh=exc.message_zh)
        if isinstance(exc, DeviceUnavailable):
            return ErrorEvent(message=exc.message, kind="device", field="device", step=self.step, elapsed_s=elapsed,
                              message_zh=exc.message_zh)
        if isinstance(exc, LossDiverged):
            return ErrorEvent(message=exc.message, kind="diverged", field=exc.field, step=self.step,
                              elapsed_s=elapsed, message_zh=exc.message_zh)
        if isinstance(exc, SpecError):
            return ErrorEvent(message=str(exc), kind="config", field=exc.field, step=self.step, elapsed_s=elapsed,
                              message_zh=_chinese_text(exc))
        detail = " ".join(str(exc).split())[:500] or "no details"
        detail_zh = " ".join(str(exc).split())[:500].replace("`", "'")
        return ErrorEvent(message=f"Training failed at step {self.step}: {type(exc).__name__}: {detail}",
                          kind="runtime", step=self.step, elapsed_s=elapsed,
                          message_zh=f"训练在第 {self.step} 步失败：`{type(exc).__name__}`"
                                     + (f"（`{detail_zh}`）" if detail_zh else "（没有详细信息）"))

    def release(self) -> None:
        """Drop every tensor the run holds and return cached GPU memory. Never raises."""
        try:
            if self.optimizer is not None:
                self.optimizer.state.clear()
            self.optimizer = None
            self.train_model = None
            self.model = None
            self.train_data = None
            self.test_data = None
            self.pipeline = None
            release_memory(self.device)
        finally:
            if self.hooks.on_cleanup is not None:
                self.hooks.on_cleanup()


def save_checkpoint(model: nn.Module, spec: ArchSpec, config: TrainConfig, metrics: dict[str, Any],
                    classes: list[str], pipeline: Any, *, curves: Mapping[str, list[float]] | None = None,
                    device: str | None = None, precision: str | None = None) -> Path:
    """Write weights, spec, config, final metrics and the normalisation with ``torch.save``; returns the path.

    ``spec`` is the network as trained (after :func:`adapt_spec`: the dataset's classes, the run's input size),
    so the weights fit ``build_model(checkpoint["spec"])``. ``curves`` (:data:`explorer.runs.CURVES`, as
    :func:`explorer.runs.add_curve_points` collects them), ``device`` and ``precision`` are saved when given, so
    that :func:`explorer.runs.read_run` can show the checkpoint as a run with its curves.
    """
    folder = Path(config.checkpoint_dir).expanduser() if config.checkpoint_dir else default_checkpoint_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"{spec.family}-{config.dataset}-{stamp}-{os.getpid()}.pt"
    state = {name: tensor.detach().to("cpu") for name, tensor in model.state_dict().items()}
    torch.save({"model_state_dict": state, "spec": spec.to_dict(), "config": config.to_dict(), "metrics": metrics,
                "classes": classes, "normalization": {"mean": pipeline.mean.cpu().tolist(),
                                                      "std": pipeline.std.cpu().tolist()},
                "format": "cnn-explorer checkpoint v1",
                **({"curves": {name: list(points) for name, points in curves.items()}} if curves is not None else {}),
                **({"device": device} if device is not None else {}),
                **({"precision": precision} if precision is not None else {})}, path)
    return path


def load_checkpoint(path: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the trained model from a checkpoint; returns it (in eval mode) and the checkpoint dict."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(checkpoint["spec"])
    model.load_state_dict(checkpoint["model_state_dict"])
    return model.eval(), checkpoint
