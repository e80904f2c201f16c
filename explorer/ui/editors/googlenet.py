"""The GoogLeNet editor: the Inception table (each block's in and out channels derived), stem and options."""
from __future__ import annotations

from typing import Any

from ...specs import GoogLeNetSpec, SpecError
from ...specs.googlenet import INCEPTION_FIELDS, INCEPTION_NAMES
from .base import (Editor, Field, Widget, cell_blank, int_list_text, list_text, table_rows, widget_bool, widget_float,
                   widget_int)

HEADERS = ("block", "in", "out", *INCEPTION_FIELDS)
DERIVED_COLUMNS = 3  # block name, in (the previous block's out, or the stem's), out (the four branches concatenated)


def inception_table(spec: GoogLeNetSpec) -> list[list[Any]]:
    """Rows of the Inception table: name, derived in -> out channels, then torchvision's six widths."""
    return [[name, in_channels, block.out_channels, *block.as_tuple()]
            for name, block, in_channels in zip(INCEPTION_NAMES, spec.inceptions, spec.inception_in_channels())]


def parse_inceptions(table: Any, field: str) -> list[dict[str, Any]]:
    """The six widths of each row (the derived columns are ignored); a bad cell names its block and column."""
    inceptions = []
    for index, row in enumerate(table_rows(table, field)):
        name = INCEPTION_NAMES[index] if index < len(INCEPTION_NAMES) else str(index)
        cells = row[DERIVED_COLUMNS:] if len(row) >= len(HEADERS) else row
        block = {}
        for column, cell in zip(INCEPTION_FIELDS, cells):
            if cell_blank(cell):
                raise SpecError(f"{field}.{name}.{column}", "is empty", "是空的")
            block[column] = widget_int(cell, f"{field}.{name}.{column}")
        if len(block) != len(INCEPTION_FIELDS):
            raise SpecError(f"{field}.{name}", f"needs the six columns {', '.join(INCEPTION_FIELDS)}",
                            f"需要六列：{', '.join(INCEPTION_FIELDS)}")
        inceptions.append(block)
    return inceptions


EDITOR = Editor(
    family="googlenet",
    fields=(
        Field("inceptions", Widget(
            "table", "Inception blocks (in → out derived)", headers=HEADERS,
            info="out = ch1x1 + ch3x3 + ch5x5 + pool_proj: the four branches are concatenated",
            datatype=("str", "number", "number") + ("number",) * len(INCEPTION_FIELDS),
            static_columns=tuple(range(DERIVED_COLUMNS)), fixed_rows=True, elem_id="inception-table",
            # Pixels, with the app's 12px table font: every header (pool_proj included) fits a 480px column.
            column_widths=("58px", "36px", "44px", "44px", "64px", "44px", "64px", "44px", "72px")),
            read=inception_table, parse=parse_inceptions, derived=True),
        Field("stem_channels", Widget("text", "Stem channels", info="7x7/2 conv, 1x1 conv, 3x3 conv"),
              read=lambda spec: list_text(spec.stem_channels), parse=int_list_text),
        Field("ch5x5_kernel", Widget("radio", "Wide branch kernel", choices=(3, 5),
                                     info="paper/d2l: 5; torchvision: 3"),
              parse=widget_int),
        Field("batch_norm", Widget("checkbox", "Batch norm"), parse=widget_bool),
        Field("aux_logits", Widget("checkbox", "Aux classifiers"), parse=widget_bool),
        Field("pool_mode", Widget("radio", "Pooling", choices=("ceil", "pad"), info="torchvision: ceil; d2l: pad")),
        Field("dropout", Widget("slider", "Dropout", minimum=0, maximum=0.95, step=0.05), parse=widget_float),
        Field("aux_dropout", None, parse=widget_float),  # no widget: kept so that edits preserve it
    ),
    rows=(("inceptions",), ("stem_channels", "ch5x5_kernel"), ("batch_norm", "aux_logits", "pool_mode"), ("dropout",)),
)
