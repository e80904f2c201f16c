"""Specs: round trips, the text a user types, and every way a spec can be wrong."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess

import pytest
import torch
from torch import nn

from explorer import analyze, build_model
from explorer.presets import PRESETS_DIR, load_preset, preset_names
from explorer.specs import (AlexNetSpec, GoogLeNetSpec, InceptionSpec, NiNBlockSpec, NiNSpec, SpecError, VGGSpec,
                            format_conv_arch, parse_conv_arch, parse_spec)
from explorer.specs.budget import MAX_INPUT_SIZE
from explorer.specs.fields import MAX_NESTING, MAX_TEXT_LENGTH

# GoogLeNet's Inception table as d2l writes it (section 8.4), without the input channels d2l passes first:
# Inception(in, c1, (c2red, c2), (c3red, c3), c4).
D2L_INCEPTIONS = [
    (64, (96, 128), (16, 32), 32), (128, (128, 192), (32, 96), 64),
    (192, (96, 208), (16, 48), 64), (160, (112, 224), (24, 64), 64), (128, (128, 256), (24, 64), 64),
    (112, (144, 288), (32, 64), 64), (256, (160, 320), (32, 128), 128),
    (256, (160, 320), (32, 128), 128), (384, (192, 384), (48, 128), 128),
]

HAND_MADE = {
    "vgg": VGGSpec(conv_arch=((1, 16), (2, 32), (1, 48)), in_channels=1, num_classes=7, input_size=40,
                   hidden_sizes=(64,), dropout=0.25, batch_norm=True, ratio=2, avgpool_size=None),
    "vgg_fc_as_conv": VGGSpec(conv_arch=((1, 8), (1, 16)), input_size=48, hidden_sizes=(32, 32), fc_as_conv=True,
                              avgpool_size=3, num_classes=5),
    "googlenet": GoogLeNetSpec(inceptions=[(8, (8, 16), (4, 8), 8)] * 9, in_channels=1, num_classes=3,
                               input_size=64, stem_channels=(16, 16, 32), batch_norm=False, aux_logits=True,
                               ch5x5_kernel=5, pool_mode="pad", dropout=0.0, aux_dropout=0.5),
    "nin": NiNSpec(blocks=(NiNBlockSpec(32, 5, 1, 2, (24, 16)), NiNBlockSpec(48, 3, 2, 1)), in_channels=3,
                   num_classes=4, input_size=48, pool_kernel=2, pool_stride=2, dropout=0.0, head_kernel_size=1),
    "alexnet": AlexNetSpec(in_channels=1, num_classes=10, input_size=96, conv_channels=(32, 64, 96, 64, 32),
                           conv1_kernel=7, conv1_stride=2, conv1_padding=3, hidden_sizes=(128,), dropout=0.1,
                           lrn=True, lrn_size=3, lrn_alpha=2e-4, lrn_beta=0.5, lrn_k=1.0, overlapping_pool=False,
                           groups=2, avgpool_size=None),
}


def expect_error(data, field: str | None = None) -> SpecError:  # noqa: ANN001
    """parse_spec(data) must raise SpecError (optionally naming ``field``); returns it."""
    with pytest.raises(SpecError) as info:
        parse_spec(data)
    if field is not None:
        assert info.value.field == field, str(info.value)
    return info.value


# --- round trips ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", preset_names())
def test_preset_round_trips_through_dict_and_json_text(name: str) -> None:
    spec = load_preset(name)
    data = spec.to_dict()
    assert data["family"] == spec.family
    assert parse_spec(data) == spec
    assert type(parse_spec(data)) is type(spec)
    assert parse_spec(json.dumps(data)) == spec
    # The preset file's own "spec" object is what we re-create.
    file_spec = json.loads((PRESETS_DIR / f"{name}.json").read_text(encoding="utf-8"))["spec"]
    assert parse_spec(file_spec) == spec


@pytest.mark.parametrize("key", sorted(HAND_MADE))
def test_hand_made_spec_round_trips(key: str) -> None:
    spec = HAND_MADE[key]
    assert spec != type(spec)()  # the round trip below compares non-default values
    text = json.dumps(spec.to_dict())
    assert parse_spec(text) == spec
    assert parse_spec(json.loads(text)) == spec
    assert parse_spec(spec) is spec


def test_round_trip_would_notice_a_changed_field() -> None:
    data = HAND_MADE["alexnet"].to_dict()
    data["lrn_beta"] = 0.75
    assert parse_spec(data) != HAND_MADE["alexnet"]


def test_specs_are_frozen_and_replace_revalidates() -> None:
    spec = VGGSpec()
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.input_size = 32  # type: ignore[misc]
    assert spec.replace(input_size=64).input_size == 64
    with pytest.raises(SpecError) as info:
        spec.replace(input_size=0)
    assert info.value.field == "input_size"


# --- the text a user types --------------------------------------------------------------------------------------
def test_conv_arch_as_typed_text() -> None:
    spec = VGGSpec(conv_arch="((1, 64), (1, 128))", input_size=32)
    assert spec.conv_arch == ((1, 64), (1, 128))
    assert parse_spec({"family": "vgg", "conv_arch": " ((1, 64), (1, 128)) ", "input_size": 32}) == spec
    assert VGGSpec(conv_arch="[[2, 32]]", input_size=32).conv_arch == ((2, 32),)


@pytest.mark.parametrize("conv_arch", [((1, 64),), ((1, 64), (1, 128)), ((2, 64), (2, 128), (3, 256))])
def test_format_conv_arch_is_the_text_parse_conv_arch_reads(conv_arch) -> None:  # noqa: ANN001
    text = format_conv_arch(conv_arch)
    assert text.startswith("((") and text.endswith(")")
    assert parse_conv_arch(text) == conv_arch


def test_d2l_nested_inception_form() -> None:
    spec = GoogLeNetSpec(inceptions=D2L_INCEPTIONS)
    assert spec.inceptions[6] == InceptionSpec(ch1x1=256, ch3x3red=160, ch3x3=320, ch5x5red=32, ch5x5=128,
                                               pool_proj=128)
    # Input channels are derived: the paper's Table 1 (and torchvision) give these.
    assert spec.inception_in_channels() == (192, 256, 480, 512, 512, 512, 528, 832, 832)
    assert spec.inceptions[-1].out_channels == 1024
    # The same rows as flat six-tuples, as named objects and as typed text all give the same spec.
    flat = [(c1, r2, c2, r3, c3, c4) for c1, (r2, c2), (r3, c3), c4 in D2L_INCEPTIONS]
    named = [dict(zip(("ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj"), row)) for row in flat]
    assert GoogLeNetSpec(inceptions=flat) == spec
    assert GoogLeNetSpec(inceptions=named) == spec
    assert GoogLeNetSpec(inceptions=[str(row) for row in D2L_INCEPTIONS]) == spec


@pytest.mark.parametrize("row", [
    (64, (96, 128, 5), (16,), 32),  # six numbers, wrongly grouped
    (64, 96, 128, 16, 32, [32]),
    (64, (96, 128), (16, 32)),
    (64, (96, 128), (16, 32), 32, 1),
])
def test_misgrouped_inception_row_is_refused(row) -> None:  # noqa: ANN001
    error = expect_error({"family": "googlenet", "inceptions": [row] + D2L_INCEPTIONS[1:]}, "inceptions.3a")
    assert "c2red" in error.message


# --- types: bools, floats, NaN, infinities, signs -----------------------------------------------------------------
@pytest.mark.parametrize("family, field, value, where", [
    ("vgg", "in_channels", True, "in_channels"),
    ("vgg", "num_classes", False, "num_classes"),
    ("vgg", "conv_arch", [[1, 64], [True, 128]], "conv_arch[1]"),
    ("vgg", "conv_arch", [[1, True]], "conv_arch[0]"),
    ("vgg", "hidden_sizes", [True], "hidden_sizes[0]"),
    ("vgg", "avgpool_size", True, "avgpool_size"),
    ("vgg", "batch_norm", 1, "batch_norm"),
    ("alexnet", "groups", True, "groups"),
    ("alexnet", "conv_channels", [64, 192, True, 256, 256], "conv_channels[2]"),
    ("nin", "pool_kernel", True, "pool_kernel"),
])
def test_bools_refused_where_ints_are_expected(family: str, field: str, value, where: str) -> None:  # noqa: ANN001
    expect_error({"family": family, field: value}, where)


@pytest.mark.parametrize("family, field, value, where", [
    ("vgg", "in_channels", 3.0, "in_channels"),
    ("vgg", "input_size", 224.5, "input_size"),
    ("vgg", "conv_arch", [[1, 64.0]], "conv_arch[0]"),
    ("vgg", "ratio", 2.0, "ratio"),
    ("googlenet", "ch5x5_kernel", 5.0, "ch5x5_kernel"),
    ("alexnet", "groups", 2.0, "groups"),
    ("alexnet", "hidden_sizes", [4096.0], "hidden_sizes[0]"),
    ("nin", "num_classes", 10.0, "num_classes"),
    ("vgg", "in_channels", "3", "in_channels"),
])
def test_floats_and_text_refused_for_ints(family: str, field: str, value, where: str) -> None:  # noqa: ANN001
    expect_error({"family": family, field: value}, where)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinities_refused(value: float) -> None:
    expect_error({"family": "vgg", "dropout": value}, "dropout")
    expect_error({"family": "alexnet", "lrn_k": value}, "lrn_k")


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinities_refused_in_json_text(token: str) -> None:
    expect_error(f'{{"family": "vgg", "dropout": {token}}}')


@pytest.mark.parametrize("family, field, value, where", [
    ("vgg", "in_channels", 0, "in_channels"),
    ("vgg", "input_size", -32, "input_size"),
    ("vgg", "num_classes", 0, "num_classes"),
    ("vgg", "conv_arch", [[0, 64]], "conv_arch[0]"),
    ("vgg", "conv_arch", [[1, -64]], "conv_arch[0]"),
    ("vgg", "conv_arch", [], "conv_arch"),
    ("vgg", "hidden_sizes", [4096, 0], "hidden_sizes[1]"),
    ("vgg", "dropout", -0.1, "dropout"),
    ("vgg", "dropout", 1.0, "dropout"),
    ("alexnet", "conv_channels", [64, 192, 0, 256, 256], "conv_channels[2]"),
    ("alexnet", "conv1_stride", 0, "conv1_stride"),
    ("nin", "blocks", [[96, 0, 1, 0]], "blocks[0].kernel_size"),
    ("nin", "blocks", [[-96, 3, 1, 0]], "blocks[0].out_channels"),
    ("googlenet", "stem_channels", [64, 0, 192], "stem_channels[1]"),
])
def test_zero_and_negative_sizes_refused(family: str, field: str, value, where: str) -> None:  # noqa: ANN001
    expect_error({"family": family, field: value}, where)


# --- structure: fields, family, JSON ----------------------------------------------------------------------------
def test_unknown_field_is_named() -> None:
    error = expect_error({"family": "vgg", "conv_archs": [[1, 64]]}, "conv_archs")
    assert "conv_archs" in str(error)
    assert "conv_arch" in error.message  # the fields it could have meant
    nested = {"family": "googlenet", "inceptions": [{**dict(zip(
        ("ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj"), (64, 96, 128, 16, 32, 32))),
        "ch1x1x": 1}] + D2L_INCEPTIONS[1:]}
    expect_error(nested, "inceptions.3a.ch1x1x")


def test_field_of_another_family_is_unknown() -> None:
    expect_error({"family": "vgg", "conv_channels": [64, 192, 384, 256, 256]}, "conv_channels")


@pytest.mark.parametrize("family", [None, "lenet", "VGG", 3, ["vgg"], {"name": "vgg"}])
def test_missing_or_wrong_family(family) -> None:  # noqa: ANN001
    data = {"conv_arch": [[1, 64]]} if family is None else {"family": family, "conv_arch": [[1, 64]]}
    error = expect_error(data, "family")
    assert "vgg" in error.message and "googlenet" in error.message


@pytest.mark.parametrize("text", ["[1, 2]", "42", '"vgg"', "null", "true", "", "{", "{'family': 'vgg'}",
                                  "not json at all"])
def test_non_object_or_invalid_json_refused(text: str) -> None:
    expect_error(text)


@pytest.mark.parametrize("value", [[1, 2], 42, None, "vgg", 3.5])
def test_non_mapping_values_refused(value) -> None:  # noqa: ANN001
    expect_error(value)


# --- hostile text ------------------------------------------------------------------------------------------------
@pytest.fixture
def no_side_effects(monkeypatch: pytest.MonkeyPatch, tmp_path):  # noqa: ANN001, ANN201
    """Records any call to os.system or subprocess.Popen while hostile text is parsed."""
    calls: list[str] = []

    def recorder(name: str):  # noqa: ANN202
        def record(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            calls.append(name)
            raise AssertionError(f"{name} was called")
        return record

    monkeypatch.setattr(os, "system", recorder("os.system"))
    monkeypatch.setattr(subprocess, "Popen", recorder("subprocess.Popen"))
    # builtins.exec/eval/__import__ are not patched: other threads of the test process (servers, samplers, pytest
    # itself) import while a test runs. The marker file each payload would create is the proof nothing ran.
    return calls, tmp_path / "ran"


HOSTILE = [
    "__import__('os').system('touch {marker}')",
    "exec(\"open(r'{marker}', 'w').write('x')\")",
    "eval(\"open(r'{marker}', 'w')\")",
    "(lambda: open(r'{marker}', 'w'))()",
    "[x for x in ().__class__.__base__.__subclasses__()]",
    "((1, 64), open(r'{marker}', 'w'))",
    "((1, 64),) if open(r'{marker}', 'w') else ()",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_code_in_text_is_refused_and_never_runs(template: str, no_side_effects) -> None:  # noqa: ANN001
    calls, marker = no_side_effects
    text = template.format(marker=marker)
    with pytest.raises(SpecError) as info:
        VGGSpec(conv_arch=text)
    assert info.value.field == "conv_arch"
    for data in ({"family": "vgg", "hidden_sizes": text}, {"family": "alexnet", "conv_channels": text},
                 {"family": "nin", "blocks": text}, {"family": "googlenet", "inceptions": text}):
        expect_error(data)
    expect_error(json.dumps({"family": "vgg", "conv_arch": text}), "conv_arch")
    assert calls == []
    assert not marker.exists()


def test_very_long_text_refused() -> None:
    long_arch = "(" + "(1, 64), " * (MAX_TEXT_LENGTH // 9 + 1) + ")"
    assert len(long_arch) > MAX_TEXT_LENGTH
    error = expect_error({"family": "vgg", "conv_arch": long_arch}, "conv_arch")
    assert "too long" in error.message
    padding = " " * 200_000
    expect_error('{"family": "vgg"}' + padding)  # a whole spec text over its own cap


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 200, 4_000])
def test_deeply_nested_brackets_refused(depth: int) -> None:
    text = "(" * depth + "1" + ")" * depth
    error = expect_error({"family": "vgg", "conv_arch": text}, "conv_arch")
    assert "nested too deeply" in error.message


def test_deeply_nested_json_and_objects_refused() -> None:
    depth = 30_000  # deeper than the interpreter's recursion limit, shorter than the text cap
    expect_error('{"family": "vgg", "conv_arch": ' + "[" * depth + "]" * depth + "}")
    deep: list = [1]
    for _ in range(depth):
        deep = [deep]
    for field in ("conv_arch", "hidden_sizes"):
        expect_error({"family": "vgg", field: deep})
    expect_error({"family": "nin", "blocks": deep})


def test_huge_integer_text_refused() -> None:
    expect_error({"family": "vgg", "conv_arch": "((1, " + "9" * 5000 + "),)"}, "conv_arch")
    expect_error('{"family": "vgg", "in_channels": ' + "9" * 5000 + "}")


# --- exact messages ------------------------------------------------------------------------------------------------
def test_conv_arch_entry_message() -> None:
    with pytest.raises(SpecError) as info:
        VGGSpec(conv_arch="((1, 64), (1, 128), (2,))")
    assert str(info.value) == ("conv_arch[2]: each block is a pair (num_convs, out_channels) like (2, 256), "
                               "got (2,)")
    assert info.value.field == "conv_arch[2]"


def test_too_small_input_message_for_d2l_vgg11() -> None:
    with pytest.raises(SpecError) as info:
        load_preset("d2l_vgg11").replace(input_size=28)
    assert info.value.field == "input_size"
    assert ("block 5: spatial size 0x0 after max-pool (input 28x28 is too small for 5 VGG blocks; "
            "use >= 32 or fewer blocks)") in str(info.value)
    # The advice is right: 32 works, 31 does not.
    assert load_preset("d2l_vgg11").replace(input_size=32).input_size == 32
    with pytest.raises(SpecError):
        load_preset("d2l_vgg11").replace(input_size=31)


def test_too_many_vgg_blocks_for_any_input_size() -> None:
    most = MAX_INPUT_SIZE.bit_length() - 1  # each block halves the size
    assert VGGSpec(conv_arch=[[1, 8]] * most, input_size=MAX_INPUT_SIZE, hidden_sizes=()).input_size == MAX_INPUT_SIZE
    with pytest.raises(SpecError) as info:
        VGGSpec(conv_arch=[[1, 8]] * (most + 1), input_size=MAX_INPUT_SIZE, hidden_sizes=())
    assert f"use at most {most} blocks" in info.value.message
    assert "use >=" not in info.value.message  # no impossible input size is suggested


@pytest.mark.parametrize("spec", [NiNSpec(), AlexNetSpec(), GoogLeNetSpec(), NiNSpec(blocks=[(16, 5, 2, 0)]),
                                  VGGSpec(fc_as_conv=True, avgpool_size=3, conv_arch=((1, 8), (1, 8)))],
                         ids=["nin", "alexnet", "googlenet", "nin_one_block", "vgg_fc_as_conv"])
def test_too_small_hint_names_the_smallest_size_that_works(spec) -> None:  # noqa: ANN001
    with pytest.raises(SpecError) as info:
        spec.replace(input_size=4)
    hint = info.value.message.rsplit("use input_size >= ", 1)
    assert len(hint) == 2, info.value.message
    size = int(hint[1].rstrip(")"))
    assert spec.replace(input_size=size).input_size == size
    with pytest.raises(SpecError):
        spec.replace(input_size=size - 1)


def test_spec_error_is_a_value_error_with_field_and_message() -> None:
    error = SpecError("conv_arch[1]", "bad")
    assert isinstance(error, ValueError)
    assert (error.field, error.message, str(error)) == ("conv_arch[1]", "bad", "conv_arch[1]: bad")
    assert str(SpecError("", "whole spec")) == "whole spec"
    with pytest.raises(ValueError):
        VGGSpec(in_channels=0)


# --- budget: arithmetic refuses before anything is built -------------------------------------------------------------
@pytest.fixture
def no_module_building(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        raise AssertionError(f"{type(self).__name__} was built")

    for cls in (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.Module):
        monkeypatch.setattr(cls, "__init__", refuse)
    monkeypatch.setattr(torch, "empty", refuse)


@pytest.mark.parametrize("data, words", [
    ({"family": "vgg", "conv_arch": [[64, 16384]] * 3}, "parameters"),
    ({"family": "vgg", "conv_arch": [[1, 64]], "hidden_sizes": [65536, 65536]}, "billion"),
    ({"family": "vgg", "avgpool_size": None, "hidden_sizes": [65536, 65536], "in_channels": 1}, "billion"),
    ({"family": "alexnet", "hidden_sizes": [65536] * 3}, "billion"),
    ({"family": "nin", "blocks": [[16384, 3, 1, 1]] * 3, "input_size": 64}, "limit"),
    ({"family": "vgg", "conv_arch": [[1, 2048]], "input_size": 1024, "hidden_sizes": [16]}, "activations"),
])
def test_over_budget_specs_refused_by_arithmetic(data, words: str, no_module_building) -> None:  # noqa: ANN001
    error = expect_error(data)
    assert words in error.message
    with pytest.raises(SpecError):
        build_model(data, device="meta")
    with pytest.raises(SpecError):
        analyze(data)


def test_budget_fixture_would_catch_a_build(no_module_building) -> None:  # noqa: ANN001
    with pytest.raises(AssertionError, match="built"):
        build_model(VGGSpec(conv_arch=((1, 8),), input_size=32), device="meta")


def test_budget_counts_match_a_built_model() -> None:
    spec = VGGSpec(conv_arch=((1, 64),), hidden_sizes=(4096,))
    with torch.device("meta"):
        model = build_model(spec)
    assert spec.planned_params() == sum(parameter.numel() for parameter in model.parameters())


# --- AlexNet groups ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("channels, field", [
    ((64, 193, 384, 256, 256), "conv_channels[1]"),  # conv2's output
    ((63, 192, 384, 256, 256), "conv_channels[0]"),  # conv2's input
    ((64, 192, 383, 256, 256), "conv_channels[2]"),  # conv4's input
    ((64, 192, 384, 256, 255), "conv_channels[4]"),  # conv5's output
])
def test_alexnet_groups_need_even_channels(channels, field: str) -> None:  # noqa: ANN001
    error = expect_error({"family": "alexnet", "groups": 2, "conv_channels": list(channels)}, field)
    assert "divisible by 2" in error.message
    assert AlexNetSpec(conv_channels=channels, groups=1).groups == 1  # fine without groups
