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
import re
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
from ..share import encode_spec
from ..specs import Spec, SpecError, parse_spec
from ..specs.fields import check_float, check_int, plural
from ..training.config import DATASET_NAMES, TrainConfig, normalize_dataset_name
from ..training.data import DATASETS, dataset_info, is_on_disk
from ..training.engine import adapt_spec, train
from ..training.estimate import estimate_run
from ..training.events import DoneEvent, EpochEvent, ErrorEvent, EvalEvent, StartEvent, StepEvent
from .i18n import tr, wants_chinese
from .zerogpu import gpu_task
from ..training.recipes import (D2L_BATCH_SIZES, D2L_RECIPES, SHORT_GRAD_CLIP, SHORT_LR, SHORT_WARMUP_STEPS,
                                _D2L_SECTIONS, Recipe, matching_preset, published_recipe_info,
                                recipe_from_choices, short_recipe_info)
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
learning rate 1e-3 (1e-4 for a network whose first linear layer is very wide, like VGG-16's) for 2 epochs, which
learns within a few hundred steps; the settings below follow the network, the dataset and the device. The
*published recipe* is d2l's (plain SGD, batch 128, Xavier init, 10 epochs, images resized to 224, or 96 for
GoogLeNet): it reproduces the book but sits near chance for the first hundreds of steps. `shapes` is a built-in
dataset (10 classes of drawn figures) that needs no download."""
INTRO_ZH = ("**在小数据集上训练探索页中的网络。** 默认的*短时训练配方*是 Adam，学习率 1e-3（对第一个全连接层非常宽的网络，"
            "如 VGG-16，用 1e-4），训练 2 个迭代周期，几百步之内就能学到东西；下面的设置会随网络、数据集和设备变化。"
            "*已发表的配方*是 d2l 的（普通 SGD，批量大小 128，`xavier_uniform_` 初始化，10 个迭代周期，图像缩放到 224，"
            "GoogLeNet 为 96）：它能复现书中的结果，但前几百步的精度接近随机猜测。`shapes` 是内置数据集"
            "（10 类手绘图形），无需下载。")


class TrainPanel(NamedTuple):
    """What other tabs use: the finished run's checkpoint (Inspect) and the Start event (Runs)."""

    checkpoint: gr.File
    start_event: Any


def build_train_panel(current_spec: gr.State) -> TrainPanel:
    """Build the Train tab's contents inside the caller's ``gr.Blocks``.

    The recipe widgets start at the short recipe for the network the page opens with (what ``python -m explorer
    train`` runs for it) and follow the recipe when the network, the dataset or the device changes.

    Args:
        current_spec: Explore's ``gr.State`` holding the current valid spec (a Spec object, already validated) or
            None. ``parse_spec`` returns a Spec as it is, and still accepts a dict (the API, old tests).
    """
    gr.Markdown(tr(INTRO, zh=INTRO_ZH))
    initial_dataset = default_dataset()
    short = initial_recipe(current_spec.value, initial_dataset)
    initial_size = short.config.input_size or 0
    network = gr.Markdown(describe_network(current_spec.value, "short", initial_dataset, "auto", initial_size),
                          elem_id="train-network")  # a Chinese browser gets its own on load (localize below)
    # No minimum/maximum on the numbers: Gradio would refuse a 0 with its own error, which names no setting;
    # config_from_widgets checks the same bounds and names the setting.
    with gr.Row():
        dataset = gr.Dropdown(choices=[(tr(label, zh=label_zh), name) for (label, name), (label_zh, _) in
                                       zip(dataset_choices(), dataset_choices(zh=True))],
                              value=initial_dataset, label=tr("Dataset"), scale=2)
        epochs = gr.Number(value=short.config.epochs, label=tr("Epochs"), precision=0)
        batch_size = gr.Number(value=short.config.batch_size, label=tr("Batch size"), precision=0)
        lr = gr.Number(value=short.config.lr, label=tr("Learning rate"))
        optimizer = gr.Dropdown(choices=["adam", "momentum", "sgd"], value=short.config.optimizer, label=tr("Optimizer"))
    with gr.Row():
        precision = gr.Dropdown(choices=["auto", "fp32", "bf16"], value=short.config.precision, label=tr("Precision"),
                                info=tr("auto: bf16 autocast where the hardware has it"))
        device = gr.Dropdown(choices=["auto", "cpu", "cuda"], value="auto", label=tr("Device"))
        input_size = gr.Number(value=initial_size, label=tr("Input size (0 = recipe's)"), precision=0)
        train_subset = gr.Number(value=0, label=tr("Training examples (0 = all)"), precision=0)
    recipe_kind = gr.State("short")
    recipe_note = gr.Markdown(short.summary, elem_id="train-recipe")
    with gr.Row():
        short_button = gr.Button(tr("Short-run recipe"), size="sm")
        published_button = gr.Button(tr("Use published recipe"), size="sm")
        check_button = gr.Button(tr("Check memory and time"), size="sm")
        start_button = gr.Button(tr("Start"), variant="primary")
        stop_button = gr.Button(tr("Stop"), variant="stop")
    status = gr.Markdown(tr(READY_MESSAGE, zh=READY_MESSAGE_ZH), elem_id="train-status")
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
    choices = [current_spec, recipe_kind, dataset, device, input_size]
    follow_outputs = [epochs, batch_size, lr, optimizer, precision, input_size, recipe_note, network]
    fast: dict[str, Any] = dict(concurrency_limit=None, api_visibility="private", show_progress="hidden")
    # Text computed on the server follows the browser's language: a Chinese page rewrites it once on load.
    gr.on(triggers=None, fn=localize, inputs=choices, outputs=[network, recipe_note], **fast)
    # The recipe follows the network, the dataset and the device (the short recipe's rate and input size depend
    # on all three); the description follows whatever decides the network Start trains.
    current_spec.change(follow_network, choices, follow_outputs, **fast)
    dataset.change(follow_data, choices, follow_outputs, **fast)
    device.change(follow_data, choices, follow_outputs, **fast)
    input_size.change(describe_network, choices, network, **fast)
    short_button.click(apply_short_recipe, [current_spec, dataset, device], recipe_outputs, **fast).then(
        describe_network, choices, network, **fast)
    published_button.click(apply_published_recipe, [current_spec, device], recipe_outputs, **fast).then(
        describe_network, choices, network, **fast)
    # Both use the device: they wait in the app's queue (no Gradio limit, so a refusal comes at once).
    check_event = check_button.click(queued_check, settings, status, concurrency_limit=None,
                                     concurrency_id="train-gate", api_name="check_run", api_visibility="private",
                                     show_progress="minimal")
    start_event = start_button.click(
        queued_training, settings, [status, curves, results, per_class, confusion, samples, checkpoint],
        concurrency_limit=None, concurrency_id="train-gate", api_name="train", api_visibility="undocumented",
        show_progress="minimal")
    stop_button.click(stopped_status, status, status, cancels=[start_event, check_event], **fast)
    return TrainPanel(checkpoint, start_event)


