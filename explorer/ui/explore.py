"""The Explore panel: per-family editors, instant re-analysis, charts, layer table, compare, share, export."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from ..analysis import analyze
from ..charts.analysis import block_compare_chart
from ..charts.diagram import block_diagram_html
from ..explain import explain
from ..presets import get_preset, list_presets
from ..share import decode_spec, encode_spec
from ..specs import Spec, SpecError, parse_spec
from .convert import FAMILIES, FAMILY_LABELS, GOOGLENET_HEADERS, NIN_HEADERS, spec_from_values, values_from_spec
from .i18n import tr, wants_chinese
from .views import CHARTS, TABLE_HEADERS, chart_figure, compare_markdown, headline_html, layer_rows

DEFAULT_PRESET = "vgg16"
#: The preset a family button loads.
FAMILY_DEFAULTS = {"vgg": "vgg16", "googlenet": "googlenet", "nin": "d2l_nin", "alexnet": "alexnet"}
EXPORT_KINDS = {"PyTorch (.py)": "pytorch", "ONNX (.onnx)": "onnx", "JSON spec (.json)": "json",
                "Text summary (.txt)": "summary"}


@dataclass
class ExplorePanel:
    """The components other panels and the app wire to."""

    family: gr.Radio
    preset: gr.Dropdown
    editors: dict[str, gr.components.Component]
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
    current_spec: gr.State  # the last valid spec as a dict (spec.to_dict()), read by Train and Export
    pinned_spec: gr.State
    rendered_key: gr.State
    explain_open: gr.State  # whether the explanation accordion is open (closed: not re-rendered)
    draft: gr.State  # every editor widget's last value, kept on the server
    share_token: gr.Textbox
    groups: dict[str, gr.Group] = field(default_factory=dict)

    def editor_list(self) -> list[gr.components.Component]:
        return list(self.editors.values())

    def result_outputs(self) -> list[gr.components.Component]:
        return [self.error, self.headline, self.delta, self.diagram, self.chart, self.table, self.explanation,
                self.current_spec, self.rendered_key, self.share_token, self.editors["g_table"]]


# --- pure-ish handlers (testable without a server) ------------------------------------------------------------
def render_results(panel: ExplorePanel, spec: Spec, *, batch_size: int, chart: str, log_scale: bool,
                   pinned: dict | None, shown_table: Any = None, explain_open: bool = True,
                   chinese: bool = False) -> dict:
    """All outputs for a valid spec. The explanation is only rendered while its accordion is open."""
    analysis = analyze(spec, batch_size=batch_size)
    token = encode_spec(spec)
    delta = ""
    if pinned:
        try:
            delta = "#### Compared with pinned A\n" + compare_markdown(
                analyze(parse_spec(pinned), batch_size=batch_size), analysis, batch_size=batch_size, per_block=False)
        except SpecError:
            delta = ""
    updates = {
        panel.error: gr.update(value="", visible=False),
        panel.headline: headline_html(analysis, batch_size=batch_size, chinese=chinese),
        panel.delta: delta,
        panel.diagram: block_diagram_html(spec, analysis),
        panel.chart: chart_figure(chart, analysis, log_scale=log_scale),
        panel.table: layer_rows(analysis),
        panel.explanation: explain(spec, analysis) if explain_open else gr.skip(),
        panel.current_spec: spec.to_dict(),
        panel.rendered_key: _render_key(token, batch_size, chart, log_scale, pinned),
        panel.share_token: token,
        panel.editors["g_table"]: gr.skip(),
    }
    if spec.family == "googlenet":
        derived = values_from_spec(spec)["g_table"]
        if _table_differs(shown_table, derived):
            updates[panel.editors["g_table"]] = derived
    return updates


def _render_key(token: str, batch_size: int, chart: str, log_scale: bool, pinned: dict | None) -> str:
    """What is on screen: the spec's share token plus the view settings."""
    return f"{token}|{batch_size}|{chart}|{log_scale}|{pinned!r}"


def _table_differs(shown: Any, derived: list[list[Any]]) -> bool:
    try:
        rows = shown.values.tolist() if hasattr(shown, "values") else shown
        return [[str(cell) for cell in row[:3]] for row in rows] != [[str(cell) for cell in row[:3]]
                                                                       for row in derived]
    except (TypeError, AttributeError, IndexError):
        return True


