"""The Train tab's handlers, called directly (no server)."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import plotly.graph_objects as go
import pytest
import torch

from explorer import load_preset
from explorer.presets import get_preset
from explorer.share import decode_spec
from explorer.specs import SpecError
from explorer.training import RunHooks
from explorer.training.events import StepEvent
from explorer.training.recipes import WIDE_LR, config_from_choices, short_recipe_info
from explorer.ui import limits, train_panel

SPEC = load_preset("d2l_vgg11_small").to_dict()
#: What "learning-relevant" means for the page-and-CLI check: every field that changes the numbers a run gives.
LEARNING_FIELDS = ("lr", "optimizer", "epochs", "batch_size", "warmup_steps", "grad_clip", "input_size", "precision",
                   "init", "weight_decay", "momentum", "channels_last", "dataset", "device")


def settings(**changes: object) -> list[object]:
    values: dict[str, object] = dict(spec=SPEC, recipe_kind="short", dataset="shapes", epochs=1, batch_size=32,
                                     lr=1e-3, optimizer="adam", precision="fp32", device="cpu", input_size=32,
                                     train_subset=64)
    values.update(changes)
    return list(values.values())


def is_skip(value: object) -> bool:
    return value == gr.skip()


@pytest.fixture(autouse=True)
def checkpoint_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(train_panel, "CHECKPOINT_DIR", tmp_path)
    return tmp_path


def _request(session: str) -> SimpleNamespace:
    return SimpleNamespace(session_hash=session, client=SimpleNamespace(host="127.0.0.1"), headers={})


async def _drain(generator) -> list:  # noqa: ANN001
    return [update async for update in generator]


def _functions(demo: gr.Blocks, name: str) -> list:
    return [fn for fn in demo.fns.values() if fn.name == name]


def test_panel_builds_inside_blocks() -> None:
    with gr.Blocks() as demo:
        state = gr.State(SPEC)
        train_panel.build_train_panel(state)
    from explorer.ui.i18n import ZH, tr

    def text(value):  # labels are gr.I18n keys; map them back to their English text
        return getattr(value, "key", value)

    labels = {text(getattr(block, "label", None)) for block in demo.blocks.values()}
    names = ["Dataset", "Epochs", "Batch size", "Learning rate", "Optimizer", "Precision", "Device"]
    assert {tr(name).key for name in names} <= labels
    assert all(name in ZH for name in names)  # each has a Chinese translation
    values = [text(getattr(block, "value", None)) for block in demo.blocks.values()]
    assert any(tr("Use published recipe").key in str(value) for value in values)


# -- 1. the page opens with the network's own short recipe (what the CLI runs) -----------------------------------


def test_the_page_opens_with_the_clis_config_for_its_network() -> None:
    """The whole app as it opens (VGG-16): Start with untouched widgets runs config_from_choices(spec)."""
    from explorer.ui.app import build_app
    from explorer.ui.explore import DEFAULT_PRESET

    demo = build_app()
    start = next(fn for fn in demo.fns.values() if fn.api_name == "train")
    values = [block.value for block in start.inputs]
    spec = values[0]
    assert spec == get_preset(DEFAULT_PRESET).spec and DEFAULT_PRESET == "vgg16"
    _, page = train_panel.config_from_widgets(*values)
    cli = config_from_choices(spec, dataset=train_panel.default_dataset())
    assert {name: getattr(page, name) for name in LEARNING_FIELDS} == \
        {name: getattr(cli, name) for name in LEARNING_FIELDS}
    assert page.lr == WIDE_LR  # VGG-16's fc1 takes 25,088 inputs: 1e-3 makes the loss explode
    note = next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "train-recipe")
    assert note.value == short_recipe_info(spec, dataset=train_panel.default_dataset()).summary
    assert "1e-3: its widest linear layer" in note.value


def test_the_recipe_follows_the_network_the_dataset_and_the_device() -> None:
    vgg16, small = get_preset("vgg16").spec, load_preset("d2l_vgg11_small")
    first = train_panel.follow_network(vgg16, "short", "shapes", "cpu", 0)
    second = train_panel.follow_network(small, "short", "shapes", "cpu", 32)
    assert first[2] == WIDE_LR and second[2] == 1e-3  # lr
    epochs, batch_size, lr, optimizer, precision, input_size, note, network = second
    assert (epochs, batch_size, lr, optimizer, precision, input_size) == \
        tuple(train_panel.apply_short_recipe(small, "shapes", "cpu")[2:8])
    assert note == short_recipe_info(small, dataset="shapes", device="cpu").summary
    assert "d2l_vgg11_small" in network and "vgg16" not in network
    # the published recipe is re-applied for the new network, keeping the chosen dataset
    published = train_panel.follow_network(vgg16, "published", "shapes", "cpu", 32)
    assert published[2:4] == (0.05, "sgd") and published[5] == 224 and "instead of Fashion-MNIST" in published[6]
    _, page = train_panel.config_from_widgets(vgg16, "published", "shapes", *published[:4], published[4], "cpu",
                                              published[5], 0)
    assert page == config_from_choices(vgg16, recipe="published", dataset="shapes", device="cpu").replace(
        checkpoint_dir=page.checkpoint_dir, log_seconds=page.log_seconds, max_seconds=page.max_seconds)
    # a new dataset or device re-applies the short recipe; under the published one only the description moves
    assert train_panel.follow_data(vgg16, "short", "mnist", "cpu", 224)[:6] == first[:6]
    kept = train_panel.follow_data(vgg16, "published", "mnist", "cpu", 224)
    assert all(is_skip(value) for value in kept[:7]) and "MNIST" in kept[7]


def test_the_recipe_and_the_description_are_wired_to_their_triggers() -> None:
    from explorer.ui.i18n import tr

    with gr.Blocks() as demo:
        state = gr.State(get_preset("vgg16").spec)
        train_panel.build_train_panel(state)

    def name(block: object) -> str:  # labels are gr.I18n keys; a Markdown is known by its elem_id
        label = getattr(block, "label", None)
        return getattr(label, "key", None) or getattr(block, "elem_id", None) or type(block).__name__

    def triggers(function: str) -> set[tuple[str, str]]:
        return {(name(demo.blocks[block_id]), event) for fn in _functions(demo, function)
                for block_id, event in fn.targets if block_id is not None}

    key = {text: tr(text).key for text in ("Dataset", "Device", "Input size (0 = recipe's)", "Learning rate",
                                          "Epochs", "Batch size", "Optimizer", "Precision")}
    assert ("State", "change") in triggers("follow_network")
    assert {(key["Dataset"], "change"), (key["Device"], "change")} <= triggers("follow_data")
    assert (key["Input size (0 = recipe's)"], "change") in triggers("describe_network")
    outputs = {name(block) for block in _functions(demo, "follow_network")[0].outputs}
    assert {key[text] for text in ("Learning rate", "Epochs", "Batch size", "Optimizer", "Precision",
                                   "Input size (0 = recipe's)")} | {"train-recipe", "train-network"} <= outputs


# -- 2. which network Start trains --------------------------------------------------------------------------------


def test_describe_network_says_which_network_start_trains() -> None:
    spec = load_preset("d2l_vgg11_small")  # 1x224x224: its fc1 depends on the input size
    text = train_panel.describe_network(spec, "short", "shapes", "cpu", 0)
    trained = spec.replace(input_size=32)  # the short recipe's size on a CPU; shapes has 10 classes like the spec
    assert trained.planned_params() != spec.planned_params()
    assert f"{spec.planned_params():,} parameters" in text  # the spec as it is
    assert f"**Start trains** input 1x32x32: **{trained.planned_params():,} parameters**" in text
    assert "channel(s)" not in text and "Images from shapes (1 channel) are converted to the network's 1 channel" \
        not in text  # no conversion when they agree
    token = re.search(r"\]\(\?spec=([A-Za-z0-9_-]+)\)", text).group(1)
    assert decode_spec(token) == trained  # the link opens the trained network in Explore
    # the input size widget and the recipe change the description
    at_64 = train_panel.describe_network(spec, "short", "shapes", "cpu", 64)
    assert f"{spec.replace(input_size=64).planned_params():,} parameters" in at_64 and "you set" in at_64
    published = train_panel.describe_network(spec, "published", "shapes", "cpu", 224)
    assert "as it is" in published
    # VGG-16: 3 channels, 1,000 classes; Fashion-MNIST-like gray data with 10 classes
    vgg16 = get_preset("vgg16").spec
    text = train_panel.describe_network(vgg16, "short", "shapes", "cpu", 0)
    trained = vgg16.replace(input_size=32, num_classes=10)
    assert f"**{trained.planned_params():,} parameters**" in text and "input 3x32x32, 10 outputs" in text
    assert "(1 channel) are converted to the network's 3 channels" in text
    assert decode_spec(re.search(r"\?spec=([A-Za-z0-9_-]+)", text).group(1)) == trained
    refused = train_panel.describe_network(vgg16, "short", "shapes", "cpu", 4)
    assert "Start will refuse" in refused and "Input size:" in refused


def test_describe_network_and_dataset_choices() -> None:
    assert "d2l_vgg11_small" in train_panel.describe_network(SPEC)
    # Explore's state holds the Spec object itself
    assert train_panel.describe_network(load_preset("d2l_vgg11_small")) == train_panel.describe_network(SPEC)
    spec, _ = train_panel.config_from_widgets(load_preset("vgg11"), "short", "shapes", 1, 32, 1e-3, "adam", "fp32",
                                              "cpu", 0, 0)
    assert spec == load_preset("vgg11")
    assert "invalid" in train_panel.describe_network(None)
    names = [name for _, name in train_panel.dataset_choices()]
    assert names[:4] == ["fashion-mnist", "mnist", "cifar10", "shapes"]


# -- 3. errors that stay in the status line -------------------------------------------------------------------


def test_start_streams_curves_then_results(checkpoint_folder: Path) -> None:
    updates = list(train_panel.start_training(*settings(epochs=2)))
    assert len(updates) >= 4
    assert all(len(update) == 7 for update in updates)
    assert all(is_skip(value) for value in updates[0][1:])  # loading: the previous run's outputs stay
    live = [update[1] for update in updates[1:-1] if isinstance(update[1], go.Figure)]
    assert live, "the curves are updated while training"
    status, curves, results, per_class, confusion, samples, checkpoint = updates[-1]
    assert "test accuracy" in status.lower() and "Test accuracy" in results
    header = results.splitlines()[0]
    assert header == "| Result | Value |"  # a real header row, not an empty one
    assert all(cell.strip() for cell in header.strip("|").split("|"))
    assert all(isinstance(figure, go.Figure) for figure in (curves, per_class, confusion, samples))
    assert confusion.data[0].type == "heatmap"
    assert Path(checkpoint).is_file() and Path(checkpoint).parent == checkpoint_folder


@pytest.mark.parametrize("changes, message", [
    (dict(batch_size=0), "Batch size: must be a whole number between 1 and 4096, got 0."),
    (dict(batch_size=None), "Batch size: must be a whole number between 1 and 4096, got nothing"),
    (dict(epochs=None), "Epochs: must be a whole number between 1 and 100, got nothing"),
    (dict(epochs=0), "Epochs: must be a whole number between 1 and 100, got 0"),
    (dict(lr=None), "Learning rate: must be a number"),
    (dict(lr=0), "Learning rate: must be a number"),
    (dict(input_size=None), "Input size: must be a whole number between 8 and 1024 (or 0 for the recipe's size), "
                            "got nothing"),
    (dict(input_size=5), "Input size: must be a whole number between 8 and 1024"),
    (dict(train_subset=None), "Training examples: must be a whole number between 0 and 1,000,000 (or 0 for all of "
                              "them), got nothing."),
    (dict(train_subset=-1), "Training examples: must be a whole number between 0 and 1,000,000"),
    (dict(spec=None), "Network: there is no valid network to train"),
])
def test_bad_settings_are_named_in_the_status_line(changes: dict, message: str) -> None:
    """Never a gr.Error, never a silent default: the status says which setting, the other outputs stay."""
    with pytest.raises(SpecError):
        train_panel.config_from_widgets(*settings(**changes))
    updates = list(train_panel.start_training(*settings(**changes)))
    assert len(updates) == 1
    status, *others = updates[0]
    assert message in status and "Not started" in status
    assert all(is_skip(value) for value in others)
    assert train_panel.check_run(*settings(**changes)).count(message) == 1


def test_a_run_that_does_not_fit_is_refused_in_the_status_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("explorer.training.estimate.free_memory_bytes", lambda device: 1024)
    (status, *others), = list(train_panel.start_training(*settings()))
    assert "Not started" in status and "Won't fit" in status and all(is_skip(value) for value in others)


def test_an_unavailable_dataset_is_said_with_what_to_try(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fashion-MNIST missing and no internet: the message offers the built-in dataset; nothing raises."""
    import torchvision.datasets

    def no_network(self: object) -> None:
        raise RuntimeError("Error downloading: <urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", no_network)
    monkeypatch.setattr("explorer.training.data.unreachable_reason", lambda hosts: None)  # the probe passes
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "empty"))
    updates = list(train_panel.start_training(*settings(dataset="fashion-mnist")))
    status, *others = updates[-1]
    assert "The dataset could not be loaded" in status and "'shapes'" in status
    assert all(is_skip(value) for value in others)  # the run never started: the previous results stay


