"""The Explore panel: per-family editors, instant re-analysis, charts, layer table, compare, share, export.

Every family's editor comes from the registry (:data:`explorer.families.FAMILIES`): the family radio, one group
of widgets per family and their change events are built by iterating over it. Widgets are keyed by name
(``"<family>.<field>"``, or the common field's name; see :mod:`explorer.ui.editors.base`), never by position.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import gradio as gr

from ..analysis import analyze
from ..charts.analysis import block_compare_chart
from ..charts.diagram import block_diagram_html
from ..explain import explain
from ..families import FAMILIES, family_of
from ..presets import get_preset, list_presets
from ..share import decode_spec, encode_spec
from ..specs import Spec, SpecError, parse_spec
from ..specs.fields import check_int
from .convert import spec_from_values, table_rows, values_from_spec
from .editors.base import COMMON_FIELDS, Editor, Field, cells_equal
from . import limits
from .i18n import tr, wants_chinese
from .views import CHARTS, LOG_SCALE_CHARTS, TABLE_HEADERS, chart_figure, compare_markdown, headline_html, layer_table

DEFAULT_PRESET = "vgg16"
EXPORT_KINDS = {"PyTorch (.py)": "pytorch", "ONNX (.onnx)": "onnx", "JSON spec (.json)": "json",
                "Text summary (.txt)": "summary"}
#: The draft's key for the preset the editors were loaded from (None after a shared link).
ORIGIN = "preset"


@dataclass
class ExplorePanel:
    """The components other panels and the app wire to."""

    family: gr.Radio
    preset: gr.Dropdown
    preset_note: gr.Markdown  # "edited (from vgg16)" once the network differs from the loaded preset
    editors: dict[str, gr.components.Component]  # keyed "<family>.<field>", or the common field's name
    batch_size: gr.Number
    chart_choice: gr.Radio
    log_scale: gr.Checkbox
    error: gr.Markdown
    headline: gr.HTML
    delta: gr.Markdown
    diagram: gr.HTML
    chart: gr.Plot
    table: gr.Dataframe
    explanation: gr.Markdown
    current_spec: gr.State  # the last valid spec (a Spec object, validated once), read by Train, Lessons, Export
    pinned_spec: gr.State  # a Spec or None
    rendered_key: gr.State
    explain_open: gr.State  # whether the explanation accordion is open (closed: not re-rendered)
    draft: gr.State  # every editor widget's last value by key, plus the preset it was loaded from; on the server
    share_token: gr.Textbox
    groups: dict[str, gr.Group] = field(default_factory=dict)  # one per registered family
    add_row_buttons: dict[str, gr.Button] = field(default_factory=dict)  # keyed like ``editors``

    def editor_list(self) -> list[gr.components.Component]:
        return list(self.editors.values())

    def derived_components(self) -> list[gr.components.Component]:
        """Widgets that also show values derived from the spec (the Inception table's in/out columns)."""
        return [self.editors[editor.key(f.name)] for editor in _editors().values() for f in editor.derived_fields()]

    def result_outputs(self) -> list[gr.components.Component]:
        return [self.error, self.headline, self.delta, self.diagram, self.chart, self.table, self.explanation,
                self.current_spec, self.rendered_key, self.share_token, self.preset, self.preset_note,
                *self.derived_components()]


def _editors() -> dict[str, Editor]:
    """Every registered family's editor, in the registry's order."""
    return {name: family.editor_definition() for name, family in FAMILIES.items()}


# --- pure-ish handlers (testable without a server) ------------------------------------------------------------
def render_results(panel: ExplorePanel, spec: Spec, *, batch_size: int, chart: str, log_scale: bool,
                   pinned: Spec | Mapping | None, shown: Mapping[str, Any] | None = None, origin: str | None = None,
                   explain_open: bool = True, chinese: bool = False) -> dict:
    """All outputs for a valid spec. The explanation is only rendered while its accordion is open.

    ``shown`` holds the widget values on screen (the draft): a derived widget is refreshed only when it shows
    something else. ``origin`` is the preset the editors were loaded from.
    """
    analysis = analyze(spec, batch_size=batch_size)
    token = encode_spec(spec)
    delta = ""
    if pinned:
        try:
            delta = ("#### 与固定的 A 对比\n" if chinese else "#### Compared with pinned A\n") + compare_markdown(
                analyze(parse_spec(pinned), batch_size=batch_size), analysis, batch_size=batch_size, per_block=False,
                chinese=chinese)
        except SpecError:
            delta = ""
    updates = {
        panel.error: gr.update(value="", visible=False),
        panel.headline: headline_html(analysis, batch_size=batch_size, chinese=chinese),
        panel.delta: delta,
        panel.diagram: block_diagram_html(spec, analysis, zh=chinese),
        panel.chart: chart_figure(chart, analysis, log_scale=log_scale, chinese=chinese),
        panel.table: layer_table(analysis, chinese=chinese),
        panel.explanation: explain(spec, analysis, zh=chinese) if explain_open else gr.skip(),
        panel.current_spec: spec,
        panel.rendered_key: _render_key(token, batch_size, chart, log_scale, pinned),
        panel.share_token: token,
    }
    updates.update(preset_updates(panel, spec, origin, chinese=chinese))
    for component in panel.derived_components():
        updates[component] = gr.skip()
    editor = family_of(spec).editor_definition()
    for f in editor.derived_fields():
        derived = f.value_of(spec)
        if shown is None or not cells_equal(shown.get(editor.key(f.name)), derived):
            updates[panel.editors[editor.key(f.name)]] = derived
    return updates


def preset_updates(panel: ExplorePanel, spec: Spec, origin: str | None, *, chinese: bool = False) -> dict:
    """The preset box names the preset while the network is that preset; after an edit it is cleared (so that
    choosing the preset again reloads it) and the note says "edited (from ...)"."""
    try:
        unchanged = bool(origin) and get_preset(origin).spec == spec
    except SpecError:
        unchanged = False
    if unchanged:
        return {panel.preset: origin, panel.preset_note: ""}
    note = (f"*已修改（基于 `{origin}`）*" if chinese else f"*edited (from `{origin}`)*") if origin else ""
    return {panel.preset: None, panel.preset_note: note}


def _render_key(token: str, batch_size: int, chart: str, log_scale: bool, pinned: Spec | Mapping | None) -> str:
    """What is on screen: the spec's share token plus the view settings."""
    try:
        pinned_token = encode_spec(parse_spec(pinned)) if pinned else ""
    except SpecError:
        pinned_token = "invalid"
    return f"{token}|{batch_size}|{chart}|{log_scale}|{pinned_token}"


def error_updates(panel: ExplorePanel, exc: SpecError, *, chinese: bool = False) -> dict:
    """Show the message next to the editor (in Chinese when ``chinese`` and the error has a Chinese message);
    every result (and the last valid spec) stays as it is."""
    zh = chinese and bool(getattr(exc, "message_zh", ""))
    place = f"**{exc.field}**{'：' if zh else ': '}" if exc.field else ""
    updates = {component: gr.skip() for component in panel.result_outputs()}
    message = exc.message_zh if zh else exc.message
    updates[panel.error] = gr.update(value=f"{place}{_escape_md(message)}", visible=True)
    return updates


def _error_text(exc: Exception, *, chinese: bool = False) -> str:
    """An error's text for the page: a SpecError's Chinese text when asked for, anything else as it is."""
    return exc.text(chinese) if isinstance(exc, SpecError) else str(exc)


def _escape_md(text: str) -> str:
    return "".join("\\" + char if char in "\\`*_{}[]<>#|" else char for char in text)


def _chinese(request: gr.Request | None) -> bool:
    """Server-computed text (cards, diagram, table, charts, compare, export size) follows the browser's language,
    like the labels."""
    try:
        return wants_chinese(request.headers.get("accept-language")) if request is not None else False
    except AttributeError:
        return False


#: The largest batch the memory estimate takes.
MAX_BATCH = 65_536


def check_batch(value: Any) -> int:
    """The memory estimate's batch size as typed; a SpecError naming the box when it is not 1 to 65,536."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # gr.Number sends 8.0 for 8
    return check_int(value, "batch_size", minimum=1, maximum=MAX_BATCH, name="Batch size (memory estimate)",
                     name_zh="批量大小（用于内存估计）")


def clamp_batch(value: Any) -> int:
    """The nearest usable batch size, for loads that must show something (a preset, a lesson)."""
    try:
        return min(max(int(value), 1), MAX_BATCH)
    except (TypeError, ValueError, OverflowError):
        return 1


def make_field_handler(panel: ExplorePanel, key: str):  # noqa: ANN201
    """The handler for one editor widget (``key`` as in ``panel.editors``).

    It applies the widget's new value to the server-side draft (every widget's last value) and rebuilds the
    spec from the whole draft. Reading the other widgets from the server, not from the browser, keeps the
    change events that a preset load sets off from mixing old and new values.
    """

    def on_field(value: Any, draft: dict | None, batch_size: Any, chart: str, log_scale: bool,
                 pinned: Spec | None, rendered: str, explain_open: bool = False,
                 request: gr.Request = None) -> dict:
        draft = {**(draft or {}), key: value}
        updates = render_draft(panel, draft, batch_size, chart, log_scale, pinned, rendered, explain_open,
                               chinese=_chinese(request))
        updates[panel.draft] = draft
        return updates

    return on_field


def log_scale_toggle(chart: str) -> dict:
    """The Log scale box works on the charts where a log axis means something and is greyed out on the others."""
    return gr.update(interactive=chart in LOG_SCALE_CHARTS)


def render_draft(panel: ExplorePanel, draft: dict, batch_size: Any, chart: str, log_scale: bool,
                 pinned: Spec | None, rendered: str, explain_open: bool = False, *, chinese: bool = False) -> dict:
    """Outputs for the editors' current values: results, an inline error, or nothing new."""
    try:
        batch = check_batch(batch_size)
        spec = spec_from_values(draft.get("family", ""), draft)
    except SpecError as exc:
        return error_updates(panel, exc, chinese=chinese)
    if _render_key(encode_spec(spec), batch, chart, log_scale, pinned) == rendered:
        updates = {component: gr.skip() for component in panel.result_outputs()}
        updates[panel.error] = gr.update(value="", visible=False)
        return updates
    return render_results(panel, spec, batch_size=batch, chart=chart, log_scale=log_scale, pinned=pinned,
                          shown=draft, origin=draft.get(ORIGIN), explain_open=explain_open, chinese=chinese)


