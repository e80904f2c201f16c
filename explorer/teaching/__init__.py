"""Teaching material, one module per family: explanations with the user's numbers, and guided lessons.

The API a family follows
------------------------
``explorer.families`` names each family's teaching module (``explorer.teaching.<family>``). That module defines:

* ``explain(spec, analysis, *, zh=False) -> str`` — Markdown for the *Why does it look like this?* accordion (in
  Simplified Chinese when ``zh``, with the same numbers), every number computed from ``spec`` and ``analysis`` (the
  analysis of that spec). End it with
  :func:`receptive_field_section` and :func:`parameters_section` (shared wording for every family).
* ``LESSONS: tuple[Lesson, ...]`` — the family's lessons (may be empty). A :class:`Lesson` names the preset it
  loads, a walkthrough template, ``describe(spec, analysis) -> str`` and ``ask(spec, analysis) ->
  list[Question]``; it is only asked about specs of its own ``family``.

Rules for both:

* Numbers come from :mod:`explorer.teaching.facts` (named, tested quantities) or straight from the analysis
  record (``analysis.blocks``: kind, name, params, receptive_field, branches), never from parsing module
  names; percentages through :func:`facts.percent`, ratios through :func:`facts.times`.
* Every text exists in English and in Simplified Chinese: ``describe`` and ``ask`` take ``zh`` (keyword, default
  False) and write each sentence in both languages with :func:`pick` (``pick(zh, f"English", f"中文")``), so the
  numbers are computed once; a lesson has ``title_zh`` and ``steps_zh`` beside ``title`` and ``steps``.
* A walkthrough refers to the page's buttons and labels by placeholder (``**{load}**``, ``**{explore}**`` ...,
  see :data:`UI_LABELS`), so the page fills in the label as the browser shows it (English or Chinese).
* Generic code (``explorer.explain``, ``explorer.lessons``, the Lessons panel) reaches a family only through
  the registry; only a family's own module may know its spec class.

Pure: no Gradio.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from ..report import human_count, shape_text
from . import facts

if TYPE_CHECKING:
    from ..analysis import Analysis, LayerAnalysis
    from ..specs import Spec

#: A translation of a UI label (the identity for English).
Translate = Callable[[str], str]

#: Placeholders a walkthrough may use -> the page's label, exactly as the UI writes it (its English text).
UI_LABELS: dict[str, str] = {
    "load": "Load this network", "explore": "Explore", "compare": "Compare", "lessons": "Lessons",
    "chart": "Chart", "log_scale": "Log scale", "layers": "Layers", "parameters": "Parameters",
    "shape_flow": "Shape flow", "macs": "MACs", "pin": "Pin as A (compare)", "preset": "Preset",
    "why": "Why does it look like this? (with your numbers)", "show_answers": "Show answers",
    "conv_arch": "conv_arch: ((num_convs, out_channels), ...)",
    "inception_table": "Inception blocks (in → out derived)", "wide_kernel": "Wide branch kernel",
    "nin_table": "NiN blocks (mlp_channels empty = two 1x1 of out_channels)",
    "overlapping": "Overlapping pooling (3x3/2)", "groups": "Groups", "lrn": "Local response norm",
}


def pick(zh: bool, english_text: str, chinese_text: str) -> str:
    """The Chinese text when ``zh``, else the English one (both already formatted with the same numbers)."""
    return chinese_text if zh else english_text


def english(text: str) -> str:
    """The identity translation."""
    return text


def ui_labels(translate: Translate = english) -> dict[str, str]:
    """Every placeholder of :data:`UI_LABELS` with its label as ``translate`` shows it."""
    return {name: translate(label) for name, label in UI_LABELS.items()}


def ui_label(name: str, translate: Translate = english) -> str:
    """One label by placeholder name, e.g. ``ui_label("load")`` -> "Load this network"."""
    return translate(UI_LABELS[name])


@dataclass(frozen=True)
class Question:
    """One question; the answer is computed from the network the lesson is rendered for."""

    prompt: str  # Markdown, in the language asked for
    answer: str | int | float  # an int for a single count; a short text when it holds several figures
    explanation: str  # Markdown: how the answer follows from the numbers


@dataclass(frozen=True)
class Lesson:
    """A lesson: which preset to load, what to look at, and questions computed from the loaded network."""

    id: str
    title: str
    preset: str  # what the "Load this network" button loads
    family: str  # the registered family the questions are about
    # Markdown, numbered steps on the page; "{load}", "{explore}" ... are the UI labels of UI_LABELS.
    steps: str
    # (spec, analysis, *, zh=False) -> Markdown paragraph about the loaded network, with its numbers.
    describe: Callable[..., str] = field(repr=False, compare=False)
    # (spec, analysis, *, zh=False) -> the questions with computed answers.
    ask: Callable[..., list[Question]] = field(repr=False, compare=False)
    title_zh: str = ""  # the title in Simplified Chinese
    steps_zh: str = ""  # the steps in Simplified Chinese, with the same placeholders

    @property
    def walkthrough(self) -> str:
        """The steps with the English labels."""
        return self.walkthrough_in(english)

    def walkthrough_in(self, translate: Translate = english, *, zh: bool = False) -> str:
        """The steps with the labels as ``translate`` shows them (the page's language); Chinese steps when
        ``zh``."""
        steps = self.steps_zh if zh and self.steps_zh else self.steps
        return steps.format(**ui_labels(translate))

    def title_in(self, *, zh: bool = False) -> str:
        return self.title_zh if zh and self.title_zh else self.title

    def applies_to(self, spec: Spec) -> bool:
        """Whether ``spec`` belongs to the lesson's family (as the registry says)."""
        from ..families import family_of

        return family_of(spec) is family_of(self.family)

    def wrong_family_message(self, spec: Spec, translate: Translate = english, *, zh: bool = False) -> str:
        from ..families import family_of

        label, explore = family_of(self.family).label, ui_label("explore", translate)
        if zh:
            return (f"本课讲的是 **{label}**，但**{explore}**页上的网络是 **{spec.family_label}**。点击"
                    f"**{ui_label('load', translate)}**载入 `{self.preset}`（或在**{explore}**页选任意一个 {label} "
                    "预设），问题就会用它的数字。")
        return (f"This lesson is about **{label}**, but the network on the **{explore}** tab is a "
                f"**{spec.family_label}**. Click **{ui_label('load', translate)}** to load `{self.preset}` (or "
                f"pick any {label} preset on the **{explore}** tab); the questions then use its numbers.")

    def questions(self, spec: Spec, analysis: Analysis, *, zh: bool = False) -> list[Question]:
        """The questions with answers computed from ``spec`` and ``analysis``; empty for another family."""
        check_pair(spec, analysis)
        return list(self.ask(spec, analysis, zh=zh)) if self.applies_to(spec) else []

    def render(self, spec: Spec, analysis: Analysis, *, questions: list[Question] | None = None,
               translate: Translate = english, zh: bool = False) -> str:
        """Markdown about the loaded network (its live numbers) and the questions, without their answers.

        Pass ``questions`` when they are already computed, to compute them once.
        """
        check_pair(spec, analysis)
        if not self.applies_to(spec):
            return self.wrong_family_message(spec, translate, zh=zh)
        asked = self.questions(spec, analysis, zh=zh) if questions is None else questions
        explore = ui_label('explore', translate)
        return "\n".join([pick(zh, f"#### The network on the {explore} tab", f"#### {explore}页上的网络"),
                          self.describe(spec, analysis, zh=zh), "",
                          pick(zh, "#### Questions", "#### 问题"), questions_markdown(asked)])


def check_pair(spec: Spec, analysis: Analysis) -> None:
    """Refuse an analysis of another network than ``spec``."""
    if spec.family != analysis.family:
        raise ValueError(f"the analysis is of a {analysis.family} network but the spec is a {spec.family} one")


def questions_markdown(questions: list[Question]) -> str:
    """The prompts as a numbered list."""
    return "\n".join(f"{index}. {question.prompt}" for index, question in enumerate(questions, 1))


def answers_markdown(questions: list[Question], *, zh: bool = False) -> str:
    """Each answer in bold, then how it follows from the numbers."""
    if not questions:
        return pick(zh, "No answers: load the lesson's network first.", "还没有答案：请先载入本课的网络。")
    lines = [pick(zh, "#### Answers", "#### 答案")]
    for index, question in enumerate(questions, 1):
        lines += [f"{index}. **{format_answer(question.answer)}**", "", f"   {question.explanation}", ""]
    return "\n".join(lines)


def format_answer(answer: str | int | float) -> str:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return str(answer)
    return f"{answer:,}" if isinstance(answer, int) else f"{answer:,.4g}"


# --- shared prose -------------------------------------------------------------------------------------------------
def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def size_text(size: int) -> str:
    return f"{size}x{size}"


def network_line(spec: Spec, analysis: Analysis, *, zh: bool = False) -> str:
    """'It takes a 3x224x224 input and predicts 1000 classes: **N** parameters and **M** MACs per image.'"""
    if zh:
        return (f"输入为 {shape_text(analysis.input_shape)}，预测 {spec.num_classes} 个类别：共 "
                f"**{analysis.total_params:,}** 个参数，每张图像 **{human_count(analysis.total_macs)}** 次乘加运算（MACs）。")
    return (f"It takes a {shape_text(analysis.input_shape)} input and predicts {spec.num_classes} classes: "
            f"**{analysis.total_params:,}** parameters and **{human_count(analysis.total_macs)}** "
            f"multiply-adds (MACs) per image.")


def describe_layer_params(analysis: Analysis, layer: LayerAnalysis, *, zh: bool = False) -> str:
    """'`name` reads ... : a·b weights + b biases = n.' for a linear or conv layer."""
    if layer.kind == "linear":
        inputs = math.prod(layer.input_shape)
        out = layer.output_shape[0]
        flat = facts.map_before(analysis, layer)
        biases = layer.params - inputs * out
        if zh:
            source = f"（{shape_text(flat)} 的特征图展平后）" if flat and len(flat) > 1 else ""
            return (f"`{layer.name}` 读入 {inputs:,} 个值{source}，有 {out:,} 个输出：{inputs:,}·{out:,} 个权重 + "
                    f"{biases:,} 个偏置 = {layer.params:,}。")
        source = f" (the {shape_text(flat)} map, flattened)" if flat and len(flat) > 1 else ""
        return (f"`{layer.name}` reads {inputs:,} values{source} and has {out:,} outputs: {inputs:,}·{out:,} "
                f"weights + {biases:,} biases = {layer.params:,}.")
    if layer.kind == "conv":
        kernel = layer.kernel_size or 1
        if zh:
            return (f"`{layer.name}` 是一个 {kernel}x{kernel} 卷积层，从 {layer.input_shape[0]:,} 个通道到 "
                    f"{layer.output_shape[0]:,} 个通道：{layer.params:,} 个参数。")
        return (f"`{layer.name}` is a {kernel}x{kernel} conv from {layer.input_shape[0]:,} to "
                f"{layer.output_shape[0]:,} channels: {layer.params:,} parameters.")
    return pick(zh, f"`{layer.name}` has {layer.params:,} parameters.", f"`{layer.name}` 有 {layer.params:,} 个参数。")


def parameters_section(analysis: Analysis, *, zh: bool = False) -> str:
    """'### Where the parameters are' with the head's share of parameters and the features' share of MACs."""
    share = facts.head_share(analysis)
    if zh:
        return "\n".join(["### 参数在哪里",
                          f"分类输出部分占了 **{share.total_params:,}** 个参数中的 **{share.head_params:,}** 个"
                          f"（{facts.percent(share.head_params, share.total_params)}），而特征提取的各块完成了 "
                          f"{facts.percent(share.feature_macs, share.total_macs)} 的乘加运算。"])
    return "\n".join(["### Where the parameters are",
                      f"The classifier head holds **{share.head_params:,}** of the **{share.total_params:,}** "
                      f"parameters ({facts.percent(share.head_params, share.total_params)}), while the feature "
                      f"blocks do {facts.percent(share.feature_macs, share.total_macs)} of the multiply-adds."])


def receptive_field_section(analysis: Analysis, *, zh: bool = False) -> str:
    """The headline receptive field (the last feature block) beside the one the table shows at the head."""
    growth = facts.receptive_field_growth(analysis)
    feature_rf = analysis.feature_receptive_field
    if zh:
        return _receptive_field_section_zh(analysis, growth, feature_rf)
    steps = ", ".join(f"{step.block} {step.receptive_field}" for step in growth)
    lines = ["### Receptive field: the headline and the table",
             f"How many input pixels per side one value can see, after each feature block: {steps}. The headline "
             f"card shows **{feature_rf} px**: one position of the last feature map"
             + (f" ({shape_text(growth[-1].output_shape)}), whose neighbours are {growth[-1].effective_stride} "
                "input pixels apart." if growth else ".")]
    head = facts.head_receptive_field(analysis)
    if head is not None and head.receptive_field != feature_rf:
        where = f"`{head.layer}`" + (f" and the FC layers from `{head.fc}` on" if head.fc else "")
        sum_text = (f": {head.input_rf} + ({head.positions} − 1)·{head.effective_stride} = {head.receptive_field} px"
                    if head.formula_holds else "")
        beyond = (f", more than the {analysis.input_shape[-1]}-pixel input (the rest is padding)"
                  if head.receptive_field > analysis.input_shape[-1] else "")
        lines.append(
            f"The **Layers** table shows **{head.receptive_field} px** at {where}: `{head.layer}` reads all "
            f"{head.positions}x{head.positions} positions of the map at once"
            + (f" (the head's convs first grow {feature_rf} px to {head.input_rf} px)"
               if head.input_rf != feature_rf else "")
            + f", so its window spans them"
            f"{sum_text}{beyond}. Both are right: the headline is what one feature sees, the table what a class "
            "score can see.")
    return "\n\n".join(lines)


def _receptive_field_section_zh(analysis: Analysis, growth: list[facts.FieldStep], feature_rf: int) -> str:
    """:func:`receptive_field_section` in Simplified Chinese, with the same numbers."""
    steps = "，".join(f"{step.block} {step.receptive_field}" for step in growth)
    lines = ["### 感受野：顶部卡片与各层表",
             f"经过每个特征块之后，一个值在每条边上能看到多少个输入像素：{steps}。顶部的**感受野**卡片显示 **{feature_rf} px**："
             "这是最后一张特征图上一个位置的感受野"
             + (f"（特征图为 {shape_text(growth[-1].output_shape)}，相邻位置在输入上相隔 "
                f"{growth[-1].effective_stride} 个像素）。" if growth else "。")]
    head = facts.head_receptive_field(analysis)
    if head is not None and head.receptive_field != feature_rf:
        where = f"`{head.layer}` " + (f"以及从 `{head.fc}` 起的全连接层" if head.fc else "")
        sum_text = (f"：{head.input_rf} + ({head.positions} − 1)·{head.effective_stride} = {head.receptive_field} px"
                    if head.formula_holds else "")
        beyond = (f"，超过了 {analysis.input_shape[-1]} 像素的输入（多出的部分是填充）"
                  if head.receptive_field > analysis.input_shape[-1] else "")
        lines.append(
            f"**各层**表在 {where}处显示 **{head.receptive_field} px**：`{head.layer}` 一次读入特征图的全部 "
            f"{head.positions}x{head.positions} 个位置"
            + (f"（输出部分的卷积层先把 {feature_rf} px 扩大到 {head.input_rf} px）"
               if head.input_rf != feature_rf else "")
            + f"，所以它的窗口覆盖了所有这些位置{sum_text}{beyond}。两者都对：卡片是一个特征能看到的范围，"
            "表中是一个类别分数能看到的范围。")
    return "\n\n".join(lines)