def test_out_of_memory_is_said_with_what_to_try(monkeypatch: pytest.MonkeyPatch) -> None:
    real_train = train_panel.train

    def out_of_memory(step: int) -> None:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")

    monkeypatch.setattr(train_panel, "train",
                        lambda spec, config: real_train(spec, config, hooks=RunHooks(on_step=out_of_memory)))
    status, curves, *others = list(train_panel.start_training(*settings()))[-1]
    assert "ran out of memory" in status and "smaller batch size" in status
    assert all(is_skip(value) for value in others)


def test_a_failed_run_ends_in_the_status_line_and_the_next_start_works(tmp_path: Path) -> None:
    """Through the app's handler: the loss explodes (lr 10), no exception, no checkpoint; then a run finishes."""
    limits.configure({"EXPLORER_DISK_CAP_MB": "2048"})
    before = set(limits.server().disk.root.rglob("*.pt"))  # other tests' finished runs share the folder
    failed = asyncio.run(_drain(train_panel.queued_training(*settings(lr=10.0, train_subset=256),
                                                            request=_request("session-f"))))
    status, curves, *others = failed[-1]
    assert "The run diverged" in status and "loss exploded" in status and "smaller learning rate" in status
    # the curves show where it got to (a figure when a step was logged before the loss exploded), never cleared
    assert isinstance(curves, go.Figure) or is_skip(curves)
    assert all(is_skip(value) for value in others)
    assert set(limits.server().disk.root.rglob("*.pt")) == before  # a failed run keeps no checkpoint
    refused = asyncio.run(_drain(train_panel.queued_training(*settings(batch_size=0), request=_request("session-f"))))
    assert len(refused) == 1 and "Batch size:" in refused[0][0]
    finished = asyncio.run(_drain(train_panel.queued_training(*settings(), request=_request("session-f"))))
    assert "test accuracy" in finished[-1][0].lower()


