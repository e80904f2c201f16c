"""The Train tab: pick a dataset and a recipe, start a short run, watch live curves, inspect the results.

Callbacks are thin: widget values -> :class:`TrainConfig` -> :func:`explorer.training.train` -> figures.
One run per device at a time, in the app's own queue (:class:`explorer.server.TrainingQueue`): the Start and
Check handlers are async generators without a Gradio concurrency limit, so each join reaches its handler at once.
The handler takes a place (or is refused at once: one running and one waiting run per computer and per session),
awaits its turn while showing its place (a waiting run holds no thread), then streams the run from
:func:`start_training` in a worker thread. Stop cancels the event; cancelling closes the generators, whose
``finally`` closes the engine's generator, which frees the run's memory (a closed browser tab does the same).
A run that does not finish leaves no checkpoint: each run writes into its own folder in Gradio's cache, deleted
unless the run finished; a finished run's checkpoint goes to its own session only.
"""
from __future__ import annotations

import asyncio
import html
import tempfile
from dataclasses import asdict
import time
from pathlib import Path
from typing import Any, AsyncIterator, Iterator, NamedTuple

import anyio.to_thread
import gradio as gr

from .. import runs
from ..charts.training import (confusion_matrix_figure, per_class_accuracy_figure, sample_predictions_figure,
                               training_curves_figure)
from ..specs import Spec, SpecError, parse_spec
from ..training.config import DATASET_NAMES, TrainConfig
from ..training.data import DATASETS, is_on_disk
from ..training.engine import train
from ..training.estimate import estimate_run
from ..training.events import DoneEvent, EpochEvent, ErrorEvent, EvalEvent, StartEvent, StepEvent
from .i18n import tr
from .zerogpu import gpu_task
from ..training.recipes import matching_preset, published_recipe_info, short_recipe_info
from ..server import DiskFull, LimitExceeded, ServerSettings, Ticket
from . import limits

#: Seconds between live updates of the curves (epoch ends and the final results are always sent).
UPDATE_SECONDS = 1.0
#: Checkpoints kept in CHECKPOINT_DIR (direct calls of start_training); the app writes per-run folders instead.
KEEP_CHECKPOINTS = 3
#: Where start_training writes checkpoints when it is given no folder (the app gives each run its own).
CHECKPOINT_DIR = Path(tempfile.gettempdir()) / "cnn-explorer" / "app-checkpoints"
#: Seconds between checks of a waiting run's place in the queue.
QUEUE_POLL_SECONDS = 0.25
_GIB = 2**30

INTRO = """**Train the network from the Explore tab on a small dataset.** The default *short-run recipe* is Adam at
learning rate 1e-3 for 2 epochs, which learns within a few hundred steps. The *published recipe* is d2l's
(plain SGD, batch 128, Xavier init, 10 epochs, images resized to 224, or 96 for GoogLeNet): it reproduces the book
but sits near chance for the first hundreds of steps. `shapes` is a built-in dataset (10 classes of drawn figures)
that needs no download."""


class TrainPanel(NamedTuple):
    """What other tabs use: the finished run's checkpoint (Inspect) and the Start event (Runs)."""

    checkpoint: gr.File
    start_event: Any


