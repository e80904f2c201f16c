"""Widget values <-> specs. Pure functions (no Gradio): what the editors show and how edits become specs.

Widgets hand over floats, strings, None and table rows; these functions turn them into the plain values the
spec classes validate, and name the widget in every error.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from ..specs import AlexNetSpec, GoogLeNetSpec, NiNSpec, Spec, SpecError, VGGSpec, format_conv_arch, parse_spec
from ..specs.fields import describe, parse_literal
from ..specs.googlenet import INCEPTION_FIELDS, INCEPTION_NAMES

FAMILIES = ("vgg", "googlenet", "nin", "alexnet")
FAMILY_LABELS = {"vgg": "VGG", "googlenet": "GoogLeNet", "nin": "NiN", "alexnet": "AlexNet"}
GOOGLENET_HEADERS = ["block", "in", "out", *INCEPTION_FIELDS]
NIN_HEADERS = ["out_channels", "kernel_size", "stride", "padding", "mlp_channels"]
MAX_TABLE_ROWS = 64


def widget_int(value: Any, field: str) -> Any:
    """A number widget's value as an int when it is integral; anything else is left for the spec to refuse."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise SpecError(field, "is empty")
    if isinstance(value, str):
        value = parse_literal(value, field)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def widget_float(value: Any, field: str) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise SpecError(field, "is empty")
    if isinstance(value, str):
        value = parse_literal(value, field)
    return value


def int_list_text(value: Any, field: str, *, allow_empty: bool = False) -> list[Any]:
    """'4096, 4096' or '(4096, 4096)' -> [4096, 4096]; '' -> [] when allowed."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if allow_empty:
            return []
        raise SpecError(field, "is empty")
    text = str(value).strip()
    parsed = parse_literal(text if text[0] in "([" else f"({text},)", field)
    if isinstance(parsed, (int, float)) and not isinstance(parsed, bool):
        parsed = [parsed]
    if not isinstance(parsed, (list, tuple)):
        raise SpecError(field, f"expected numbers separated by commas, got {describe(text)}")
    return [widget_int(item, f"{field}[{index}]") for index, item in enumerate(parsed)]


def list_text(values: Sequence[int]) -> str:
    return ", ".join(str(value) for value in values)


def optional_pool(value: Any, field: str) -> Any:
    """Adaptive pool size widget: 0 or empty means none (flatten as it is)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = widget_int(value, field)
    return None if number == 0 else number


def table_rows(table: Any, field: str) -> list[list[Any]]:
    """A Dataframe value (list of lists, a pandas frame, or {'data': ...}) as a list of rows."""
    if table is None:
        return []
    if hasattr(table, "values") and hasattr(table, "columns"):  # pandas
        table = table.values.tolist()
    elif isinstance(table, Mapping):
        table = table.get("data", [])
    if not isinstance(table, (list, tuple)):
        raise SpecError(field, f"expected a table, got {describe(table)}")
    if len(table) > MAX_TABLE_ROWS:
        raise SpecError(field, f"has {len(table)} rows, at most {MAX_TABLE_ROWS}")
    rows = []
    for row in table:
        if not isinstance(row, (list, tuple)):
            raise SpecError(field, f"expected table rows, got {describe(row)}")
        rows.append(list(row))
    return rows


def _cell_blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, float) and math.isnan(cell)) or (isinstance(cell, str) and not cell.strip())


# --- spec -> widget values -----------------------------------------------------------------------------------
def googlenet_table(spec: GoogLeNetSpec) -> list[list[Any]]:
    """Rows of the Inception table, with each block's derived in -> out channels."""
    return [[name, in_channels, block.out_channels, *block.as_tuple()]
            for name, block, in_channels in zip(INCEPTION_NAMES, spec.inceptions, spec.inception_in_channels())]


def nin_table(spec: NiNSpec) -> list[list[Any]]:
    return [[block.out_channels, block.kernel_size, block.stride, block.padding, list_text(block.mlp_channels)]
            for block in spec.blocks]


def values_from_spec(spec: Spec) -> dict[str, Any]:
    """The widget values that show ``spec`` (keys as in :func:`spec_from_values`)."""
    values: dict[str, Any] = {"family": spec.family, "input_size": spec.input_size,
                              "in_channels": spec.in_channels, "num_classes": spec.num_classes}
    if isinstance(spec, VGGSpec):
        values.update(vgg_conv_arch=format_conv_arch(spec.conv_arch), vgg_ratio=spec.ratio,
                      vgg_batch_norm=spec.batch_norm, vgg_hidden=list_text(spec.hidden_sizes),
                      vgg_dropout=spec.dropout, vgg_avgpool=spec.avgpool_size or 0, vgg_fc_as_conv=spec.fc_as_conv)
    elif isinstance(spec, GoogLeNetSpec):
        values.update(g_table=googlenet_table(spec), g_stem=list_text(spec.stem_channels), g_bn=spec.batch_norm,
                      g_aux=spec.aux_logits, g_wide=spec.ch5x5_kernel, g_pool_mode=spec.pool_mode,
                      g_dropout=spec.dropout, g_aux_dropout=spec.aux_dropout)
    elif isinstance(spec, NiNSpec):
        values.update(n_table=nin_table(spec), n_pool_kernel=spec.pool_kernel, n_pool_stride=spec.pool_stride,
                      n_dropout=spec.dropout, n_head_kernel=spec.head_kernel_size)
    elif isinstance(spec, AlexNetSpec):
        values.update(a_channels=list_text(spec.conv_channels),
                      a_conv1=list_text((spec.conv1_kernel, spec.conv1_stride, spec.conv1_padding)),
                      a_hidden=list_text(spec.hidden_sizes), a_dropout=spec.dropout, a_lrn=spec.lrn,
                      a_lrn_size=spec.lrn_size, a_lrn_alpha=spec.lrn_alpha, a_lrn_beta=spec.lrn_beta,
                      a_lrn_k=spec.lrn_k, a_overlap=spec.overlapping_pool, a_groups=spec.groups,
                      a_avgpool=spec.avgpool_size or 0)
    return values


