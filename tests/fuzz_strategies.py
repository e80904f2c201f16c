"""Hypothesis strategies for fuzzing every text and table input (used by tests/test_fuzz.py).

Three kinds of input: hostile junk (random text, huge numbers, NaN, deep nesting, unicode, empty values),
structurally plausible specs with one thing wrong (a valid spec dict or widget value with a part replaced),
and injection payloads that would run code if anything evaluated user text.
"""
from __future__ import annotations

import base64
import copy
import dataclasses
import json
import math
import zlib
from typing import Any, Iterator

from hypothesis import strategies as st

from explorer.presets import list_presets, preset_names
from explorer.specs import SPEC_CLASSES
from explorer.ui.convert import values_from_spec

# --- scalars ---------------------------------------------------------------------------------------------------
#: Integers at the edges that matter: zero, negatives, the spec limits and machine word sizes, and far beyond.
EDGE_INTS = [0, 1, -1, 2, 3, 7, 31, 32, 64, 1024, 1025, 16_384, 16_385, 65_536, 100_001, 2**31 - 1, -2**31,
             2**63, -2**63 - 1, 10**20, -10**20, 10**400, -10**400]
EDGE_FLOATS = [math.nan, math.inf, -math.inf, -0.0, 0.0, 0.5, 1.0, 0.999999, 1.0000001, 64.0, 64.5, -3.0,
               1e308, -1e308, 5e-324, 1e-300, 2.0**63]

ints = st.one_of(st.integers(-70, 70), st.integers(), st.sampled_from(EDGE_INTS))
floats = st.one_of(st.floats(), st.sampled_from(EDGE_FLOATS))
numbers = st.one_of(ints, floats, st.booleans())

#: Unicode including lone surrogates, control characters and combining marks.
any_char = st.characters(codec=None, exclude_categories=())
texts = st.one_of(
    st.text(max_size=40),
    st.text(any_char, max_size=40),
    st.text(st.sampled_from("()[]{},:'\" 0123456789-+.eEjx_abcn\\#\n\t"), max_size=60),
)
blank_texts = st.sampled_from(["", " ", "\t", "\n  \n", "\u00a0", "\u3000", "\x00", "()", "[]", "{}", "(,)", ","])


def _repeat(piece: str, count: int) -> str:
    return piece * count


#: Very long text (past every length cap: 10,000 for a literal, 100,000 for a JSON spec, 8,000 for a link).
LONG_PIECES = ["9", "(", "[", "{", "a", "\u00e9", "1,", "-", " ", "\x00", "\U0001f600", "(1, 64), ", "[1,", '{"a":']
long_texts = st.builds(_repeat, st.sampled_from(LONG_PIECES),
                       st.sampled_from([2_000, 8_001, 10_001, 50_000, 100_001, 150_000]))


def _nested_text(kind: str, depth: int) -> str:
    opening, closing = {"list": ("[", "]"), "tuple": ("(", ",)"), "dict": ('{"a":', "}")}[kind]
    return opening * depth + "1" + closing * depth


#: Literal text nested from 1 to 100,000 levels deep.
deep_texts = st.builds(_nested_text, st.sampled_from(["list", "tuple", "dict"]),
                       st.one_of(st.integers(1, 12), st.sampled_from([50, 999, 1_000, 5_000, 40_000, 100_000])))


def _format_number(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


number_texts = st.builds(_format_number, st.one_of(st.integers(-2**70, 2**70), st.sampled_from(EDGE_INTS[:-2]),
                                                   floats))


@st.composite
def number_list_texts(draw: st.DrawFn, *, max_size: int = 8, elements: st.SearchStrategy = ints) -> str:
    """'64, 192, 384' in any of the ways a user might type it (brackets, trailing comma, spaces, junk)."""
    items = draw(st.lists(st.one_of(elements.map(_format_number), floats.map(_format_number), texts),
                          max_size=max_size))
    separator = draw(st.sampled_from([", ", ",", " , ", ";", " ", ",,"]))
    body = separator.join(items)
    wrapper = draw(st.sampled_from(["{}", "({})", "[{}]", "({},)", "{},", " {} ", "(({}))", "{{{}}}"]))
    return wrapper.format(body)


all_texts = st.one_of(texts, blank_texts, number_texts, number_list_texts(), long_texts, deep_texts)

# --- JSON values -----------------------------------------------------------------------------------------------
json_scalars = st.one_of(st.none(), st.booleans(), ints, floats, texts)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(st.lists(children, max_size=5),
                               st.dictionaries(st.text(max_size=8), children, max_size=5)),
    max_leaves=12,
)


def _nest(value: Any, depth: int, as_dict: bool) -> Any:
    for _ in range(depth):
        value = {"a": value} if as_dict else [value]
    return value