def error_updates(panel: ExplorePanel, exc: SpecError) -> dict:
    """Show the message next to the editor; every result (and the last valid spec) stays as it is."""
    place = f"**{exc.field}**: " if exc.field else ""
    updates = {component: gr.skip() for component in panel.result_outputs()}
    updates[panel.error] = gr.update(value=f"{place}{_escape_md(exc.message)}", visible=True)
    return updates


def _escape_md(text: str) -> str:
    return "".join("\\" + char if char in "\\`*_{}[]<>#|" else char for char in text)


def _chinese(request: gr.Request | None) -> bool:
    """Server-computed text (the headline cards) follows the browser's language, like the labels."""
    try:
        return wants_chinese(request.headers.get("accept-language")) if request is not None else False
    except AttributeError:
        return False


def clamp_batch(value: Any) -> int:
    try:
        return min(max(int(value), 1), 65_536)
    except (TypeError, ValueError, OverflowError):
        return 1


def make_field_handler(panel: ExplorePanel, key: str):  # noqa: ANN201
    """The handler for one editor widget.

    It applies the widget's new value to the server-side draft (every widget's last value) and rebuilds the
    spec from the whole draft. Reading the other widgets from the server, not from the browser, keeps the
    change events that a preset load sets off from mixing old and new values.
    """

    def on_field(value: Any, draft: dict | None, batch_size: Any, chart: str, log_scale: bool,
                 pinned: dict | None, rendered: str, explain_open: bool = False,
                 request: gr.Request = None) -> dict:
        draft = {**(draft or {}), key: value}
        updates = render_draft(panel, draft, batch_size, chart, log_scale, pinned, rendered, explain_open,
                               chinese=_chinese(request))
        updates[panel.draft] = draft
        return updates

    return on_field


def render_draft(panel: ExplorePanel, draft: dict, batch_size: Any, chart: str, log_scale: bool,
                 pinned: dict | None, rendered: str, explain_open: bool = False, *, chinese: bool = False) -> dict:
    """Outputs for the editors' current values: results, an inline error, or nothing new."""
    batch = clamp_batch(batch_size)
    try:
        spec = spec_from_values(draft.get("family", ""), draft)
    except SpecError as exc:
        return error_updates(panel, exc)
    if _render_key(encode_spec(spec), batch, chart, log_scale, pinned) == rendered:
        updates = {component: gr.skip() for component in panel.result_outputs()}
        updates[panel.error] = gr.update(value="", visible=False)
        return updates
    return render_results(panel, spec, batch_size=batch, chart=chart, log_scale=log_scale, pinned=pinned,
                          shown_table=draft.get("g_table"), explain_open=explain_open, chinese=chinese)


def show_spec(panel: ExplorePanel, spec: Spec, *, preset: str | None, batch_size: int, chart: str, log_scale: bool,
              pinned: dict | None, notice: str = "", chinese: bool = False) -> dict:
    """Load a spec into the editors (family, groups, every widget) and render it."""
    values = values_from_spec(spec)
    updates: dict = {panel.family: spec.family, panel.preset: preset, panel.draft: values}
    for family, group in panel.groups.items():
        updates[group] = gr.update(visible=family == spec.family)
    for key, component in panel.editors.items():
        updates[component] = values[key] if key in values else gr.skip()
    updates.update(render_results(panel, spec, batch_size=batch_size, chart=chart, log_scale=log_scale,
                                  pinned=pinned, chinese=chinese))
    updates[panel.editors["g_table"]] = values.get("g_table", gr.skip())
    if notice:
        updates[panel.error] = gr.update(value=notice, visible=True)
    return updates


def load_outputs(panel: ExplorePanel) -> list:
    # The Inception table is both an editor and a result (its derived columns): list it once.
    return list(dict.fromkeys([panel.family, panel.preset, panel.draft, *panel.groups.values(),
                               *panel.editor_list(), *panel.result_outputs()]))


# --- building the panel --------------------------------------------------------------------------------------
def _preset_choices() -> list[tuple[str, str]]:
    return [(f"{preset.name} — {preset.description[:70]}", preset.name) for preset in list_presets()]


