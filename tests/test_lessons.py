"""Lessons: every answer checked against an independent calculation, and against edits of the loaded network."""
from __future__ import annotations

from dataclasses import replace

import gradio as gr
import pytest

from explorer import analyze, get_preset, load_preset
from explorer.lessons import LESSONS, Lesson, Question, answers_markdown, get_lesson
from explorer.report import human_count
from explorer.specs import NiNBlockSpec, parse_spec
from explorer.specs.googlenet import InceptionSpec
from explorer.ui.explore import build_explore_panel, load_outputs
from explorer.ui.lessons_panel import LessonsPanel, build_lessons_panel, lesson_view

# torchvision's published parameter counts (/work/shared/REFERENCE.md).
TORCHVISION_PARAMS = {"vgg16": 138_357_544, "googlenet": 6_624_904}
TORCHVISION_GMACS = {"vgg16": 15.47, "googlenet": 1.498}


def ask(lesson_id: str, spec) -> list[Question]:  # noqa: ANN001
    return get_lesson(lesson_id).questions(spec, analyze(spec))


def conv(kernel: int, c_in: int, c_out: int, *, groups: int = 1, bias: bool = True) -> int:
    return kernel * kernel * (c_in // groups) * c_out + (c_out if bias else 0)


def linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


# --- every lesson -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.id for lesson in LESSONS])
def test_every_lesson_renders_for_its_preset(lesson: Lesson):
    spec = load_preset(lesson.preset)
    assert spec.family == lesson.family
    analysis = analyze(spec)
    questions = lesson.questions(spec, analysis)
    text = lesson.render(spec, analysis)
    assert len(questions) >= 3
    assert f"**{analysis.total_params:,}**" in text  # the live total
    for question in questions:
        assert question.prompt in text
        assert question.answer not in ("", None) and question.explanation
        if isinstance(question.answer, str):
            assert question.answer not in text  # the questions don't give the answers away
    answers = answers_markdown(questions)
    assert all(question.explanation in answers for question in questions)
    assert lesson.walkthrough.startswith("1. ") and f"`{lesson.preset}`" in lesson.walkthrough


def test_lesson_ids_are_unique_and_unknown_ids_are_refused():
    assert len({lesson.id for lesson in LESSONS}) == len(LESSONS)
    with pytest.raises(ValueError, match="no lesson called 'lenet'.*vgg"):
        get_lesson("lenet")


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.id for lesson in LESSONS])
def test_wrong_family_says_which_preset_to_load(lesson: Lesson):
    other = next(candidate for candidate in LESSONS if candidate.family != lesson.family)
    spec = load_preset(other.preset)
    analysis = analyze(spec)
    assert lesson.questions(spec, analysis) == []
    text = lesson.render(spec, analysis)
    assert f"`{lesson.preset}`" in text and "Load this network" in text and spec.family_label in text
    assert "No answers" in answers_markdown([])


def test_spec_and_analysis_of_different_networks_are_refused():
    with pytest.raises(ValueError, match="analysis is of a nin network"):
        get_lesson("vgg").render(load_preset("vgg16"), analyze(load_preset("d2l_nin")))


# --- VGG ----------------------------------------------------------------------------------------------------------
def vgg_receptive_field(conv_arch) -> int:  # noqa: ANN001
    rf, jump = 1, 1
    for num_convs, _ in conv_arch:
        rf += num_convs * 2 * jump  # 3x3 convs, stride 1
        rf += jump  # 2x2 max-pool
        jump *= 2
    return rf


def test_vgg16_answers():
    stack, largest, pool5 = ask("vgg", load_preset("vgg16"))
    assert stack.answer == f"{3 * 9 * 512 * 512 + 3 * 512:,} vs {49 * 512 * 512 + 512:,}"
    assert "7x7" in stack.prompt and "Block 4" in stack.prompt
    # The real block 4 reads 256 channels in its first conv.
    assert f"{conv(3, 256, 512) + 2 * conv(3, 512, 512):,}" in stack.explanation
    assert linear(512 * 7 * 7, 4096) == 102_764_544
    assert largest.answer == "head.fc1 (102,764,544 parameters)"
    assert pool5.answer == vgg_receptive_field(load_preset("vgg16").conv_arch) == 212
    assert "features.block5.pool" in pool5.prompt


