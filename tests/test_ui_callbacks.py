"""The Explore panel's callbacks, called directly (no server): widgets -> spec -> analysis -> outputs."""
from __future__ import annotations

import html
import re

import gradio as gr
import pytest

from explorer import analyze, list_presets, load_preset
from explorer.families import FAMILIES, family_of
from explorer.share import decode_spec
from explorer.specs import SpecError
from explorer.ui.convert import spec_from_values, values_from_spec
from explorer.ui.editors.base import COMMON_FIELDS, Editor, Field, Widget
from explorer.ui.explore import (append_row, build_explore_panel, compare_view, make_field_handler,
                                 restore_from_query, show_spec)
from explorer.ui.app import analyze_api


@pytest.fixture(scope="module")
def panel():
    with gr.Blocks():
        return build_explore_panel()


def is_skip(value) -> bool:
    return isinstance(value, dict) and value.get("__type__") == "update" and len(value) == 1


@pytest.mark.parametrize("preset", [p.name for p in list_presets()])
def test_widget_values_round_trip_every_preset(preset):
    spec = load_preset(preset)
    values = values_from_spec(spec)
    assert spec_from_values(values["family"], values) == spec


def test_editing_conv_arch_renders_new_numbers(panel):
    draft = values_from_spec(load_preset("vgg16"))
    handler = make_field_handler(panel, "vgg.conv_arch")
    out = handler("((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))", draft, 128, "Parameters", False, None, "")
    assert "132,863,336" in out[panel.headline]
    assert out[panel.draft]["vgg.conv_arch"].startswith("((1, 64)")
    assert decode_spec(out[panel.share_token]) == load_preset("vgg11")
    assert out[panel.current_spec] == load_preset("vgg11")
    assert [row[0] for row in out[panel.table]["data"]][:2] == ["features.block1.conv1", "features.block1.pool"]
    assert out[panel.error]["visible"] is False


def test_invalid_edit_shows_message_and_keeps_results(panel):
    draft = values_from_spec(load_preset("vgg16"))
    out = make_field_handler(panel, "vgg.conv_arch")("((1, 64), (1, 128), (2,))", draft, 128, "Parameters", False,
                                                     None, "")
    assert out[panel.error]["visible"] is True
    assert "conv_arch[2]" in out[panel.error]["value"]
    for component in (panel.headline, panel.chart, panel.table, panel.current_spec, panel.share_token):
        assert is_skip(out[component]), component
    assert out[panel.draft]["vgg.conv_arch"] == "((1, 64), (1, 128), (2,))"  # the user's text is kept


@pytest.mark.parametrize("batch, shown", [(0, "got 0"), (None, "got nothing"), (-4, "got -4"), (70_000, "got 70000"),
                                          (2.5, "got 2.5")])
def test_a_bad_memory_batch_size_is_named_and_the_results_stay(panel, batch, shown):
    """Batch 0 used to be shown as "batch 1" without a word; now the box is named and nothing is re-rendered."""
    draft = values_from_spec(load_preset("vgg16"))
    out = make_field_handler(panel, "vgg.conv_arch")(VGG11_TEXT, draft, batch, "Parameters", False, None, "")
    assert out[panel.error]["visible"] is True
    assert "Batch size (memory estimate)" in out[panel.error]["value"] and shown in out[panel.error]["value"]
    for component in (panel.headline, panel.chart, panel.table, panel.current_spec):
        assert is_skip(out[component]), component
    fixed = make_field_handler(panel, "vgg.conv_arch")(VGG11_TEXT, draft, 8.0, "Parameters", False, None, "")
    assert fixed[panel.error]["visible"] is False and "batch 8" in fixed[panel.headline]


VGG11_TEXT = "((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))"


@pytest.mark.parametrize("text", ["__import__('os').system('echo hacked')", "exec('1')", "lambda: 1",
                                  "(" * 500 + ")" * 500, "((1, 64),)" * 5000, "", "((1, 1e400),)"])
def test_hostile_text_is_a_clean_error(panel, text):
    draft = values_from_spec(load_preset("vgg16"))
    out = make_field_handler(panel, "vgg.conv_arch")(text, draft, 128, "Parameters", False, None, "")
    assert out[panel.error]["visible"] is True
    assert "conv_arch" in out[panel.error]["value"]


def test_unchanged_spec_skips_rerender(panel):
    draft = values_from_spec(load_preset("vgg16"))
    first = make_field_handler(panel, "vgg.ratio")(1, draft, 128, "Parameters", False, None, "")
    again = make_field_handler(panel, "vgg.ratio")(1.0, first[panel.draft], 128, "Parameters", False, None,
                                                   first[panel.rendered_key])
    assert is_skip(again[panel.headline]) and is_skip(again[panel.chart])


