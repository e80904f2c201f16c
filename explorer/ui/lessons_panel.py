"""The Lessons panel: pick a lesson, load its network into Explore, answer questions about the current network.

The app builds it inside a tab::

    with gr.Tab("Lessons", id="lessons"):
        build_lessons_panel(explore_panel)

Built directly inside a ``gr.Tab``, the panel refreshes itself whenever that tab is selected (the student may
have edited the network on the Explore tab meanwhile). Built anywhere else, hook the refresh to whatever shows
it: ``lessons = build_lessons_panel(explore_panel)`` then ``lessons.refresh_on(tab)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr
from gradio.context import Context

from ..analysis import analyze
from ..lessons import LESSONS, Lesson, Translate, answers_markdown, english, get_lesson, ui_label
from ..teaching import pick
from ..presets import get_preset
from ..specs import SpecError, parse_spec
from .explore import ExplorePanel, clamp_batch, load_outputs, show_spec
from .i18n import ZH, tr, wants_chinese

_FAST = dict(concurrency_limit=None, show_progress="hidden", api_visibility="private")


@dataclass
class LessonsPanel:
    """The Lessons components, and the Explore panel they read from and load into."""

    explore: ExplorePanel
    picker: gr.Radio
    walkthrough: gr.Markdown
    load_button: gr.Button
    status: gr.Markdown
    text: gr.Markdown  # the lesson with the current network's numbers, and its questions
    show_answers: gr.Checkbox
    answers: gr.Markdown
    _hooked: set[int] = field(default_factory=set)

    def refresh_inputs(self) -> list[gr.components.Component]:
        return [self.picker, self.explore.current_spec, self.show_answers]

    def refresh_outputs(self) -> list[gr.components.Component]:
        return [self.walkthrough, self.text, self.answers, self.status]

    def refresh_on(self, tab: gr.Tab) -> None:
        """Re-render the lesson from the current network whenever ``tab`` is selected (once per tab)."""
        if id(tab) in self._hooked:
            return
        self._hooked.add(id(tab))
        tab.select(self.refresh, self.refresh_inputs(), self.refresh_outputs(), **_FAST)

    # --- handlers (plain functions of widget values; tests call them directly) ---------------------------------
    def refresh(self, lesson_id: str, current: Any, show_answers: bool,
                request: gr.Request = None) -> tuple[str, str, Any, str]:
        """The walkthrough (its labels in the page's language), the lesson text and the answers (shown only when
        ``show_answers``) for the current network; the "Loaded ..." note is cleared, since the network may have
        changed since."""
        lesson, translate = _lesson(lesson_id), page_language(request)
        zh = translate is chinese_label
        text, answers = lesson_view(lesson, current, translate)
        return (lesson.walkthrough_in(translate, zh=zh), text, gr.update(value=answers, visible=bool(show_answers)),
                "")

    def pick(self, lesson_id: str, current: Any, request: gr.Request = None) -> tuple[str, str, str, bool, Any]:
        """A new lesson: its walkthrough and text; the answers are hidden again."""
        lesson, translate = _lesson(lesson_id), page_language(request)
        text, answers = lesson_view(lesson, current, translate)
        return (lesson.walkthrough_in(translate, zh=translate is chinese_label), "", text, False,
                gr.update(value=answers, visible=False))

    def toggle(self, lesson_id: str, current: Any, show_answers: bool, request: gr.Request = None) -> Any:
        _, answers = lesson_view(_lesson(lesson_id), current, page_language(request))
        return gr.update(value=answers, visible=bool(show_answers))

    def load(self, lesson_id: str, batch_size: Any, chart: str, log_scale: bool, pinned: dict | None,
             show_answers: bool, request: gr.Request = None) -> dict:
        """Load the lesson's preset into every Explore editor and render it; re-render the lesson for it."""
        lesson, translate = _lesson(lesson_id), page_language(request)
        zh = translate is chinese_label
        try:
            preset = get_preset(lesson.preset)
        except SpecError as exc:  # a preset file removed or broken: say so here, keep Explore as it is
            raise gr.Error(pick(zh, f"The lesson's network could not be loaded: {exc}",
                                f"无法载入本课的网络：{exc}")) from None
        updates = show_spec(self.explore, preset.spec, preset=preset.name, batch_size=clamp_batch(batch_size),
                            chart=chart, log_scale=log_scale, pinned=pinned)
        text, answers = lesson_view(lesson, preset.spec.to_dict(), translate)
        explore = ui_label('explore', translate)
        updates[self.status] = pick(
            zh, f"Loaded `{preset.name}` into the **{explore}** tab: open it to follow the steps. Edits there change "
                "the answers here.",
            f"已把 `{preset.name}` 载入**{explore}**页：打开它，按步骤操作。在那里修改网络，这里的答案会随之变化。")
        updates[self.text] = text
        updates[self.answers] = gr.update(value=answers, visible=bool(show_answers))
        return updates

    def load_inputs(self) -> list[gr.components.Component]:
        explore = self.explore
        return [self.picker, explore.batch_size, explore.chart_choice, explore.log_scale, explore.pinned_spec,
                self.show_answers]

    def load_targets(self) -> list[gr.components.Component]:
        return [*load_outputs(self.explore), self.status, self.text, self.answers]


