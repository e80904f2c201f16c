"""The ResNet editor: the stage table (each stage's in and out channels derived; stages can be added), the block
type, the stem width, batch norm and the style (torchvision's or d2l's biases and shortcut)."""
from __future__ import annotations

from typing import Any

from ...specs import SpecError
from ...specs.resnet import BLOCK_TYPES, STAGE_FIELDS, STYLES, ResNetSpec
from .base import Editor, Field, Widget, cell_blank, table_rows, widget_bool, widget_int

HEADERS = ("stage", "in", "out", *STAGE_FIELDS)
DERIVED_COLUMNS = 3  # stage name, in (the previous stage's out, or the stem's), out (channels x expansion)


def stage_table(spec: ResNetSpec) -> list[list[Any]]:
    """Rows of the stage table: torchvision's module name, derived in -> out channels, blocks, channels, stride."""
    rows = []
    in_channels = spec.stem_channels
    for index, stage in enumerate(spec.stages, 1):
        out_channels = stage.channels * spec.expansion
        rows.append([f"layer{index}", in_channels, out_channels, *stage.as_tuple()])
        in_channels = out_channels
    return rows


def parse_stages_table(table: Any, field: str) -> list[dict[str, Any]]:
    """One stage per row (the derived columns are ignored; rows left blank are skipped; a blank stride takes the
    default: 1 for the first stage, 2 after). A bad cell names its stage and column, e.g. ``stages[2].channels``."""
    stages = []
    for row in table_rows(table, field):
        cells = row[DERIVED_COLUMNS:] if len(row) >= len(HEADERS) else row
        if all(cell_blank(cell) for cell in cells):
            continue
        place = f"{field}[{len(stages)}]"
        stage: dict[str, Any] = {}
        for column, cell in zip(STAGE_FIELDS, cells):
            if cell_blank(cell):
                if column == "stride":
                    continue
                raise SpecError(f"{place}.{column}", "is empty", "是空的")
            stage[column] = widget_int(cell, f"{place}.{column}")
        if "channels" not in stage:
            raise SpecError(place, "needs the columns blocks, channels (and optionally stride)",
                            "需要 blocks 和 channels 两列（stride 列可有可无）")
        stages.append(stage)
    return stages


EDITOR = Editor(
    family="resnet",
    fields=(
        Field("stages", Widget(
            "table", "Stages (in → out derived)", headers=HEADERS,
            info="each stage's first block strides; a 1x1-conv shortcut is used where the shape changes",
            datatype=("str", "number", "number", "number", "number", "number"),
            static_columns=tuple(range(DERIVED_COLUMNS)), elem_id="resnet-table",
            column_widths=("64px", "52px", "52px", "56px", "72px", "56px"),
            add_row="Add stage", blank_row=("", None, None, None, None, None)),
            read=stage_table, parse=parse_stages_table, derived=True),
        Field("block", Widget("radio", "Block", choices=BLOCK_TYPES,
                              info="basic: 3x3 → 3x3 (ResNet-18/34); bottleneck: 1x1 → 3x3 → 1x1, "
                                   "out = 4 x channels")),
        Field("style", Widget("radio", "Style", choices=STYLES,
                              info="torchvision: no conv bias, shortcut 1x1 conv + BN; "
                                   "d2l: conv bias, no shortcut BN")),
        Field("stem_channels", Widget("number", "Stem channels", integer=True,
                                      info="7x7/2 conv → BN → ReLU → 3x3/2 max-pool"), parse=widget_int),
        Field("batch_norm", Widget("checkbox", "Batch norm"), parse=widget_bool),
    ),
    rows=(("stages",), ("block", "style"), ("stem_channels", "batch_norm")),
)