def chinese(request: gr.Request | None) -> bool:
    """Whether the browser that sent ``request`` asks for Chinese (server-computed text follows it)."""
    try:
        return wants_chinese(request.headers.get("accept-language")) if request is not None else False
    except AttributeError:
        return False


def localize(spec_dict: Spec | dict | None, recipe_kind: str, dataset: str, device: str, input_size: Any,
             request: gr.Request = None) -> tuple[Any, Any]:
    """On load: the network line and the recipe note in Chinese for a Chinese browser (nothing changes else)."""
    if not chinese(request):
        return gr.skip(), gr.skip()
    network = describe_network(spec_dict, recipe_kind, dataset, device, input_size, zh=True)
    try:
        spec = parse_spec(spec_dict) if spec_dict else None
        recipe = _recipe_for(spec, recipe_kind, dataset, device) if spec is not None else \
            short_recipe_info(None, dataset=dataset, device=device)
    except SpecError:
        return network, gr.skip()
    return network, _recipe_note(spec, recipe, zh=True) if spec is not None else recipe_summary_zh(recipe)


# -- pure helpers (testable without a server) ------------------------------------------------------------------


def dataset_choices(*, zh: bool = False) -> list[tuple[str, str]]:
    """(label, name) pairs; torchvision datasets say whether they are on disk or will be downloaded."""
    choices = []
    for name in DATASET_NAMES:
        info = DATASETS[name]
        if info.torchvision_class is None and zh:
            label = f"{info.label.replace(' (colour)', '（彩色）')}：内置，{info.channels}x{info.size}x{info.size}，无需下载"
        elif info.torchvision_class is None:
            label = f"{info.label}: built in, {info.channels}x{info.size}x{info.size}, no download"
        elif zh:
            label = f"{info.label}（{'已在磁盘上' if is_on_disk(name) else '首次使用时下载'}）"
        else:
            label = f"{info.label} ({'on disk' if is_on_disk(name) else 'downloads when first used'})"
        choices.append((label, name))
    return choices


def default_dataset() -> str:
    """Fashion-MNIST when it is on disk; otherwise the built-in ``shapes`` (works without internet)."""
    return "fashion-mnist" if is_on_disk("fashion-mnist") else "shapes"


def initial_recipe(spec: Spec | dict | None, dataset: str, device: str = "auto") -> Recipe:
    """The short recipe the widgets start at: the one for the network the page opens with (None: the bare
    short recipe), so that Start with untouched widgets runs what ``config_from_choices(spec)`` gives."""
    try:
        return short_recipe_info(parse_spec(spec) if spec else None, dataset=dataset, device=device)
    except SpecError:
        return short_recipe_info(None, dataset=dataset, device=device)


def describe_network(spec_dict: Spec | dict | None, recipe_kind: str = "short", dataset: str | None = None,
                     device: str = "auto", input_size: Any = 0, request: gr.Request = None, *,
                     zh: bool | None = None) -> str:
    """Which network Start will train: the spec, and, where the run changes it (the recipe's or the widget's input
    size, the dataset's classes), the network actually trained, its parameters and a link that opens it.
    ``zh`` (or a Chinese browser's ``request``): in Chinese."""
    zh = chinese(request) if zh is None else zh
    if zh:
        return _describe_network_zh(spec_dict, recipe_kind, dataset, device, input_size)
    if not spec_dict:
        return "**Network:** none: the spec in the Explore tab is invalid; fix it to train."
    try:
        spec = parse_spec(spec_dict)
    except SpecError as exc:
        return f"**Network:** invalid ({html.escape(str(exc))})"
    preset = matching_preset(spec)
    named = f" (preset `{preset}`)" if preset else " (edited)"
    head = (f"**Network:** {spec.family_label}{named}, input {spec.in_channels}x{spec.input_size}x{spec.input_size}, "
            f"{spec.planned_params():,} parameters.")
    try:
        trained, info, reason = _trained_network(spec, recipe_kind, dataset, device, input_size)
    except SpecError as exc:
        return f"{head}<br>**Start will refuse:** {html.escape(setting_message(exc), quote=False)}"
    trained_size = trained.input_size
    why = {"set": f"{trained_size}x{trained_size} is the input size you set.",
           "published": f"{trained_size}x{trained_size} is the published recipe's size.",
           "short": f"{trained_size}x{trained_size} is the short-run recipe's size on this machine (no GPU): the "
                    f"smallest this network accepts. Set the input size to override it.", "": ""}[reason]
    channels = ("" if info.channels == spec.in_channels else
                f" Images from {info.label} ({plural(info.channels, 'channel')}) are converted to the network's "
                f"{plural(spec.in_channels, 'channel')}.")
    if trained == spec:
        return f"{head}<br>**Start trains this network as it is**, on {info.label}.{channels}"
    changes = []
    if trained_size != spec.input_size:
        changes.append(f"input {trained.in_channels}x{trained_size}x{trained_size}")
    if trained.num_classes != spec.num_classes:
        changes.append(f"{plural(trained.num_classes, 'output')}, one per class of {info.label} (the spec has "
                       f"{spec.num_classes:,})")
    link = f"?spec={encode_spec(trained)}"
    size_note = f" {why}" if trained_size != spec.input_size and why else ""
    return (f"{head}<br>**Start trains** {', '.join(changes)}: **{trained.planned_params():,} parameters** "
            f"([open the trained network in Explore]({link})).{size_note}{channels}")


