"""The training engine: one short CPU run per family, the event stream, Stop, injected errors, checkpoints."""
from __future__ import annotations

import gc
import json
import math
import weakref
from pathlib import Path
from typing import Any

import pytest
import torch

from explorer import VGGSpec, build_model, load_preset
from explorer.training import (DoneEvent, EpochEvent, ErrorEvent, EvalEvent, RunHooks, StartEvent, StepEvent,
                               TrainConfig, load_checkpoint, train)
from explorer.training.engine import adapt_spec, forward_loss

EVENT_KINDS = {"start", "step", "eval", "epoch", "done", "error"}


def tiny_config(tmp_path: Path, **changes: Any) -> TrainConfig:
    settings: dict[str, Any] = dict(dataset="shapes", epochs=3, batch_size=32, train_subset=96, test_subset=64,
                                    optimizer="adam", lr=1e-3, device="cpu", log_every=1,
                                    checkpoint_dir=str(tmp_path), num_samples=6)
    settings.update(changes)
    return TrainConfig(**settings)


def run(spec: Any, config: TrainConfig, hooks: RunHooks | None = None) -> list[Any]:
    return list(train(spec, config, hooks=hooks))


def check_schema(events: list[Any]) -> None:
    assert isinstance(events[0], StartEvent)
    assert isinstance(events[-1], (DoneEvent, ErrorEvent))
    for event in events:
        data = event.to_dict()
        assert data["event"] in EVENT_KINDS
        json.dumps(data, allow_nan=False)  # strict JSON: no NaN slips through
    steps = [event.step for event in events if isinstance(event, StepEvent)]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)


def epoch_losses(events: list[Any]) -> list[float]:
    return [event.train_loss for event in events if isinstance(event, EpochEvent)]


FAMILY_RUNS = [
    # (preset, input size, extra spec changes, config changes)
    pytest.param("d2l_vgg11_small", 32, {}, dict(init="kaiming"), id="vgg"),
    pytest.param("d2l_nin", 96, {"dropout": 0.0}, dict(init="kaiming"), id="nin"),
    pytest.param("d2l_googlenet", 32, {"aux_logits": True}, dict(train_subset=64, epochs=3), id="googlenet-aux"),
    # Adam at 1e-3 without warm-up blows d2l's AlexNet up (loss 30.9 at step 2): the short recipe's guards.
    pytest.param("d2l_alexnet", 96, {}, dict(init="kaiming", warmup_steps=10, grad_clip=1.0), id="alexnet"),
]


@pytest.mark.parametrize(("preset", "size", "spec_changes", "config_changes"), FAMILY_RUNS)
def test_short_run_per_family(tmp_path: Path, preset: str, size: int, spec_changes: dict,
                              config_changes: dict) -> None:
    spec = load_preset(preset).replace(input_size=size, **spec_changes)
    config = tiny_config(tmp_path, **config_changes)
    events = run(spec, config)
    check_schema(events)
    done = events[-1]
    assert isinstance(done, DoneEvent), done
    start = events[0]
    assert start.input_shape == [1, size, size] and start.total_steps == config.epochs * start.steps_per_epoch
    losses = epoch_losses(events)
    assert all(math.isfinite(loss) for loss in losses)
    assert losses[-1] < losses[0], losses  # it learns something on the examples it sees again and again
    assert sum(event.event == "eval" for event in events) == config.epochs
    assert len(done.confusion_matrix) == 10 and sum(map(sum, done.confusion_matrix)) == done_test_count(events)
    assert 0.0 <= done.test_acc <= 1.0 and done.checkpoint_path and Path(done.checkpoint_path).is_file()


def done_test_count(events: list[Any]) -> int:
    return next(event.num_examples for event in events if isinstance(event, EvalEvent))