def test_googlenet_table_edit_updates_derived_channels(panel):
    spec = load_preset("googlenet")
    draft = values_from_spec(spec)
    table = [list(row) for row in draft["googlenet.inceptions"]]
    table[0][3] = 100  # inception 3a ch1x1: 64 -> 100, so 3a's out and 3b's in grow by 36
    out = make_field_handler(panel, "googlenet.inceptions")(table, draft, 32, "Parameters", False, None, "")
    rows = out[panel.editors["googlenet.inceptions"]]
    assert rows[0][2] == 256 + 36 and rows[1][1] == 256 + 36
    expected = spec.replace(inceptions=[dict(zip(["ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj"],
                                                 [100, 96, 128, 16, 32, 32]))] + list(spec.inceptions[1:]))
    assert f"{analyze(expected).total_params:,}" in out[panel.headline]


def test_googlenet_table_float_and_blank_cells(panel):
    draft = values_from_spec(load_preset("googlenet"))
    table = [list(row) for row in draft["googlenet.inceptions"]]
    table[4][5] = 12.5
    out = make_field_handler(panel, "googlenet.inceptions")(table, draft, 1, "Parameters", False, None, "")
    assert "inceptions.4c.ch3x3" in out[panel.error]["value"]
    table[4][5] = None
    out = make_field_handler(panel, "googlenet.inceptions")(table, draft, 1, "Parameters", False, None, "")
    assert "is empty" in out[panel.error]["value"]


def test_nin_table_rows_add_and_blank_rows_ignored(panel):
    draft = values_from_spec(load_preset("d2l_nin"))
    table = [list(row) for row in draft["nin.blocks"]] + [[None, None, None, None, ""]]
    out = make_field_handler(panel, "nin.blocks")(table, draft, 1, "Parameters", False, None, "")
    assert "1,992,166" in out[panel.headline]
    table[-1] = [128, 3, 1, 1, "64"]
    out = make_field_handler(panel, "nin.blocks")(table, draft, 1, "Parameters", False, None, "")
    assert out[panel.error]["visible"] is False


def test_show_spec_loads_every_widget(panel):
    out = show_spec(panel, load_preset("alexnet_original"), preset="alexnet_original", batch_size=1,
                    chart="Shape flow", log_scale=False, pinned=None)
    assert out[panel.family] == "alexnet"
    assert out[panel.editors["alexnet.groups"]] == 2 and out[panel.editors["alexnet.lrn"]] is True
    assert out[panel.groups["alexnet"]]["visible"] is True and out[panel.groups["vgg"]]["visible"] is False
    assert "60,965,224" in out[panel.headline]


def test_restore_from_query(panel):
    out = restore_from_query(panel, {"preset": "d2l_vgg11_small"})
    assert out[panel.editors["vgg.ratio"]] == 4
    out = restore_from_query(panel, {"spec": "garbage!!"})
    assert "could not be restored" in out[panel.error]["value"]
    out = restore_from_query(panel, {})
    assert all(is_skip(value) for value in out.values())


def test_pinned_compare_shows_deltas(panel):
    vgg11, vgg16 = load_preset("vgg11"), load_preset("vgg16")
    markdown, figure = compare_view(vgg11, vgg16, 1)
    assert "132,863,336" in markdown and "138,357,544" in markdown
    assert "+5,494,208" in markdown  # 138,357,544 - 132,863,336
    assert figure is not None
    text, empty = compare_view(None, vgg16, 1)
    assert "Pin" in text and empty is None


def test_analyze_api():
    result = analyze_api("vgg16")
    assert result["analysis"]["total_params"] == 138_357_544
    with pytest.raises(gr.Error, match=r"conv_arch\[0\]"):
        analyze_api('{"family": "vgg", "conv_arch": [[true, 64]]}')
    with pytest.raises(gr.Error, match="no preset named"):
        analyze_api("vgg17")
    with pytest.raises(SpecError) as info:
        spec_from_values("lenet", {})
    assert info.value.field == "family"


# --- the editors, one per registered family -------------------------------------------------------------------


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_has_an_editor_whose_round_trip_keeps_each_preset(family):
    editor = family_of(family).editor_definition()
    assert isinstance(editor, Editor) and editor.family == family
    presets = [p for p in list_presets() if p.spec.family == family]
    assert presets, f"no preset for {family}"
    for preset in presets:
        values = editor.values(preset.spec)
        assert set(values) == {editor.key(f.name) for f in editor.fields}
        common = {f.name: f.value_of(preset.spec) for f in COMMON_FIELDS}
        spec = spec_from_values(family, {**common, **values})
        assert spec == preset.spec, preset.name