def _trained_network(spec: Spec, recipe_kind: str, dataset: str | None, device: str,
                     input_size: Any) -> tuple[Spec, Any, str]:
    """What Start trains for these settings, for :func:`describe_network` in either language: the adapted spec,
    the dataset's info, and why its input size is what it is ("set": the widget, "published" or "short": the
    recipe's, "": the spec's own).

    Raises:
        SpecError: a setting Start would refuse.
    """
    dataset = dataset or default_dataset()
    recipe = _recipe_for(spec, recipe_kind, dataset, device)
    size = _input_size(input_size)
    trained, _ = adapt_spec(spec, TrainConfig(dataset=dataset, input_size=size or recipe.config.input_size))
    if size and size != recipe.config.input_size:
        reason = "set"
    elif recipe.config.input_size:
        reason = "published" if recipe.kind == "published" else "short"
    else:
        reason = ""
    return trained, dataset_info(dataset), reason


def _describe_network_zh(spec_dict: Spec | dict | None, recipe_kind: str, dataset: str | None, device: str,
                         input_size: Any) -> str:
    """:func:`describe_network` in Chinese (the same numbers and link)."""
    if not spec_dict:
        return "**网络：** 无：探索页中的规格无效；修正后才能训练。"
    try:
        spec = parse_spec(spec_dict)
    except SpecError as exc:
        return f"**网络：** 无效（{html.escape(spec_error_zh(exc))}）"
    preset = matching_preset(spec)
    named = f"（预设 `{preset}`）" if preset else "（已修改）"
    head = (f"**网络：** {spec.family_label}{named}，输入 {spec.in_channels}x{spec.input_size}x{spec.input_size}，"
            f"{spec.planned_params():,} 个参数。")
    try:
        trained, info, reason = _trained_network(spec, recipe_kind, dataset, device, input_size)
    except SpecError as exc:
        return f"{head}<br>**“开始”会被拒绝：** {html.escape(setting_message(exc, zh=True), quote=False)}"
    trained_size = trained.input_size
    why = {"set": f"{trained_size}x{trained_size} 是你设置的输入尺寸。",
           "published": f"{trained_size}x{trained_size} 是已发表配方的尺寸。",
           "short": f"{trained_size}x{trained_size} 是短时训练配方在本机（没有 GPU）上的尺寸：这个网络能接受的最小尺寸。"
                    f"设置输入尺寸可以覆盖它。", "": ""}[reason]
    channels = ("" if info.channels == spec.in_channels else
                f"来自 {info.label} 的图像（{info.channels} 个通道）会转换为网络的 {spec.in_channels} 个通道。")
    if trained == spec:
        return f"{head}<br>**“开始”会按原样训练这个网络**，数据集为 {info.label}。{channels}"
    changes = []
    if trained_size != spec.input_size:
        changes.append(f"输入 {trained.in_channels}x{trained_size}x{trained_size}")
    if trained.num_classes != spec.num_classes:
        changes.append(f"{trained.num_classes:,} 个输出，对应 {info.label} 的每个类别（规格中为 {spec.num_classes:,} 个）")
    link = f"?spec={encode_spec(trained)}"
    size_note = why if trained_size != spec.input_size and why else ""
    return (f"{head}<br>**“开始”训练的是** {'，'.join(changes)}：**{trained.planned_params():,} 个参数**"
            f"（[在探索页打开实际训练的网络]({link})）。{size_note}{channels}")


def follow_network(spec_dict: Spec | dict | None, recipe_kind: str, dataset: str, device: str,
                   input_size: Any, request: gr.Request = None) -> tuple[Any, ...]:
    """A new network in Explore: its recipe's settings (the short one, or the published one keeping the dataset)
    and its description. Outputs: epochs, batch size, lr, optimizer, precision, input size, recipe note, network."""
    return _follow(spec_dict, recipe_kind, dataset, device, input_size, network_changed=True, zh=chinese(request))


def follow_data(spec_dict: Spec | dict | None, recipe_kind: str, dataset: str, device: str,
                input_size: Any, request: gr.Request = None) -> tuple[Any, ...]:
    """A new dataset or device: the short recipe is re-applied (its rate and input size depend on them); the
    published recipe's settings stay as they are. Outputs as :func:`follow_network`."""
    return _follow(spec_dict, recipe_kind, dataset, device, input_size, network_changed=False, zh=chinese(request))


def _follow(spec_dict: Spec | dict | None, recipe_kind: str, dataset: str, device: str, input_size: Any, *,
            network_changed: bool, zh: bool = False) -> tuple[Any, ...]:
    skip = gr.skip()
    if not spec_dict:
        return (*([skip] * 7), describe_network(spec_dict, recipe_kind, dataset, device, input_size, zh=zh))
    if recipe_kind == "published" and not network_changed:
        return (*([skip] * 7), describe_network(spec_dict, recipe_kind, dataset, device, input_size, zh=zh))
    try:
        spec = parse_spec(spec_dict)
        recipe = _recipe_for(spec, recipe_kind, dataset, device)
    except SpecError:  # describe_network says why
        return (*([skip] * 7), describe_network(spec_dict, recipe_kind, dataset, device, input_size, zh=zh))
    config = recipe.config
    size = config.input_size or 0
    return (config.epochs, config.batch_size, config.lr, config.optimizer, config.precision, size,
            _recipe_note(spec, recipe, zh=zh), describe_network(spec, recipe_kind, dataset, device, size, zh=zh))


def _recipe_for(spec: Spec, recipe_kind: str, dataset: str, device: str) -> Recipe:
    """The recipe the widgets follow; the published one keeps the chosen dataset (as Start does)."""
    kind = "published" if recipe_kind == "published" else "short"
    return recipe_from_choices(spec, recipe=kind, dataset=dataset, device=device)


def _recipe_note(spec: Spec, recipe: Recipe, *, zh: bool = False) -> str:
    """The recipe's one-line summary, with its source for the published one (and the dataset actually used)."""
    if zh:
        return _recipe_note_zh(spec, recipe)
    if recipe.kind != "published":
        return recipe.summary
    note = f"{recipe.summary}\n\nSource: {recipe.source}."
    published_dataset = published_recipe_info(spec).config.dataset
    if recipe.config.dataset != published_dataset:
        note += (f" Start trains on {dataset_info(recipe.config.dataset).label}, the dataset chosen above, "
                 f"instead of {dataset_info(published_dataset).label}.")
    return note


def _recipe_note_zh(spec: Spec, recipe: Recipe) -> str:
    if recipe.kind != "published":
        return recipe_summary_zh(recipe)
    note = f"{recipe_summary_zh(recipe)}\n\n来源：{published_source_zh(spec)}。"
    published_dataset = published_recipe_info(spec).config.dataset
    if recipe.config.dataset != published_dataset:
        note += (f"“开始”会在上面选择的数据集 {dataset_info(recipe.config.dataset).label} 上训练，而不是 "
                 f"{dataset_info(published_dataset).label}。")
    return note


