"""The training engine's, the memory estimate's, the inspection's and the presets' own messages in Chinese: each
failure is provoked for real, and its Chinese text has CJK characters, the English text's numbers and no English
words outside identifiers (``code`` spans, the allowed words of :mod:`tests.chinese_text`)."""
from __future__ import annotations

import html
import io
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from explorer import analyze, load_preset
from explorer.inspection import CheckpointError, ImageError, Preprocessing, load_checkpoint, load_image, prepare_image
from explorer.presets import get_preset
from explorer.specs import SpecError
from explorer.training import RunHooks, TrainConfig, train
from explorer.training.events import ErrorEvent
from explorer.training.memory import check_memory
from explorer.ui import inspect_panel, train_panel
from tests.chinese_text import english_lines

SPEC = load_preset("d2l_vgg11_small").replace(input_size=32)


def numbers(text: str) -> list[str]:
    return sorted(re.findall(r"\d+(?:\.\d+)?", html.unescape(text)))


def assert_chinese(english: str, chinese: str) -> None:
    """``chinese`` says ``english`` in Chinese: CJK text, the same numbers, no English prose."""
    assert chinese and re.search(r"[\u4e00-\u9fff]", chinese), chinese
    assert numbers(chinese) == numbers(english), (english, chinese)
    visible = re.sub(r"</?(div|br|small)\b[^>]*>", "\n", chinese).replace("**", " ")  # the markup, not <urlopen>
    assert not english_lines(visible), english_lines(visible)


def tiny_config(tmp_path: Path, **changes: Any) -> TrainConfig:
    settings: dict[str, Any] = dict(dataset="shapes", epochs=2, batch_size=32, train_subset=96, test_subset=64,
                                    optimizer="adam", lr=1e-3, device="cpu", log_every=1,
                                    checkpoint_dir=str(tmp_path), save_checkpoint=False, num_samples=0)
    settings.update(changes)
    return TrainConfig(**settings)


def last_error(events: Any) -> ErrorEvent:
    error = list(events)[-1]
    assert isinstance(error, ErrorEvent), error
    return error


def check_event(error: ErrorEvent, *, kind: str) -> None:
    assert error.kind == kind
    assert_chinese(error.message, error.message_zh)
    status_en, status_zh = train_panel.failed_status(error), train_panel.failed_status(error, zh=True)
    assert error.message_zh.split("：")[-1][:20] in status_zh or error.message_zh[:20] in status_zh
    assert_chinese(status_en, status_zh)
    assert error.message in status_en or error.field in status_en  # the English status is as before
    assert error.to_dict()["message_zh"] == error.message_zh


# -- the training engine ------------------------------------------------------------------------------------------


def test_an_unavailable_dataset_in_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fashion-MNIST not on disk and no internet, as the Train tab meets it."""
    import torchvision.datasets

    def no_network(self: object) -> None:
        raise RuntimeError("Error downloading: <urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", no_network)
    monkeypatch.setattr("explorer.training.data.unreachable_reason", lambda hosts: None)
    config = tiny_config(tmp_path, dataset="fashion-mnist", data_dir=str(tmp_path / "empty"))
    error = last_error(train(SPEC, config, check_memory=False))
    check_event(error, kind="dataset")
    assert "shapes" in error.message_zh and "数据集" in error.message_zh
    offline = last_error(train(SPEC, tiny_config(tmp_path, dataset="fashion-mnist", download=False,
                                                 data_dir=str(tmp_path / "empty")), check_memory=False))
    check_event(offline, kind="dataset")
    assert "下载已关闭" in offline.message_zh


def test_a_diverging_run_in_chinese(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, optimizer="sgd", lr=5.0, epochs=20, log_every=1000)
    error = last_error(train(SPEC, config))
    check_event(error, kind="diverged")
    assert "损失爆炸" in error.message_zh and "学习率（本次用的是 5）" in error.message_zh
    assert "批量规范化" in error.message_zh  # the same advice as the English: this VGG has no batch norm


def test_out_of_memory_in_chinese(tmp_path: Path) -> None:
    def fail(step: int) -> None:
        if step == 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    error = last_error(train(SPEC, tiny_config(tmp_path), hooks=RunHooks(on_step=fail)))
    check_event(error, kind="out of memory")
    assert "第 2 步" in error.message_zh and "批量大小 32" in error.message_zh and "已经释放" in error.message_zh


def test_a_missing_gpu_and_an_unknown_failure_in_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(step: int) -> None:
        if step == 3:
            raise ValueError("something odd at 7")

    error = last_error(train(SPEC, tiny_config(tmp_path), hooks=RunHooks(on_step=fail)))
    check_event(error, kind="runtime")
    assert error.message.startswith("Training failed at step 3: ValueError: something odd at 7")
    assert error.message_zh.startswith("训练在第 3 步失败")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    error = last_error(train(SPEC, tiny_config(tmp_path, device="cuda")))
    check_event(error, kind="device")
    assert "`cpu`" in error.message_zh


def test_a_run_that_would_not_fit_in_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's own check, the estimate behind Start and the Check button: all say it in Chinese."""
    monkeypatch.setattr("explorer.training.engine.free_memory_bytes", lambda device: 2**20)
    error = last_error(train(SPEC, tiny_config(tmp_path)))
    assert error.kind == "config" and error.field == "batch_size"
    assert_chinese(error.message, error.message_zh)
    status = train_panel.failed_status(error, zh=True)
    assert "批量大小（`batch_size`）：放不下" in status and not english_lines(status.replace("**", " "))
    assert train_panel.failed_status(error).startswith("⛔ **The run was refused.** Batch size: Won't fit")

    monkeypatch.setattr("explorer.training.estimate.free_memory_bytes", lambda device: 2**20)
    settings = [SPEC.to_dict(), "short", "shapes", 1, 32, 1e-3, "adam", "fp32", "cpu", 32, 64]
    english = list(train_panel.start_training(*settings))[-1][0]
    chinese = list(train_panel.start_training(*settings, zh=True))[-1][0]
    assert "Won't fit" in english and "放不下" in chinese
    assert_chinese(english, chinese)
    english, chinese = train_panel.check_run(*settings), train_panel.check_run(*settings, zh=True)
    assert english.startswith("⛔ Won't fit") and chinese.startswith("⛔ 放不下")
    assert_chinese(english, chinese)