def _bad_value(field: Field):
    return {"table": "not a table", "checkbox": None}.get(field.widget.kind, "x!")


@pytest.mark.parametrize("family", list(FAMILIES))
def test_bad_widget_values_raise_a_spec_error_naming_the_field(family):
    editor = family_of(family).editor_definition()
    values = values_from_spec(load_preset(family_of(family).default_preset))
    checked = 0
    for field in editor.fields:
        if field.widget is None or field.widget.kind == "checkbox":  # a checkbox takes anything as on/off
            continue
        with pytest.raises(SpecError) as info:
            spec_from_values(family, {**values, editor.key(field.name): _bad_value(field)})
        assert info.value.field.startswith((field.name, *field.into)), (field.name, info.value.field)
        checked += 1
    assert checked >= 3
    for field in COMMON_FIELDS:
        for bad in (None, "", 0, 12.5, "x!"):
            with pytest.raises(SpecError) as info:
                spec_from_values(family, {**values, field.name: bad})
            assert info.value.field == field.name


def test_width_ratio_zero_names_the_field(panel):
    draft = values_from_spec(load_preset("vgg16"))
    out = make_field_handler(panel, "vgg.ratio")(0, draft, 1, "Parameters", False, None, "")
    assert out[panel.error]["visible"] is True and "**ratio**" in out[panel.error]["value"]
    assert panel.editors["vgg.ratio"].minimum is None  # a browser-side minimum would refuse 0 silently


def test_panel_has_one_group_and_every_widget_per_registered_family(panel):
    assert list(panel.groups) == list(FAMILIES)
    assert [value for _, value in panel.family.choices] == list(FAMILIES)
    expected = {f.name for f in COMMON_FIELDS}
    for name, family in FAMILIES.items():
        editor = family.editor_definition()
        expected |= {editor.key(f.name) for f in editor.fields if f.widget is not None}
    assert set(panel.editors) == expected
    assert sum(group.visible is True for group in panel.groups.values()) == 1


def test_family_radio_loads_the_default_preset(panel):
    for name, family in FAMILIES.items():
        values = values_from_spec(load_preset(family.default_preset))
        out = show_spec(panel, load_preset(family.default_preset), preset=family.default_preset, batch_size=1,
                        chart="Parameters", log_scale=False, pinned=None)
        assert out[panel.family] == name and out[panel.preset] == family.default_preset
        for key, component in panel.editors.items():
            if key in values:
                assert out[component] == values[key], key
            else:
                assert is_skip(out[component]), key  # other families' widgets stay as they are


def test_an_edit_marks_the_preset_as_edited_and_undoing_it_restores_the_name(panel):
    draft = {**values_from_spec(load_preset("vgg16")), "preset": "vgg16"}
    out = make_field_handler(panel, "vgg.hidden_sizes")("1024", draft, 1, "Parameters", False, None, "")
    assert out[panel.preset] is None and "edited (from `vgg16`)" in out[panel.preset_note]
    back = make_field_handler(panel, "vgg.hidden_sizes")("4096, 4096", out[panel.draft], 1, "Parameters", False,
                                                          None, out[panel.rendered_key])
    assert back[panel.preset] == "vgg16" and back[panel.preset_note] == ""


def test_googlenet_table_is_pushed_only_when_its_derived_cells_change(panel):
    draft = values_from_spec(load_preset("googlenet"))
    handler = make_field_handler(panel, "googlenet.inceptions")
    same = handler([list(row) for row in draft["googlenet.inceptions"]], draft, 1, "Parameters", False, None, "")
    assert is_skip(same[panel.editors["googlenet.inceptions"]])
    floats = [[cell if index < 3 else float(cell) for index, cell in enumerate(row)]
              for row in draft["googlenet.inceptions"]]
    out = handler(floats, draft, 1, "MACs", False, None, "")
    assert is_skip(out[panel.editors["googlenet.inceptions"]])  # 64.0 shows the same as 64


def test_nin_add_block_button_appends_a_blank_row(panel):
    assert "nin.blocks" in panel.add_row_buttons
    rows = values_from_spec(load_preset("d2l_nin"))["nin.blocks"]
    grown = append_row(family_of("nin").editor_definition().by_name["blocks"].widget.blank_row)(rows)
    assert len(grown) == len(rows) + 1 and grown[:-1] == rows
    assert spec_from_values("nin", {**values_from_spec(load_preset("d2l_nin")), "nin.blocks": grown}) == \
        load_preset("d2l_nin")  # a blank row is ignored until filled in