def recipe_summary_zh(recipe: Recipe) -> str:
    """:attr:`Recipe.summary` in Chinese, from the recipe's config (the same numbers)."""
    config = recipe.config
    size = config.input_size
    if recipe.kind == "published":
        return (f"已发表的配方：普通 SGD，学习率 {config.lr:g}，批量大小 {config.batch_size}，{config.epochs} 个迭代周期，"
                f"`xavier_uniform_` 初始化，{config.dataset} 缩放到 {size}。起步很慢：前几百步的损失预计停留在随机猜测的水平。")
    wide = re.search(r"takes ([\d,]+) inputs", recipe.summary)
    wide_note = (f"（不是 1e-3：它最宽的全连接层有 {wide.group(1)} 个输入，1e-3 在那里会发散）"
                 if config.lr != SHORT_LR and wide else "")
    # The initialisers by their PyTorch names (Xavier and He are people's names, without a Chinese form).
    init = "`xavier_uniform_` " if config.init == "xavier" else "He（`kaiming_normal_`）"
    size_note = f"，输入缩放到 {size}" if size else ""
    return (f"短时训练配方：Adam，学习率 {config.lr:g}{wide_note}，{SHORT_WARMUP_STEPS} 步预热，梯度裁剪到范数 "
            f"{SHORT_GRAD_CLIP:g}，批量大小 {config.batch_size}，{config.epochs} 个迭代周期，{init}初始化{size_note}，"
            f"硬件支持时使用 bf16 自动混合精度。这不是已发表的配方（普通 SGD、`xavier_uniform_` 初始化），那个配方需要约 10 个迭代周期"
            f"才能摆脱随机猜测的水平。")


def published_source_zh(spec: Spec) -> str:
    """Where the published recipe comes from, in Chinese (:func:`published_recipe_info`'s ``source``)."""
    preset_name = matching_preset(spec)
    lr, resize, book_acc = D2L_RECIPES[spec.family]
    batch_size = D2L_BATCH_SIZES.get(spec.family, 128)
    section = _D2L_SECTIONS[spec.family]
    input_size = spec.input_size if spec.in_channels == 3 and spec.input_size <= 32 else resize
    printed = f"书中在 Fashion-MNIST 上给出的测试精度为 {book_acc:.3f}" if book_acc is not None else "这里没有记录书中给出的精度"
    if preset_name is not None and preset_name.startswith("d2l_"):
        return (f"d2l.ai 第 {section} 节（train_ch6）：SGD，学习率 {lr:g}，批量大小 {batch_size}，`xavier_uniform_` 初始化，"
                f"10 个迭代周期，缩放到 {resize}；{printed}")
    named = f"预设 {preset_name}" if preset_name else "这个网络"
    return (f"d2l.ai 第 {section} 节为 {spec.family} 在 Fashion-MNIST 上使用的配方，应用于{named}（SGD，学习率 {lr:g}，"
            f"批量大小 {batch_size}，`xavier_uniform_` 初始化，10 个迭代周期，缩放到 {input_size}）；原论文在 ImageNet 上训练了长得多的时间")


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

    ``checkpoint_dir`` defaults to :data:`CHECKPOINT_DIR`. Every number is checked against the page's bounds
    (:data:`WIDGET_BOUNDS`); an empty field is refused, never replaced by a default.

    Raises:
        SpecError: no valid spec, or a value missing or out of range; its ``field`` is the config field, and
            :func:`setting_message` words it with the setting's name on the page.
    """
    if not spec_dict:
        raise SpecError("spec", "there is no valid network to train: fix the spec in the Explore tab first")
    spec = parse_spec(spec_dict)
    changes: dict[str, Any] = dict(dataset=dataset, epochs=_whole(epochs, "epochs"),
                                   batch_size=_whole(batch_size, "batch_size"), optimizer=optimizer,
                                   lr=check_float(lr, "lr", minimum=0.0, maximum=WIDGET_BOUNDS["lr"][1],
                                                  include_minimum=False),
                                   precision=precision, device=device,
                                   checkpoint_dir=str(checkpoint_dir or CHECKPOINT_DIR), log_every=10,
                                   log_seconds=UPDATE_SECONDS, max_seconds=max_train_seconds(),
                                   save_checkpoint=save_checkpoint)
    size = _input_size(input_size)
    if size:
        changes["input_size"] = size
    subset = _whole(train_subset, "train_subset", hint="or 0 for all of them")
    if subset:
        changes["train_subset"] = subset
    base = _recipe_for(spec, recipe_kind, normalize_dataset_name(dataset), device).config
    return spec, base.replace(**changes)


#: The bounds of the page's number settings (the server enforces them: the widgets themselves have none).
WIDGET_BOUNDS: dict[str, tuple[float, float]] = {"epochs": (1, 100), "batch_size": (1, 4096), "lr": (0.0, 10.0),
                                                 "input_size": (8, 1024), "train_subset": (0, 1_000_000)}
#: The settings as the page names them, for messages.
SETTING_LABELS = {"spec": "Network", "dataset": "Dataset", "epochs": "Epochs", "batch_size": "Batch size",
                  "lr": "Learning rate", "optimizer": "Optimizer", "precision": "Precision", "device": "Device",
                  "input_size": "Input size", "train_subset": "Training examples"}


#: The settings as the Chinese page names them.
SETTING_LABELS_ZH = {"spec": "网络", "dataset": "数据集", "epochs": "训练轮数", "batch_size": "批量大小", "lr": "学习率",
                     "optimizer": "优化器", "precision": "数值精度", "device": "设备", "input_size": "输入尺寸",
                     "train_subset": "训练样本数"}


def setting_message(exc: SpecError, *, zh: bool = False) -> str:
    """A refused setting as the page names it: ``Batch size: must be a whole number between 1 and 4,096, got 0``
    (``zh``: ``批量大小（`batch_size`）：必须是 1 到 4,096 之间的整数，收到的是 0``)."""
    if zh:
        label = SETTING_LABELS_ZH.get(exc.field)
        problem = problem_zh(exc.message)
        return f"{label}（`{exc.field}`）：{problem}" if label else spec_error_zh(exc)
    label = SETTING_LABELS.get(exc.field)
    return f"{label}: {exc.message}" if label else str(exc)


def spec_error_zh(exc: SpecError) -> str:
    """A SpecError in Chinese where its wording is known (the field name stays)."""
    return f"`{exc.field}`：{problem_zh(exc.message)}" if getattr(exc, "field", None) else problem_zh(str(exc))


#: The wording of explorer.specs.fields' range checks, in Chinese (applied in order).
_PROBLEMS_ZH: tuple[tuple[str, str], ...] = (
    (r"^must be a whole number between (-?[\d.,e+-]*\d) and (-?[\d.,e+-]*\d)", r"必须是 \1 到 \2 之间的整数"),
    (r"^must be a whole number of at least (-?[\d.,e+-]*\d)", r"必须是不小于 \1 的整数"),
    (r"^must be a number between (-?[\d.,e+-]*\d) and (-?[\d.,e+-]*\d)", r"必须是 \1 到 \2 之间的数"),
    (r"^must be a number that is more than (-?[\d.,e+-]*\d) and at most (-?[\d.,e+-]*\d)", r"必须是大于 \1 且不超过 \2 的数"),
    (r"^must be a number that is at least (-?[\d.,e+-]*\d) and at most (-?[\d.,e+-]*\d)", r"必须是不小于 \1 且不超过 \2 的数"),
    (r" \(or 0 for all of them\)", "（填 0 表示全部）"),
    (r" \(or 0 for the recipe's size\)", "（填 0 表示使用配方的尺寸）"),
    (r", got nothing", "，但没有填写"),
    (r", got NaN \(not a number\)", "，收到的不是数（NaN）"),
    (r", got (minus )?infinity", "，收到的是无穷大"),
    (r", got ([^;]+)", r"，收到的是 \1"),
    (r"; write it without the decimal point \((-?[\d.,e+-]*\d), not (-?[\d.,e+-]*\d)\)", r"；请去掉小数点（写 \1，不要写 \2）"),
    (r"; write the number without quotes", "；请去掉引号"),
    (r"; write a number, not True or False", "；请填数字，不要填 True 或 False"),
    (r"^there is no valid network to train: fix the spec in the Explore tab first",
     "没有可训练的有效网络：请先在探索页修正规格"),
)


def problem_zh(message: str) -> str:
    """A range check's message (``must be a whole number between 1 and 4,096, got 0``) in Chinese; wording it
    does not know stays in English."""
    text = message
    for pattern, replacement in _PROBLEMS_ZH:
        text = re.sub(pattern, replacement, text)
    return text


def _whole(value: Any, field: str, *, hint: str = "") -> int:
    """A whole number within the page's bounds (a float that is whole, as JSON clients send, counts)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    minimum, maximum = WIDGET_BOUNDS[field]
    return check_int(value, field, minimum=int(minimum), maximum=int(maximum), hint=hint)


