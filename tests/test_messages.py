"""Spec errors read like advice for a student: the field, what was given, what to write, no Python internals."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest

from explorer.presets import load_preset
from explorer.share import decode_spec
from explorer.specs import SpecError, VGGSpec, parse_spec
from explorer.specs.fields import (MAX_TEXT_LENGTH, check_choice, check_float, check_int, check_sequence,
                                   parse_literal, plural, show)
from explorer.training.config import TrainConfig

#: Words of Python's internals that must never reach a student (issue #12 item 6).
FORBIDDEN = re.compile(r"ValueError|TypeError|SyntaxError|OverflowError|NoneType|\btuple\b|\bliteral\b|\(s\)|"
                       r"<class|Traceback|\bint\b|\bfloat\b|\bstr\b|\bdict\b|object at 0x|//")
#: Messages are one or two short sentences.
MAX_LENGTH = 320


def error_of(data: Any) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_spec(data)
    return info.value


def assert_reads_well(error: SpecError, *, field: str, given: str, advice: str) -> None:
    """The message names ``field``, shows what was given, says what to write and has no Python noise."""
    text = str(error)
    assert error.field == field, text
    assert text.startswith(f"{field}: "), text
    assert given in error.message, f"{given!r} not shown in: {text}"
    assert advice in error.message, f"no advice {advice!r} in: {text}"
    assert not FORBIDDEN.search(text), f"Python internals in: {text}"
    assert len(text) <= MAX_LENGTH, f"{len(text)} characters: {text}"


# (family, {field: bad value}, field named, what was given as shown, the advice) -------------------------------------
CASES = [
    # text fields
    ("vgg", {"conv_arch": "abc"}, "conv_arch", "'abc'", "write it like ((1, 64), (1, 128))"),
    ("vgg", {"conv_arch": "((1, 64), (1, 128)"}, "conv_arch", "'((1, 64), (1, 128)'", "never closed"),
    ("vgg", {"conv_arch": "((1, 64)))"}, "conv_arch", "'((1, 64)))'", "closing bracket with no opening"),
    ("vgg", {"conv_arch": ""}, "conv_arch", "is empty", "like ((1, 64), (1, 128))"),
    ("vgg", {"conv_arch": "   "}, "conv_arch", "is empty", "(num_convs, out_channels)"),
    ("vgg", {"conv_arch": "1, 2,, 3"}, "conv_arch", "'1, 2,, 3'", "write it like"),
    ("vgg", {"conv_arch": "__import__('os').system('ls')"}, "conv_arch", "__import__", "write it like"),
    ("vgg", {"conv_arch": 5}, "conv_arch", "5 is not a list", "write it like"),
    ("vgg", {"conv_arch": None}, "conv_arch", "nothing", "write it like"),
    ("vgg", {"conv_arch": []}, "conv_arch", "got none", "at least 1 block,"),
    ("vgg", {"conv_arch": "((1, 64), (1, 128), (2,))"}, "conv_arch[2]", "got (2,)", "like (2, 256)"),
    ("vgg", {"conv_arch": [[1, 64], [0, 128]]}, "conv_arch[1]", "got 0", "num_convs (the first number)"),
    ("vgg", {"conv_arch": [[1, 2.5]]}, "conv_arch[0]", "got 2.5", "whole number between 1 and 16384"),
    ("vgg", {"conv_arch": [[1, True]]}, "conv_arch[0]", "got True", "not True or False"),
    ("vgg", {"conv_arch": [[1, 64.0]]}, "conv_arch[0]", "got 64.0", "without the decimal point (64, not 64.0)"),
    ("vgg", {"conv_arch": [[1, 1 << 2000]]}, "conv_arch[0]", "a number with about 603 digits", "between 1 and"),
    ("vgg", {"hidden_sizes": "4096, abc"}, "hidden_sizes", "'4096, abc'", "like (4096, 4096)"),
    ("vgg", {"hidden_sizes": [4096] * 9}, "hidden_sizes", "9 hidden layers", "limit of 8"),
    ("vgg", {"hidden_sizes": [4096, -1]}, "hidden_sizes[1]", "got -1", "between 1 and 65536"),
    ("vgg", {"conv_archs": [[1, 64]]}, "conv_archs", "is not a VGG setting", "did you mean conv_arch?"),
    # numbers: 0, -1, 2.5, text, True, 1e400, NaN, nothing, huge
    ("vgg", {"ratio": 0}, "ratio", "got 0", "1 keeps the widths, 4 divides them by 4"),
    ("vgg", {"ratio": -1}, "ratio", "got -1", "between 1 and 1024"),
    ("vgg", {"ratio": 2.5}, "ratio", "got 2.5", "whole number"),
    ("vgg", {"ratio": "abc"}, "ratio", "got 'abc'", "whole number between 1 and 1024"),
    ("vgg", {"ratio": "4"}, "ratio", "got '4'", "without quotes"),
    ("vgg", {"ratio": True}, "ratio", "got True", "not True or False"),
    ("vgg", {"ratio": None}, "ratio", "got nothing", "whole number"),
    ("vgg", {"ratio": 10**400}, "ratio", "a number with about 401 digits", "between 1 and 1024"),
    ("vgg", {"ratio": 1000, "conv_arch": [[1, 64]]}, "conv_arch[0]", "64 channels divided by the width ratio 1000",
     "ratio of at most 64"),
    ("vgg", {"in_channels": 0}, "in_channels", "got 0", "between 1 and 64"),
    ("vgg", {"num_classes": 10**9}, "num_classes", "got 1000000000", "between 1 and 100000"),
    ("vgg", {"input_size": 2.5}, "input_size", "got 2.5", "whole number between 1 and 1024"),
    ("vgg", {"dropout": 1e400}, "dropout", "got infinity", "less than 1"),
    ("vgg", {"dropout": float("nan")}, "dropout", "got NaN (not a number)", "at least 0"),
    ("vgg", {"dropout": -0.1}, "dropout", "got -0.1", "0.5 drops half"),
    ("vgg", {"dropout": "0.5"}, "dropout", "got '0.5'", "without quotes"),
    ("vgg", {"dropout": True}, "dropout", "got True", "not True or False"),
    ("vgg", {"avgpool_size": 0}, "avgpool_size", "got 0", "none to flatten"),
    ("vgg", {"batch_norm": 1}, "batch_norm", "got 1", "true or false"),
    ("vgg", {"batch_norm": None}, "batch_norm", "got nothing", "true or false"),
    # wrong tuple lengths
    ("alexnet", {"conv_channels": [64, 192, 384, 256]}, "conv_channels", "got 4: [64, 192, 384, 256]",
     "needs exactly 5 numbers (one per conv layer)"),
    ("alexnet", {"conv_channels": "64, 192"}, "conv_channels", "got 2", "exactly 5 numbers"),
    ("alexnet", {"conv_channels": 64}, "conv_channels", "got 1: (64,)", "exactly 5 numbers"),
    ("alexnet", {"conv_channels": [64, 192, 384, 256, 256, 1]}, "conv_channels", "got 6", "exactly 5 numbers"),
    ("alexnet", {"groups": 3}, "groups", "got 3", "must be 1 or 2"),
    ("alexnet", {"groups": 2.0}, "groups", "got 2.0", "(2, not 2.0)"),
    ("alexnet", {"groups": 2, "conv_channels": [63, 192, 384, 256, 256]}, "conv_channels[0]", "got 63",
     "try 62 or 64, or set groups to 1"),
    ("alexnet", {"conv1_padding": 6}, "conv1_padding", "got 6", "at most half the kernel size"),
    ("alexnet", {"lrn_k": -1}, "lrn_k", "got -1", "between 0 and 100"),
    ("nin", {"blocks": [[96]]}, "blocks[0]", "got [96]", "like (96, 11, 4, 0)"),
    ("nin", {"blocks": [[96, 11, 4, 0, [96], 7]]}, "blocks[0]", "got [96, 11, 4, 0, [96], 7]",
     "(out_channels, kernel_size, stride, padding)"),
    ("nin", {"blocks": ["abc"]}, "blocks[0]", "'abc'", "write it like (96, 11, 4, 0)"),
    ("nin", {"blocks": [5]}, "blocks[0]", "5 is not a NiN block", "write it like (96, 11, 4, 0)"),
    ("nin", {"blocks": "abc"}, "blocks", "'abc'", "write it like ((96, 11, 4, 0), (256, 5, 1, 2))"),
    ("nin", {"blocks": [{"out_channels": 8}]}, "blocks[0]", "is missing kernel_size", "needs at least"),
    ("nin", {"blocks": [{"out_channels": 8, "kernel_size": 3, "strides": 1}]}, "blocks[0].strides",
     "is not a NiN block setting", "did you mean stride?"),
    ("nin", {"blocks": [[96, 0, 1, 0]]}, "blocks[0].kernel_size", "got 0", "between 1 and 31"),
    ("nin", {"blocks": [[96, 3, 1, 2]]}, "blocks[0].padding", "got 2", "1 for kernel_size 3"),
    ("nin", {"pool_stride": 0}, "pool_stride", "got 0", "d2l uses 2"),
    ("googlenet", {"stem_channels": [64, 64]}, "stem_channels", "got 2: [64, 64]",
     "exactly 3 numbers (the 7x7, 1x1 and 3x3 convs)"),
    ("googlenet", {"inceptions": [[64, 96, 128, 16, 32, 32]] * 8}, "inceptions", "got 8",
     "exactly 9 blocks (one per Inception block, 3a to 5b)"),
    ("googlenet", {"inceptions": [[64, 96, 128]] * 9}, "inceptions.3a", "got [64, 96, 128]",
     "(c1, (c2red, c2), (c3red, c3), c4)"),
    ("googlenet", {"inceptions": [[64, 96, 128, 16, 32, 0]] * 9}, "inceptions.3a.pool_proj", "got 0",
     "between 1 and 16384"),
    ("googlenet", {"inceptions": [{"ch1x1": 64}] * 9}, "inceptions.3a", "is missing ch3x3red", "all six"),
    ("googlenet", {"pool_mode": "max"}, "pool_mode", "got 'max'", "must be 'ceil' or 'pad'"),
    ("googlenet", {"ch5x5_kernel": 7}, "ch5x5_kernel", "got 7", "must be 3 or 5"),
    # sizes too small for the network
    ("vgg", {"conv_arch": [[1, 64]] * 5, "input_size": 28}, "input_size", "input 28x28 is too small",
     "use >= 32 or fewer blocks"),
    ("alexnet", {"input_size": 4}, "input_size", "input 4x4 is too small", "use input_size >= 63"),
    ("nin", {"input_size": 8}, "input_size", "input 8x8 is too small", "use input_size >="),
    ("googlenet", {"input_size": 2}, "input_size", "input 2x2 is too small", "use input_size >="),
]


@pytest.mark.parametrize("family, changes, field, given, advice", CASES,
                         ids=[f"{case[0]}-{case[2]}-{index}" for index, case in enumerate(CASES)])
def test_bad_input_gets_a_message_a_student_understands(family: str, changes: dict[str, Any], field: str,
                                                        given: str, advice: str) -> None:
    assert_reads_well(error_of({"family": family, **changes}), field=field, given=given, advice=advice)


def test_the_three_messages_from_the_issue_are_gone() -> None:
    """The newcomer's three examples (issue #12): each now reads as advice."""
    literal = error_of({"family": "vgg", "conv_arch": "abc"})
    assert str(literal) == ("conv_arch: 'abc' is not a list of (num_convs, out_channels) pairs; "
                            "write it like ((1, 64), (1, 128))")
    exact = error_of({"family": "alexnet", "conv_channels": [64, 192, 384, 256]})
    assert "between 5 and 5" not in str(exact)
    assert exact.message == "needs exactly 5 numbers (one per conv layer), got 4: [64, 192, 384, 256]"
    # "(s)" is gone from the spec package: counts say "1 channel" and "2 channels".
    assert (plural(1, "channel"), plural(2, "channel"), plural(0, "entry")) == ("1 channel", "2 channels",
                                                                              "0 entries")
    single = error_of({"family": "vgg", "ratio": 2, "conv_arch": [[1, 1]]})
    assert "1 channel divided by the width ratio 2" in single.message