def test_d2l_vgg11_stacks_two_convs_in_block_4():
    spec = load_preset("d2l_vgg11")
    stack, largest, pool5 = ask("vgg", spec)
    channels = spec.block_channels[3]
    assert stack.answer == f"{2 * (9 * channels ** 2 + channels):,} vs {25 * channels ** 2 + channels:,}"
    assert pool5.answer == vgg_receptive_field(spec.conv_arch)
    assert largest.answer.startswith("head.fc1 ")


def test_vgg_answers_follow_edits():
    vgg16 = load_preset("vgg16")
    narrow = replace(vgg16, conv_arch=((2, 64), (2, 128), (3, 256), (3, 256), (3, 512)))
    stack, largest, pool5 = ask("vgg", narrow)
    assert stack.answer == f"{3 * 9 * 256 * 256 + 3 * 256:,} vs {49 * 256 * 256 + 256:,}"
    assert largest.answer == "head.fc1 (102,764,544 parameters)"  # block 5 is still 512 wide
    four_blocks = replace(vgg16, conv_arch=vgg16.conv_arch[:4], avgpool_size=None)
    *_, pool4 = ask("vgg", four_blocks)
    assert pool4.answer == vgg_receptive_field(four_blocks.conv_arch) == 100
    small_head = replace(vgg16, hidden_sizes=(1024,))
    _, largest, _ = ask("vgg", small_head)
    assert largest.answer == f"head.fc1 ({linear(512 * 7 * 7, 1024):,} parameters)"
    convs_win = replace(vgg16, hidden_sizes=(64,), avgpool_size=1)
    _, largest, _ = ask("vgg", convs_win)
    assert largest.answer == f"features.block4.conv2 ({conv(3, 512, 512):,} parameters)"


def test_vgg_without_stacked_convs_still_answers():
    spec = replace(load_preset("vgg16"), conv_arch=((1, 64), (1, 128)), input_size=32)
    stack, _, pool = ask("vgg", spec)
    assert stack.answer == f"{9 * 128 * 128 + 128:,} vs {9 * 128 * 128 + 128:,}"
    assert "nothing to save" in stack.explanation
    assert pool.answer == vgg_receptive_field(spec.conv_arch)


# --- NiN ----------------------------------------------------------------------------------------------------------
def nin_params(spec) -> tuple[int, int]:  # noqa: ANN001
    """(1x1 conv parameters, kxk conv parameters) by hand."""
    one, larger, channels = 0, 0, spec.in_channels
    for block in spec.blocks:
        larger += conv(block.kernel_size, channels, block.out_channels)
        channels = block.out_channels
        for width in block.one_by_one_channels:
            one += conv(1, channels, width)
            channels = width
    larger += conv(spec.head_kernel_size, channels, spec.num_classes)
    one += 2 * conv(1, spec.num_classes, spec.num_classes)
    return one, larger


def d2l_alexnet_params() -> int:
    convs = (conv(11, 1, 96) + conv(5, 96, 256) + conv(3, 256, 384) + conv(3, 384, 384) + conv(3, 384, 256))
    return convs + linear(256 * 5 * 5, 4096) + linear(4096, 4096) + linear(4096, 10)


def test_d2l_nin_answers():
    spec = load_preset("d2l_nin")
    one_by_one, head, against_alexnet = ask("nin", spec)
    one, larger = nin_params(spec)
    assert one_by_one.answer == f"{one:,} in 8 1x1 convs vs {larger:,} in 4 kxk convs"
    head_params = conv(3, 384, 10) + 2 * conv(1, 10, 10)
    assert head.answer == f"{head_params:,} vs {linear(384 * 5 * 5, 4096):,}"
    assert "384x5x5" in head.prompt
    total = one + larger
    alexnet = d2l_alexnet_params()
    assert alexnet == 46_764_746
    assert against_alexnet.answer == f"{total:,} vs {alexnet:,} ({alexnet / total:.1f}x fewer)"


