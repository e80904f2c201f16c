"""Lessons for teachers: a walkthrough of the page and questions answered with the loaded network's numbers.

Each family's teaching module (``explorer.teaching.<family>``) defines its ``LESSONS``; this module collects them
from every registered family, in the registry's order. Every number in a lesson's text and answers is computed
from the spec and analysis it is given, so the questions stay right while a student edits the network. Pure: no
Gradio (the Lessons panel in ``explorer.ui.lessons_panel`` shows them).
"""
from __future__ import annotations

from .families import FAMILIES, Family
from .teaching import (Lesson, Question, Translate, answers_markdown, english, format_answer,
                       questions_markdown, ui_label)
from .teaching.facts import FC_WIDTH

__all__ = ["FC_WIDTH", "LESSONS", "Lesson", "Question", "Translate", "answers_markdown", "english",
           "format_answer", "get_lesson", "lesson_ids", "lessons_of", "questions_markdown", "ui_label"]


def lessons_of(family: Family) -> tuple[Lesson, ...]:
    """A family's lessons; none while its teaching module is not written yet."""
    try:
        module = family.teaching_module()
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("explorer.teaching"):
            raise
        return ()
    return tuple(module.LESSONS)


LESSONS: tuple[Lesson, ...] = tuple(lesson for family in FAMILIES.values() for lesson in lessons_of(family))


def lesson_ids() -> list[str]:
    return [lesson.id for lesson in LESSONS]


def get_lesson(lesson_id: str) -> Lesson:
    """The lesson called ``lesson_id``.

    Raises:
        ValueError: for an unknown id, listing the known ones.
    """
    for lesson in LESSONS:
        if lesson.id == lesson_id:
            return lesson
    shown = lesson_id if isinstance(lesson_id, str) and len(lesson_id) <= 40 else f"{str(lesson_id)[:40]}..."
    raise ValueError(f"no lesson called {shown!r}; choose one of {', '.join(lesson_ids())}")
