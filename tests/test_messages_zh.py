"""Spec errors, export notes and limit refusals in Chinese: every bad input gets a Chinese message with the same
field and the same numbers as the English one, and no English words beyond identifiers and what the user typed."""
from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace
from typing import Any, Callable

import pytest

from explorer.export import export_notes
from explorer.families import FAMILIES
from explorer.presets import load_preset
from explorer.server import DiskBudget, LimitExceeded, TrainingQueue
from explorer.server.limits import Client
from explorer.share import decode_spec, encode_spec
from explorer.specs import (AlexNetSpec, GoogLeNetSpec, InceptionSpec, NiNBlockSpec, NiNSpec, SpecError, VGGSpec,
                            parse_spec)
from explorer.specs.budget import place_zh
from explorer.specs.fields import (check_bool, check_choice, check_float, check_int, check_int_tuple,
                                   check_optional_int, check_sequence, parse_literal)
from explorer.specs.resnet import ResNetSpec, StageSpec
from explorer.ui import limits
from explorer.ui.convert import spec_from_values, table_rows, values_from_spec
from explorer.ui.explore import error_updates, export_size_refusal
from tests.test_messages import CASES

# --- what a Chinese message may contain ------------------------------------------------------------------------
CJK = re.compile(r"[\u4e00-\u9fff]")
#: Latin words a Chinese message may keep: every spec field, family, choice and a few literals and units.
ALLOWED_WORDS = {
    *(f.name for cls in (VGGSpec, GoogLeNetSpec, NiNSpec, AlexNetSpec, ResNetSpec, InceptionSpec, NiNBlockSpec,
                         StageSpec) for f in dataclasses.fields(cls)),
    *FAMILIES, *(family.spec_class.family_label for family in FAMILIES.values()),
    "Inception", "true", "false", "True", "False", "none", "None", "NaN", "JSON", "GMACs", "LRN", "torchvision",
    "d2l", "ceil", "pad", "basic", "bottleneck", "url", "x", "N", "ONNX", "PyTorch", "logits", "python", "m",
    "explorer", "export", "spec", "json", "format", "onnx", "EXPLORER_MAX_ONNX_MB", "MB", "GB", "kB", "s",
    "maxpool",  # ResNet's stem layer name
}
#: Echoed text: quoted (or quoted and cut short with "..."), and code in backticks.
QUOTED = re.compile(r"\"(?:[^\"\\]|\\.)*(?:\"|\.\.\.)|'(?:[^'\\]|\\.)*(?:'|\.\.\.)|`[^`]*`")
WORD = re.compile(r"(?<![A-Za-z0-9_.])[A-Za-z_][A-Za-z0-9_]*")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def numbers(text: str) -> set[str]:
    """The numbers in a message; "2.5 billion" counts as 25 (亿 is 10^8), the Chinese way of saying it."""
    text = re.sub(r"(\d+(?:\.\d+)?) billion",
                  lambda match: f"{float(match[1]) * 10:g}", text)
    return set(NUMBER.findall(text))


def english_words(zh: str) -> list[str]:
    """Latin words in ``zh`` outside quotes (echoed text, code) that are not identifiers or allowed words."""
    bare = QUOTED.sub(" ", zh)
    return [word for word in WORD.findall(bare)
            if word not in ALLOWED_WORDS and not re.search(r"[\d_]", word)]


def assert_chinese(error: SpecError) -> None:
    """``error`` has a Chinese message: CJK, no stray English, the same field and numbers as the English."""
    english, chinese = error.message, error.message_zh
    assert chinese, f"no Chinese for: {error}"
    assert CJK.search(chinese), chinese
    assert not english_words(chinese), f"English words {english_words(chinese)} in: {chinese}"
    assert numbers(english) == numbers(chinese), f"numbers differ:\n  {english}\n  {chinese}"
    assert error.text(True) == (f"{error.field}：{chinese}" if error.field else chinese)
    assert error.text(False) == str(error)  # English unchanged
    assert error.message_for(True) == chinese and error.message_for(False) == english


def error_from(make: Callable[[], Any]) -> SpecError:
    with pytest.raises(SpecError) as info:
        make()
    return info.value