def test_nin_answers_follow_edits():
    spec = load_preset("d2l_nin")
    blocks = list(spec.blocks)
    blocks[2] = NiNBlockSpec(384, 3, 1, 1, mlp_channels=(192, 192))
    edited = replace(spec, blocks=tuple(blocks))
    one_by_one, head, against_alexnet = ask("nin", edited)
    one, larger = nin_params(edited)
    assert one < nin_params(spec)[0]
    assert one_by_one.answer == f"{one:,} in 8 1x1 convs vs {larger:,} in 4 kxk convs"
    assert head.answer == f"{conv(3, 192, 10) + 2 * conv(1, 10, 10):,} vs {linear(192 * 5 * 5, 4096):,}"
    assert against_alexnet.answer.startswith(f"{one + larger:,} vs 46,764,746")
    rgb = replace(spec, in_channels=3)
    assert "not like for like" in ask("nin", rgb)[2].explanation


# --- GoogLeNet ----------------------------------------------------------------------------------------------------
def test_googlenet_answers():
    branches, saving, params, macs = ask("googlenet", load_preset("googlenet"))
    assert branches.answer == "ch1x1: 256, ch3x3: 320, ch5x5: 128, pool_proj: 128 → 832"
    assert "528 channels" in branches.prompt
    with_reductions = (528 * 160 + 160 * 9 * 320) + (528 * 32 + 32 * 9 * 128)  # torchvision's wide branch: 3x3
    without = 528 * 9 * 320 + 528 * 9 * 128
    assert saving.answer == without - with_reductions == 1_529_856
    expected = TORCHVISION_PARAMS["googlenet"], TORCHVISION_PARAMS["vgg16"]
    assert params.answer == f"{expected[0]:,} vs {expected[1]:,} ({expected[1] / expected[0]:.1f}x fewer)"
    googlenet_macs, vgg_macs = analyze(load_preset("googlenet")).total_macs, analyze(load_preset("vgg16")).total_macs
    assert googlenet_macs / 1e9 == pytest.approx(TORCHVISION_GMACS["googlenet"], rel=0.01)
    assert vgg_macs / 1e9 == pytest.approx(TORCHVISION_GMACS["vgg16"], rel=0.01)
    assert macs.answer.startswith(f"{human_count(googlenet_macs)} vs {human_count(vgg_macs)}")
    assert f"{googlenet_macs:,} vs {vgg_macs:,}" in macs.explanation


def test_googlenet_answers_follow_edits():
    spec = load_preset("googlenet")
    rows = list(spec.inceptions)
    rows[6] = InceptionSpec(128, 320, 320, 32, 128, 128)  # 4e: ch1x1 256 -> 128, ch3x3red 160 -> 320
    edited = replace(spec, inceptions=tuple(rows), ch5x5_kernel=5)
    branches, saving, params, _ = ask("googlenet", edited)
    assert branches.answer.endswith("→ 704")
    assert saving.answer == (528 * 9 * 320 + 528 * 25 * 128) - (528 * 320 + 320 * 9 * 320 + 528 * 32 + 32 * 25 * 128)
    assert params.answer.startswith(f"{analyze(edited).total_params:,} vs 138,357,544")
    # 5a reads 4e's new output: the derived channels follow.
    assert edited.inception_in_channels()[7] == 704


# --- AlexNet ------------------------------------------------------------------------------------------------------
def alexnet_original_params() -> tuple[int, int]:
    """(conv parameters, FC parameters) of the paper's network, by hand."""
    convs = (conv(11, 3, 96) + conv(5, 96, 256, groups=2) + conv(3, 256, 384) + conv(3, 384, 384, groups=2)
             + conv(3, 384, 256, groups=2))
    fc = linear(256 * 6 * 6, 4096) + linear(4096, 4096) + linear(4096, 1000)
    return convs, fc