def test_a_small_vgg_beats_chance_on_unseen_shapes(tmp_path: Path) -> None:
    """48 steps of a small VGG with batch norm: clearly better than 10% on test images it never saw. (d2l's VGG
    without batch norm needs a few hundred steps to leave chance level: see the learnability measurement.)"""
    spec = VGGSpec(conv_arch=((1, 16), (1, 32), (2, 64)), in_channels=1, num_classes=10, input_size=32,
                   hidden_sizes=(128,), dropout=0.0, batch_norm=True, avgpool_size=None)
    config = tiny_config(tmp_path, train_subset=1024, test_subset=200, epochs=3, batch_size=64, init="kaiming",
                         log_every=8, save_checkpoint=False)
    evals = [event.test_acc for event in run(spec, config) if isinstance(event, EvalEvent)]
    assert len(evals) == 3 and evals[-1] > 0.25, evals


def test_googlenet_aux_heads_add_to_the_training_loss() -> None:
    spec = load_preset("d2l_googlenet").replace(input_size=32, aux_logits=True)
    model = build_model(spec).train()
    images, labels = torch.randn(4, 1, 32, 32), torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        loss, main_loss, logits = forward_loss(model, images, labels, aux_weight=0.3)
        loss_without, main_without, _ = forward_loss(model.eval(), images, labels, aux_weight=0.3)
    assert logits.shape == (4, 10) and float(loss) > float(main_loss) + 0.3  # two aux losses of ~2.3 each
    assert float(loss_without) == float(main_without)  # no aux heads at evaluation


def test_log_seconds_adds_step_events_between_log_every(tmp_path: Path) -> None:
    spec = VGGSpec(conv_arch=((1, 8), (1, 16)), in_channels=1, num_classes=10, input_size=16, hidden_sizes=(32,),
                   avgpool_size=None)
    events = run(spec, tiny_config(tmp_path, epochs=1, batch_size=8, train_subset=48, log_every=1000,
                                   log_seconds=0.0, save_checkpoint=False))
    assert [event.step for event in events if isinstance(event, StepEvent)] == [1, 2, 3, 4, 5, 6]


def test_done_event_contents_and_checkpoint_round_trip(tmp_path: Path) -> None:
    spec = load_preset("d2l_vgg11_small").replace(input_size=32)
    events = run(spec, tiny_config(tmp_path, epochs=1, tta_flip=True))
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.classes[0] == "disk" and len(done.per_class_accuracy) == 10
    assert len(done.samples) == 6
    wrong = [sample for sample in done.samples if sample.prediction != sample.label]
    total = sum(map(sum, done.confusion_matrix))
    total_right = sum(done.confusion_matrix[k][k] for k in range(10))
    assert len(wrong) == min(total - total_right, max(3, 6 - total_right))  # half wrong where there are enough
    sample = done.samples[0]
    assert len(sample.image) == 28 and len(sample.image[0]) == 28 and 0 <= sample.image[5][5] <= 255
    assert done.estimated_memory_bytes > 0
    assert done.peak_memory_kind in ("process RSS growth", "unknown")
    assert "image" not in done.to_dict(include_images=False)["samples"][0]
    model, checkpoint = load_checkpoint(done.checkpoint_path)
    assert checkpoint["metrics"]["test_acc"] == pytest.approx(done.test_acc)
    assert checkpoint["spec"]["input_size"] == 32 and checkpoint["config"]["dataset"] == "shapes"
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 10)


def test_spec_is_adapted_to_the_dataset() -> None:
    spec = load_preset("vgg11")  # 3 channels, 1000 classes, 224
    adapted, notes = adapt_spec(spec, TrainConfig(dataset="shapes", input_size=32))
    assert adapted.num_classes == 10 and adapted.input_size == 32 and adapted.in_channels == 3
    assert len(notes) == 3  # classes, size, channels


def test_few_steps_do_not_divide_by_zero(tmp_path: Path) -> None:
    """d2l's train_ch6 divides by zero with fewer than 5 batches; here a 3-example split trains one step."""
    spec = load_preset("d2l_vgg11_small").replace(input_size=32)
    events = run(spec, tiny_config(tmp_path, train_subset=3, test_subset=2, epochs=1, log_every=10))
    check_schema(events)
    assert isinstance(events[-1], DoneEvent) and events[-1].steps == 1
    assert any("only 1 optimizer step" in note for note in events[0].notes)