def _input_size(value: Any) -> int | None:
    """The Input size setting: 0 keeps the recipe's size (None); anything else must be a size the page allows."""
    if value == 0 and not isinstance(value, bool):
        return None
    return _whole(value, "input_size", hint="or 0 for the recipe's size")


def apply_short_recipe(spec_dict: Spec | dict | None, dataset: str, device: str,
                       request: gr.Request = None) -> tuple[Any, ...]:
    """Widget values of the short-run recipe."""
    zh = chinese(request)
    try:
        recipe = short_recipe_info(parse_spec(spec_dict) if spec_dict else None, dataset=dataset, device=device)
    except SpecError as exc:
        raise gr.Error(spec_error_zh(exc) if zh else str(exc)) from None
    config = recipe.config
    return ("short", dataset, config.epochs, config.batch_size, config.lr, config.optimizer, config.precision,
            config.input_size or 0, recipe_summary_zh(recipe) if zh else recipe.summary)


def apply_published_recipe(spec_dict: Spec | dict | None, device: str,
                           request: gr.Request = None) -> tuple[Any, ...]:
    """Widget values of the recipe the network was published with (d2l's, for its family)."""
    zh = chinese(request)
    if not spec_dict:
        raise gr.Error("没有有效的网络：请先在探索页修正规格。" if zh else
                       "There is no valid network: fix the spec in the Explore tab first.")
    try:
        spec = parse_spec(spec_dict)
        recipe = published_recipe_info(spec)
    except SpecError as exc:
        raise gr.Error(spec_error_zh(exc) if zh else str(exc)) from None
    config = recipe.config
    note = (f"{recipe_summary_zh(recipe)}\n\n来源：{published_source_zh(spec)}。" if zh else
            f"{recipe.summary}\n\nSource: {recipe.source}.")
    return ("published", config.dataset, config.epochs, config.batch_size, config.lr, config.optimizer,
            config.precision, config.input_size or 0, note)


def check_run(*settings: Any, zh: bool = False) -> str:
    """Estimated memory against free memory, and the time per epoch measured on a few real steps; a refused
    setting or a failed measurement is said in the returned line (never raised). ``zh``: the line in Chinese."""
    try:
        spec, config = config_from_widgets(*settings)
        estimate = estimate_run(spec, config, measure=True)
    except SpecError as exc:
        return refused_status(_estimate_refusal(exc, zh=zh), zh=zh)
    except Exception as exc:  # noqa: BLE001 - e.g. out of memory while timing steps: say so, keep the page working
        detail = " ".join(str(exc).split())[:300] or type(exc).__name__
        if zh:
            return f"⛔ **检查失败：** {html.escape(detail, quote=False)}。请尝试更小的批量大小或输入尺寸。"
        return (f"⛔ **The check failed:** {html.escape(detail, quote=False)}. Try a smaller batch size or input "
                f"size.")
    return ("✅ " if estimate.fits else "⛔ ") + estimate.message_for(zh)


def _estimate_refusal(exc: SpecError, *, zh: bool = False) -> str:
    """Why the estimate refused a run, as :func:`setting_message` says it; in Chinese the error's own Chinese
    text when it has one (a missing GPU, a dataset that cannot be loaded, a spec the dataset cannot feed)."""
    if zh and exc.message_zh and problem_zh(exc.message) == exc.message:  # wording the page does not translate
        label = SETTING_LABELS_ZH.get(exc.field)
        return f"{label}（`{exc.field}`）：{exc.message_zh}" if label else exc.text(zh=True)
    return setting_message(exc, zh=zh)