def build_train_panel(current_spec: gr.State) -> TrainPanel:
    """Build the Train tab's contents inside the caller's ``gr.Blocks``.

    Args:
        current_spec: Explore's ``gr.State`` holding the current valid spec (a Spec object, already validated) or
            None. ``parse_spec`` returns a Spec as it is, and still accepts a dict (the API, old tests).
    """
    gr.Markdown(INTRO)
    network = gr.Markdown(describe_network(current_spec.value), elem_id="train-network")
    short = short_recipe_info(None)
    with gr.Row():
        dataset = gr.Dropdown(choices=dataset_choices(), value=default_dataset(), label=tr("Dataset"), scale=2)
        epochs = gr.Number(value=short.config.epochs, label=tr("Epochs"), precision=0, minimum=1, maximum=100)
        batch_size = gr.Number(value=short.config.batch_size, label=tr("Batch size"), precision=0, minimum=1,
                               maximum=4096)
        lr = gr.Number(value=short.config.lr, label=tr("Learning rate"), minimum=0.0, maximum=10.0)
        optimizer = gr.Dropdown(choices=["adam", "momentum", "sgd"], value=short.config.optimizer, label=tr("Optimizer"))
    with gr.Row():
        precision = gr.Dropdown(choices=["auto", "fp32", "bf16"], value=short.config.precision, label=tr("Precision"),
                                info=tr("auto: bf16 autocast where the hardware has it"))
        device = gr.Dropdown(choices=["auto", "cpu", "cuda"], value="auto", label=tr("Device"))
        input_size = gr.Number(value=0, label=tr("Input size (0 = recipe's)"), precision=0, minimum=0, maximum=1024)
        train_subset = gr.Number(value=0, label=tr("Training examples (0 = all)"), precision=0, minimum=0,
                                 maximum=1_000_000)
    recipe_kind = gr.State("short")
    recipe_note = gr.Markdown(short.summary, elem_id="train-recipe")
    with gr.Row():
        short_button = gr.Button(tr("Short-run recipe"), size="sm")
        published_button = gr.Button(tr("Use published recipe"), size="sm")
        check_button = gr.Button(tr("Check memory and time"), size="sm")
        start_button = gr.Button(tr("Start"), variant="primary")
        stop_button = gr.Button(tr("Stop"), variant="stop")
    status = gr.Markdown("Ready.", elem_id="train-status")
    curves = gr.Plot(label=tr("Training curves"))
    results = gr.Markdown(elem_id="train-results")
    with gr.Row():
        per_class = gr.Plot(label=tr("Per-class accuracy"))
        confusion = gr.Plot(label=tr("Confusion matrix"))
    samples = gr.Plot(label=tr("Sample predictions"))
    checkpoint = gr.File(label=tr("Checkpoint (weights, spec, config, metrics)"), interactive=False)

    settings = [current_spec, recipe_kind, dataset, epochs, batch_size, lr, optimizer, precision, device,
                input_size, train_subset]
    recipe_outputs = [recipe_kind, dataset, epochs, batch_size, lr, optimizer, precision, input_size, recipe_note]
    fast: dict[str, Any] = dict(concurrency_limit=None, api_visibility="private", show_progress="hidden")
    current_spec.change(describe_network, current_spec, network, **fast)
    short_button.click(apply_short_recipe, [current_spec, dataset, device], recipe_outputs, **fast)
    published_button.click(apply_published_recipe, [current_spec, device], recipe_outputs, **fast)
    # Both use the device: they wait in the app's queue (no Gradio limit, so a refusal comes at once).
    check_event = check_button.click(queued_check, settings, status, concurrency_limit=None,
                                     concurrency_id="train-gate", api_name="check_run", api_visibility="private",
                                     show_progress="minimal")
    start_event = start_button.click(
        queued_training, settings, [status, curves, results, per_class, confusion, samples, checkpoint],
        concurrency_limit=None, concurrency_id="train-gate", api_name="train", api_visibility="undocumented",
        show_progress="minimal")
    stop_button.click(stopped_status, None, status, cancels=[start_event, check_event], **fast)
    return TrainPanel(checkpoint, start_event)


# -- pure helpers (testable without a server) ------------------------------------------------------------------


def dataset_choices() -> list[tuple[str, str]]:
    """(label, name) pairs; torchvision datasets say whether they are on disk or will be downloaded."""
    choices = []
    for name in DATASET_NAMES:
        info = DATASETS[name]
        if info.torchvision_class is None:
            label = f"{info.label}: built in, {info.channels}x{info.size}x{info.size}, no download"
        else:
            label = f"{info.label} ({'on disk' if is_on_disk(name) else 'downloads when first used'})"
        choices.append((label, name))
    return choices