def test_the_memory_verdict_in_chinese_fits_or_not() -> None:
    analysis = analyze(SPEC, batch_size=1)
    for available, device_type, device in ((2**20, "cuda", "cuda:0"), (2**40, "cuda", "cuda:0"),
                                           (None, "cpu", "cpu"), (2**20, "cpu", "cpu")):
        for precision in ("fp32", "bf16"):
            verdict = check_memory(analysis, 64, optimizer="adam", precision=precision, device_type=device_type,
                                   device=device, available_bytes=available, data_bytes=1000)
            assert_chinese(verdict.message(), verdict.message(zh=True))
            assert verdict.message(zh=True).startswith("放得下" if verdict.fits else "放不下")


def test_the_check_button_measures_and_says_it_in_chinese() -> None:
    settings = [SPEC.to_dict(), "short", "shapes", 1, 16, 1e-3, "adam", "fp32", "cpu", 32, 64]
    chinese = train_panel.check_run(*settings, zh=True)
    assert chinese.startswith("✅ 放得下") and "每轮约" in chinese
    assert re.search(r"[\u4e00-\u9fff]", chinese) and not english_lines(chinese)


# -- the Inspect tab ------------------------------------------------------------------------------------------------


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _bomb_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1)))
            + chunk(b"IEND", b""))


def _check_refusal(exc: SpecError) -> None:
    assert_chinese(exc.message, exc.message_zh)
    shown = inspect_panel.error_message(exc, zh=True)
    assert exc.message_zh.replace("'", "&#x27;")[:10] in shown
    assert not english_lines(re.sub(r"</?div\b[^>]*>", "\n", shown))
    what = "Could not use this image" if exc.field == "image" else "Could not use this checkpoint"
    assert inspect_panel.error_message(exc) == f"<div class='spec-error'>⚠️ {what}: {html.escape(exc.message)}</div>"


def test_bad_images_in_chinese(tmp_path: Path) -> None:
    noise = _png(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8))
    (tmp_path / "photo.png").write_bytes(b"hello, I am text")
    for source in (b"hello, I am text", _bomb_header(9000, 9000), _bomb_header(100_000, 100_000),
                   noise[: len(noise) // 2], tmp_path / "missing.png", tmp_path, tmp_path / "photo.png", 3.5,
                   np.zeros((5, 5, 7), dtype=np.uint8), Image.new("L", (8000, 6000)), np.zeros((4, 4), dtype=object)):
        with pytest.raises(ImageError) as info:
            load_image(source)  # type: ignore[arg-type]
        _check_refusal(info.value)


def test_foreign_and_damaged_checkpoints_in_chinese(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    files = {"weights.pt": model.state_dict(), "list.pt": [1, 2, 3], "object.pt": None, "partial.pt": {"spec": {}}}
    for name, data in files.items():
        if data is not None:
            torch.save(data, tmp_path / name)
    torch.save(model, tmp_path / "object.pt")  # a whole module: Python objects
    good = tmp_path / "weights.pt"
    (tmp_path / "truncated.pt").write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    (tmp_path / "text.pt").write_bytes(b"not a checkpoint at all")
    (tmp_path / "empty.pt").write_bytes(b"")
    for name in (*files, "truncated.pt", "text.pt", "empty.pt", "missing.pt"):
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(tmp_path / name)
        _check_refusal(info.value)


def test_processing_notes_and_step_names_in_chinese() -> None:
    preprocessing = Preprocessing.for_spec("shapes", SPEC, [0.3], [0.3])
    rgba = np.zeros((40, 60, 4), dtype=np.uint8)
    rgba[10:30, 20:40] = (20, 20, 20, 255)  # a dark square on a transparent background
    prepared = prepare_image(Image.fromarray(rgba, "RGBA"), preprocessing)
    assert len(prepared.notes_zh) == len(prepared.notes) >= 3
    for english, chinese in zip(prepared.notes, prepared.notes_zh):
        assert_chinese(english, chinese)
    result = SimpleNamespace(prepared=prepared, notes=("Grad-CAM is zero everywhere at block5",),
                             notes_zh=("Grad-CAM 在 `block5` 处处为零",),
                             timings={"prepare": 0.004, "forward": 0.01, "gradcam": 0.002, "render": 0.03,
                                      "total": 0.05})
    english, chinese = inspect_panel.details_markdown(result), inspect_panel.details_markdown(result, zh=True)
    assert english.startswith("Time: prepare 4 ms, forward 10 ms")
    assert "预处理 4 ms" in chinese and "前向传播 10 ms" in chinese
    assert_chinese(english, chinese)


# -- presets ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["vgg61", "no such thing", 3, None])
def test_an_unknown_preset_in_chinese(name: Any) -> None:
    with pytest.raises(SpecError) as info:
        get_preset(name)
    error = info.value
    assert error.field == "preset"
    assert_chinese(error.message, error.message_zh)
    assert error.text(zh=True).startswith("preset：")