def start_training(*settings: Any, checkpoint_dir: str | None = None, save_checkpoint: bool = True,
                   zh: bool = False) -> Iterator[tuple[Any, ...]]:
    """One run: stream (status, curves, results, per-class, confusion, samples, checkpoint) updates.

    Never raises for a run that cannot start or fails (no valid spec, a setting out of range, a run that would
    not fit, a dataset that cannot be loaded, out of memory, a loss that exploded): the last update then says
    what went wrong and what to try, and leaves the other outputs as they were (the curves, once a run has
    started, show where it got to). The outputs are cleared only when the new run starts.
    The app calls it through :func:`queued_training`, which holds the device and gives it a folder of its own.
    ``zh``: statuses, results and charts in Chinese.
    """
    skip = gr.skip()
    try:
        spec, config = config_from_widgets(*settings, checkpoint_dir=checkpoint_dir,
                                           save_checkpoint=save_checkpoint)
        estimate = estimate_run(spec, config, measure=False)
    except SpecError as exc:
        yield (refused_status(_estimate_refusal(exc, zh=zh), zh=zh), *([skip] * _NO_CHANGE))
        return
    if not estimate.fits:
        yield (refused_status(estimate.message_for(zh), zh=zh), *([skip] * _NO_CHANGE))
        return
    gpu_started = _start_gpu_sampler()
    started_at = time.time()
    history: list[dict[str, Any]] = []
    start: StartEvent | None = None
    last_update = 0.0
    events = train(spec, config)
    try:
        yield (LOADING_MESSAGE_ZH if zh else LOADING_MESSAGE, *([skip] * _NO_CHANGE))
        for event in events:
            if isinstance(event, ErrorEvent):
                curves = curves_figure(history, started_at, gpu_started, zh=zh) if history else skip
                yield (failed_status(event, zh=zh), curves, *([skip] * (_NO_CHANGE - 1)))
                return
            if isinstance(event, StartEvent):
                start = event
                yield (start_status(event, zh=zh), None, "", None, None, None, None)  # the previous run's go
                continue
            if isinstance(event, DoneEvent):
                if checkpoint_dir is None:
                    _prune_checkpoints(CHECKPOINT_DIR, KEEP_CHECKPOINTS)
                else:
                    _save_run_record(spec, config, start, history, event, checkpoint_dir)
                yield (done_status(event, zh=zh), curves_figure(history, started_at, gpu_started, zh=zh),
                       results_markdown(event, zh=zh),
                       per_class_accuracy_figure(event.per_class_accuracy, event.classes, zh=zh),
                       confusion_matrix_figure(event.confusion_matrix, event.classes, zh=zh),
                       sample_predictions_figure([asdict(sample) for sample in event.samples], event.classes,
                                                 zh=zh),
                       event.checkpoint_path)
                continue
            history.append(event.to_dict())
            if isinstance(event, EvalEvent):
                continue  # the EpochEvent right after it shows the test accuracy
            now = time.monotonic()
            if isinstance(event, EpochEvent) or now - last_update >= UPDATE_SECONDS:
                last_update = now
                yield (progress_status(event, start, zh=zh), curves_figure(history, started_at, gpu_started, zh=zh),
                       skip, skip, skip, skip, skip)
    finally:
        events.close()  # Stop, a closed tab or an error: the engine's finally frees the run's memory


READY_MESSAGE = "Ready."
LOADING_MESSAGE = "Loading the data and building the model..."
WAITING_PREFIX = "Waiting for the device"
MEASURING_MESSAGE = "Measuring a few training steps..."
#: The same messages for a Chinese browser (Stop recognises both).
READY_MESSAGE_ZH = "就绪。"
LOADING_MESSAGE_ZH = "正在载入数据并构建模型……"
WAITING_PREFIX_ZH = "正在等待设备"
MEASURING_MESSAGE_ZH = "正在测量几个训练步……"
#: How each kind of failed run (:class:`ErrorEvent`) is headed in the status line.
FAILURE_HEADLINES = {"config": "The run was refused.", "dataset": "The dataset could not be loaded.",
                     "out of memory": "The run ran out of memory.", "device": "The device is not available.",
                     "diverged": "The run diverged.", "runtime": "The run failed."}


FAILURE_HEADLINES_ZH = {"config": "训练被拒绝。", "dataset": "无法载入数据集。", "out of memory": "训练时内存不足。",
                        "device": "设备不可用。", "diverged": "训练发散了。", "runtime": "训练失败。"}


def refused_status(message: str, *, zh: bool = False) -> str:
    """A run that never started: why, in the status line."""
    message = message.rstrip()
    if zh:
        end = "" if message.endswith(("。", "！", "？", ".", "!", "?")) else "。"
        return f"⛔ **没有开始。** {html.escape(message, quote=False)}{end}修改后再按“开始”。"
    end = "" if message.endswith((".", "!", "?")) else "."
    return f"⛔ **Not started.** {html.escape(message, quote=False)}{end} Change it and press Start again."


