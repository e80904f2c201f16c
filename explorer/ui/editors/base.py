"""The editor API: how one family's widgets show a spec, and how edits become a spec again.

An :class:`Editor` is data. Each :class:`Field` names the value it edits, describes its widget (a
:class:`Widget`: kind, label, info, choices, ...), reads the widget's value from a spec (``read``) and turns a
widget value back into the spec's value (``parse``, which raises :class:`SpecError` naming the field). ``rows``
lay the fields out. The conversions (:meth:`Editor.values`, :meth:`Editor.spec_data`) are pure: tests call them
without a server. The Explore panel creates the widgets (:meth:`Widget.create`), keys each one as
``"<family>.<field>"`` (:meth:`Editor.key`) and wires every change event by that key.

A family's module ``explorer/ui/editors/<family>.py`` defines ``EDITOR``; the registry
(:mod:`explorer.families`) finds it. Example, for a family whose spec has ``channels`` and ``dropout``::

    from .base import Editor, Field, Widget, int_list_text, list_text, widget_float

    EDITOR = Editor(
        family="lenet",
        fields=(
            Field("channels", Widget("text", "Conv channels", info="comma-separated"),
                  read=lambda spec: list_text(spec.channels), parse=int_list_text),
            Field("dropout", Widget("slider", "Dropout", minimum=0, maximum=0.95, step=0.05), parse=widget_float),
        ),
        rows=(("channels",), ("dropout",)),  # a row of one field takes the whole width
    )

``parse(value, field)`` gets the widget's value and the field's name (to put in errors); the helpers re-exported
here (``widget_int``, ``widget_float``, ``int_list_text``, ``optional_pool``, ``table_rows``, ...) do the usual
conversions. The input size, input channels and class count are common to every family
(:data:`COMMON_FIELDS`): an editor lists only its own fields.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

from ...specs import Spec, SpecError
from ..convert import (cell_blank, int_list_text, list_text, optional_int_list_text, optional_pool, table_rows,
                       widget_bool, widget_float, widget_int)

__all__ = ["COMMON_FIELDS", "Editor", "Field", "Widget", "cell_blank", "int_list_text", "list_text",
           "optional_int_list_text", "optional_pool", "same_value", "table_rows", "widget_bool", "widget_float",
           "widget_int"]

WidgetKind = Literal["text", "number", "checkbox", "slider", "radio", "table"]


def same_value(value: Any, field: str) -> Any:  # noqa: ARG001 - the parse signature
    """The widget value unchanged (the spec validates it)."""
    return value


@dataclass(frozen=True)
class Widget:
    """How a field's Gradio component looks. Labels and infos are English; :func:`tr` translates them."""

    kind: WidgetKind
    label: str
    info: str = ""
    choices: tuple[Any, ...] = ()  # radio
    minimum: float | None = None  # slider only: a Number refuses out-of-range values silently in the browser
    maximum: float | None = None
    step: float | None = None
    integer: bool = False  # number: whole numbers (precision 0)
    lines: int = 1  # text
    headers: tuple[str, ...] = ()  # table
    datatype: tuple[str, ...] = ()  # table: "str" or "number" per column
    static_columns: tuple[int, ...] = ()  # table: read-only columns (derived values)
    column_widths: tuple[str, ...] = ()  # table
    fixed_rows: bool = False  # table: the row count is the spec's (no rows added or removed)
    add_row: str = ""  # table: the label of a button that appends ``blank_row``
    blank_row: tuple[Any, ...] = ()
    elem_id: str | None = None

    def create(self, value: Any) -> Any:
        """The Gradio component showing ``value`` (call inside a Blocks context)."""
        import gradio as gr

        from ..i18n import tr

        common: dict[str, Any] = dict(label=tr(self.label), elem_id=self.elem_id)
        info = tr(self.info) if self.info else None
        if self.kind == "text":
            return gr.Textbox(value, info=info, lines=self.lines, max_lines=max(self.lines * 3, 1), **common)
        if self.kind == "number":
            return gr.Number(value, info=info, precision=0 if self.integer else None, **common)
        if self.kind == "checkbox":
            return gr.Checkbox(value, info=info, **common)
        if self.kind == "slider":
            return gr.Slider(self.minimum if self.minimum is not None else 0,
                             self.maximum if self.maximum is not None else 1, value=value, step=self.step,
                             info=info, **common)
        if self.kind == "radio":
            return gr.Radio(list(self.choices), value=value, info=info, **common)
        if self.kind == "table":
            rows = len(value) if isinstance(value, list) else None
            # Gradio 6.31's frontend reads the ("fixed" | "dynamic") tuples; row_limits/column_limits are not
            # implemented yet. A fixed column count removes the "Add column" menu entries.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return gr.Dataframe(
                    value, headers=list(self.headers), datatype=list(self.datatype) or "str",
                    static_columns=list(self.static_columns) or None, column_count=(len(self.headers), "fixed"),
                    row_count=(rows, "fixed") if self.fixed_rows and rows else None,
                    column_widths=list(self.column_widths) or None, interactive=True, type="array",
                    elem_classes=["editor-table"], **common)
        raise ValueError(f"unknown widget kind {self.kind!r}")