def show_spec(panel: ExplorePanel, spec: Spec, *, preset: str | None, batch_size: int, chart: str, log_scale: bool,
              pinned: Spec | None, notice: str = "", chinese: bool = False) -> dict:
    """Load a spec into the editors (family, groups, the family's and the common widgets) and render it."""
    values = values_from_spec(spec)
    updates: dict = {panel.family: spec.family, panel.draft: {**values, ORIGIN: preset}}
    for family, group in panel.groups.items():
        updates[group] = gr.update(visible=family == spec.family)
    for key, component in panel.editors.items():
        updates[component] = values[key] if key in values else gr.skip()
    updates.update(render_results(panel, spec, batch_size=batch_size, chart=chart, log_scale=log_scale,
                                  pinned=pinned, shown=values, origin=preset, chinese=chinese))
    for key, component in panel.editors.items():  # the derived widgets too: they show the loaded values
        if key in values:
            updates[component] = values[key]
    if notice:
        updates[panel.error] = gr.update(value=notice, visible=True)
    return updates


def load_outputs(panel: ExplorePanel) -> list:
    # A derived widget is both an editor and a result: list it once.
    return list(dict.fromkeys([panel.family, panel.preset, panel.draft, *panel.groups.values(),
                               *panel.editor_list(), *panel.result_outputs()]))