# --- widget values -> spec -----------------------------------------------------------------------------------
def spec_from_values(family: str, values: Mapping[str, Any]) -> Spec:
    """Build and validate the spec the editor shows. Raises SpecError naming the widget's field."""
    if family not in FAMILIES:
        raise SpecError("family", f"must be one of {', '.join(FAMILIES)}, got {describe(family)}")
    common = {"input_size": widget_int(values.get("input_size"), "input_size"),
              "in_channels": widget_int(values.get("in_channels"), "in_channels"),
              "num_classes": widget_int(values.get("num_classes"), "num_classes")}
    if family == "vgg":
        data = dict(conv_arch=values.get("vgg_conv_arch") or "", ratio=widget_int(values.get("vgg_ratio"), "ratio"),
                    batch_norm=bool(values.get("vgg_batch_norm")),
                    hidden_sizes=int_list_text(values.get("vgg_hidden"), "hidden_sizes", allow_empty=True),
                    dropout=widget_float(values.get("vgg_dropout"), "dropout"),
                    avgpool_size=optional_pool(values.get("vgg_avgpool"), "avgpool_size"),
                    fc_as_conv=bool(values.get("vgg_fc_as_conv")))
        if not str(data["conv_arch"]).strip():
            raise SpecError("conv_arch", "is empty; try ((1, 64), (1, 128), (2, 256))")
    elif family == "googlenet":
        rows = table_rows(values.get("g_table"), "inceptions")
        inceptions = []
        for index, row in enumerate(rows):
            name = INCEPTION_NAMES[index] if index < len(INCEPTION_NAMES) else str(index)
            cells = row[3:] if len(row) >= 9 else row
            block = {}
            for field, cell in zip(INCEPTION_FIELDS, cells):
                if _cell_blank(cell):
                    raise SpecError(f"inceptions.{name}.{field}", "is empty")
                block[field] = widget_int(cell, f"inceptions.{name}.{field}")
            if len(block) != len(INCEPTION_FIELDS):
                raise SpecError(f"inceptions.{name}", f"needs the six columns {', '.join(INCEPTION_FIELDS)}")
            inceptions.append(block)
        data = dict(inceptions=inceptions, stem_channels=int_list_text(values.get("g_stem"), "stem_channels"),
                    batch_norm=bool(values.get("g_bn")), aux_logits=bool(values.get("g_aux")),
                    ch5x5_kernel=widget_int(values.get("g_wide"), "ch5x5_kernel"),
                    pool_mode=values.get("g_pool_mode"), dropout=widget_float(values.get("g_dropout"), "dropout"))
        if "g_aux_dropout" in values:  # no widget of its own: kept in the draft so that edits preserve it
            data["aux_dropout"] = widget_float(values["g_aux_dropout"], "aux_dropout")
    elif family == "nin":
        blocks = []
        for index, row in enumerate(table_rows(values.get("n_table"), "blocks")):
            if all(_cell_blank(cell) for cell in row):
                continue  # an empty row the user added and has not filled in
            block: dict[str, Any] = {}
            for field, cell in zip(NIN_HEADERS, row):
                if field == "mlp_channels":
                    block[field] = int_list_text(cell, f"blocks[{index}].mlp_channels", allow_empty=True)
                elif _cell_blank(cell):
                    raise SpecError(f"blocks[{index}].{field}", "is empty")
                else:
                    block[field] = widget_int(cell, f"blocks[{index}].{field}")
            blocks.append(block)
        data = dict(blocks=blocks, pool_kernel=widget_int(values.get("n_pool_kernel"), "pool_kernel"),
                    pool_stride=widget_int(values.get("n_pool_stride"), "pool_stride"),
                    dropout=widget_float(values.get("n_dropout"), "dropout"),
                    head_kernel_size=widget_int(values.get("n_head_kernel"), "head_kernel_size"))
    else:
        conv1 = int_list_text(values.get("a_conv1"), "conv1 (kernel, stride, padding)")
        if len(conv1) != 3:
            raise SpecError("conv1 (kernel, stride, padding)", f"expected three numbers, got {len(conv1)}")
        data = dict(conv_channels=int_list_text(values.get("a_channels"), "conv_channels"),
                    conv1_kernel=conv1[0], conv1_stride=conv1[1], conv1_padding=conv1[2],
                    hidden_sizes=int_list_text(values.get("a_hidden"), "hidden_sizes", allow_empty=True),
                    dropout=widget_float(values.get("a_dropout"), "dropout"), lrn=bool(values.get("a_lrn")),
                    lrn_size=widget_int(values.get("a_lrn_size"), "lrn_size"),
                    lrn_alpha=widget_float(values.get("a_lrn_alpha"), "lrn_alpha"),
                    lrn_beta=widget_float(values.get("a_lrn_beta"), "lrn_beta"),
                    lrn_k=widget_float(values.get("a_lrn_k"), "lrn_k"),
                    overlapping_pool=bool(values.get("a_overlap")),
                    groups=widget_int(values.get("a_groups"), "groups"),
                    avgpool_size=optional_pool(values.get("a_avgpool"), "avgpool_size"))
    return parse_spec({"family": family, **common, **data})