def failed_status(event: ErrorEvent, *, zh: bool = False) -> str:
    """A failed run's status line: what went wrong and what to try (the engine's message says both); a setting
    is named as the page names it. ``zh``: in Chinese (the engine's ``message_zh``; without one, its English
    message as far as its wording is known)."""
    message = event.message
    if zh:
        label = SETTING_LABELS_ZH.get(event.field)
        known = (event.kind == "config" and label and message.startswith(f"{event.field}: ")
                 and problem_zh(message[len(event.field) + 2:]) != message[len(event.field) + 2:])
        if event.message_zh and not known:  # the engine's Chinese, unless the page's own wording is known
            message = event.message_zh
            if event.kind == "config" and label and message.startswith(f"{event.field}："):
                message = f"{label}（`{event.field}`）：{message[len(event.field) + 1:]}"
        elif event.kind == "config" and label and message.startswith(f"{event.field}: "):
            message = f"{label}（`{event.field}`）：{problem_zh(message[len(event.field) + 2:])}"
        headline = FAILURE_HEADLINES_ZH.get(event.kind, "训练失败。")
        tail = ("按“开始”重试；如果再次失败，试试更小的批量大小或内置的 `shapes` 数据集。" if event.kind == "runtime"
                else "没有保存任何内容；修改设置后再按“开始”。")
        return f"⛔ **{headline}** {html.escape(message, quote=False)} {tail}"
    label = SETTING_LABELS.get(event.field)
    if event.kind == "config" and label and message.startswith(f"{event.field}: "):
        message = f"{label}: {message[len(event.field) + 2:]}"
    headline = FAILURE_HEADLINES.get(event.kind, "The run failed.")
    tail = (" Press Start to try again; if it fails again, try a smaller batch size or the built-in `shapes` "
            "dataset." if event.kind == "runtime" else " Nothing was saved; change the settings and press Start "
            "again.")
    return f"⛔ **{headline}** {html.escape(message, quote=False)}{tail}"


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
    zh = chinese(request)
    state = limits.server()
    skip = gr.skip()
    try:
        spec, _ = config_from_widgets(*settings)
    except SpecError as exc:  # said in the status line: an error would mark every output as failed
        yield (refused_status(setting_message(exc, zh=zh), zh=zh), *([skip] * _NO_CHANGE))
        return
    try:
        ticket = state.train_queue.join(limits.client_of(request), kind="train", network=network_label(spec))
    except LimitExceeded as exc:  # the server's limits (places per computer and session) stay refusals
        raise limits.refusal(exc) from None
    folder: Path | None = None
    updates = None
    finished = False
    try:
        async for waiting in _wait_for_turn(ticket, zh=zh):
            yield (waiting, *([skip] * _NO_CHANGE))
        if ticket.removed:
            yield (REMOVED_MESSAGE_ZH if zh else REMOVED_MESSAGE, *([skip] * _NO_CHANGE))
            return
        folder = state.disk.new_folder("checkpoints")
        note = ""
        with _checkpoint_room(spec, folder) as room:
            if not room:
                note = ("检查点不会被保存：服务器上用于下载的空间已满。" if zh else
                        " The checkpoint will not be saved: the server's space for downloads is full.")
            updates = gpu_task(start_training, duration=gpu_seconds)(*settings, checkpoint_dir=str(folder),
                                                                     save_checkpoint=room, zh=zh)
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
                    yield (TEACHER_STOP_MESSAGE_ZH if zh else TEACHER_STOP_MESSAGE, *([skip] * _NO_CHANGE))
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
    zh = chinese(request)
    state = limits.server()
    try:
        spec, _ = config_from_widgets(*settings)
    except SpecError as exc:
        yield refused_status(setting_message(exc, zh=zh), zh=zh)
        return
    try:
        ticket = state.train_queue.join(limits.client_of(request), kind="check", network=network_label(spec))
    except LimitExceeded as exc:
        raise limits.refusal(exc) from None
    try:
        async for waiting in _wait_for_turn(ticket, zh=zh):
            yield waiting
        if ticket.removed:
            yield REMOVED_MESSAGE_ZH if zh else REMOVED_MESSAGE
            return
        yield MEASURING_MESSAGE_ZH if zh else MEASURING_MESSAGE
        yield await anyio.to_thread.run_sync(lambda: check_run(*settings, zh=zh))
    finally:
        state.train_queue.leave(ticket)


REMOVED_MESSAGE = "Removed from the queue by the teacher: nothing was trained. Press Start to queue again."
TEACHER_STOP_MESSAGE = ("Stopped by the teacher: the run was ended and its memory released; no checkpoint was "
                        "kept.")
REMOVED_MESSAGE_ZH = "已被教师移出队列：没有训练任何内容。按“开始”可重新排队。"
TEACHER_STOP_MESSAGE_ZH = "已被教师停止：训练已结束，内存已释放；没有保留检查点。"


def network_label(spec: Spec) -> str:
    """What a run trains, in a few words (the Teacher tab's queue)."""
    preset = matching_preset(spec)
    return f"{spec.family_label} ({preset or 'edited'}, {spec.planned_params():,} parameters)"