def append_row(blank_row: tuple[Any, ...]) -> Callable[[Any], list[list[Any]]]:
    """The handler of a table's "Add block" button: the table's rows plus a blank one."""

    def append(table: Any) -> list[list[Any]]:
        try:
            rows = table_rows(table, "table")
        except SpecError:
            rows = []
        return [*rows, list(blank_row)]

    return append


# --- building the panel --------------------------------------------------------------------------------------
def _preset_choices() -> list[tuple[gr.i18n.I18nData, str]]:
    """The picker's entries; a Chinese browser shows each preset's Chinese description (``ZH`` has them)."""
    return [(tr(preset.label()), preset.name) for preset in list_presets()]


def _create_fields(fields: list[Field], editor: Editor | None, values: Mapping[str, Any],
                   editors: dict[str, gr.components.Component], buttons: dict[str, gr.Button]) -> None:
    """One widget per field (one row of them); a table with ``add_row`` gets its button below it."""
    with gr.Row() if len(fields) > 1 else nullcontext():
        for f in fields:
            key = editor.key(f.name) if editor else f.name
            editors[key] = f.widget.create(values.get(key))
    for f in fields:
        if f.widget.kind == "table" and f.widget.info:  # a Dataframe has no info line of its own
            gr.Markdown(tr(f.widget.info), elem_classes=["share-hint"])
        if f.widget.add_row:
            key = editor.key(f.name) if editor else f.name
            buttons[key] = gr.Button(tr(f.widget.add_row), size="sm", elem_id=f"{editor.family}-add-row"
                                     if editor else None)