@dataclass(frozen=True)
class Field:
    """One editable value: its widget, how to read it from a spec and how to parse it back."""

    name: str  # the key within the family; the spec field it sets (unless ``into``); named in errors
    widget: Widget | None  # None: no widget; the value rides along in the draft so that edits keep it
    read: Callable[[Spec], Any] | None = None  # spec -> widget value; default: the spec's attribute ``name``
    parse: Callable[[Any, str], Any] = same_value  # (widget value, field name) -> spec value; SpecError if bad
    into: tuple[str, ...] = ()  # one widget for several spec fields: ``parse`` returns one value for each
    derived: bool = False  # the widget also shows values derived from the spec: refreshed after each valid edit

    def value_of(self, spec: Spec) -> Any:
        return self.read(spec) if self.read is not None else getattr(spec, self.name)

    def spec_items(self, value: Any) -> dict[str, Any]:
        """The spec fields this widget value sets."""
        parsed = self.parse(value, self.name)
        if not self.into:
            return {self.name: parsed}
        if not isinstance(parsed, (list, tuple)) or len(parsed) != len(self.into):
            raise SpecError(self.name, f"expected {len(self.into)} values ({', '.join(self.into)})",
                            f"应为 {len(self.into)} 个值（{', '.join(self.into)}）")
        return dict(zip(self.into, parsed))


@dataclass(frozen=True)
class Editor:
    """A family's editor: its fields and their layout."""

    family: str
    fields: tuple[Field, ...]
    rows: tuple[tuple[str, ...], ...]  # field names per row; every field with a widget appears exactly once
    by_name: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {f.name: f for f in self.fields}
        if len(by_name) != len(self.fields):
            raise ValueError(f"{self.family}: two fields share a name")
        laid_out = [name for row in self.rows for name in row]
        shown = [f.name for f in self.fields if f.widget is not None]
        if sorted(laid_out) != sorted(shown):
            raise ValueError(f"{self.family}: rows {laid_out} must list each widget field once: {shown}")
        object.__setattr__(self, "by_name", by_name)

    def key(self, name: str) -> str:
        """The field's key in the panel's components and draft: ``"<family>.<name>"``."""
        return f"{self.family}.{name}"

    def values(self, spec: Spec) -> dict[str, Any]:
        """The widget value of every field for ``spec``, keyed by :meth:`key`."""
        return {self.key(f.name): f.value_of(spec) for f in self.fields}

    def spec_data(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The spec's fields (not validated yet) from widget values keyed by :meth:`key`.

        A field without a widget whose key is missing is left to the spec's default."""
        data: dict[str, Any] = {}
        for f in self.fields:
            key = self.key(f.name)
            if f.widget is None and key not in values:
                continue
            data.update(f.spec_items(values.get(key)))
        return data

    def derived_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.derived and f.widget is not None)


#: The fields every family has, keyed by their plain names (no family prefix).
COMMON_FIELDS: tuple[Field, ...] = (
    Field("input_size", Widget("number", "Input size (px)", integer=True, elem_id="input-size"), parse=widget_int),
    Field("in_channels", Widget("number", "Input channels", integer=True, elem_id="in-channels"), parse=widget_int),
    Field("num_classes", Widget("number", "Classes", integer=True, elem_id="num-classes"), parse=widget_int),
)


def cells_equal(shown: Any, derived: Any) -> bool:
    """Whether a table on screen shows the same cells as ``derived`` (1 and 1.0 and "1" alike)."""
    try:
        rows = shown.values.tolist() if hasattr(shown, "values") and hasattr(shown, "columns") else shown
        if len(rows) != len(derived):
            return False
        for row, expected in zip(rows, derived):
            if len(row) != len(expected):
                return False
            for cell, want in zip(row, expected):
                if str(cell) == str(want):
                    continue
                try:
                    if not math.isclose(float(cell), float(want)):
                        return False
                except (TypeError, ValueError):
                    return False
        return True
    except (TypeError, AttributeError):
        return False