def test_a_wrong_entry_names_its_place_and_keeps_its_siblings_out() -> None:
    error = error_of({"family": "vgg", "conv_arch": "((1, 64), (1, 128), (2, 0))"})
    assert error.field == "conv_arch[2]"
    assert error.message == ("out_channels (the second number) must be a whole number between 1 and 16384, "
                             "got 0")


def test_unknown_setting_lists_the_real_ones_and_guesses() -> None:
    error = error_of({"family": "alexnet", "conv_chanels": [64] * 5})
    assert error.field == "conv_chanels"
    assert error.message.startswith("is not an AlexNet setting; did you mean conv_channels? The settings are ")
    unrelated = error_of({"family": "alexnet", "zzz": 1})
    assert "did you mean" not in unrelated.message and "conv_channels" in unrelated.message


@pytest.mark.parametrize("name, words", [
    ("vgg99", "did you mean vgg19?"),
    ("VGG16", "did you mean vgg16?"),
    ("../etc/passwd", "choose one of"),
])
def test_unknown_preset_suggests_one(name: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        load_preset(name)
    assert info.value.field == "preset"
    assert f"no preset named {name!r}" in info.value.message
    assert words in info.value.message and "vgg16" in info.value.message
    assert not FORBIDDEN.search(str(info.value))


@pytest.mark.parametrize("name, shown", [(None, "got nothing"), (16, "got 16"), (["vgg16"], "got ['vgg16']")])
def test_a_preset_name_that_is_not_text(name: Any, shown: str) -> None:
    with pytest.raises(SpecError) as info:
        load_preset(name)
    assert info.value.field == "preset" and shown in info.value.message
    assert not FORBIDDEN.search(str(info.value))


@pytest.mark.parametrize("token, words", [
    ("", "holds no network"),
    ("!!!not-a-link!!!", "damaged"),
    ("x" * 9_000, "9,000 characters"),
])
def test_broken_share_links_say_what_happened(token: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        decode_spec(token)
    assert info.value.field == "url" and words in info.value.message
    assert not FORBIDDEN.search(str(info.value))


# --- no giant echoes, no raw payloads ----------------------------------------------------------------------------
@pytest.mark.parametrize("value", [
    "((1, 64), " * 900 + "x",  # long text that cannot be read: shown truncated
    "<script>alert(1)</script>" * 50,
    "x" * (MAX_TEXT_LENGTH + 1),
    "(" * 50 + ")" * 50,
    "\n".join(["((1, 64),"] * 200),
])
def test_long_or_hostile_text_is_shown_briefly(value: str) -> None:
    error = error_of({"family": "vgg", "conv_arch": value})
    assert error.field == "conv_arch"
    assert len(str(error)) <= MAX_LENGTH, str(error)
    assert "\n" not in str(error)  # control characters arrive escaped
    assert str(error).count("<script>") <= 2  # at most the start of the 60-character excerpt
    assert not FORBIDDEN.search(str(error))


def test_giant_numbers_are_described_not_printed() -> None:
    error = error_of({"family": "vgg", "input_size": 10**5000})  # a repr Python itself refuses to make
    assert error.message == "must be a whole number between 1 and 1024, got a number with about 5,001 digits"
    text = error_of('{"family": "vgg", "in_channels": ' + "9" * 4000 + "}")
    assert "9" * 20 not in str(text) and len(str(text)) <= MAX_LENGTH


# --- the helpers other modules use ---------------------------------------------------------------------------
@pytest.mark.parametrize("value, shown", [
    (None, "nothing"), (True, "True"), (0, "0"), (-1, "-1"), (2.5, "2.5"), (float("inf"), "infinity"),
    (float("-inf"), "minus infinity"), (float("nan"), "NaN (not a number)"), ("abc", "'abc'"), ((2,), "(2,)"),
    ([1, 2], "[1, 2]"), (10**20, "a number with about 21 digits"), (object(), "a value of an unsupported kind"),
    ("y" * 100, "'" + "y" * 56 + "..."),
])
def test_show_renders_what_a_student_typed(value: Any, shown: str) -> None:
    assert show(value) == shown


def test_parse_literal_default_message_suits_a_number_box() -> None:
    """The UI's number and list boxes parse with the defaults: no Python words, an example to copy."""
    with pytest.raises(SpecError) as info:
        parse_literal("abc", "input_size")
    assert str(info.value) == "input_size: 'abc' is not a number or a list of numbers; write it like 64 or (1, 64)"


def test_check_helpers_phrase_ranges_and_choices_in_words() -> None:
    with pytest.raises(SpecError, match=r"^lr: must be a number that is more than 0 and at most 10, got 0$"):
        check_float(0, "lr", minimum=0.0, maximum=10.0, include_minimum=False)
    with pytest.raises(SpecError, match=r"^seed: must be a whole number of at least 0, got -1$"):
        check_int(-1, "seed", minimum=0, maximum=2**63 - 1)
    with pytest.raises(SpecError, match=r"^padding: must be 0 \(kernel 1\), got 1$"):
        check_int(1, "padding", minimum=0, maximum=0, hint="kernel 1")
    with pytest.raises(SpecError, match=r"^optimizer: must be 'sgd', 'momentum' or 'adam', got 'adamw'$"):
        check_choice("adamw", "optimizer", ("sgd", "momentum", "adam"))
    with pytest.raises(SpecError, match=r"^sizes: has 3 entries, more than the limit of 2; remove some$"):
        check_sequence([1, 2, 3], "sizes", min_length=0, max_length=2)
    with pytest.raises(SpecError, match=r"^sizes: 'abc' is not a list$"):  # no made-up example when none is given
        check_sequence("abc", "sizes", min_length=0, max_length=2)


@pytest.mark.parametrize("changes, field, words", [
    ({"epochs": 2.5}, "epochs", "whole number"),
    ({"lr": 0}, "lr", "more than 0"),
    ({"optimizer": "adamw"}, "optimizer", "'adamw'"),
    ({"compile": "yes"}, "compile", "true or false"),
])
def test_training_settings_share_the_wording(changes: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        TrainConfig(**changes)
    assert info.value.field == field and words in info.value.message
    assert not FORBIDDEN.search(str(info.value))


def test_every_message_survives_json_and_the_round_trip_keeps_valid_specs() -> None:
    """Messages are plain text (JSON-safe for the API); valid text still parses after the rewording."""
    error = error_of({"family": "vgg", "conv_arch": "abc"})
    assert json.loads(json.dumps({"error": str(error)}))["error"] == str(error)
    assert VGGSpec(conv_arch="((1, 64), (1, 128))", input_size=32).conv_arch == ((1, 64), (1, 128))