def default_dataset() -> str:
    """Fashion-MNIST when it is on disk; otherwise the built-in ``shapes`` (works without internet)."""
    return "fashion-mnist" if is_on_disk("fashion-mnist") else "shapes"


def describe_network(spec_dict: Spec | dict | None) -> str:
    """Which network Start will train, in one line."""
    if not spec_dict:
        return "**Network:** none: the spec in the Explore tab is invalid; fix it to train."
    try:
        spec = parse_spec(spec_dict)
    except SpecError as exc:
        return f"**Network:** invalid ({html.escape(str(exc))})"
    preset = matching_preset(spec)
    named = f" (preset `{preset}`)" if preset else " (edited)"
    short_size = short_recipe_info(spec).config.input_size
    size_note = (f" On this machine (no GPU) the short-run recipe resizes images to {short_size}x{short_size}, the "
                 f"smallest size this network accepts; set the input size to override." if short_size else "")
    return (f"**Network:** {spec.family_label}{named}, input {spec.in_channels}x{spec.input_size}x{spec.input_size}, "
            f"{spec.planned_params():,} parameters. The classifier is resized to the dataset's 10 classes "
            f"and images are converted to {spec.in_channels} channel(s).{size_note}")


def max_train_seconds() -> float:
    """The longest one run may train on this server (``EXPLORER_MAX_TRAIN_SECONDS``; default 30 minutes, 10 on a
    shared server)."""
    return ServerSettings.from_env().max_train_seconds


def gpu_seconds(*settings: Any, **options: Any) -> float:
    """ZeroGPU: the GPU time to ask for, from the requested run (measured on nothing: an upper estimate)."""
    try:
        spec, config = config_from_widgets(*settings)
        estimate = estimate_run(spec, config, measure=False)
        seconds = getattr(estimate, "seconds_per_epoch", None)
        if seconds:
            return 30 + config.epochs * float(seconds) * 1.5
        return 60 + 30 * config.epochs
    except Exception:  # noqa: BLE001 - the run itself reports bad settings
        return 120


def config_from_widgets(spec_dict: Spec | dict | None, recipe_kind: str, dataset: str, epochs: float | None,
                        batch_size: float | None, lr: float | None, optimizer: str, precision: str, device: str,
                        input_size: float | None, train_subset: float | None, *,
                        checkpoint_dir: str | None = None, save_checkpoint: bool = True) -> tuple[Any, TrainConfig]:
    """The spec and config the widgets describe: the recipe's config with the widgets' values on top.

    ``checkpoint_dir`` defaults to :data:`CHECKPOINT_DIR`.

    Raises:
        SpecError: no valid spec, or a value out of range (naming the setting).
    """
    if not spec_dict:
        raise SpecError("spec", "there is no valid network to train: fix the spec in the Explore tab first")
    spec = parse_spec(spec_dict)
    if recipe_kind == "published":
        base = published_recipe_info(spec).config.replace(device=device)
    else:
        base = short_recipe_info(spec, dataset=dataset, device=device).config
    changes: dict[str, Any] = dict(dataset=dataset, epochs=_whole(epochs, "epochs"),
                                   batch_size=_whole(batch_size, "batch_size"), optimizer=optimizer,
                                   lr=_number(lr, "lr"), precision=precision, device=device,
                                   checkpoint_dir=str(checkpoint_dir or CHECKPOINT_DIR), log_every=10,
                                   log_seconds=UPDATE_SECONDS, max_seconds=max_train_seconds(),
                                   save_checkpoint=save_checkpoint)
    if input_size:
        changes["input_size"] = _whole(input_size, "input_size")
    if train_subset:
        changes["train_subset"] = _whole(train_subset, "train_subset")
    return spec, base.replace(**changes)


def _whole(value: Any, field: str) -> int:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise SpecError(field, f"expected a whole number, got {value!r}")
    return int(value)