#: Python values nested deeper than the interpreter's recursion limit.
deep_values = st.builds(_nest, json_scalars, st.sampled_from([20, 500, 3_000]), st.booleans())

# --- valid starting points -------------------------------------------------------------------------------------
#: Every preset's spec as a dict, plus small-input variants (cheap to analyse, and near the too-small edge).
BASE_SPECS: list[dict[str, Any]] = []
for _preset in list_presets():
    BASE_SPECS.append(_preset.spec.to_dict())
for _family, _cls in SPEC_CLASSES.items():
    BASE_SPECS.append(_cls().to_dict())
BASE_SPECS.append({"family": "vgg", "conv_arch": [[1, 16], [1, 32]], "input_size": 32, "in_channels": 1,
                   "num_classes": 10, "hidden_sizes": [64], "avgpool_size": None})
BASE_SPECS.append({"family": "nin", "blocks": [[16, 3, 1, 1], [32, 3, 2, 1, [8]]], "input_size": 28,
                   "in_channels": 1, "num_classes": 10})
BASE_SPECS.append({"family": "alexnet", "conv_channels": [8, 16, 32, 32, 16], "input_size": 67, "in_channels": 1,
                   "num_classes": 10, "hidden_sizes": [64], "groups": 2, "lrn": True})

#: Widget values (as the editors show them) for every preset.
BASE_WIDGETS: list[dict[str, Any]] = [values_from_spec(preset.spec) for preset in list_presets()]
FAMILY_WIDGETS: dict[str, list[dict[str, Any]]] = {}
for _values in BASE_WIDGETS:
    FAMILY_WIDGETS.setdefault(_values["family"], []).append(_values)


def paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path into a JSON value (keys and list indices), parents before children."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from paths(item, (*prefix, index))


def get_path(value: Any, path: tuple) -> Any:
    for step in path:
        value = value[step]
    return value


def set_path(value: Any, path: tuple, new: Any) -> None:
    get_path(value, path[:-1])[path[-1]] = new


def is_wrong_type(old: Any, new: Any, *, optional: bool = False) -> bool:
    """True when ``new`` cannot stand where ``old`` (a valid value) stood whatever its size.

    Only clear-cut cases count: an int field given a non-int, a float field given a non-number, a bool field
    given a non-bool, a text choice given a non-string. Lists are left out: text and ints are read as lists too.
    """
    if optional and new is None:
        return False
    if isinstance(old, bool):
        return not isinstance(new, bool)
    if isinstance(old, int):
        return isinstance(new, bool) or not isinstance(new, int)
    if isinstance(old, float):
        return isinstance(new, bool) or not isinstance(new, (int, float))
    if isinstance(old, str):
        return not isinstance(new, str)
    return False


#: Values every field is tried with, in a deterministic sweep.
SWEEP_VALUES = [*EDGE_INTS, *EDGE_FLOATS, None, True, False, "", " ", "64", "1e999", "nan", [], [1], {}, {"a": 1},
                "__import__('os')"]

#: Replacement values for one part of a spec: junk, and plausible numbers near the limits.
replacements = st.one_of(json_values, ints, floats, all_texts, deep_values,
                         st.lists(st.lists(ints, min_size=0, max_size=3), max_size=4))


def near_misses(old: Any) -> st.SearchStrategy:
    """Values close to a valid ``old`` that a user (or a JSON client) might plausibly send instead."""
    if isinstance(old, bool):
        return st.sampled_from([0, 1, "true", "True", "false", "", None, not old, 1.0])
    if isinstance(old, int):
        return st.one_of(st.integers(old - 3, old + 3), st.sampled_from(EDGE_INTS),
                         st.sampled_from([float(old), str(old), f" {old}", [old], -old, old * 1_000_000, None]))
    if isinstance(old, float):
        return st.one_of(st.sampled_from(EDGE_FLOATS), st.sampled_from([10**400, -10**400, 2**1024, 10**20, -1, 0, 2]),
                         st.floats(-2.0, 2.0), st.sampled_from([str(old), int(old), None]))
    if isinstance(old, str):
        return st.sampled_from([old.upper(), f" {old}", f"{old} ", "", old[:-1], old * 2, None, 3, 5])
    if isinstance(old, list):
        return st.one_of(st.just(old[:-1]), st.just(old + old), st.just(old[::-1]), st.just([old]),
                         st.just(json.dumps(old)), st.just(str(old)), st.just([]))
    return st.nothing()


@dataclasses.dataclass
class Mutation:
    """A valid spec dict with one part replaced, deleted or added (what the test needs to judge the outcome)."""

    data: dict[str, Any]
    path: tuple
    action: str  # "replace", "delete" or "add"
    old: Any = None
    new: Any = None