def test_max_steps_stops_mid_epoch_and_still_evaluates(tmp_path: Path) -> None:
    spec = load_preset("d2l_vgg11_small").replace(input_size=32)
    events = run(spec, tiny_config(tmp_path, epochs=5, max_steps=2, save_checkpoint=False))
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.steps == 2 and done.stopped_early
    assert [event.event for event in events[-3:]] == ["eval", "epoch", "done"]
    assert done.checkpoint_path is None


def test_stop_mid_run_frees_the_model(tmp_path: Path) -> None:
    """Closing the generator at a yield (Stop, a closed tab) runs the finally and drops every tensor."""
    model_ref: list[weakref.ref] = []
    cleaned = []
    hooks = RunHooks(on_model=lambda model: model_ref.append(weakref.ref(model)),
                     on_cleanup=lambda: cleaned.append(True))
    spec = load_preset("d2l_vgg11_small").replace(input_size=32)
    events = train(spec, tiny_config(tmp_path, epochs=10), hooks=hooks)
    for event in events:
        if isinstance(event, StepEvent) and event.step == 2:
            break
    assert model_ref and model_ref[0]() is not None and not cleaned
    events.close()
    gc.collect()
    assert cleaned == [True]
    assert model_ref[0]() is None
    with pytest.raises(StopIteration):
        next(events)


def test_out_of_memory_mid_run_becomes_an_error_event(tmp_path: Path) -> None:
    model_ref: list[weakref.ref] = []
    cleaned = []

    def fail(step: int) -> None:
        if step == 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    hooks = RunHooks(on_model=lambda model: model_ref.append(weakref.ref(model)), on_step=fail,
                     on_cleanup=lambda: cleaned.append(True))
    spec = load_preset("d2l_vgg11_small").replace(input_size=32)
    events = run(spec, tiny_config(tmp_path), hooks)
    error = events[-1]
    assert isinstance(error, ErrorEvent)
    assert error.kind == "out of memory" and error.step == 2
    assert "batch size" in error.message and "released" in error.message
    assert cleaned == [True]  # released before the error was reported
    gc.collect()
    assert model_ref[0]() is None
    check_schema(events)


@pytest.mark.parametrize("text", ["cuDNN error: CUDNN_STATUS_ALLOC_FAILED",
                                  "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"])
def test_library_allocation_failures_are_out_of_memory_too(tmp_path: Path, text: str) -> None:
    """cuDNN and cuBLAS allocate workspaces of their own; on a nearly full card that fails with their own error."""
    def fail(step: int) -> None:
        raise RuntimeError(text)

    events = run(load_preset("d2l_vgg11_small").replace(input_size=32), tiny_config(tmp_path, save_checkpoint=False),
                 RunHooks(on_step=fail))
    assert isinstance(events[-1], ErrorEvent) and events[-1].kind == "out of memory"
    assert events[-1].message.startswith("Out of memory on cpu at step 1")


def test_other_errors_name_their_cause(tmp_path: Path) -> None:
    def fail(step: int) -> None:
        raise ValueError("boom")

    events = run(load_preset("d2l_vgg11_small").replace(input_size=32), tiny_config(tmp_path),
                 RunHooks(on_step=fail))
    assert isinstance(events[-1], ErrorEvent) and events[-1].kind == "runtime"
    assert "ValueError: boom" in events[-1].message


def test_bad_input_size_for_the_network_is_a_config_error(tmp_path: Path) -> None:
    events = run(load_preset("d2l_alexnet"), tiny_config(tmp_path, input_size=16))
    assert len(events) == 1 and isinstance(events[0], ErrorEvent)
    assert events[0].kind == "config" and events[0].field == "input_size"


@pytest.mark.skipif(torch.cuda.is_available(), reason="the error path exists only without CUDA")
def test_cuda_on_a_machine_without_it_is_a_device_error(tmp_path: Path) -> None:
    events = run(load_preset("d2l_vgg11_small").replace(input_size=32), tiny_config(tmp_path, device="cuda"))
    assert isinstance(events[-1], ErrorEvent) and events[-1].kind == "device" and "cpu" in events[-1].message