def _number(value: Any, field: str) -> float:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(field, f"expected a number, got {value!r}")
    return float(value)


def apply_short_recipe(spec_dict: Spec | dict | None, dataset: str, device: str) -> tuple[Any, ...]:
    """Widget values of the short-run recipe."""
    try:
        recipe = short_recipe_info(parse_spec(spec_dict) if spec_dict else None, dataset=dataset, device=device)
    except SpecError as exc:
        raise gr.Error(str(exc)) from None
    config = recipe.config
    return ("short", dataset, config.epochs, config.batch_size, config.lr, config.optimizer, config.precision,
            config.input_size or 0, recipe.summary)


def apply_published_recipe(spec_dict: Spec | dict | None, device: str) -> tuple[Any, ...]:
    """Widget values of the recipe the network was published with (d2l's, for its family)."""
    if not spec_dict:
        raise gr.Error("There is no valid network: fix the spec in the Explore tab first.")
    try:
        recipe = published_recipe_info(parse_spec(spec_dict))
    except SpecError as exc:
        raise gr.Error(str(exc)) from None
    config = recipe.config
    note = f"{recipe.summary}\n\nSource: {recipe.source}."
    return ("published", config.dataset, config.epochs, config.batch_size, config.lr, config.optimizer,
            config.precision, config.input_size or 0, note)


def check_run(*settings: Any) -> str:
    """Estimated memory against free memory, and the time per epoch measured on a few real steps."""
    try:
        spec, config = config_from_widgets(*settings)
        estimate = estimate_run(spec, config, measure=True)
    except SpecError as exc:
        raise gr.Error(str(exc)) from None
    return ("✅ " if estimate.fits else "⛔ ") + estimate.message


def start_training(*settings: Any, checkpoint_dir: str | None = None,
                   save_checkpoint: bool = True) -> Iterator[tuple[Any, ...]]:
    """One run: stream (status, curves, results, per-class, confusion, samples, checkpoint) updates.

    Refuses (gr.Error) when there is no valid spec, a setting is out of range, or the run would not fit in memory.
    The app calls it through :func:`queued_training`, which holds the device and gives it a folder of its own.
    """
    try:
        spec, config = config_from_widgets(*settings, checkpoint_dir=checkpoint_dir,
                                           save_checkpoint=save_checkpoint)
        estimate = estimate_run(spec, config, measure=False)
    except SpecError as exc:
        raise gr.Error(str(exc)) from None
    if not estimate.fits:
        raise gr.Error(estimate.message)
    gpu_started = _start_gpu_sampler()
    started_at = time.time()
    history: list[dict[str, Any]] = []
    start: StartEvent | None = None
    last_update = 0.0
    events = train(spec, config)
    skip = gr.skip()
    try:
        yield ("Loading the data and building the model...", None, "", None, None, None, None)
        for event in events:
            if isinstance(event, ErrorEvent):
                raise gr.Error(event.message)
            if isinstance(event, StartEvent):
                start = event
                yield (start_status(event), skip, skip, skip, skip, skip, skip)
                continue
            if isinstance(event, DoneEvent):
                if checkpoint_dir is None:
                    _prune_checkpoints(CHECKPOINT_DIR, KEEP_CHECKPOINTS)
                else:
                    _save_run_record(spec, config, start, history, event, checkpoint_dir)
                yield (done_status(event), curves_figure(history, started_at, gpu_started),
                       results_markdown(event), per_class_accuracy_figure(event.per_class_accuracy, event.classes),
                       confusion_matrix_figure(event.confusion_matrix, event.classes),
                       sample_predictions_figure([asdict(sample) for sample in event.samples], event.classes),
                       event.checkpoint_path)
                continue
            history.append(event.to_dict())
            if isinstance(event, EvalEvent):
                continue  # the EpochEvent right after it shows the test accuracy
            now = time.monotonic()
            if isinstance(event, EpochEvent) or now - last_update >= UPDATE_SECONDS:
                last_update = now
                yield (progress_status(event, start), curves_figure(history, started_at, gpu_started), skip, skip,
                       skip, skip, skip)
    finally:
        events.close()  # Stop, a closed tab or an error: the engine's finally frees the run's memory


