"""The NiN editor: a table of blocks (rows can be added) and the pooling and head options."""
from __future__ import annotations

from typing import Any

from ...specs import NiNSpec, SpecError
from .base import (Editor, Field, Widget, cell_blank, list_text, optional_int_list_text, table_rows, widget_float,
                   widget_int)

HEADERS = ("out_channels", "kernel_size", "stride", "padding", "mlp_channels")


def block_table(spec: NiNSpec) -> list[list[Any]]:
    return [[block.out_channels, block.kernel_size, block.stride, block.padding, list_text(block.mlp_channels)]
            for block in spec.blocks]


def parse_blocks(table: Any, field: str) -> list[dict[str, Any]]:
    """One block per row; rows left blank (just added, not filled in) are skipped."""
    blocks = []
    for index, row in enumerate(table_rows(table, field)):
        if all(cell_blank(cell) for cell in row):
            continue
        block: dict[str, Any] = {}
        for column, cell in zip(HEADERS, row):
            name = f"{field}[{index}].{column}"
            if column == "mlp_channels":
                block[column] = optional_int_list_text(cell, name)
            elif cell_blank(cell):
                raise SpecError(name, "is empty", "是空的")
            else:
                block[column] = widget_int(cell, name)
        blocks.append(block)
    return blocks


EDITOR = Editor(
    family="nin",
    fields=(
        Field("blocks", Widget("table", "NiN blocks (mlp_channels empty = two 1x1 of out_channels)", headers=HEADERS,
                               datatype=("number", "number", "number", "number", "str"), elem_id="nin-table",
                               add_row="Add block", blank_row=(None, None, None, None, "")),
              read=block_table, parse=parse_blocks),
        Field("pool_kernel", Widget("number", "Pool kernel", integer=True), parse=widget_int),
        Field("pool_stride", Widget("number", "Pool stride", integer=True), parse=widget_int),
        Field("head_kernel_size", Widget("number", "Head kernel", integer=True), parse=widget_int),
        Field("dropout", Widget("slider", "Dropout", minimum=0, maximum=0.95, step=0.05), parse=widget_float),
    ),
    rows=(("blocks",), ("pool_kernel", "pool_stride", "head_kernel_size"), ("dropout",)),
)