def test_alexnet_original_answers():
    spec = load_preset("alexnet_original")
    pooling, groups, lrn, fc_share = ask("alexnet", spec)
    size = (227 - 11) // 4 + 1
    assert size == 55 and "96x55x55" in pooling.prompt
    assert pooling.answer == f"{(55 - 3) // 2 + 1}x27 with 3x3/2, {(55 - 2) // 2 + 1}x27 with 2x2/2"
    saved = sum(conv(k, c_in, c_out, bias=False) // 2 for k, c_in, c_out in ((5, 96, 256), (3, 384, 384),
                                                                           (3, 384, 256)))
    assert groups.answer == saved == 1_413_120
    assert lrn.answer == 0 and "2 local response normalisation layers" in lrn.prompt
    convs, fc = alexnet_original_params()
    assert convs + fc == analyze(spec).total_params
    assert fc_share.answer == f"{100 * fc / (convs + fc):.1f}% ({fc:,} of {convs + fc:,})"


def test_alexnet_answers_follow_edits():
    spec = load_preset("alexnet_original")
    plain = replace(spec, overlapping_pool=False, groups=1, lrn=False, hidden_sizes=(2048, 2048))
    pooling, groups, lrn, fc_share = ask("alexnet", plain)
    assert pooling.answer == "27x27 with 3x3/2, 27x27 with 2x2/2"  # both are computed whichever is used
    assert "This network uses 2x2/2" in pooling.explanation
    assert groups.answer == 1_413_120 and "would" in groups.prompt  # what groups = 2 would save
    assert lrn.answer == 0 and "off" in lrn.prompt
    fc = linear(256 * 6 * 6, 2048) + linear(2048, 2048) + linear(2048, 1000)
    assert fc_share.answer.endswith(f"({fc:,} of {analyze(plain).total_params:,})")
    d2l = load_preset("d2l_alexnet")  # conv1 gives 54x54: the two pools differ
    assert ask("alexnet", d2l)[0].answer == "26x26 with 3x3/2, 27x27 with 2x2/2"
    odd = replace(d2l, conv_channels=(95, 256, 384, 384, 256))
    assert ask("alexnet", odd)[1].answer == "none: these widths cannot be split in two"


# --- the panel's handlers, without a server -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def panels() -> tuple[gr.Blocks, LessonsPanel]:
    with gr.Blocks() as demo:
        with gr.Tabs():
            with gr.Tab("Explore", id="explore"):
                explore = build_explore_panel()
            with gr.Tab("Lessons", id="lessons"):
                lessons = build_lessons_panel(explore)
    return demo, lessons


def test_panel_starts_on_the_first_lesson_with_the_default_network(panels):
    _, lessons = panels
    assert lessons.picker.value == LESSONS[0].id
    assert lessons.walkthrough.value == LESSONS[0].walkthrough.strip()
    assert "#### Questions" in lessons.text.value and lessons.answers.visible is False


def test_refresh_computes_from_the_current_network(panels):
    _, lessons = panels
    walkthrough, text, answers, status = lessons.refresh("vgg", load_preset("vgg16").to_dict(), False)
    assert walkthrough == get_lesson("vgg").walkthrough
    assert "**138,357,544**" in text and answers["visible"] is False and status == ""
    assert "102,764,544" in answers["value"]
    edited = replace(load_preset("vgg16"), hidden_sizes=(1024,)).to_dict()
    _, text, answers, _ = lessons.refresh("vgg", edited, True)
    assert answers["visible"] is True and f"{linear(25088, 1024):,}" in answers["value"]
    _, text, answers, _ = lessons.refresh("googlenet", edited, True)
    assert "`googlenet`" in text and "No answers" in answers["value"]


def test_picking_a_lesson_hides_the_answers(panels):
    _, lessons = panels
    walkthrough, status, text, show, answers = lessons.pick("nin", load_preset("vgg16").to_dict())
    assert walkthrough == get_lesson("nin").walkthrough and status == ""
    assert "`d2l_nin`" in text and show is False and answers["visible"] is False


def test_toggle_shows_the_answers(panels):
    _, lessons = panels
    update = lessons.toggle("alexnet", load_preset("alexnet_original").to_dict(), True)
    assert update["visible"] is True and "1,413,120" in update["value"]