def test_stop_says_whether_the_run_had_started() -> None:
    """Stop reads the status line it was pressed on: a run still waiting in the queue never started."""
    from explorer.server import Client

    limits.configure()
    queue = limits.server().train_queue
    running = queue.join(Client("10.0.0.1", "a"), kind="train", network="x")
    assert queue.try_start(running)
    waiting = queue.join(Client("10.0.0.2", "b"), kind="train", network="x")

    async def first_wait_text() -> str:
        turns = train_panel._wait_for_turn(waiting)
        try:
            return await turns.__anext__()
        finally:
            await turns.aclose()

    text = asyncio.run(first_wait_text())
    queue.leave(waiting)
    queue.leave(running)
    cancelled = train_panel.stopped_status(text)
    assert "before it started" in cancelled and "nothing was trained" in cancelled
    assert "where it got to" not in cancelled
    assert "nothing was trained" in train_panel.stopped_status(train_panel.LOADING_MESSAGE)
    step = StepEvent(step=5, total_steps=20, epoch=1, epochs=2, epoch_step=5, steps_per_epoch=10, loss=2.0,
                     train_acc=0.2, examples_per_s=100.0, elapsed_s=3.0, eta_s=9.0)
    assert "where it got to" in train_panel.stopped_status(train_panel.progress_status(step, None))
    assert "nothing to stop" in train_panel.stopped_status(train_panel.READY_MESSAGE)