def test_runs_are_reproducible_with_a_seed(tmp_path: Path) -> None:
    spec = load_preset("d2l_vgg11_small").replace(input_size=32)
    config = tiny_config(tmp_path, epochs=1, save_checkpoint=False, augment=True)
    first, second = run(spec, config)[-1], run(spec, config)[-1]
    assert first.train_loss == pytest.approx(second.train_loss, rel=1e-5)
    assert first.confusion_matrix == second.confusion_matrix


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_run_with_bf16_channels_last_frees_memory(tmp_path: Path) -> None:
    from tests.test_cuda import warm_cuda

    warm_cuda()  # cuBLAS/cuDNN workspaces are created once per process: not part of what a run must give back
    spec = load_preset("d2l_vgg11_small").replace(input_size=64)
    before = torch.cuda.memory_allocated()
    events = run(spec, tiny_config(tmp_path, device="cuda", precision="bf16", channels_last=True))
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.peak_memory_kind == "cuda max allocated"
    assert done.peak_memory_bytes and done.peak_memory_bytes > 0
    assert torch.cuda.memory_allocated() <= before + 1024


def test_an_exploding_loss_stops_the_run_with_advice(tmp_path: Path) -> None:
    """Plain SGD at lr 5 on a VGG without batch norm: NaN or a loss far above chance within a few steps."""
    spec = load_preset("d2l_vgg11_small").replace(input_size=32)
    config = tiny_config(tmp_path, optimizer="sgd", lr=5.0, epochs=20, log_every=1000, save_checkpoint=False)
    events = run(spec, config)
    error = events[-1]
    assert isinstance(error, ErrorEvent) and error.kind == "diverged" and error.field == "lr"
    assert error.step <= 20  # checked on every one of the first WATCH_STEPS steps
    assert "The loss exploded" in error.message and "smaller learning rate (this run used 5)" in error.message
    assert "batch norm" in error.message and not any(isinstance(event, DoneEvent) for event in events)


def test_a_diverged_loss_is_caught_at_the_next_logged_step(tmp_path: Path) -> None:
    """After the watched first steps the check runs at every logged step: a NaN injected later is caught there."""
    from explorer.training.engine import WATCH_STEPS

    spec = load_preset("d2l_vgg11_small").replace(input_size=16, conv_arch=((1, 8), (1, 16)), hidden_sizes=(32,),
                                                 avgpool_size=None)

    def poison(model: torch.nn.Module) -> None:
        def forward_hook(module: torch.nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor:
            return output * math.nan if poisoned["on"] else output
        list(model.modules())[-1].register_forward_hook(forward_hook)

    poisoned = {"on": False}
    hooks = RunHooks(on_model=poison, on_step=lambda step: poisoned.update(on=step >= WATCH_STEPS + 2))
    config = tiny_config(tmp_path, batch_size=4, train_subset=200, epochs=1, log_every=5, save_checkpoint=False)
    events = run(spec, config, hooks)
    assert isinstance(events[-1], ErrorEvent) and events[-1].kind == "diverged"
    assert "NaN" in events[-1].message and events[-1].step == 25  # the next multiple of log_every


def test_kaiming_init_starts_near_chance_and_residual_blocks_as_identity() -> None:
    from explorer.models.resnet import BasicBlock
    from explorer.training.engine import init_weights

    torch.manual_seed(0)
    model = build_model(load_preset("resnet18").replace(input_size=32, num_classes=10))
    init_weights(model, "kaiming", num_classes=10)
    blocks = [module for module in model.modules() if isinstance(module, BasicBlock)]
    assert blocks and all(float(block.bn2.weight.detach().abs().max()) == 0.0 for block in blocks)
    model.eval()
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(model(torch.randn(64, 3, 32, 32)), torch.randint(0, 10, (64,)))
    assert abs(float(loss) - math.log(10)) < 0.1  # the small classifier: the first loss is about ln 10


def test_channel_wording_is_singular_for_one_channel() -> None:
    _, notes = adapt_spec(load_preset("vgg11").replace(input_size=32), TrainConfig(dataset="shapes"))
    assert any("shapes has 1 channel;" in note for note in notes)