@st.composite
def mutated_specs(draw: st.DrawFn, *, values: st.SearchStrategy = replacements, near: bool = True) -> Mutation:
    """A valid spec dict with one field or nested entry replaced by a random value (or, when ``near``, often a
    near miss of the valid one), deleted, or a key added."""
    data = copy.deepcopy(draw(st.sampled_from(BASE_SPECS)))
    action = draw(st.sampled_from(["replace"] * 8 + ["delete", "add"]))
    path = draw(st.sampled_from(list(paths(data))))
    if action == "add":
        parent = get_path(data, path[:-1])
        key = draw(st.one_of(st.text(max_size=12), st.sampled_from(["spec", "family", "__class__", "__init__",
                                                                      "x" * 2_000, "in_channels "])))
        new = draw(values)
        if isinstance(parent, dict):
            parent[key] = new
        else:
            parent.append(new)
        return Mutation(data, (*path[:-1], key), action, None, new)
    if action == "delete":
        old = get_path(data, path)
        del get_path(data, path[:-1])[path[-1]]
        return Mutation(data, path, action, old)
    old = get_path(data, path)
    new = draw(st.one_of(values, near_misses(old)) if near else values)
    set_path(data, path, new)
    return Mutation(data, path, action, old, new)


# --- widget values ---------------------------------------------------------------------------------------------
#: What a table cell can hold: blanks (None, NaN, ''), numbers as text or floats, bools, huge ints, junk.
cells = st.one_of(
    st.integers(1, 512), st.integers(1, 512).map(float), st.integers(1, 512).map(str),
    st.integers(1, 512).map(lambda value: f"  {value} "),
    st.sampled_from([None, math.nan, "", " ", "nan", "None", "64.0", "1e3", "0x40", "6_4", "(64,)", "[64]",
                     True, False, 0, -1, 16_385, 10**30, 64.5, math.inf]),
    ints, floats, texts,
)

#: What a widget can hold: anything a Textbox, Number, Checkbox, Dropdown or Dataframe might hand over, and worse.
widget_values = st.one_of(st.none(), st.booleans(), ints, floats, all_texts, cells,
                          st.lists(st.lists(cells, max_size=10), max_size=12), json_values)


@st.composite
def tables(draw: st.DrawFn, base: list[list[Any]], *, max_rows: int = 16) -> Any:
    """A Dataframe value: ``base`` with some cells replaced and rows added/removed, as rows, pandas or a dict."""
    rows = [list(row) for row in base]
    for _ in range(draw(st.integers(0, 4))):
        change = draw(st.sampled_from(["cell", "cell", "cell", "add_row", "drop_row", "truncate_row", "extend_row"]))
        if change == "cell" and rows:
            row = draw(st.integers(0, len(rows) - 1))
            if rows[row]:
                rows[row][draw(st.integers(0, len(rows[row]) - 1))] = draw(cells)
        elif change == "add_row" and len(rows) < max_rows:
            rows.insert(draw(st.integers(0, len(rows))), draw(st.lists(cells, max_size=10)))
        elif change == "drop_row" and rows:
            del rows[draw(st.integers(0, len(rows) - 1))]
        elif change == "truncate_row" and rows:
            row = draw(st.integers(0, len(rows) - 1))
            rows[row] = rows[row][: draw(st.integers(0, len(rows[row])))]
        elif change == "extend_row" and rows:
            rows[draw(st.integers(0, len(rows) - 1))].extend(draw(st.lists(cells, min_size=1, max_size=4)))
    if rows and draw(st.integers(0, 9)) == 0:  # past the row limits (32 NiN blocks, 64 table rows)
        rows = rows * draw(st.sampled_from([2, 11, 22]))
    form = draw(st.sampled_from(["rows", "rows", "rows", "tuples", "dict", "pandas"]))
    if form == "tuples":
        return tuple(tuple(row) for row in rows)
    if form == "dict":
        return {"data": rows, "headers": []}
    if form == "pandas":
        import pandas as pd

        width = max((len(row) for row in rows), default=0)  # a Dataframe is rectangular: pad with blanks
        return pd.DataFrame([row + [None] * (width - len(row)) for row in rows])
    return rows


def mutation_json_bytes(mutation: Mutation) -> bytes:
    return mutation_json_text(mutation).encode("utf-8", "surrogatepass")


def mutation_json_text(mutation: Mutation) -> str:
    """The mutated spec as JSON text ("{}" when it has none: nested too deeply for json.dumps)."""
    try:
        return json.dumps(mutation.data, allow_nan=True)
    except (RecursionError, ValueError):
        return "{}"


