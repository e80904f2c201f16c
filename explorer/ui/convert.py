"""Widget values <-> specs. Pure functions (no Gradio): the conversions editors share, and the generic
:func:`values_from_spec` / :func:`spec_from_values` that dispatch to the family's editor through the registry.

Widgets hand over floats, strings, None and table rows; these functions turn them into the plain values the
spec classes validate, and name the widget's field in every error.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from ..families import FAMILIES, family_of
from ..specs import Spec, SpecError, parse_spec
from ..specs.fields import describe, parse_literal

MAX_TABLE_ROWS = 64


def empty(field: str) -> SpecError:
    """The error for a widget left blank."""
    return SpecError(field, "is empty", "是空的")


def widget_int(value: Any, field: str) -> Any:
    """A number widget's value as an int when it is integral; anything else is left for the spec to refuse."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise empty(field)
    if isinstance(value, str):
        value = parse_literal(value, field)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def widget_float(value: Any, field: str) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise empty(field)
    if isinstance(value, str):
        value = parse_literal(value, field)
    return value


def widget_bool(value: Any, field: str) -> bool:  # noqa: ARG001 - the parse signature
    """A checkbox: anything truthy is on."""
    return bool(value)


def int_list_text(value: Any, field: str, *, allow_empty: bool = False) -> list[Any]:
    """'4096, 4096' or '(4096, 4096)' -> [4096, 4096]; '' -> [] when allowed."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if allow_empty:
            return []
        raise empty(field)
    text = str(value).strip()
    parsed = parse_literal(text if text[0] in "([" else f"({text},)", field)
    if isinstance(parsed, (int, float)) and not isinstance(parsed, bool):
        parsed = [parsed]
    if not isinstance(parsed, (list, tuple)):
        raise SpecError(field, f"expected numbers separated by commas, got {describe(text)}",
                        f"应为用逗号分隔的数，收到的是 {describe(text)}")
    return [widget_int(item, f"{field}[{index}]") for index, item in enumerate(parsed)]


def optional_int_list_text(value: Any, field: str) -> list[Any]:
    """Like :func:`int_list_text`, empty allowed."""
    return int_list_text(value, field, allow_empty=True)


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
        raise SpecError(field, f"expected a table, got {describe(table)}", f"应为一个表格，收到的是 {describe(table)}")
    if len(table) > MAX_TABLE_ROWS:
        raise SpecError(field, f"has {len(table)} rows, at most {MAX_TABLE_ROWS}",
                        f"有 {len(table)} 行，最多 {MAX_TABLE_ROWS} 行")
    rows = []
    for row in table:
        if not isinstance(row, (list, tuple)):
            raise SpecError(field, f"expected table rows, got {describe(row)}",
                            f"应为表格的行，收到的是 {describe(row)}")
        rows.append(list(row))
    return rows


def cell_blank(cell: Any) -> bool:
    return (cell is None or (isinstance(cell, float) and math.isnan(cell))
            or (isinstance(cell, str) and not cell.strip()))


# --- generic: spec <-> every widget value, through the family's editor -------------------------------------------
def values_from_spec(spec: Spec) -> dict[str, Any]:
    """The widget values that show ``spec``: ``family``, the common fields by name, the family's fields keyed
    ``"<family>.<field>"``."""
    from .editors.base import COMMON_FIELDS

    values: dict[str, Any] = {"family": spec.family}
    values.update({f.name: f.value_of(spec) for f in COMMON_FIELDS})
    values.update(family_of(spec).editor_definition().values(spec))
    return values


def spec_from_values(family: Any, values: Mapping[str, Any]) -> Spec:
    """Build and validate the spec the editors show. Raises SpecError naming the widget's field."""
    from .editors.base import COMMON_FIELDS

    if not isinstance(family, str) or family not in FAMILIES:
        raise SpecError("family", f"must be one of {', '.join(FAMILIES)}, got {describe(family)}",
                        f"必须是 {', '.join(FAMILIES)} 之一，收到的是 {describe(family)}")
    data: dict[str, Any] = {}
    for f in COMMON_FIELDS:
        data.update(f.spec_items(values.get(f.name)))
    data.update(family_of(family).editor_definition().spec_data(values))
    return parse_spec({"family": family, **data})