def build_explore_panel() -> ExplorePanel:
    """Create the Explore tab's components (inside the caller's Blocks/Tab context) and wire its events."""
    default = get_preset(DEFAULT_PRESET)
    values = {**values_from_spec(default.spec), ORIGIN: default.name}
    editors: dict[str, gr.components.Component] = {}
    buttons: dict[str, gr.Button] = {}
    groups: dict[str, gr.Group] = {}
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=340, elem_id="editor-column"):
            family = gr.Radio([(f.label, name) for name, f in FAMILIES.items()], value=default.spec.family,
                              label=tr("Family"), elem_id="family")
            preset = gr.Dropdown(_preset_choices(), value=default.name, label=tr("Preset"), elem_id="preset",
                                 info=tr("Loads a published network; then edit anything."))
            preset_note = gr.Markdown("", elem_id="preset-note", elem_classes=["preset-note"])
            error = gr.Markdown("", visible=False, elem_id="spec-error", elem_classes=["spec-error"])
            for name, editor in _editors().items():
                # Hidden groups show their family's default preset until that family is chosen.
                shown = values if name == default.spec.family else values_from_spec(
                    get_preset(family_of(name).default_preset).spec)
                with gr.Group(visible=name == default.spec.family,
                              elem_classes=[f"editor-{name}"]) as groups[name]:
                    for row in editor.rows:
                        _create_fields([editor.by_name[field_name] for field_name in row], editor, shown, editors,
                                       buttons)
            with gr.Group():
                _create_fields(list(COMMON_FIELDS), None, values, editors, buttons)
            with gr.Row():
                # No minimum/maximum: Gradio's own check only reddens the box; check_batch names the problem.
                batch_size = gr.Number(128, label=tr("Batch size (memory estimate)"), precision=0)
                pin = gr.Button(tr("Pin as A (compare)"), elem_id="pin", size="sm")
            with gr.Accordion(tr("Export this network"), open=False) as export_accordion:
                export_kind = gr.Radio([(tr(label), label) for label in EXPORT_KINDS], value="PyTorch (.py)", label=tr("Format"))
                export_info = gr.Markdown("", elem_id="export-info", elem_classes=["share-hint"])
                export_button = gr.Button(tr("Build file"), elem_id="export-button")
                export_file = gr.File(label=tr("Download"), elem_id="export-file", interactive=False)
            gr.Markdown(tr("The address bar always holds this network: copy it to share."),
                        elem_classes=["share-hint"])
        with gr.Column(scale=3, min_width=480):
            initial = analyze(default.spec, batch_size=128)
            headline = gr.HTML(headline_html(initial, batch_size=128))
            delta = gr.Markdown("", elem_id="delta")
            diagram = gr.HTML(block_diagram_html(default.spec, initial), elem_id="diagram")
            with gr.Row():
                chart_choice = gr.Radio([(tr(name), name) for name in CHARTS], value=CHARTS[0], label=tr("Chart"), scale=4, elem_id="chart-choice")
                log_scale = gr.Checkbox(False, label=tr("Log scale"), scale=1)
            chart = gr.Plot(chart_figure(CHARTS[0], initial), label=tr("Chart"), show_label=False, elem_id="chart")
            table = gr.Dataframe(layer_table(initial), headers=TABLE_HEADERS, label=tr("Layers"), interactive=False,
                                 max_height=420, elem_id="layer-table", type="array")
            with gr.Accordion(tr("Why does it look like this? (with your numbers)"), open=False,
                              elem_id="explain-accordion") as explain_accordion:
                explanation = gr.Markdown(explain(default.spec, initial), elem_id="explanation")
    current_spec = gr.State(default.spec)
    pinned_spec = gr.State(None)
    rendered_key = gr.State("")
    explain_open = gr.State(False)
    draft = gr.State(values)
    share_token = gr.Textbox(encode_spec(default.spec), visible="hidden", elem_id="share-token")

    panel = ExplorePanel(family=family, preset=preset, preset_note=preset_note, editors=editors,
                         batch_size=batch_size,
                         chart_choice=chart_choice, log_scale=log_scale, error=error, headline=headline, delta=delta,
                         diagram=diagram, chart=chart, table=table, explanation=explanation,
                         current_spec=current_spec, pinned_spec=pinned_spec, rendered_key=rendered_key,
                         explain_open=explain_open, draft=draft, share_token=share_token, groups=groups,
                         add_row_buttons=buttons)
    _wire(panel, pin, export_kind, export_button, export_file)
    _wire_export_info(panel, export_accordion, export_kind, export_info)

    def on_expand(current: Spec | None, request: gr.Request = None) -> tuple[bool, Any]:
        if not current:
            return True, gr.skip()
        spec = parse_spec(current)
        return True, explain(spec, analyze(spec), zh=_chinese(request))

    explain_accordion.expand(on_expand, [current_spec], [explain_open, explanation], concurrency_limit=None,
                             api_visibility="private")
    explain_accordion.collapse(lambda: False, None, [explain_open], concurrency_limit=None,
                               api_visibility="private")
    return panel