def test_editor_layout_must_list_every_widget_once():
    text = Widget("text", "A")
    with pytest.raises(ValueError, match="rows"):
        Editor(family="x", fields=(Field("a", text), Field("b", text)), rows=(("a",),))
    with pytest.raises(ValueError, match="share a name"):
        Editor(family="x", fields=(Field("a", text), Field("a", text)), rows=(("a",),))


def test_spec_state_holds_the_spec_object(panel):
    assert panel.current_spec.value == load_preset("vgg16")
    markdown, _ = compare_view(load_preset("vgg11"), load_preset("vgg16").to_dict(), 1)  # dicts still accepted
    assert "+5,494,208" in markdown


def test_editor_tables_have_a_fixed_column_count(panel):
    # "fixed" hides the Dataframe's "Add column" menu entries; the Inception table's rows are fixed too (9 blocks).
    assert panel.editors["nin.blocks"].col_count == (5, "fixed")
    assert panel.editors["googlenet.inceptions"].col_count == (9, "fixed")
    assert panel.editors["googlenet.inceptions"].row_count == (9, "fixed")
    assert panel.editors["nin.blocks"].row_count[1] == "dynamic"


def test_a_late_change_event_from_the_previous_family_does_not_mix_into_the_loaded_one(panel):
    """A preset load sets off change events; the handlers read the other widgets from the server-side draft."""
    loaded = show_spec(panel, load_preset("googlenet"), preset="googlenet", batch_size=1, chart="Parameters",
                       log_scale=False, pinned=None)
    draft, rendered = loaded[panel.draft], loaded[panel.rendered_key]
    late = make_field_handler(panel, "vgg.conv_arch")("((1, 8),)", draft, 1, "Parameters", False, None, rendered)
    assert is_skip(late[panel.headline]) and is_skip(late[panel.current_spec])  # still GoogLeNet, unchanged
    common = make_field_handler(panel, "input_size")(96, late[panel.draft], 1, "Parameters", False, None, rendered)
    assert common[panel.current_spec] == load_preset("googlenet").replace(input_size=96)


# --- the Chinese page: server-computed text follows the browser's language ---------------------------------------
class _Request:
    """What the handlers read of a gr.Request: the Accept-Language header."""

    def __init__(self, language: str) -> None:
        self.headers = {"accept-language": language}


CHINESE, ENGLISH = _Request("zh-CN,zh;q=0.9"), _Request("en-US,en;q=0.9")
#: English a Chinese view may show: units, formats, library and layer abbreviations.
_ALLOWED = {"A", "B", "px", "fp32", "Adam", "GPU", "BN", "LRN", "ReLU", "Dropout", "KiB", "MiB", "GiB", "MACs", "Inception"}
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _text(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "\n", markup))


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d+(?:[,.]\d+)*", text)


def _english_words(text: str, identifiers: set[str]) -> list[str]:
    """Words of English in ``text`` other than units and the network's own names (block3, layer1.0, inception)."""
    words = re.findall(r"(?<![\w.])[A-Za-z][\w.]*", text)  # not the unit of 15.48G
    return [word for word in words if word not in _ALLOWED and word not in identifiers and not re.search(r"\d", word)]


def _identifiers(spec) -> set[str]:
    analysis = analyze(spec)
    names = {layer.name for layer in analysis.layers} | {block.name for block in analysis.blocks}
    return names | {part for name in names for part in re.split(r"[.\d]+", name) if part}


