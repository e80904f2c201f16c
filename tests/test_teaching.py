"""Teaching facts against independent references (real nn modules, torchvision, hand recurrences), and the
explanations and lessons of every preset and family."""
from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from explorer import analyze, build_model, load_preset
from explorer.explain import explain
from explorer.families import FAMILIES, family_of
from explorer.lessons import LESSONS, get_lesson
from explorer.presets import preset_names
from explorer.teaching import Lesson, receptive_field_section
from explorer.teaching import facts

ROOT = Path(__file__).resolve().parents[1]


def numel(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


# --- formatting ---------------------------------------------------------------------------------------------------
def test_percent_and_times():
    assert facts.percent(1, 3) == "33.3%" and facts.percent(5, 0) == "n/a" and facts.percent(0, 7) == "0.0%"
    assert facts.times(1, 20.9) == "20.9x fewer" and facts.times(13, 10) == "1.3x more"
    assert facts.times(4, 4) == "the same" and facts.times(0, 4) == "n/a"


# --- convolutions, against real layers ----------------------------------------------------------------------------
@pytest.mark.parametrize("num_convs,channels", [(1, 8), (2, 16), (3, 64), (4, 5)])
def test_stacked_convs_match_real_layers(num_convs: int, channels: int):
    stack = facts.StackedConvs(num_convs, channels)
    with torch.device("meta"):
        real_stack = nn.Sequential(*(nn.Conv2d(channels, channels, 3, padding=1) for _ in range(num_convs)))
        one = nn.Conv2d(channels, channels, stack.window)
    assert stack.stacked_params == numel(real_stack)
    assert stack.single_params == numel(one)
    assert stack.saved == numel(one) - numel(real_stack)
    # The window: a 1-pixel change at the input reaches exactly `window` outputs per side after the stack.
    probe = nn.Sequential(*(nn.Conv2d(1, 1, 3, padding=1, bias=False) for _ in range(num_convs)))
    for conv in probe:
        nn.init.constant_(conv.weight, 1.0)
    image = torch.zeros(1, 1, 31, 31)
    image[0, 0, 15, 15] = 1.0
    with torch.no_grad():
        reached = probe(image)[0, 0, 15] != 0
    assert int(reached.sum()) == stack.window


@pytest.mark.parametrize("kernel,c_in,c_out,groups", [(5, 96, 256, 2), (3, 384, 384, 2), (3, 12, 8, 4), (1, 6, 9, 3)])
def test_conv_weights_and_group_saving_match_real_layers(kernel: int, c_in: int, c_out: int, groups: int):
    with torch.device("meta"):
        full = nn.Conv2d(c_in, c_out, kernel, bias=False)
        split = nn.Conv2d(c_in, c_out, kernel, groups=groups)
    assert facts.conv_weights(kernel, c_in, c_out) == numel(full)
    assert facts.conv_params(kernel, c_in, c_out, groups=groups) == numel(split)
    assert facts.grouped_saving(kernel, c_in, c_out, groups) == numel(full) - split.weight.numel()


def test_fc_params_match_a_real_linear_layer():
    with torch.device("meta"):
        assert facts.fc_params((384, 5, 5)) == numel(nn.Linear(384 * 5 * 5, facts.FC_WIDTH))
        assert facts.fc_params((7,), 10) == numel(nn.Linear(7, 10))


# --- GoogLeNet, against torchvision -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def torchvision_googlenet() -> nn.Module:
    from torchvision.models import googlenet

    with torch.device("meta"):
        return googlenet(weights=None, aux_logits=False, init_weights=False)


def test_inception_branches_and_reductions_match_torchvision(torchvision_googlenet: nn.Module):
    analysis = analyze(load_preset("googlenet"))
    inceptions = facts.blocks_of_kind(analysis, "inception")
    assert [block.name for block in inceptions] == [f"inception{name}" for name in
                                                   ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")]
    for block in inceptions:
        theirs = getattr(torchvision_googlenet, block.name)
        widths = (theirs.branch1.conv.out_channels, theirs.branch2[1].conv.out_channels,
                  theirs.branch3[1].conv.out_channels, theirs.branch4[1].conv.out_channels)
        assert facts.branch_widths(block) == widths
        assert block.output_shape[0] == sum(widths)  # the concatenation
        three, wide = facts.reductions(analysis, block)
        for ours, branch in ((three, theirs.branch2), (wide, theirs.branch3)):
            reduce, conv = branch[0].conv, branch[1].conv
            assert (ours.in_channels, ours.reduced, ours.out_channels, ours.kernel) == (
                reduce.in_channels, reduce.out_channels, conv.out_channels, conv.kernel_size[0])
            assert ours.with_reduction == reduce.weight.numel() + conv.weight.numel()
            with torch.device("meta"):
                direct = nn.Conv2d(reduce.in_channels, conv.out_channels, conv.kernel_size, bias=False)
            assert ours.without_reduction == direct.weight.numel()
    # REFERENCE.md: the concatenated outputs of torchvision's blocks.
    assert [block.output_shape[0] for block in inceptions] == [256, 480, 512, 512, 512, 528, 832, 832, 1024]


def test_inception_explanation_uses_the_concatenated_outputs():
    spec = load_preset("googlenet")
    text = explain(spec, analyze(spec))
    assert "| 3a | 192 → 256 |" in text and "64 + 128 + 32 + 32 = 256" in text
    rows = list(spec.inceptions)
    rows[0] = replace(rows[0], ch1x1=96)
    edited = replace(spec, inceptions=tuple(rows))
    text = explain(edited, analyze(edited))
    assert "| 3a | 192 → 288 |" in text and "96 + 128 + 32 + 32 = 288" in text and "| 3b | 288 → " in text


# --- heads and receptive fields -----------------------------------------------------------------------------------
def test_head_share_matches_torchvision_vgg16():
    from torchvision.models import vgg16

    with torch.device("meta"):
        theirs = vgg16(weights=None)
    analysis = analyze(load_preset("vgg16"))
    share = facts.head_share(analysis)
    assert share.head_params == numel(theirs.classifier) and share.total_params == numel(theirs) == 138_357_544
    assert share.feature_macs + sum(block.macs for block in analysis.blocks if block.kind == "head") \
        == analysis.total_macs


def vgg_receptive_field(conv_arch) -> tuple[int, int]:  # noqa: ANN001
    """(receptive field, jump) after VGG's blocks, by the textbook recurrence."""
    rf, jump = 1, 1
    for num_convs, _ in conv_arch:
        rf += num_convs * 2 * jump  # 3x3 convs, stride 1
        rf += jump  # 2x2 max-pool, stride 2
        jump *= 2
    return rf, jump


def test_headline_and_table_receptive_fields_side_by_side():
    spec = load_preset("vgg16")
    analysis = analyze(spec)
    rf, jump = vgg_receptive_field(spec.conv_arch)
    side = spec.input_size // jump
    assert (rf, rf + (side - 1) * jump) == (212, 404)
    growth = facts.receptive_field_growth(analysis)
    assert [step.receptive_field for step in growth] == [vgg_receptive_field(spec.conv_arch[:n])[0]
                                                          for n in range(1, 6)]
    head = facts.head_receptive_field(analysis)
    assert head is not None and head.formula_holds and head.fc == "head.fc1"
    assert (head.input_rf, head.receptive_field, head.positions) == (212, 404, 7)
    fc1 = next(layer for layer in analysis.layers if layer.name == "head.fc1")
    assert fc1.receptive_field == 404 and analysis.feature_receptive_field == 212
    text = explain(spec, analysis)
    assert "**212 px**" in text and "**404 px**" in text and "212 + (7 − 1)·32 = 404" in text


@pytest.mark.parametrize("name", preset_names())
def test_every_head_field_is_the_table_row(name: str):
    analysis = analyze(load_preset(name))
    head = facts.head_receptive_field(analysis)
    if head is None:
        return
    row = next(layer for layer in analysis.layers if layer.name == head.layer)
    assert row.receptive_field == head.receptive_field
    assert f"**{analysis.feature_receptive_field} px**" in receptive_field_section(analysis)


# --- LRN ----------------------------------------------------------------------------------------------------------
def paper_lrn(a: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    """Krizhevsky et al. 2012, section 3.3, written out: b = a / (k + alpha * sum of a^2 over n channels)^beta."""
    channels = a.shape[1]
    out = torch.empty_like(a)
    for channel in range(channels):
        low, high = max(0, channel - size // 2), min(channels - 1, channel + (size - 1) // 2)
        total = (a[:, low:high + 1] ** 2).sum(dim=1)
        out[:, channel] = a[:, channel] / (k + alpha * total) ** beta
    return out


def test_lrn_preset_maps_the_papers_alpha_to_pytorchs():
    spec = load_preset("alexnet_original")
    assert spec.lrn
    torch_alpha = facts.lrn_pytorch_alpha(spec.lrn_alpha, spec.lrn_size)
    layers = [module for module in build_model(spec, device="meta").modules()
              if isinstance(module, nn.LocalResponseNorm)]
    assert len(layers) == 2 and all(layer.alpha == pytest.approx(torch_alpha) for layer in layers)
    torch.manual_seed(0)
    activations = torch.rand(2, 12, 4, 4) * 30
    pytorch = nn.LocalResponseNorm(spec.lrn_size, alpha=torch_alpha, beta=spec.lrn_beta, k=spec.lrn_k)(activations)
    paper = paper_lrn(activations, spec.lrn_size, spec.lrn_alpha, spec.lrn_beta, spec.lrn_k)
    assert torch.allclose(pytorch, paper, rtol=1e-5)
    # The formula text is the same in the explanation and in the lesson, with the preset's numbers.
    formula = facts.lrn_formulas(spec.lrn_size, spec.lrn_alpha, spec.lrn_beta, spec.lrn_k)
    assert "(k + α·Σ a²)^β" in formula and "(k + α′/n·Σ a²)^β" in formula and f"{torch_alpha:g}" in formula
    analysis = analyze(spec)
    assert formula in explain(spec, analysis)
    assert any(formula in question.explanation for question in get_lesson("alexnet").questions(spec, analysis))


def test_group_saving_matches_analysis_with_and_without_groups():
    spec = load_preset("alexnet_original")
    grouped, full = analyze(spec), analyze(replace(spec, groups=1))
    saved = sum(facts.grouped_saving(layer.kernel_size, layer.input_shape[0], layer.output_shape[0], layer.groups)
                for layer in grouped.layers if layer.kind == "conv" and layer.groups > 1)
    assert saved == full.total_params - grouped.total_params == 1_413_120
    assert f"**{saved:,}**" in explain(spec, grouped)


# --- every preset, every family -----------------------------------------------------------------------------------
def narrower(spec):  # noqa: ANN001, ANN201
    """The same network with one class more: the head changes, so do the totals."""
    return replace(spec, num_classes=spec.num_classes + 1)


@pytest.mark.parametrize("name", preset_names())
def test_explanations_and_lessons_run_for_every_preset_with_its_numbers(name: str):
    spec = load_preset(name)
    analysis = analyze(spec)
    text = explain(spec, analysis)
    assert f"**{analysis.total_params:,}**" in text and f"{facts.head_share(analysis).head_params:,}" in text
    edited = narrower(spec)
    edited_analysis = analyze(edited)
    edited_text = explain(edited, edited_analysis)
    assert edited_text != text and f"**{edited_analysis.total_params:,}**" in edited_text
    for lesson in LESSONS:
        rendered = lesson.render(spec, analysis)
        if lesson.applies_to(spec):
            assert f"**{analysis.total_params:,}**" in rendered
            assert f"**{edited_analysis.total_params:,}**" in lesson.render(edited, edited_analysis)
        else:
            assert f"`{lesson.preset}`" in rendered


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_has_a_teaching_module(family: str):
    module = family_of(family).teaching_module()
    assert callable(module.explain) and isinstance(module.LESSONS, tuple)
    assert all(isinstance(lesson, Lesson) and lesson.family == family for lesson in module.LESSONS)
    assert all(lesson in LESSONS for lesson in module.LESSONS)


#: What generic code must not do: test a spec's class or family name, or read block names' prefixes.
PATTERN = (r"isinstance\(spec|family ==|\.startswith\(\"(block|inception|nin|conv)"
           r"|(VGG|GoogLeNet|NiN|AlexNet|ResNet)Spec")


def test_generic_teaching_code_asks_the_registry():
    generic = [ROOT / "explorer/explain.py", ROOT / "explorer/lessons.py", ROOT / "explorer/teaching/__init__.py",
               ROOT / "explorer/teaching/facts.py", ROOT / "explorer/ui/lessons_panel.py"]
    for path in generic:
        source = path.read_text(encoding="utf-8")
        assert not re.search(PATTERN, source), path.name


def test_stacked_block_table_for_vgg16():
    spec = load_preset("vgg16")
    text = explain(spec, analyze(spec))
    stack = facts.StackedConvs(3, 512)
    assert f"| block5 | 3 × 3x3, 512 ch | 7x7 | {stack.stacked_params:,} | {stack.single_params:,} |" in text
    assert math.isclose(stack.saved / stack.single_params, 1 - 27 / 49, rel_tol=1e-3)


def test_a_family_without_teaching_module_yet_gets_the_shared_sections(monkeypatch):
    from dataclasses import replace as replace_field

    from explorer.lessons import lessons_of

    family = FAMILIES["vgg"]
    monkeypatch.setitem(FAMILIES, "vgg", replace_field(family, teaching="explorer.teaching.not_written_yet"))
    spec = load_preset("vgg11")
    analysis = analyze(spec)
    text = explain(spec, analysis)
    assert "### Where the parameters are" in text and "### Receptive field" in text and "Why stacks" not in text
    assert lessons_of(FAMILIES["vgg"]) == ()


def test_vgg_table_follows_a_width_edit():
    spec = load_preset("vgg16")
    edited = replace(spec, conv_arch=(*spec.conv_arch[:4], (3, 256)))
    text = explain(edited, analyze(edited))
    stack = facts.StackedConvs(3, 256)
    assert f"| block5 | 3 × 3x3, 256 ch | 7x7 | {stack.stacked_params:,} | {stack.single_params:,} |" in text
    assert "The first FC layer reads a 256x7x7 map" in text