def _wire(panel: ExplorePanel, pin: gr.Button, export_kind: gr.Radio, export_button: gr.Button,
          export_file: gr.File) -> None:
    fast = dict(concurrency_limit=None, show_progress="hidden", api_visibility="private")
    view = [panel.batch_size, panel.chart_choice, panel.log_scale, panel.pinned_spec, panel.rendered_key,
            panel.explain_open]
    for key, component in panel.editors.items():
        component.change(make_field_handler(panel, key), [component, panel.draft, *view],
                         [*panel.result_outputs(), panel.draft], **fast)
    for key, button in panel.add_row_buttons.items():
        family, _, name = key.partition(".")
        blank = family_of(family).editor_definition().by_name[name].widget.blank_row
        button.click(append_row(blank), [panel.editors[key]], [panel.editors[key]], **fast)

    def on_view(draft: dict | None, batch_size: Any, chart: str, log_scale: bool, pinned: Spec | None,
                rendered: str, explain_open: bool, request: gr.Request = None) -> dict:
        return render_draft(panel, draft or {}, batch_size, chart, log_scale, pinned, rendered, explain_open,
                            chinese=_chinese(request))

    for component in (panel.batch_size, panel.chart_choice, panel.log_scale, panel.pinned_spec):
        component.change(on_view, [panel.draft, *view], panel.result_outputs(), **fast)
    panel.chart_choice.change(log_scale_toggle, panel.chart_choice, panel.log_scale, **fast)

    def on_preset(name: str, batch_size: Any, chart: str, log_scale: bool, pinned: Spec | None,
                  request: gr.Request = None) -> dict:
        try:
            preset = get_preset(name)
        except SpecError as exc:
            return error_updates(panel, exc, chinese=_chinese(request))
        return show_spec(panel, preset.spec, preset=preset.name, batch_size=clamp_batch(batch_size), chart=chart,
                         log_scale=log_scale, pinned=pinned, chinese=_chinese(request))

    def on_family(family: str, batch_size: Any, chart: str, log_scale: bool, pinned: Spec | None,
                  request: gr.Request = None) -> dict:
        if not isinstance(family, str) or family not in FAMILIES:
            return error_updates(panel, SpecError("family", f"unknown family {family!r}",
                                                  f"未知的网络家族 {family!r}"), chinese=_chinese(request))
        return on_preset(family_of(family).default_preset, batch_size, chart, log_scale, pinned, request)

    preset_inputs = [panel.preset, panel.batch_size, panel.chart_choice, panel.log_scale, panel.pinned_spec]
    panel.preset.input(on_preset, preset_inputs, load_outputs(panel), **fast)
    panel.family.input(on_family, [panel.family, *preset_inputs[1:]], load_outputs(panel), **fast)

    def on_pin(current: Spec | None, request: gr.Request = None) -> tuple[Spec | None, str]:
        if not current:
            return current, ""
        if _chinese(request):
            return current, "已固定为 A。继续修改：下面的差值对比你的修改（B）与 A。"
        return current, "Pinned as A. Keep editing: the deltas below compare your edits (B) with A."

    pin.click(on_pin, [panel.current_spec], [panel.pinned_spec, panel.delta], **fast)

    # ONNX export of a VGG takes seconds and gigabytes: one export at a time per server. Every limit is checked
    # inside the handler: the event is private, but queue/join runs private events too.
    export_button.click(export_file_for, [export_kind, panel.current_spec], [export_file], concurrency_limit=1,
                        concurrency_id="export", api_name="export_file", api_visibility="private")
    # Keep the page URL in step with the network so it can be copied and shared.
    panel.share_token.change(None, [panel.share_token], None, js="""(token) => {
        const url = new URL(window.location.href);
        url.searchParams.delete('preset');
        url.searchParams.set('spec', token);
        window.history.replaceState(null, '', url);
    }""")