# -- the app's handlers: limits and the queue ------------------------------------------------------------------
#: What a run that never started leaves in each output but the status.
_NO_CHANGE = 6


async def queued_training(spec_dict: Spec | dict | None, recipe_kind: str, dataset: str, epochs: float | None,
                          batch_size: float | None, lr: float | None, optimizer: str, precision: str, device: str,
                          input_size: float | None, train_subset: float | None,
                          request: gr.Request = None) -> AsyncIterator[tuple[Any, ...]]:
    """The Start button (and the ``/train`` endpoint): limits, a place in the queue, then :func:`start_training`.

    Every check happens here, whoever calls: bad settings and a client over its places are refused at once
    (gr.Error); a waiting run shows its place; the teacher can stop it or clear it from the queue. The run
    writes into a folder of its own, deleted unless the run finished.
    """
    settings = (spec_dict, recipe_kind, dataset, epochs, batch_size, lr, optimizer, precision, device, input_size,
                train_subset)
    state = limits.server()
    try:
        spec, _ = config_from_widgets(*settings)
        ticket = state.train_queue.join(limits.client_of(request), kind="train", network=network_label(spec))
    except SpecError as exc:
        raise gr.Error(str(exc)) from None
    except LimitExceeded as exc:
        raise limits.refusal(exc) from None
    skip = gr.skip()
    folder: Path | None = None
    updates = None
    finished = False
    try:
        async for waiting in _wait_for_turn(ticket):
            yield (waiting, *([skip] * _NO_CHANGE))
        if ticket.removed:
            yield (REMOVED_MESSAGE, *([skip] * _NO_CHANGE))
            return
        folder = state.disk.new_folder("checkpoints")
        note = ""
        with _checkpoint_room(spec, folder) as room:
            if not room:
                note = " The checkpoint will not be saved: the server's space for downloads is full."
            updates = gpu_task(start_training, duration=gpu_seconds)(*settings, checkpoint_dir=str(folder),
                                                                     save_checkpoint=room)
            while True:
                update = await anyio.to_thread.run_sync(_next_or_none, updates)
                if update is None:
                    break
                done = isinstance(update[2], str) and bool(update[2])  # only the final update has results
                if note and isinstance(update[0], str):
                    update = (update[0] + note, *update[1:])
                yield update
                finished = finished or done
                if ticket.stop_requested:
                    yield (TEACHER_STOP_MESSAGE, *([skip] * _NO_CHANGE))
                    break
    finally:
        if updates is not None:
            await _close(updates)  # frees the run's memory before the next run may start
        state.train_queue.leave(ticket)
        if folder is not None and finished:  # the Runs tab lists it
            runs.FINISHED.add_folder(getattr(request, "session_hash", None), folder)
        if folder is not None and not finished:
            state.disk.remove(folder)  # a cancelled, failed or stopped run leaves no checkpoint


async def queued_check(spec_dict: Spec | dict | None, recipe_kind: str, dataset: str, epochs: float | None,
                       batch_size: float | None, lr: float | None, optimizer: str, precision: str, device: str,
                       input_size: float | None, train_subset: float | None,
                       request: gr.Request = None) -> AsyncIterator[str]:
    """The Check button: times real steps on the device, so it takes a place in the same queue as the runs."""
    settings = (spec_dict, recipe_kind, dataset, epochs, batch_size, lr, optimizer, precision, device, input_size,
                train_subset)
    state = limits.server()
    try:
        spec, _ = config_from_widgets(*settings)
        ticket = state.train_queue.join(limits.client_of(request), kind="check", network=network_label(spec))
    except SpecError as exc:
        raise gr.Error(str(exc)) from None
    except LimitExceeded as exc:
        raise limits.refusal(exc) from None
    try:
        async for waiting in _wait_for_turn(ticket):
            yield waiting
        if ticket.removed:
            yield REMOVED_MESSAGE
            return
        yield await anyio.to_thread.run_sync(lambda: check_run(*settings))
    finally:
        state.train_queue.leave(ticket)