def build_explore_panel() -> ExplorePanel:
    """Create the Explore tab's components (inside the caller's Blocks/Tab context) and wire its events."""
    default = get_preset(DEFAULT_PRESET)
    values = values_from_spec(default.spec)
    editors: dict[str, gr.components.Component] = {}
    groups: dict[str, gr.Group] = {}
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=340, elem_id="editor-column"):
            family = gr.Radio([(FAMILY_LABELS[f], f) for f in FAMILIES], value=default.spec.family,
                              label=tr("Family"), elem_id="family")
            preset = gr.Dropdown(_preset_choices(), value=default.name, label=tr("Preset"), elem_id="preset",
                                 info=tr("Loads a published network; then edit anything."))
            error = gr.Markdown("", visible=False, elem_id="spec-error", elem_classes=["spec-error"])
            with gr.Group(visible=default.spec.family == "vgg") as groups["vgg"]:
                editors["vgg_conv_arch"] = gr.Textbox(
                    values.get("vgg_conv_arch", "((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))"),
                    label=tr("conv_arch: ((num_convs, out_channels), ...)"), lines=2, max_lines=6,
                    elem_id="conv-arch", info=tr("d2l's notation: one pair per block; each block ends in a 2x2 max-pool."))
                with gr.Row():
                    editors["vgg_ratio"] = gr.Number(values.get("vgg_ratio", 1), label=tr("Width ratio"), precision=0,
                                                     minimum=1, info=tr("out_channels // ratio (d2l's small VGG: 4)"))
                    editors["vgg_avgpool"] = gr.Number(values.get("vgg_avgpool", 7), label=tr("Adaptive avg-pool"),
                                                       precision=0, minimum=0, info=tr("7 as torchvision; 0 = none (d2l)"))
                editors["vgg_hidden"] = gr.Textbox(values.get("vgg_hidden", "4096, 4096"), label=tr("Hidden FC sizes"),
                                                   info=tr("comma-separated; empty = a single FC layer"))
                with gr.Row():
                    editors["vgg_batch_norm"] = gr.Checkbox(values.get("vgg_batch_norm", False), label=tr("Batch norm"))
                    editors["vgg_fc_as_conv"] = gr.Checkbox(values.get("vgg_fc_as_conv", False),
                                                            label=tr("FC layers as convolutions (any input size)"))
                editors["vgg_dropout"] = gr.Slider(0, 0.95, value=values.get("vgg_dropout", 0.5), step=0.05,
                                                   label=tr("Dropout"))
            with gr.Group(visible=default.spec.family == "googlenet") as groups["googlenet"]:
                editors["g_table"] = gr.Dataframe(
                    values.get("g_table"), headers=GOOGLENET_HEADERS, label=tr("Inception blocks (in → out derived)"),
                    datatype=["str", "number", "number"] + ["number"] * 6, static_columns=[0, 1, 2],
                    row_count=9, column_count=9, interactive=True,
                    type="array", elem_id="inception-table")
                with gr.Row():
                    editors["g_stem"] = gr.Textbox(values.get("g_stem", "64, 64, 192"), label=tr("Stem channels"),
                                                   info=tr("7x7/2 conv, 1x1 conv, 3x3 conv"))
                    editors["g_wide"] = gr.Radio([3, 5], value=values.get("g_wide", 3), label=tr("Wide branch kernel"),
                                                 info=tr("paper/d2l: 5; torchvision: 3"))
                with gr.Row():
                    editors["g_bn"] = gr.Checkbox(values.get("g_bn", True), label=tr("Batch norm"))
                    editors["g_aux"] = gr.Checkbox(values.get("g_aux", False), label=tr("Aux classifiers"))
                    editors["g_pool_mode"] = gr.Radio(["ceil", "pad"], value=values.get("g_pool_mode", "ceil"),
                                                      label=tr("Pooling"), info=tr("torchvision: ceil; d2l: pad"))
                editors["g_dropout"] = gr.Slider(0, 0.95, value=values.get("g_dropout", 0.2), step=0.05,
                                                 label=tr("Dropout"))
            with gr.Group(visible=default.spec.family == "nin") as groups["nin"]:
                editors["n_table"] = gr.Dataframe(
                    values.get("n_table", [[96, 11, 4, 0, ""], [256, 5, 1, 2, ""], [384, 3, 1, 1, ""]]),
                    headers=NIN_HEADERS, label=tr("NiN blocks (mlp_channels empty = two 1x1 of out_channels)"),
                    datatype=["number", "number", "number", "number", "str"],
                    column_count=5, interactive=True, type="array", elem_id="nin-table")
                with gr.Row():
                    editors["n_pool_kernel"] = gr.Number(values.get("n_pool_kernel", 3), label=tr("Pool kernel"),
                                                         precision=0)
                    editors["n_pool_stride"] = gr.Number(values.get("n_pool_stride", 2), label=tr("Pool stride"),
                                                         precision=0)
                    editors["n_head_kernel"] = gr.Number(values.get("n_head_kernel", 3), label=tr("Head kernel"),
                                                         precision=0)
                editors["n_dropout"] = gr.Slider(0, 0.95, value=values.get("n_dropout", 0.5), step=0.05,
                                                 label=tr("Dropout"))
            with gr.Group(visible=default.spec.family == "alexnet") as groups["alexnet"]:
                editors["a_channels"] = gr.Textbox(values.get("a_channels", "64, 192, 384, 256, 256"),
                                                   label=tr("Conv channels (5)"))
                with gr.Row():
                    editors["a_conv1"] = gr.Textbox(values.get("a_conv1", "11, 4, 2"),
                                                    label=tr("conv1 kernel, stride, padding"))
                    editors["a_groups"] = gr.Radio([1, 2], value=values.get("a_groups", 1), label=tr("Groups"),
                                                   info=tr("2 = the paper's two-GPU split"))
                    editors["a_avgpool"] = gr.Number(values.get("a_avgpool", 6), label=tr("Adaptive avg-pool"),
                                                     precision=0, minimum=0, info=tr("6 as torchvision; 0 = none"))
                editors["a_hidden"] = gr.Textbox(values.get("a_hidden", "4096, 4096"), label=tr("Hidden FC sizes"))
                with gr.Row():
                    editors["a_overlap"] = gr.Checkbox(values.get("a_overlap", True),
                                                       label=tr("Overlapping pooling (3x3/2)"))
                    editors["a_lrn"] = gr.Checkbox(values.get("a_lrn", False), label=tr("Local response norm"))
                with gr.Row():
                    editors["a_lrn_size"] = gr.Number(values.get("a_lrn_size", 5), label=tr("LRN n"), precision=0)
                    editors["a_lrn_alpha"] = gr.Number(values.get("a_lrn_alpha", 1e-4), label=tr("LRN α"))
                    editors["a_lrn_beta"] = gr.Number(values.get("a_lrn_beta", 0.75), label=tr("LRN β"))
                    editors["a_lrn_k"] = gr.Number(values.get("a_lrn_k", 2.0), label=tr("LRN k"))
                editors["a_dropout"] = gr.Slider(0, 0.95, value=values.get("a_dropout", 0.5), step=0.05,
                                                 label=tr("Dropout"))
            with gr.Group():
                with gr.Row():
                    editors["input_size"] = gr.Number(values["input_size"], label=tr("Input size (px)"), precision=0,
                                                      elem_id="input-size")
                    editors["in_channels"] = gr.Number(values["in_channels"], label=tr("Input channels"), precision=0)
                    editors["num_classes"] = gr.Number(values["num_classes"], label=tr("Classes"), precision=0)
            with gr.Row():
                batch_size = gr.Number(128, label=tr("Batch size (memory estimate)"), precision=0, minimum=1,
                                       maximum=65536)
                pin = gr.Button(tr("Pin as A (compare)"), elem_id="pin", size="sm")
            with gr.Accordion(tr("Export this network"), open=False):
                export_kind = gr.Radio([(tr(label), label) for label in EXPORT_KINDS], value="PyTorch (.py)", label=tr("Format"))
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
            table = gr.Dataframe(layer_rows(initial), headers=TABLE_HEADERS, label=tr("Layers"), interactive=False,
                                 max_height=420, elem_id="layer-table", type="array")
            with gr.Accordion(tr("Why does it look like this? (with your numbers)"), open=False,
                              elem_id="explain-accordion") as explain_accordion:
                explanation = gr.Markdown(explain(default.spec, initial), elem_id="explanation")
    current_spec = gr.State(default.spec.to_dict())
    pinned_spec = gr.State(None)
    rendered_key = gr.State("")
    explain_open = gr.State(False)
    draft = gr.State(values)
    share_token = gr.Textbox(encode_spec(default.spec), visible="hidden", elem_id="share-token")

    panel = ExplorePanel(family=family, preset=preset, editors=editors, batch_size=batch_size,
                         chart_choice=chart_choice, log_scale=log_scale, error=error, headline=headline, delta=delta,
                         diagram=diagram, chart=chart, table=table, explanation=explanation,
                         current_spec=current_spec, pinned_spec=pinned_spec, rendered_key=rendered_key,
                         explain_open=explain_open, draft=draft, share_token=share_token, groups=groups)
    _wire(panel, pin, export_kind, export_button, export_file)

    def on_expand(current: dict | None) -> tuple[bool, Any]:
        if not current:
            return True, gr.skip()
        spec = parse_spec(current)
        return True, explain(spec, analyze(spec))

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

    def on_view(draft: dict | None, batch_size: Any, chart: str, log_scale: bool, pinned: dict | None,
                rendered: str, explain_open: bool, request: gr.Request = None) -> dict:
        return render_draft(panel, draft or {}, batch_size, chart, log_scale, pinned, rendered, explain_open,
                            chinese=_chinese(request))

    for component in (panel.batch_size, panel.chart_choice, panel.log_scale, panel.pinned_spec):
        component.change(on_view, [panel.draft, *view], panel.result_outputs(), **fast)

    def on_preset(name: str, batch_size: Any, chart: str, log_scale: bool, pinned: dict | None,
                  request: gr.Request = None) -> dict:
        try:
            preset = get_preset(name)
        except SpecError as exc:
            return error_updates(panel, exc)
        return show_spec(panel, preset.spec, preset=preset.name, batch_size=clamp_batch(batch_size), chart=chart,
                         log_scale=log_scale, pinned=pinned, chinese=_chinese(request))

    def on_family(family: str, batch_size: Any, chart: str, log_scale: bool, pinned: dict | None,
                  request: gr.Request = None) -> dict:
        if family not in FAMILY_DEFAULTS:
            return error_updates(panel, SpecError("family", f"unknown family {family!r}"))
        return on_preset(FAMILY_DEFAULTS[family], batch_size, chart, log_scale, pinned, request)

    preset_inputs = [panel.preset, panel.batch_size, panel.chart_choice, panel.log_scale, panel.pinned_spec]
    panel.preset.input(on_preset, preset_inputs, load_outputs(panel), **fast)
    panel.family.input(on_family, [panel.family, *preset_inputs[1:]], load_outputs(panel), **fast)

    def on_pin(current: dict | None) -> tuple[dict | None, str]:
        note = "Pinned as A. Keep editing: the deltas below compare your edits (B) with A." if current else ""
        return current, note

    pin.click(on_pin, [panel.current_spec], [panel.pinned_spec, panel.delta], **fast)

    def on_export(kind_label: str, current: dict | None) -> str:
        if not current:
            raise gr.Error("There is no valid network to export yet.")
        from ..export import write_export  # imported lazily: ONNX machinery is heavy

        directory = Path(tempfile.mkdtemp(prefix="explorer-export-"))
        try:
            return str(write_export(parse_spec(current), EXPORT_KINDS.get(kind_label, "json"), directory))
        except (ValueError, RuntimeError) as exc:  # SpecError, a model too large for ONNX, an exporter failure
            raise gr.Error(f"Export failed: {exc}") from None

    # ONNX export of a VGG takes seconds and gigabytes: one export at a time per server.
    export_button.click(on_export, [export_kind, panel.current_spec], [export_file], concurrency_limit=1,
                        concurrency_id="export", api_visibility="private")
    # Keep the page URL in step with the network so it can be copied and shared.
    panel.share_token.change(None, [panel.share_token], None, js="""(token) => {
        const url = new URL(window.location.href);
        url.searchParams.delete('preset');
        url.searchParams.set('spec', token);
        window.history.replaceState(null, '', url);
    }""")


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
        notice = f"The shared link could not be restored ({_escape_md(str(exc))}); showing {DEFAULT_PRESET}."
    if spec is None:
        if not notice:
            return {component: gr.skip() for component in load_outputs(panel)}
        preset = get_preset(DEFAULT_PRESET)
        spec = preset.spec
    return show_spec(panel, spec, preset=preset.name if preset else None, batch_size=128, chart=CHARTS[0],
                     log_scale=False, pinned=None, notice=notice, chinese=chinese)


def compare_view(pinned: dict | None, current: dict | None, batch_size: Any) -> tuple[str, Any]:
    """The Compare tab's Markdown and chart."""
    if not pinned or not current:
        return ("Pin a network as **A** on the Explore tab (Pin as A), then edit it: this tab compares A with your "
                "current network B.", None)
    first, second = analyze(parse_spec(pinned)), analyze(parse_spec(current))
    batch = clamp_batch(batch_size)
    return compare_markdown(first, second, batch_size=batch), block_compare_chart(first, second)