# --- export: the size before, the limits inside -----------------------------------------------------------------
def export_file_for(kind_label: str, current: Spec | None, request: gr.Request = None) -> str:
    """The Build file button: write one export into a fresh folder in Gradio's cache and return its path.

    Gradio serves a file already in its cache without copying it, so each export exists once; the folder's name
    is 64 random hex digits. Refused (gr.Error, before anything is written) when the network is invalid, an ONNX
    file would exceed the server's size limit, the client exports too fast, or the disk cap would be passed.
    """
    chinese = _chinese(request)
    if not current:
        raise gr.Error("还没有可导出的有效网络。" if chinese else "There is no valid network to export yet.")
    from ..export import estimate_export_bytes, write_export  # imported lazily: ONNX machinery is heavy
    from ..server import LimitExceeded

    kind = EXPORT_KINDS.get(kind_label, "json") if isinstance(kind_label, str) else "json"
    state = limits.server()
    client = limits.client_of(request)
    try:
        spec = parse_spec(current)
        estimate = estimate_export_bytes(spec, kind)
        refusal = export_size_refusal(kind, estimate, state.settings.max_onnx_bytes)
        if refusal:
            raise limits.limit_exceeded(refusal, export_size_refusal(kind, estimate, state.settings.max_onnx_bytes,
                                                                     chinese=True))
        folder = state.disk.new_folder("exports")
    except LimitExceeded as exc:
        raise limits.refusal(exc, chinese=chinese) from None
    except (ValueError, RuntimeError) as exc:  # SpecError, a model too large for ONNX
        raise gr.Error(f"{'导出失败：' if chinese else 'Export failed: '}{_error_text(exc, chinese=chinese)}") from None
    written = False
    try:
        reserve = int(estimate * 1.1) + 10_000 if kind == "onnx" else estimate + 10_000
        with state.disk.reserve(reserve, folder):
            wait = state.exports.acquire(*client.keys())
            if wait > 0:
                burst, every = state.settings.export_burst, state.settings.export_every_seconds
                raise limits.limit_exceeded(
                    f"Too many exports from {client.address}: at most {burst} in a row, then one every {every:g} s. "
                    f"Try again in {max(wait, 1):.0f} s.",
                    f"来自 {client.address} 的导出太频繁：最多连续导出 {burst} 次，之后每 {every:g} 秒一次。"
                    f"请 {max(wait, 1):.0f} 秒后再试。")
            path = write_export(spec, kind, folder)
            written = True
            return str(path)
    except LimitExceeded as exc:
        raise limits.refusal(exc, chinese=chinese) from None
    except (ValueError, RuntimeError) as exc:  # an exporter failure
        raise gr.Error(f"{'导出失败：' if chinese else 'Export failed: '}{_error_text(exc, chinese=chinese)}") from None
    finally:
        if not written:
            state.disk.remove(folder)


def export_size_refusal(kind: str, estimate: int, max_onnx_bytes: int | None, *, chinese: bool = False) -> str:
    """Why an export is refused before it starts ("" when it is not)."""
    if kind == "onnx" and max_onnx_bytes is not None and estimate > max_onnx_bytes:
        from ..server import format_bytes

        if chinese:
            return (f"这个 ONNX 文件约 {format_bytes(estimate)}，超过本服务器的上限 {format_bytes(max_onnx_bytes)}"
                    f"（EXPLORER_MAX_ONNX_MB）。请改为导出 PyTorch 文件（.py），或在自己的电脑上生成 ONNX 文件："
                    f"`python -m explorer export <spec.json> --format onnx`。")
        return (f"This ONNX file would be about {format_bytes(estimate)}, over this server's limit of "
                f"{format_bytes(max_onnx_bytes)} (EXPLORER_MAX_ONNX_MB). Export the PyTorch file (.py) instead, or "
                f"make the ONNX file on your own computer: `python -m explorer export <spec.json> --format onnx`.")
    return ""