def page_language(request: gr.Request | None) -> Translate:
    """How the page shows its labels: Chinese when the browser asks for it first (as ``gr.I18n`` does)."""
    try:
        chinese = wants_chinese(request.headers.get("accept-language")) if request is not None else False
    except AttributeError:
        chinese = False
    return chinese_label if chinese else english


def chinese_label(text: str) -> str:
    return ZH.get(text, text)


def lesson_view(lesson: Lesson, current: Any, translate: Translate = english) -> tuple[str, str]:
    """(lesson text, answers) for the network held in Explore's ``current_spec`` state (a spec or its dict).

    Buttons are named as ``translate`` shows them, like the page; the text is Chinese when ``translate`` is
    :func:`chinese_label`.
    """
    zh = translate is chinese_label
    load, explore = ui_label("load", translate), ui_label("explore", translate)
    if not current:
        message = pick(zh, f"No network on the **{explore}** tab yet. Click **{load}** to load `{lesson.preset}`.",
                       f"**{explore}**页上还没有网络。点击**{load}**载入 `{lesson.preset}`。")
        return message, ""
    try:
        spec = parse_spec(current)
    except SpecError as exc:
        return pick(zh, f"The network on the **{explore}** tab is not valid ({exc}). Click **{load}**.",
                    f"**{explore}**页上的网络无效（{exc}）。请点击**{load}**。"), ""
    analysis = analyze(spec)
    questions = lesson.questions(spec, analysis, zh=zh)
    text = lesson.render(spec, analysis, questions=questions, translate=translate, zh=zh)
    return text, answers_markdown(questions, zh=zh)


def _lesson(lesson_id: str) -> Lesson:
    try:
        return get_lesson(lesson_id)
    except ValueError as exc:
        raise gr.Error(str(exc)) from None


LESSONS_INTRO = ("### Lessons\nEach lesson loads a classic network into the **Explore** tab, says what to look at, "
                 "and asks questions whose answers are computed from the network on the Explore tab — edit it "
                 "there and the answers follow.")


def build_lessons_panel(explore: ExplorePanel) -> LessonsPanel:
    """Create the Lessons components (inside the caller's Blocks/Tab context) and wire their events.

    When the enclosing block is a ``gr.Tab``, its ``select`` event refreshes the lesson; otherwise call
    ``refresh_on(tab)`` on the result.
    """
    enclosing = Context.block
    first = LESSONS[0]
    initial_text, initial_answers = lesson_view(first, explore.current_spec.value)
    gr.Markdown(tr(LESSONS_INTRO))
    picker = gr.Radio([(tr(lesson.title, zh=lesson.title_zh), lesson.id) for lesson in LESSONS], value=first.id, label=tr("Lesson"),
                      elem_id="lesson-picker")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            walkthrough = gr.Markdown(first.walkthrough, elem_id="lesson-walkthrough")
            load_button = gr.Button(tr("Load this network"), variant="primary", elem_id="lesson-load")
            status = gr.Markdown("", elem_id="lesson-status")
        with gr.Column(scale=3, min_width=400):
            text = gr.Markdown(initial_text, elem_id="lesson-text")
            show_answers = gr.Checkbox(False, label=tr("Show answers"), elem_id="lesson-show-answers")
            answers = gr.Markdown(initial_answers, visible=False, elem_id="lesson-answers")
    panel = LessonsPanel(explore=explore, picker=picker, walkthrough=walkthrough, load_button=load_button,
                         status=status, text=text, show_answers=show_answers, answers=answers)

    picker.change(panel.pick, [picker, explore.current_spec], [walkthrough, status, text, show_answers, answers],
                  **_FAST)
    show_answers.input(panel.toggle, panel.refresh_inputs(), [answers], **_FAST)
    load_button.click(panel.load, panel.load_inputs(), panel.load_targets(), **_FAST)
    if isinstance(enclosing, gr.Tab):
        panel.refresh_on(enclosing)
    return panel