def test_stop_button_reads_the_status_line() -> None:
    with gr.Blocks() as demo:
        train_panel.build_train_panel(gr.State(SPEC))
    stop = _functions(demo, "stopped_status")[0]
    assert [getattr(block, "elem_id", None) for block in stop.inputs] == ["train-status"]


def test_stop_closes_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cancelling the event closes the handler's generator; its finally closes the engine's generator."""
    closed = []
    real_train = train_panel.train

    def watched_train(*args: object, **kwargs: object):  # noqa: ANN202
        events = real_train(*args, **kwargs)
        try:
            yield from events
        finally:
            closed.append(True)

    monkeypatch.setattr(train_panel, "train", watched_train)
    updates = train_panel.start_training(*settings(epochs=5, train_subset=256))
    next(updates)
    next(updates)
    updates.close()
    assert closed == [True]


def test_recipe_buttons() -> None:
    published = train_panel.apply_published_recipe(SPEC, "cpu")
    assert published[0] == "published" and published[4] == 0.05 and published[5] == "sgd" and published[7] == 224
    assert "d2l" in published[-1]
    short = train_panel.apply_short_recipe(SPEC, "shapes", "cpu")
    assert short[0] == "short" and short[4] == 1e-3 and short[5] == "adam" and short[7] == 32
    assert "Adam" in short[-1]
    with pytest.raises(gr.Error):
        train_panel.apply_published_recipe(None, "cpu")


def test_check_run_reports_memory_and_time() -> None:
    text = train_panel.check_run(*settings())
    assert text.startswith("✅") and "GiB" in text and "per epoch" in text


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d+(?:[.,]\d+)*", re.sub(r"\?spec=[\w-]+", "", text))


def _english(text: str) -> list[str]:
    from tests.chinese_text import english_lines

    visible = re.sub(r"\]\([^)]*\)", "]", re.sub(r"<[^>]+>", "\n", text))  # a link's target is not shown
    return english_lines(visible.replace("**", " "))


def test_chinese_statuses_carry_the_same_numbers_without_english() -> None:
    from explorer.training.events import EpochEvent, ErrorEvent, StartEvent

    start = StartEvent(family="VGG", dataset="shapes", classes=["a", "b"], num_train=2000, num_test=500,
                       input_shape=[1, 32, 32], device="cpu", precision="fp32", channels_last=False,
                       steps_per_epoch=20, total_steps=40, epochs=2, total_params=1234567,
                       estimated_memory_bytes=3 * 2**29)
    step = StepEvent(step=5, total_steps=20, epoch=1, epochs=2, epoch_step=5, steps_per_epoch=10, loss=2.0,
                     train_acc=0.2, examples_per_s=1500.0, elapsed_s=3.0, eta_s=75.0)
    epoch = EpochEvent(epoch=1, epochs=2, step=10, train_loss=1.5, train_acc=0.4, test_acc=0.55,
                       examples_per_s=1500.0, elapsed_s=6.0, eta_s=6.0)
    pairs = [(train_panel.start_status(start), train_panel.start_status(start, zh=True)),
             (train_panel.progress_status(step, start), train_panel.progress_status(step, start, zh=True)),
             (train_panel.progress_status(epoch, start), train_panel.progress_status(epoch, start, zh=True))]
    for kind in ("config", "out of memory", "diverged", "runtime"):
        event = ErrorEvent(message="batch_size: must be a whole number between 1 and 4,096, got 0" if kind == "config"
                           else "x", kind=kind, field="batch_size", step=3, elapsed_s=1.0)
        chinese = train_panel.failed_status(event, zh=True)
        assert "⛔" in chinese and (kind != "config" or not _english(chinese)), chinese
    for changes in (dict(batch_size=0), dict(lr=0), dict(train_subset=None), dict(input_size=5), dict(spec=None)):
        english = list(train_panel.start_training(*settings(**changes)))[0][0]
        chinese = list(train_panel.start_training(*settings(**changes), zh=True))[0][0]
        pairs.append((english, chinese))
    spec = load_preset("d2l_vgg11_small")
    for kind in ("short", "published"):
        recipe = train_panel._recipe_for(spec, kind, "shapes", "auto")
        pairs.append((train_panel.describe_network(spec, kind, "shapes", "auto", 0),
                      train_panel.describe_network(spec, kind, "shapes", "auto", 0, zh=True)))
        pairs.append((train_panel._recipe_note(spec, recipe), train_panel._recipe_note(spec, recipe, zh=True)))
    for english, chinese in pairs:
        assert not _english(chinese), chinese
        assert _numbers(chinese) == _numbers(english), (english, chinese)
    assert "批量大小（`batch_size`）" in list(train_panel.start_training(*settings(batch_size=0), zh=True))[0][0]
    for text in (train_panel.LOADING_MESSAGE_ZH, train_panel.MEASURING_MESSAGE_ZH, "<progress>第 1/2 个迭代周期",
                 train_panel.READY_MESSAGE_ZH, train_panel.WAITING_PREFIX_ZH + "：前面还有 1 个训练"):
        stopped = train_panel.stopped_status(text, SimpleNamespace(headers={"accept-language": "zh-CN,zh;q=0.9"}))
        assert not _english(stopped) and re.search(r"[\u4e00-\u9fff]", stopped)
    assert "where it got to" in train_panel.stopped_status("<progress>Epoch 1/2")


def test_chinese_results_table_and_dataset_choices() -> None:
    from explorer.training.events import DoneEvent

    done = DoneEvent(test_acc=0.8125, test_loss=0.5, train_acc=0.75, train_loss=0.6, steps=40, epochs_completed=2,
                     examples_per_s=1234.0, train_seconds=12.5, elapsed_s=20.0, peak_memory_bytes=2**30,
                     peak_memory_kind="process RSS growth", estimated_memory_bytes=2**29, checkpoint_path="",
                     per_class_accuracy=[], classes=[], confusion_matrix=[], samples=[])
    for english, chinese in ((train_panel.results_markdown(done), train_panel.results_markdown(done, zh=True)),
                             (train_panel.done_status(done), train_panel.done_status(done, zh=True))):
        assert not _english(chinese), chinese
        assert _numbers(chinese) == _numbers(english)
    assert not _english("\n".join(label for label, _ in train_panel.dataset_choices(zh=True)))