def test_load_fills_explore_and_the_lesson(panels):
    _, lessons = panels
    explore = lessons.explore
    updates = lessons.load("nin", 128, "Parameters", False, None, False)
    assert set(updates) == set(lessons.load_targets())
    assert set(load_outputs(explore)) <= set(updates)
    assert parse_spec(updates[explore.current_spec]) == load_preset("d2l_nin")  # a spec or its dict
    assert updates[explore.preset] == "d2l_nin" and updates[explore.family] == "nin"
    assert "1,992,166" in updates[explore.headline]
    assert "1,992,166" in updates[lessons.text] and "d2l_nin" in updates[lessons.status]
    assert updates[lessons.answers]["visible"] is False
    assert "46,764,746" in updates[lessons.answers]["value"]


def test_unknown_or_missing_input_is_a_clean_message(panels):
    _, lessons = panels
    with pytest.raises(gr.Error):
        lessons.refresh("lenet", None, False)
    text, _ = lesson_view(get_lesson("vgg"), None)
    assert "Load this network" in text
    text, _ = lesson_view(get_lesson("vgg"), {"family": "vgg", "conv_arch": [[0, 64]]})
    assert "not valid" in text and "conv_arch" in text


def test_the_enclosing_tab_refreshes_the_lesson(panels):
    demo, lessons = panels
    selects = [fn for fn in demo.fns.values() if any(event == "select" for _, event in fn.targets)]
    assert len(selects) == 1 and selects[0].fn == lessons.refresh
    assert selects[0].concurrency_limit is None
    tab = next(block for block in demo.blocks.values() if isinstance(block, gr.Tab) and block.label == "Lessons")
    lessons.refresh_on(tab)  # a second hook on the same tab is ignored
    assert len([fn for fn in demo.fns.values() if any(event == "select" for _, event in fn.targets)]) == 1
    events = [fn for fn in demo.fns.values() if fn.fn in (lessons.refresh, lessons.pick, lessons.toggle,
                                                          lessons.load)]
    assert len(events) == 4 and all(fn.concurrency_limit is None for fn in events)
    assert all(fn.api_visibility == "private" for fn in events)


def test_lesson_presets_exist():
    for lesson in LESSONS:
        assert get_preset(lesson.preset).spec.family == lesson.family


class FakeRequest:
    """What the handlers read from a gr.Request: the browser's languages."""

    def __init__(self, accept_language: str) -> None:
        self.headers = {"accept-language": accept_language}


def test_buttons_are_named_as_the_page_shows_them(panels):
    from explorer.ui.i18n import ZH

    _, lessons = panels
    chinese = FakeRequest("zh-CN,zh;q=0.9,en;q=0.8")
    walkthrough, text, _, _ = lessons.refresh("nin", None, False, chinese)
    load_zh = ZH["Load this network"]
    assert f"**{load_zh}**" in walkthrough and "Load this network" not in walkthrough
    assert f"**{ZH['Explore']}**" in walkthrough
    assert f"**{load_zh}**" in text and "Load this network" not in text
    walkthrough, _, text, _, _ = lessons.pick("googlenet", load_preset("vgg16").to_dict(), chinese)
    assert f"**{load_zh}**" in walkthrough and f"**{load_zh}**" in text  # the wrong-family message too
    assert f"**{ZH['Explore']}**页" in text and "Explore" not in text and " tab" not in text  # Chinese throughout
    walkthrough, text, _, _ = lessons.refresh("nin", None, False, FakeRequest("en-GB,en"))
    assert "**Load this network**" in walkthrough and "**Load this network**" in text
    updates = lessons.load("vgg", 1, "Parameters", False, None, False, chinese)
    assert f"**{ZH['Explore']}**" in updates[lessons.status]


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.id for lesson in LESSONS])
def test_walkthrough_labels_are_the_pages(lesson: Lesson):
    """Every label a walkthrough names is a label of the page, and has a Chinese translation."""
    import re

    from explorer.lessons import ui_label
    from explorer.teaching import UI_LABELS
    from explorer.ui.i18n import ZH

    names = set(re.findall(r"{(\w+)}", lesson.steps))
    assert "load" in names and names <= set(UI_LABELS)
    assert all(UI_LABELS[name] in ZH for name in names)
    chinese = lesson.walkthrough_in(lambda text: ZH.get(text, text))
    assert all(f"{ui_label(name, lambda text: ZH[text])}" in chinese for name in names)