# --- the English suite's bad inputs -----------------------------------------------------------------------------
@pytest.mark.parametrize("family, changes", [(case[0], case[1]) for case in CASES],
                         ids=[f"{case[0]}-{case[2]}-{index}" for index, case in enumerate(CASES)])
def test_every_bad_input_of_the_english_suite_has_chinese(family: str, changes: dict[str, Any]) -> None:
    error = error_from(lambda: parse_spec({"family": family, **changes}))
    assert_chinese(error)


HOSTILE = [
    "__import__('os').system('ls')", "exec(\"open('x', 'w')\")", "eval('1')", "(lambda: 1)()",
    "[x for x in ().__class__.__base__.__subclasses__()]", "((1, 64), open('x', 'w'))",
    "((1, 64),) if open('x') else ()", "<script>alert(1)</script>" * 50, "x" * 10_001, "(" * 50 + ")" * 50,
    "\n".join(["((1, 64),"] * 200), "((1, 1e400),)",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_gets_chinese_and_never_runs(text: str) -> None:
    assert_chinese(error_from(lambda: parse_spec({"family": "vgg", "conv_arch": text})))


# --- more shapes of bad input: every family, budgets, JSON text, helpers ---------------------------------------
MORE = {
    "family missing": lambda: parse_spec({"conv_arch": [[1, 64]]}),
    "family unknown": lambda: parse_spec({"family": "lenet"}),
    "family list": lambda: parse_spec({"family": ["vgg"]}),
    "not an object": lambda: parse_spec([1, 2]),
    "json empty": lambda: parse_spec(""),
    "json brace": lambda: parse_spec("{"),
    "json quotes": lambda: parse_spec("{'family': 'vgg'}"),
    "json comma": lambda: parse_spec('{"family": "vgg",}'),
    "json extra": lambda: parse_spec('{"family": "vgg"} x'),
    "json escape": lambda: parse_spec('{"family": "\\x"}'),
    "json nan": lambda: parse_spec('{"family": "vgg", "dropout": NaN}'),
    "json digits": lambda: parse_spec('{"family": "vgg", "ratio": ' + "9" * 5000 + "}"),
    "json too long": lambda: parse_spec(" " * 100_001),
    "json nested": lambda: parse_spec("[" * 100_000 + "]" * 0),
    "json null": lambda: parse_spec("null"),
    "too many layers": lambda: ResNetSpec(stages=[(64, 8, 1)] * 8, input_size=32),
    "too many params": lambda: VGGSpec(hidden_sizes=(65536, 65536, 65536)),
    "too many macs": lambda: NiNSpec(blocks=[[16384, 1, 1, 0]], input_size=1024),
    "too many activations": lambda: NiNSpec(blocks=[[16384, 1, 1, 0, [1]]], input_size=1024),
    "vgg 11 blocks": lambda: VGGSpec(conv_arch=[[1, 8]] * 11, input_size=1024),
    "vgg fc as conv": lambda: VGGSpec(conv_arch=[[1, 8]] * 5, input_size=16, fc_as_conv=True),
    "vgg ratio one channel": lambda: VGGSpec(ratio=2, conv_arch=[[1, 1]]),
    "vgg ratio many channels": lambda: VGGSpec(ratio=2000, conv_arch=[[1, 1024]]),
    "vgg pair": lambda: VGGSpec(conv_arch=[None]),
    "vgg avgpool": lambda: VGGSpec(avgpool_size=65),
    "vgg unknown key": lambda: parse_spec({"family": "vgg", "zzz": 1}),
    "resnet stage form": lambda: ResNetSpec(stages=[(1, 2, 3, 4)]),
    "resnet stage nested": lambda: ResNetSpec(stages=[(1, (2,))]),
    "resnet stage missing": lambda: ResNetSpec(stages=[{"blocks": 2}]),
    "resnet stage key": lambda: ResNetSpec(stages=[{"blocks": 2, "channels": 8, "strides": 1}]),
    "resnet stage not mapping": lambda: ResNetSpec(stages=[5]),
    "resnet stage text": lambda: ResNetSpec(stages=["abc"]),
    "resnet stride": lambda: ResNetSpec(stages=[(2, 64, 5)]),
    "resnet bottleneck limit": lambda: ResNetSpec(stages=[(1, 8192)], block="bottleneck"),
    "resnet block": lambda: ResNetSpec(block="wide"),
    "resnet style": lambda: ResNetSpec(style=3),
    "resnet stages empty": lambda: ResNetSpec(stages=[]),
    "resnet stages many": lambda: ResNetSpec(stages=[(1, 8)] * 9),
    "alexnet groups out": lambda: AlexNetSpec(groups=2, conv_channels=(64, 193, 384, 256, 256)),
    "alexnet groups one": lambda: AlexNetSpec(groups=2, conv_channels=(1, 192, 384, 256, 256)),
    "alexnet lrn alpha": lambda: AlexNetSpec(lrn_alpha=11),
    "alexnet hidden": lambda: AlexNetSpec(hidden_sizes=[1] * 9),
    "googlenet block text": lambda: GoogLeNetSpec(inceptions=["abc"] * 9),
    "googlenet block number": lambda: GoogLeNetSpec(inceptions=[5] * 9),
    "googlenet block key": lambda: GoogLeNetSpec(inceptions=[{"ch1x1": 1, "ch3x3red": 1, "ch3x3": 1, "ch5x5red": 1,
                                                              "ch5x5": 1, "pool_prj": 1}] * 9),
    "googlenet dropout": lambda: GoogLeNetSpec(dropout=1),
    "googlenet aux dropout": lambda: GoogLeNetSpec(aux_dropout="x"),
    "googlenet aux": lambda: GoogLeNetSpec(aux_logits="yes"),
    "nin mlp": lambda: NiNSpec(blocks=[[8, 3, 1, 1, [8] * 9]]),
    "nin mlp entry": lambda: NiNSpec(blocks=[[8, 3, 1, 1, [0]]]),
    "nin pool kernel": lambda: NiNSpec(pool_kernel=0),
    "nin head": lambda: NiNSpec(head_kernel_size=32),
    "nin blocks empty": lambda: NiNSpec(blocks=[]),
    "nin blocks many": lambda: NiNSpec(blocks=[[8, 3, 1, 1]] * 33),
    "in_channels": lambda: VGGSpec(in_channels=65),
    "helper default literal": lambda: parse_literal("abc", "input_size"),
    "helper not text": lambda: parse_literal(5, "input_size"),
    "helper empty default": lambda: parse_literal(" ", "input_size"),
    "helper deep": lambda: parse_literal("(" * 9 + ")" * 9, "x_y"),
    "helper brackets": lambda: parse_literal("((1)", "x_y"),
    "helper int one": lambda: check_int(1, "padding", minimum=0, maximum=0, hint="kernel 1", hint_zh="卷积核为 1"),
    "helper int open": lambda: check_int(-1, "seed", minimum=0, maximum=2**63 - 1),
    "helper int huge bound": lambda: check_int(0, "batch_size", minimum=1, maximum=2_000_000),
    "helper optional": lambda: check_optional_int(0, "avgpool_size", minimum=1, maximum=64),
    "helper float open": lambda: check_float(0, "lr", minimum=0.0, maximum=10.0, include_minimum=False),
    "helper float max": lambda: check_float(11, "lr", minimum=0.0, maximum=10.0, include_maximum=False),
    "helper float tiny": lambda: check_float(1, "eps", minimum=0.0, maximum=1e-6),
    "helper float inf": lambda: check_float(float("-inf"), "lr", minimum=0.0, maximum=1.0),
    "helper float huge int": lambda: check_float(10**400, "lr", minimum=0.0, maximum=1.0),
    "helper float object": lambda: check_float(object(), "lr", minimum=0.0, maximum=1.0),
    "helper bool": lambda: check_bool("yes", "compile"),
    "helper choice": lambda: check_choice("adamw", "optimizer", ("sgd", "momentum", "adam")),
    "helper choice float": lambda: check_choice(5.0, "ch5x5_kernel", (3, 5)),
    "helper sequence many": lambda: check_sequence([1, 2, 3], "sizes", min_length=0, max_length=2),
    "helper sequence text": lambda: check_sequence("abc", "sizes", min_length=0, max_length=2),
    "helper sequence few": lambda: check_sequence([1], "sizes", min_length=2, max_length=4),
    "helper int tuple": lambda: check_int_tuple([1, 2], "sizes", min_length=3, max_length=3, minimum=1, maximum=9),
    "share empty": lambda: decode_spec(""),
    "share damaged": lambda: decode_spec("!!!not-a-link!!!"),
    "share long": lambda: decode_spec("x" * 9_000),
    "share bomb": lambda: decode_spec(__import__("base64").urlsafe_b64encode(
        __import__("zlib").compress(b" " * 200_000)).decode().rstrip("=")),
    "share json": lambda: decode_spec('{"family": "vgg", "ratio": 0}'),
    "share token": lambda: decode_spec(encode_spec(load_preset("vgg11"))[:-12] + "A" * 12),
}


@pytest.mark.parametrize("name", MORE)
def test_more_bad_inputs_have_chinese(name: str) -> None:
    assert_chinese(error_from(MORE[name]))


# --- the editors: widget values -> spec --------------------------------------------------------------------------
def draft_with(preset: str, **changes: Any) -> dict[str, Any]:
    return {**values_from_spec(load_preset(preset)), **changes}


def inception_table_with(row: int, column: int, value: Any) -> list[list[Any]]:
    table = [list(cells) for cells in values_from_spec(load_preset("googlenet"))["googlenet.inceptions"]]
    table[row][column] = value
    return table


EDITS = {
    "family": lambda: spec_from_values("lenet", {}),
    "vgg conv_arch empty": lambda: spec_from_values("vgg", draft_with("vgg16", **{"vgg.conv_arch": " "})),
    "vgg conv_arch code": lambda: spec_from_values("vgg", draft_with("vgg16", **{
        "vgg.conv_arch": "__import__('os').system('ls')"})),
    "vgg hidden text": lambda: spec_from_values("vgg", draft_with("vgg16", **{"vgg.hidden_sizes": "4096, abc"})),
    "vgg hidden dict": lambda: spec_from_values("vgg", draft_with("vgg16", **{"vgg.hidden_sizes": "{1: 2}"})),
    "vgg ratio empty": lambda: spec_from_values("vgg", draft_with("vgg16", **{"vgg.ratio": None})),
    "vgg ratio text": lambda: spec_from_values("vgg", draft_with("vgg16", **{"vgg.ratio": "abc"})),
    "input size": lambda: spec_from_values("vgg", draft_with("vgg16", input_size=2.5)),
    "input too small": lambda: spec_from_values("vgg", draft_with("vgg16", input_size=16)),
    "googlenet float cell": lambda: spec_from_values("googlenet", draft_with(
        "googlenet", **{"googlenet.inceptions": inception_table_with(4, 5, 12.5)})),
    "googlenet blank cell": lambda: spec_from_values("googlenet", draft_with(
        "googlenet", **{"googlenet.inceptions": inception_table_with(4, 5, None)})),
    "googlenet short row": lambda: spec_from_values("googlenet", draft_with(
        "googlenet", **{"googlenet.inceptions": [row[:4] for row in inception_table_with(0, 3, 1)]})),
    "nin cell": lambda: spec_from_values("nin", draft_with("d2l_nin", **{"nin.blocks": [[96, 11, 4, None, ""]]})),
    "alexnet conv1": lambda: spec_from_values("alexnet", draft_with("alexnet", **{"alexnet.conv1": "11, 4"})),
    "table not a table": lambda: table_rows(5, "nin.blocks"),
    "table too long": lambda: table_rows([[1]] * 65, "nin.blocks"),
    "table bad row": lambda: table_rows([5], "nin.blocks"),
}


@pytest.mark.parametrize("name", EDITS)
def test_editor_values_have_chinese(name: str) -> None:
    assert_chinese(error_from(EDITS[name]))


def test_resnet_editor_rows_have_chinese() -> None:
    draft = values_from_spec(load_preset("resnet18"))
    keys = [key for key in draft if key.startswith("resnet.") and isinstance(draft[key], list)]
    assert keys, "the ResNet editor has a stage table"
    for rows in ([[2, None, 1]], [[2]]):
        assert_chinese(error_from(lambda: spec_from_values("resnet", {**draft, keys[0]: rows})))


# --- what the Chinese says (a few exact texts) -------------------------------------------------------------------
def test_chinese_wording_of_common_errors() -> None:
    error = error_from(lambda: parse_spec({"family": "vgg", "conv_arch": "abc"}))
    assert error.text(True) == ("conv_arch：'abc' 不是由 (num_convs, out_channels) 数对组成的列表；"
                                "请写成 ((1, 64), (1, 128)) 这样的形式")
    error = error_from(lambda: parse_spec({"family": "vgg", "conv_arch": [[1, 64], [0, 128]]}))
    assert error.message_zh == "num_convs（第一个数）必须是 1 到 64 之间的整数，收到的是 0"
    error = error_from(lambda: parse_spec({"family": "vgg", "dropout": None}))
    assert error.message_zh.endswith("收到的是空值")
    error = error_from(lambda: parse_spec({"family": "vgg", "conv_arch": [[1, 64]] * 5, "input_size": 28}))
    assert error.message_zh == ("第 5 块：经过最大池化后空间尺寸变为 0x0（输入 28x28 对 5 个 VGG 块来说太小；"
                                "请使用 >= 32 的输入尺寸或减少块数）")
    error = error_from(lambda: parse_spec({"family": "alexnet", "conv_chanels": [64] * 5}))
    assert error.message_zh.startswith("不是 AlexNet 网络的设置；你是不是想写 conv_channels？可用的设置有 ")


@pytest.mark.parametrize("where, chinese", [
    ("block 3 conv 2", "第 3 块的第 2 个卷积层"), ("block 5", "第 5 块"), ("stem conv1", "主干 conv1"),
    ("pool before inception 4a", "Inception 块 4a 之前的池化层"), ("inception 5b", "Inception 块 5b"),
    ("NiN block 2 max-pool", "第 2 个 NiN 块之后的最大池化层"), ("conv2 max-pool", "conv2 之后的最大池化层"),
    ("residual block layer2.0 shortcut", "残差块 layer2.0 的捷径"), ("classifier fc1 (as conv)", "分类器 fc1（卷积形式）"),
    ("something new", "something new"),
])
def test_layer_places_in_chinese(where: str, chinese: str) -> None:
    assert place_zh(where) == chinese


def test_an_error_without_chinese_falls_back_to_english() -> None:
    error = SpecError("conv_arch[1]", "bad")
    assert error.message_zh == "" and error.text(True) == "conv_arch[1]: bad" == str(error)


# --- the page: the inline error line, export notes, refusals -----------------------------------------------------
def stub_panel() -> SimpleNamespace:
    """Just what error_updates touches: the error line and the result outputs (none here)."""
    return SimpleNamespace(error="spec-error", result_outputs=lambda: [])


def test_error_updates_shows_the_chinese_text() -> None:
    error = error_from(lambda: parse_spec({"family": "vgg", "ratio": 0}))
    chinese = error_updates(stub_panel(), error, chinese=True)["spec-error"]
    assert chinese["visible"] is True
    assert chinese["value"].startswith("**ratio**：必须是 1 到 1024 之间的整数")
    assert CJK.search(chinese["value"]) and "whole number" not in chinese["value"]
    english = error_updates(stub_panel(), error)["spec-error"]
    assert english["value"] == f"**ratio**: {error.message}"


def test_error_updates_escapes_the_chinese_text() -> None:
    error = error_from(lambda: parse_spec({"family": "vgg", "conv_arch": "**bold** <b>"}))
    value = error_updates(stub_panel(), error, chinese=True)["spec-error"]["value"]
    assert "\\*\\*bold\\*\\*" in value and "\\<b\\>" in value


def test_the_real_panel_shows_chinese_for_a_chinese_browser() -> None:
    import gradio as gr

    from explorer.ui.explore import build_explore_panel, make_field_handler

    with gr.Blocks():
        panel = build_explore_panel()
    draft = values_from_spec(load_preset("vgg16"))
    request = SimpleNamespace(headers={"accept-language": "zh-CN,zh;q=0.9"})
    out = make_field_handler(panel, "vgg.conv_arch")("((1, 64), (1, 128), (2,))", draft, 128, "Parameters", False,
                                                     None, "", False, request)
    assert out[panel.error]["value"].startswith("**conv_arch[2]**：每个块是一对数")
    english = make_field_handler(panel, "vgg.conv_arch")("((1, 64), (1, 128), (2,))", draft, 128, "Parameters",
                                                         False, None, "")
    assert "each block is a pair" in english[panel.error]["value"]


@pytest.mark.parametrize("preset, kind", [("googlenet", "pytorch"), ("googlenet", "onnx"), ("vgg16", "onnx"),
                                          ("resnet18", "onnx"), ("vgg16", "json")])
def test_export_notes_in_chinese(preset: str, kind: str) -> None:
    spec = load_preset(preset)
    if preset == "googlenet":
        spec = spec.replace(aux_logits=True)
    english, chinese = export_notes(spec, kind), export_notes(spec, kind, zh=True)
    assert len(english) == len(chinese)
    for en, zh in zip(english, chinese):
        assert CJK.search(zh) and not english_words(zh), zh
        assert numbers(en) == numbers(zh), (en, zh)


def test_onnx_size_refusal_in_chinese() -> None:
    english = export_size_refusal("onnx", 600_000_000, 200_000_000)
    chinese = export_size_refusal("onnx", 600_000_000, 200_000_000, chinese=True)
    assert english.startswith("This ONNX file would be about 600 MB") and CJK.search(chinese)
    assert numbers(english) == numbers(chinese) and not english_words(chinese)


def queue_refusals() -> list[LimitExceeded]:
    """Every refusal the training queue gives, as the server words it."""
    refusals = []
    for waiting_per_client in (1, 0):
        queue = TrainingQueue(waiting_per_client=waiting_per_client, max_waiting=5)
        me = Client(address="10.0.0.7", session="abc")
        queue.join(Client(address="10.0.0.1", session="other"), kind="train", network="vgg")
        for _ in range(waiting_per_client):
            queue.join(me, kind="train", network="vgg")
        with pytest.raises(LimitExceeded) as info:
            queue.join(me, kind="train", network="vgg")
        refusals.append(info.value)
    full = TrainingQueue(waiting_per_client=1, max_waiting=1)
    full.join(Client(address="a", session="a"), kind="train", network="vgg")
    full.join(Client(address="b", session="b"), kind="train", network="vgg")
    with pytest.raises(LimitExceeded) as info:
        full.join(Client(address="c", session="c"), kind="train", network="vgg")
    refusals.append(info.value)
    return refusals


def test_server_refusals_in_chinese(tmp_path) -> None:  # noqa: ANN001
    refusals = queue_refusals()
    disk = DiskBudget(tmp_path, cap_bytes=1_000, max_age_seconds=3600)
    folder = disk.new_folder("exports")
    with pytest.raises(LimitExceeded) as info:
        with disk.reserve(5_000, folder):
            pass
    refusals.append(info.value)
    refusals.append(limits.limit_exceeded("Too many exports from 1.2.3.4: at most 5 in a row, then one every 10 s. "
                                          "Try again in 7 s.", "来自 1.2.3.4 的导出太频繁：最多连续导出 5 次，之后每 10 秒一次。"
                                                               "请 7 秒后再试。"))
    for exc in refusals:
        english, chinese = limits.refusal_text(exc), limits.refusal_text(exc, chinese=True)
        assert english == str(exc)
        assert CJK.search(chinese) and not english_words(chinese), chinese
        assert numbers(english) == numbers(chinese), (english, chinese)
        assert limits.refusal(exc, chinese=True).message == chinese
        request = SimpleNamespace(headers={"accept-language": "zh-CN"})
        assert limits.refusal(exc, request).message == chinese
        assert limits.refusal(exc).message == english