REMOVED_MESSAGE = "Removed from the queue by the teacher: nothing was trained. Press Start to queue again."
TEACHER_STOP_MESSAGE = ("Stopped by the teacher: the run was ended and its memory released; no checkpoint was "
                        "kept.")


def network_label(spec: Spec) -> str:
    """What a run trains, in a few words (the Teacher tab's queue)."""
    preset = matching_preset(spec)
    return f"{spec.family_label} ({preset or 'edited'}, {spec.planned_params():,} parameters)"


async def _wait_for_turn(ticket: Ticket) -> AsyncIterator[str]:
    """Await the device without holding a thread; yield the place in the queue whenever it changes."""
    queue = limits.server().train_queue
    shown = None
    while not ticket.removed and not queue.try_start(ticket):
        ahead = queue.ahead(ticket)
        text = (f"Waiting for the device: {ahead} run{'s' if ahead != 1 else ''} ahead of yours "
                f"(one runs at a time on this server). Stop leaves the queue.")
        if text != shown:
            shown = text
            yield text
        await asyncio.sleep(QUEUE_POLL_SECONDS)


class _checkpoint_room:  # noqa: N801 - used as a context manager
    """Reserve the disk for a run's checkpoint; ``as`` gives whether there is room (a full disk still trains)."""

    def __init__(self, spec: Spec, folder: Path) -> None:
        self.spec, self.folder, self._reservation = spec, folder, None

    def __enter__(self) -> bool:
        from ..export import estimate_export_bytes

        try:
            needed = int(estimate_export_bytes(self.spec, "checkpoint") * 1.1) + 100_000
            self._reservation = limits.server().disk.reserve(needed, self.folder)
            self._reservation.__enter__()
            return True
        except DiskFull:
            self._reservation = None
            return False

    def __exit__(self, *exc_info: Any) -> None:
        if self._reservation is not None:
            self._reservation.__exit__(*exc_info)


def _next_or_none(iterator: Iterator[Any]) -> Any:
    return next(iterator, None)