def export_info_markdown(current: Spec | None, kind_label: str, *, chinese: bool = False) -> str:
    """What Build file will make: its estimated size, the notes for that format, and any limit it hits."""
    if not current:
        return "没有可导出的有效网络：请先修正规格。" if chinese else "No valid network to export: fix the spec first."
    from ..export import estimate_export_bytes, export_notes
    from ..server import format_bytes

    kind = EXPORT_KINDS.get(kind_label, "json") if isinstance(kind_label, str) else "json"
    try:
        spec = parse_spec(current)
        estimate = estimate_export_bytes(spec, kind)
        notes = export_notes(spec, kind, zh=chinese)
    except (ValueError, RuntimeError) as exc:
        return f"{'无法导出：' if chinese else 'Cannot export: '}{_escape_md(_error_text(exc, chinese=chinese))}"
    lines = [f"约 **{format_bytes(estimate)}**。" if chinese else f"About **{format_bytes(estimate)}**."]
    refusal = export_size_refusal(kind, estimate, limits.server().settings.max_onnx_bytes, chinese=chinese)
    if refusal:
        lines.append(f"⛔ {refusal}")
    lines += [f"- {_escape_md(note)}" for note in notes]
    return "\n\n".join(lines[:2]) + ("\n\n" + "\n".join(lines[2:]) if lines[2:] else "")


def _wire_export_info(panel: ExplorePanel, accordion: gr.Accordion, export_kind: gr.Radio,
                      export_info: gr.Markdown) -> None:
    """The size and notes next to Build file follow the format and the network while the accordion is open."""
    fast = dict(concurrency_limit=None, show_progress="hidden", api_visibility="private")
    export_open = gr.State(False)

    def on_open(current: Spec | None, kind_label: str, request: gr.Request = None) -> tuple[bool, str]:
        return True, export_info_markdown(current, kind_label, chinese=_chinese(request))

    def on_change(current: Spec | None, kind_label: str, is_open: bool, request: gr.Request = None) -> Any:
        return export_info_markdown(current, kind_label, chinese=_chinese(request)) if is_open else gr.skip()

    accordion.expand(on_open, [panel.current_spec, export_kind], [export_open, export_info], **fast)
    accordion.collapse(lambda: False, None, [export_open], **fast)
    export_kind.change(on_open, [panel.current_spec, export_kind], [export_open, export_info], **fast)
    panel.current_spec.change(on_change, [panel.current_spec, export_kind, export_open], [export_info], **fast)


def restore_from_query(panel: ExplorePanel, query: dict[str, str], *, chinese: bool = False) -> dict:
    """On page load: ?spec=<token> or ?preset=<name> restores that network; a bad link says why."""
    token, preset_name = query.get("spec"), query.get("preset")
    notice = ""
    spec, preset = None, None
    try:
        if token:
            spec = decode_spec(token)
        elif preset_name:
            preset = get_preset(preset_name)
            spec = preset.spec
    except SpecError as exc:
        notice = (f"无法恢复分享的链接（{_escape_md(exc.text(True))}）；显示 {DEFAULT_PRESET}。" if chinese else
                  f"The shared link could not be restored ({_escape_md(str(exc))}); showing {DEFAULT_PRESET}.")
    if spec is None:
        if not notice:
            return {component: gr.skip() for component in load_outputs(panel)}
        preset = get_preset(DEFAULT_PRESET)
        spec = preset.spec
    return show_spec(panel, spec, preset=preset.name if preset else None, batch_size=128, chart=CHARTS[0],
                     log_scale=False, pinned=None, notice=notice, chinese=chinese)


def compare_view(pinned: Spec | Mapping | None, current: Spec | Mapping | None, batch_size: Any,
                 request: gr.Request = None) -> tuple[str, Any]:
    """The Compare tab's Markdown and chart, in the browser's language."""
    chinese = _chinese(request)
    if not pinned or not current:
        if chinese:
            return "在**探索**页把一个网络固定为 **A**（固定为 A），然后修改它：本页对比 A 与你当前的网络 B。", None
        return ("Pin a network as **A** on the Explore tab (Pin as A), then edit it: this tab compares A with your "
                "current network B.", None)
    first, second = analyze(parse_spec(pinned)), analyze(parse_spec(current))
    batch = clamp_batch(batch_size)
    return (compare_markdown(first, second, batch_size=batch, chinese=chinese),
            block_compare_chart(first, second, zh=chinese))