# --- links -----------------------------------------------------------------------------------------------------
def encode_bytes(raw: bytes) -> str:
    """``raw`` compressed and base64url-encoded the way share links are."""
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode("ascii").rstrip("=")


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8")


_BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
share_tokens = st.one_of(
    all_texts,
    st.text(st.sampled_from(_BASE64_ALPHABET + "=+/ ."), max_size=200),
    st.binary(max_size=300).map(encode_bytes),
    st.binary(max_size=300).map(lambda raw: base64.urlsafe_b64encode(raw).decode("ascii")),
    json_values.map(_json_bytes).map(encode_bytes),
    mutated_specs().map(mutation_json_bytes).map(encode_bytes),
    st.sampled_from([encode_bytes(b"0" * 200_000), encode_bytes(b"{" * 150_000), encode_bytes(b"[" * 99_000),
                     encode_bytes(b"\xff\xfe\x00"), encode_bytes(b""), "eJw", "eJwrSS0uAQAEXQHB" * 10]),
)

preset_like_names = st.one_of(
    st.sampled_from(preset_names()),
    st.sampled_from(preset_names()).map(str.upper),
    st.sampled_from(preset_names()).map(lambda name: f"  {name}\n"),
    st.sampled_from(preset_names()).map(lambda name: name + "\x00"),
    st.sampled_from(preset_names()).map(lambda name: name + "/../" + name),
    st.sampled_from(["", "vgg", "vgg99", "../presets/vgg11", "vgg11.json", "presets/vgg11.json", "__init__", "{",
                     "{}", "[]", "null", "\U000e0001" * 60, "\x00" * 60, "a" * 65, "a" * 300]),
)

# --- injection payloads ----------------------------------------------------------------------------------------


def injection_payloads(sentinel: str) -> list[str]:
    """Text that would create ``sentinel`` (a file path) if any entry point evaluated, executed or shelled it."""
    touch = f"touch {sentinel}"
    opener = f"open({sentinel!r}, 'w')"
    pickled = b"cos\nsystem\n(S'" + touch.encode() + b"'\ntR."
    return [
        f"__import__('os').system({touch!r})",
        f"__import__('os').system({touch!r}) or ((1, 64),)",
        f"exec({opener!r})",
        f"exec(\"__import__('os').system({touch!r})\")",
        f"eval({opener!r})",
        f"eval(\"__import__('os').system({touch!r})\")",
        f"lambda: {opener}",
        f"(lambda: {opener})()",
        f"f'{{{opener}}}'",
        f"f\"{{__import__('os').system({touch!r})}}\"",
        "().__class__.__bases__[0].__subclasses__()",
        f"[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0]({touch.split()!r})",
        f"((1, 64), {opener})",
        f"[(1, 64), {opener}]",
        f"{{'a': {opener}}}",
        f"(1, 64) if {opener} else (1, 64)",
        f"[x for x in [{opener}]]",
        f"__builtins__['open']({sentinel!r}, 'w')",
        f"globals()['__builtins__'].open({sentinel!r}, 'w')",
        f"import os; os.system({touch!r})",
        f"1; {opener}",
        f"(1, 64)\n{opener}",
        f"$({touch})",
        f"`{touch}`",
        f"; {touch}",
        f"| {touch}",
        f"&& {touch}",
        f"!!python/object/apply:os.system [{touch!r}]",
        f"{{{{ ''.__class__.__mro__[1].__subclasses__() }}}} {touch}",
        pickled.decode("latin-1"),
        base64.b64encode(pickled).decode("ascii"),
        base64.urlsafe_b64encode(zlib.compress(pickled)).decode("ascii"),
        json.dumps({"__reduce__": ["os.system", [touch]]}),
        json.dumps({"py/object": "os.system", "py/reduce": [{"py/function": "os.system"}, {"py/tuple": [touch]}]}),
        json.dumps({"family": "vgg", "conv_arch": f"__import__('os').system({touch!r})"}),
        json.dumps({"family": "vgg", "conv_arch": f"[(1, 64), {opener}]"}),
        json.dumps({"family": "vgg", "hidden_sizes": f"eval({opener!r})"}),
        json.dumps({"family": f"__import__('os').system({touch!r})"}),
        json.dumps({"spec": {"family": "alexnet", "conv_channels": f"exec({opener!r})"}}),
        json.dumps({"family": "googlenet", "inceptions": f"[{opener}] * 9"}),
        json.dumps({"family": "nin", "blocks": [[f"{opener}", 3]]}),
        json.dumps({"family": "nin", "blocks": [{"out_channels": 8, "kernel_size": 3, "mlp_channels": opener}]}),
    ]