async def _close(iterator: Iterator[Any]) -> None:
    """Close a generator that may still be finishing a step in a worker thread (a cancel does not wait)."""
    deadline = time.monotonic() + 600
    while True:
        try:
            iterator.close()  # type: ignore[attr-defined]
            return
        except ValueError as exc:  # "generator already executing"
            if "already executing" not in str(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


def stopped_status() -> str:
    return "Stopped: the run was cancelled and its memory released. The curves show where it got to."


def curves_figure(history: list[dict[str, Any]], started_at: float, gpu: bool) -> Any:
    """The live curves, with the GPU (or CPU) trace underneath when the monitor is available."""
    trace = _gpu_trace(time.time() - started_at + 2) if gpu else None
    return training_curves_figure(history, gpu=trace, run_started_at=started_at if trace else None)


def start_status(event: StartEvent) -> str:
    shape = "x".join(str(size) for size in event.input_shape)
    notes = "".join(f"<br>• {html.escape(note)}" for note in event.notes)
    return (f"Training **{event.family}** ({event.total_params:,} parameters) on **{event.dataset}**: "
            f"{event.num_train:,} training / {event.num_test:,} test images at {shape}, {event.total_steps} steps "
            f"on {event.device} ({event.precision}{', channels_last' if event.channels_last else ''}); estimated "
            f"training memory {event.estimated_memory_bytes / _GIB:.2f} GiB.{notes}")


def progress_status(event: StepEvent | EpochEvent, start: StartEvent | None) -> str:
    """A progress bar and one status line."""
    total = start.total_steps if start else max(event.step, 1)
    fraction = min(event.step / max(total, 1), 1.0)
    if isinstance(event, StepEvent):
        text = (f"Epoch {event.epoch}/{event.epochs} · step {event.step}/{event.total_steps} · loss {event.loss:.3f}"
                f" · train acc {event.train_acc:.3f} · {event.examples_per_s:,.0f} examples/s")
    else:
        test = "n/a" if event.test_acc is None else f"{event.test_acc:.3f}"
        text = (f"Epoch {event.epoch}/{event.epochs} done · loss {event.train_loss:.3f} · train acc "
                f"{event.train_acc:.3f} · **test acc {test}** · {event.examples_per_s:,.0f} examples/s")
    return (f"<progress value='{fraction:.3f}' max='1' style='width:100%'></progress><br>{text} · elapsed "
            f"{_clock(event.elapsed_s)} · about {_clock(event.eta_s)} left")


def done_status(event: DoneEvent) -> str:
    stopped = " (stopped early: " + "; ".join(event.notes) + ")" if event.stopped_early and event.notes else (
        " (stopped at max_steps)" if event.stopped_early else "")
    return (f"<progress value='1' max='1' style='width:100%'></progress><br>Done{stopped}: **test accuracy "
            f"{event.test_acc:.3f}** after {event.steps} steps in {_clock(event.elapsed_s)}.")


def results_markdown(event: DoneEvent) -> str:
    """The final numbers, peak memory next to the estimate, and where the checkpoint is."""
    memory = ("not measured" if event.peak_memory_bytes is None
              else f"{event.peak_memory_bytes / _GIB:.2f} GiB ({event.peak_memory_kind})")
    lines = [
        "| | |", "|---|---|",
        f"| Test accuracy | **{event.test_acc:.4f}** (loss {event.test_loss:.3f}) |",
        f"| Training accuracy (last epoch, running mean) | {event.train_acc:.4f} (loss {event.train_loss:.3f}) |",
        f"| Steps / epochs | {event.steps} / {event.epochs_completed} |",
        f"| Throughput | {event.examples_per_s:,.0f} training examples/s ({event.train_seconds:.1f} s training) |",
        f"| Peak memory | {memory}; the analysis estimated {event.estimated_memory_bytes / _GIB:.2f} GiB (fp32) |",
        f"| Checkpoint | {html.escape(Path(event.checkpoint_path).name) if event.checkpoint_path else 'not saved'} |",
    ]
    lines += [f"\n{html.escape(note)}" for note in event.notes]
    return "\n".join(lines)


def _clock(seconds: float) -> str:
    if seconds != seconds:
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def _start_gpu_sampler() -> bool:
    """Start the process-wide GPU/CPU sampler if the GPU monitor is installed; False when it is not."""
    try:
        from ..gpu import get_sampler
    except ImportError:
        return False
    try:
        get_sampler()
    except Exception:  # noqa: BLE001 - a broken monitor must not stop a training run
        return False
    return True


def _gpu_trace(seconds: float) -> dict[str, Any] | None:
    try:
        from ..charts.gpu import gpu_trace_series
        from ..gpu import get_sampler
    except ImportError:
        return None
    try:
        history = get_sampler().history(seconds)
        return gpu_trace_series(history) if history else None
    except Exception:  # noqa: BLE001
        return None


def _save_run_record(spec: Spec, config: TrainConfig, start: StartEvent | None, history: list[dict[str, Any]],
                     done: DoneEvent, folder: str) -> None:
    """The run's record (metadata and curves, :mod:`explorer.runs`) as ``run.json`` beside its checkpoint."""
    try:
        runs.save_run(runs.RunRecord.from_events(spec, config, start, history, done, preset=matching_preset(spec)),
                      folder)
    except (OSError, ValueError):  # a full disk must not fail a finished run
        pass


def _prune_checkpoints(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints the app wrote."""
    try:
        files = sorted(folder.glob("*.pt"), key=lambda path: path.stat().st_mtime, reverse=True)
        for old in files[keep:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