@pytest.mark.parametrize("preset", ["vgg16", "googlenet", "d2l_nin", "alexnet_original", "resnet18"])
def test_the_chinese_render_has_the_english_numbers_and_no_english_words(panel, preset):
    spec = load_preset(preset)
    english = show_spec(panel, spec, preset=preset, batch_size=64, chart="Shape flow", log_scale=False,
                        pinned=load_preset("vgg11"))
    chinese = show_spec(panel, spec, preset=preset, batch_size=64, chart="Shape flow", log_scale=False,
                        pinned=load_preset("vgg11"), chinese=True)
    for component in (panel.headline, panel.diagram):
        assert _numbers(_text(chinese[component])) == _numbers(_text(english[component])), component
    assert _numbers(chinese[panel.delta]) == _numbers(english[panel.delta])
    table_zh, table_en = chinese[panel.table], english[panel.table]
    assert [row[:1] + row[2:] for row in table_zh["data"]] == [row[:1] + row[2:] for row in table_en["data"]]

    names = _identifiers(spec)
    assert not _english_words(_text(chinese[panel.headline]), names)
    assert not _english_words(_text(chinese[panel.diagram]), names)
    assert not _english_words("\n".join(table_zh["headers"]), names)
    assert not _english_words("\n".join(row[1] for row in table_zh["data"]), names)  # the kinds
    assert not _english_words(chinese[panel.delta].replace("|", " "), names)
    figure = chinese[panel.chart]
    titles = [figure.layout.title.text, figure.layout.yaxis.title.text, figure.layout.yaxis2.title.text,
              *(trace.name for trace in figure.data)]
    assert not _english_words("\n".join(titles), names)
    assert "参数量" in chinese[panel.headline] and "卷积" in chinese[panel.diagram]
    assert _CJK.search(chinese[panel.explanation])  # explain(..., zh=True)

    # ... and the English page stays English.
    for component in (panel.headline, panel.diagram, panel.delta):
        assert not _CJK.search(english[component]), component
    assert table_en["headers"][:2] == ["layer", "kind"] and "conv" in {row[1] for row in table_en["data"]}
    assert "Parameters" in english[panel.headline] and " conv " in _text(english[panel.diagram])
    assert not _CJK.search(english[panel.explanation])


def test_chinese_diagram_terms():
    from explorer.charts.diagram import block_diagram_html

    vgg = _text(block_diagram_html(None, analyze(load_preset("vgg16")), zh=True))
    assert "块 5" in vgg and "3x3 卷积 512 ×3" in vgg and "2x2/2 最大池化" in vgg and "分类头" in vgg
    assert "平均池化到 7x7" in vgg and "全连接 4096 → 4096 → 1000" in vgg and "参数量 7.08M" in vgg
    resnet = _text(block_diagram_html(None, analyze(load_preset("resnet18")), zh=True))
    assert "⤷ 捷径：恒等" in resnet and "⤷ 捷径：1x1/2 卷积 128 + BN" in resnet and "64 → 128 通道" in resnet
    assert "全局平均池化" in resnet and "主路径 + 捷径，相加" in resnet
    alexnet = _text(block_diagram_html(None, analyze(load_preset("alexnet_original")), zh=True))
    assert "5x5 卷积 256（2 组）" in alexnet


def test_chinese_compare_tab_pin_note_and_export_size(panel):
    from explorer.ui.explore import export_info_markdown

    vgg11, vgg16 = load_preset("vgg11"), load_preset("vgg16")
    markdown, figure = compare_view(vgg11, vgg16, 1, CHINESE)
    assert "A（固定）" in markdown and "B（编辑中）" in markdown and "| 块 |" in markdown
    assert "+5,494,208" in markdown and figure.layout.title.text == "每块参数量"
    assert "Pin" not in compare_view(None, vgg16, 1, CHINESE)[0]
    english, _ = compare_view(vgg11, vgg16, 1, ENGLISH)
    assert "A (pinned)" in english and "| block |" in english
    assert export_info_markdown(vgg16, "JSON spec (.json)", chinese=True).startswith("约 **")
    assert export_info_markdown(vgg16, "JSON spec (.json)").startswith("About **")
    out = restore_from_query(panel, {"spec": "garbage!!"}, chinese=True)
    assert "无法恢复" in out[panel.error]["value"]


def test_an_edit_notes_the_preset_in_chinese(panel):
    draft = {**values_from_spec(load_preset("vgg16")), "preset": "vgg16"}
    out = make_field_handler(panel, "vgg.hidden_sizes")("1024", draft, 1, "MACs", False, None, "", False, CHINESE)
    assert out[panel.preset_note] == "*已修改（基于 `vgg16`）*"
    assert out[panel.chart].layout.title.text.startswith("每层乘加运算")


def test_preset_picker_labels_are_translated(panel):
    from explorer.presets import get_preset
    from explorer.ui.i18n import ZH, _KEYS

    for label, name in panel.preset.choices:
        english = _KEYS[label.key]
        assert english == get_preset(name).label() and ZH[english] == get_preset(name).label(zh=True)


def test_log_scale_works_where_it_means_something_and_is_greyed_out_elsewhere():
    from explorer.ui.explore import log_scale_toggle
    from explorer.ui.views import CHARTS, chart_figure

    analysis = analyze(load_preset("googlenet"))
    for chart in CHARTS:
        linear, log = (chart_figure(chart, analysis, log_scale=flag) for flag in (False, True))
        changes_axis = (log.layout.yaxis.type == "log") != (linear.layout.yaxis.type == "log")
        assert log_scale_toggle(chart)["interactive"] is changes_axis, chart