async def _wait_for_turn(ticket: Ticket, *, zh: bool = False) -> AsyncIterator[str]:
    """Await the device without holding a thread; yield the place in the queue whenever it changes."""
    queue = limits.server().train_queue
    shown = None
    while not ticket.removed and not queue.try_start(ticket):
        ahead = queue.ahead(ticket)
        text = (f"{WAITING_PREFIX_ZH}：前面还有 {ahead} 个训练（本服务器一次只运行一个）。按“停止”可退出队列。" if zh
                else f"{WAITING_PREFIX}: {ahead} run{'s' if ahead != 1 else ''} ahead of yours "
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


def stopped_status(status: str | None = None, request: gr.Request = None) -> str:
    """What Stop did, told from the status line it was pressed on: a run still waiting in the queue was cancelled
    before it started; a run that was training was stopped where the curves end. A Chinese browser (``request``)
    gets the answer in Chinese."""
    text = status if isinstance(status, str) else ""
    if chinese(request):
        if text.startswith((WAITING_PREFIX, WAITING_PREFIX_ZH)):
            return "已在开始前取消：这个训练还在等待设备，所以没有训练任何内容。按“开始”可重新排队。"
        if text.startswith((LOADING_MESSAGE, LOADING_MESSAGE_ZH)):
            return "在载入数据时停止：没有训练任何内容，训练占用的内存已释放。"
        if text.startswith((MEASURING_MESSAGE, MEASURING_MESSAGE_ZH)):
            return "已停止检查：没有训练任何内容。"
        if text.startswith((START_PREFIX, START_PREFIX_ZH)) or (
                text.startswith("<progress") and "Done" not in text and DONE_ZH not in text):
            return "已停止：训练已取消，内存已释放。曲线显示了它停下时的进度。"
        return "当前没有等待中或进行中的训练，无需停止。"
    if text.startswith(WAITING_PREFIX):
        return ("Cancelled before it started: the run was still waiting for the device, so nothing was trained. "
                "Press Start to queue it again.")
    if text.startswith(LOADING_MESSAGE):
        return "Stopped while loading the data: nothing was trained, and the run's memory was released."
    if text.startswith(MEASURING_MESSAGE):
        return "Stopped the check: nothing was trained."
    if text.startswith(START_PREFIX) or (text.startswith("<progress") and "Done" not in text):
        return "Stopped: the run was cancelled and its memory released. The curves show where it got to."
    return "Nothing was waiting or training, so there was nothing to stop."


def curves_figure(history: list[dict[str, Any]], started_at: float, gpu: bool, *, zh: bool = False) -> Any:
    """The live curves, with the GPU (or CPU) trace underneath when the monitor is available."""
    trace = _gpu_trace(time.time() - started_at + 2, zh=zh) if gpu else None
    return training_curves_figure(history, gpu=trace, run_started_at=started_at if trace else None, zh=zh)


START_PREFIX = "Training "
START_PREFIX_ZH = "正在训练 "
#: What the finished run's status line starts with after its progress bar, in Chinese (Stop looks for it).
DONE_ZH = "训练完成"


def start_status(event: StartEvent, *, zh: bool = False) -> str:
    shape = "x".join(str(size) for size in event.input_shape)
    notes = "".join(f"<br>• {html.escape(note)}" for note in event.notes)
    if zh:
        layout = "，channels_last" if event.channels_last else ""
        return (f"{START_PREFIX_ZH}**{event.family}**（{event.total_params:,} 个参数），数据集 **{event.dataset}**："
                f"{event.num_train:,} 张训练图像 / {event.num_test:,} 张测试图像，尺寸 {shape}，共 {event.total_steps} 步，"
                f"设备 `{event.device}`（{event.precision}{layout}）；估计训练内存 "
                f"{event.estimated_memory_bytes / _GIB:.2f} GiB。{notes}")
    return (f"{START_PREFIX}**{event.family}** ({event.total_params:,} parameters) on **{event.dataset}**: "
            f"{event.num_train:,} training / {event.num_test:,} test images at {shape}, {event.total_steps} steps "
            f"on {event.device} ({event.precision}{', channels_last' if event.channels_last else ''}); estimated "
            f"training memory {event.estimated_memory_bytes / _GIB:.2f} GiB.{notes}")


def progress_status(event: StepEvent | EpochEvent, start: StartEvent | None, *, zh: bool = False) -> str:
    """A progress bar and one status line."""
    total = start.total_steps if start else max(event.step, 1)
    fraction = min(event.step / max(total, 1), 1.0)
    if zh:
        if isinstance(event, StepEvent):
            text = (f"第 {event.epoch}/{event.epochs} 个迭代周期 · 第 {event.step}/{event.total_steps} 步 · 损失 "
                    f"{event.loss:.3f} · 训练精度 {event.train_acc:.3f} · 每秒 {event.examples_per_s:,.0f} 个样本")
        else:
            test = "无" if event.test_acc is None else f"{event.test_acc:.3f}"
            text = (f"第 {event.epoch}/{event.epochs} 个迭代周期结束 · 损失 {event.train_loss:.3f} · 训练精度 "
                    f"{event.train_acc:.3f} · **测试精度 {test}** · 每秒 {event.examples_per_s:,.0f} 个样本")
        return (f"<progress value='{fraction:.3f}' max='1' style='width:100%'></progress><br>{text} · 已用 "
                f"{_clock(event.elapsed_s)} · 约剩 {_clock(event.eta_s)}")
    if isinstance(event, StepEvent):
        text = (f"Epoch {event.epoch}/{event.epochs} · step {event.step}/{event.total_steps} · loss {event.loss:.3f}"
                f" · train acc {event.train_acc:.3f} · {event.examples_per_s:,.0f} examples/s")
    else:
        test = "n/a" if event.test_acc is None else f"{event.test_acc:.3f}"
        text = (f"Epoch {event.epoch}/{event.epochs} done · loss {event.train_loss:.3f} · train acc "
                f"{event.train_acc:.3f} · **test acc {test}** · {event.examples_per_s:,.0f} examples/s")
    return (f"<progress value='{fraction:.3f}' max='1' style='width:100%'></progress><br>{text} · elapsed "
            f"{_clock(event.elapsed_s)} · about {_clock(event.eta_s)} left")


def done_status(event: DoneEvent, *, zh: bool = False) -> str:
    if zh:
        stopped = ("（提前停止：" + "；".join(event.notes) + "）" if event.stopped_early and event.notes else
                   "（达到 max_steps 后停止）" if event.stopped_early else "")
        return (f"<progress value='1' max='1' style='width:100%'></progress><br>{DONE_ZH}{stopped}：**测试精度 "
                f"{event.test_acc:.3f}**，共 {event.steps} 步，用时 {_clock(event.elapsed_s)}。")
    stopped = " (stopped early: " + "; ".join(event.notes) + ")" if event.stopped_early and event.notes else (
        " (stopped at max_steps)" if event.stopped_early else "")
    return (f"<progress value='1' max='1' style='width:100%'></progress><br>Done{stopped}: **test accuracy "
            f"{event.test_acc:.3f}** after {event.steps} steps in {_clock(event.elapsed_s)}.")


#: How the peak memory was measured (explorer.training.devices), in Chinese.
_PEAK_KINDS_ZH = {"cuda max allocated": "CUDA 最大分配量", "process RSS growth": "进程常驻内存增量", "unknown": "未知方式"}


def results_markdown(event: DoneEvent, *, zh: bool = False) -> str:
    """The final numbers, peak memory next to the estimate, and where the checkpoint is."""
    if zh:
        memory = ("未测量" if event.peak_memory_bytes is None
                  else f"{event.peak_memory_bytes / _GIB:.2f} GiB（"
                       f"{_PEAK_KINDS_ZH.get(event.peak_memory_kind, event.peak_memory_kind)}）")
        checkpoint = html.escape(Path(event.checkpoint_path).name) if event.checkpoint_path else "未保存"
        lines = [
            "| 结果 | 数值 |", "|---|---|",
            f"| 测试精度 | **{event.test_acc:.4f}**（损失 {event.test_loss:.3f}） |",
            f"| 训练精度（最后一个迭代周期的累计平均） | {event.train_acc:.4f}（损失 {event.train_loss:.3f}） |",
            f"| 步数 / 迭代周期 | {event.steps} / {event.epochs_completed} |",
            f"| 吞吐量 | 每秒 {event.examples_per_s:,.0f} 个训练样本（训练用时 {event.train_seconds:.1f} s） |",
            f"| 峰值内存 | {memory}；分析估计为 {event.estimated_memory_bytes / _GIB:.2f} GiB（fp32） |",
            f"| 检查点 | {checkpoint} |",
        ]
        lines += [f"\n{html.escape(note)}" for note in event.notes]
        return "\n".join(lines)
    memory = ("not measured" if event.peak_memory_bytes is None
              else f"{event.peak_memory_bytes / _GIB:.2f} GiB ({event.peak_memory_kind})")
    lines = [
        "| Result | Value |", "|---|---|",
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


def _gpu_trace(seconds: float, *, zh: bool = False) -> dict[str, Any] | None:
    try:
        from ..charts.gpu import gpu_trace_series
        from ..gpu import get_sampler
    except ImportError:
        return None
    try:
        history = get_sampler().history(seconds)
        return gpu_trace_series(history, zh=zh) if history else None
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
