"""Property-based fuzzing of every text and table input (issue #6, items 1-2).

Every generated input must end in either a valid spec -- which then analyses, with the analysis's parameter count
equal to the spec's planned one, and survives the JSON, widget and share-link round trips -- or a ``SpecError``
with a short, non-empty message that names a field (``gradio.Error`` at the API, a non-zero exit at the CLI).
Never another exception, never a hang, never code execution.

Runs are reproducible (``derandomize=True``, no example database). The example counts in ``EXAMPLES`` add up to
``TOTAL_EXAMPLES`` (5,860; about 40 s on two cores); each example must finish within ``DEADLINE_MS``. Run
``pytest -s tests/test_fuzz.py`` to see the slowest example of each test, and ``FUZZ_SCALE=10`` for a longer hunt.
"""
from __future__ import annotations

import gc
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import gradio as gr
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.analysis import analyze
from explorer.cli import main as cli_main
from explorer.models import build_model
from explorer.presets import load_preset, resolve_spec
from explorer.share import decode_spec, encode_spec
from explorer.specs import SPEC_CLASSES, ArchSpec, SpecError, parse_spec
from explorer.ui.app import analyze_api
from explorer.families import FAMILIES
from explorer.ui.convert import spec_from_values, values_from_spec
from tests import fuzz_strategies as fs

DEADLINE_MS = 2_000
#: Longest acceptable error text: enough for a clear sentence, never a giant echo of the input.
MAX_MESSAGE_LENGTH = 500
#: Valid specs with at most this many planned layers are analysed (GoogLeNet with aux heads has 142); larger
#: ones, up to the 1,000-layer limit, have their parameters counted on a meta-device model instead.
MAX_ANALYSED_LAYERS = 160
#: Messages about the network as a whole, the only ones allowed to name no field.
WHOLE_NETWORK = re.compile(r"^the network (has|needs) |^the spec text is too long|^not valid JSON|"
                           r"^expected a JSON object")

EXAMPLES = {
    "parse_spec_text": 400, "parse_spec_values": 300, "parse_spec_fields": 300, "mutated_spec": 900,
    "vgg_conv_arch": 450, "googlenet_table": 300, "nin_table": 450, "alexnet_text": 400, "widget_value": 800,
    "widget_family": 100, "resolve_spec": 300, "decode_spec": 400, "analyze_api": 200, "injection": 200,
    "cli": 60, "deep_spec": 300,
}
TOTAL_EXAMPLES = sum(EXAMPLES.values())
#: FUZZ_SCALE=10 runs ten times as many examples (a longer, local or nightly run); CI uses 1.
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
              HealthCheck.large_base_example, HealthCheck.function_scoped_fixture]


def fuzz(name: str) -> settings:
    return settings(max_examples=max(1, round(EXAMPLES[name] * SCALE)), deadline=DEADLINE_MS, derandomize=True,
                    database=None, suppress_health_check=SUPPRESSED, print_blob=False)


# --- the judge ---------------------------------------------------------------------------------------------------
#: Slowest call per test (seconds, what was called), printed at the end of the module (pytest -s shows it).
SLOWEST: dict[str, tuple[float, str]] = {}
COUNTS = {"valid": 0, "analysed": 0, "counted_on_meta": 0, "spec_errors": 0}


@pytest.fixture(scope="module", autouse=True)
def warm_up_and_report():
    """The first analysis pays torch's and torchinfo's lazy imports (seconds); do it before any deadline.

    Then freeze the heap as it is (torch, gradio, pandas): full garbage collections no longer walk it, which
    took a few hundred milliseconds out of a random example now and then.
    """
    for name in ("vgg11", "googlenet_aux", "d2l_nin", "alexnet_original"):
        analyze(load_preset(name))
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()
    slowest = sorted(SLOWEST.items(), key=lambda item: -item[1][0])
    print(f"\nfuzz: {round(TOTAL_EXAMPLES * SCALE)} generated examples; outcomes {COUNTS}")
    for test, (seconds, what) in slowest:
        print(f"  slowest in {test}: {seconds * 1000:.0f} ms  {what}")


def record(test: str, seconds: float, what: Callable[[], str]) -> None:
    if seconds > SLOWEST.get(test, (0.0, ""))[0]:
        SLOWEST[test] = (seconds, what())


def check_error(exc: BaseException, *, needs_field: bool = True, field_prefix: str | None = None) -> None:
    """A SpecError with a non-empty, short message that names a field (unless it concerns the whole network)."""
    assert isinstance(exc, SpecError), f"{type(exc).__name__}: {exc}"
    assert isinstance(exc.field, str) and isinstance(exc.message, str)
    assert exc.message.strip(), "empty error message"
    assert len(str(exc)) < MAX_MESSAGE_LENGTH, f"message of {len(str(exc))} characters: {str(exc)[:200]}..."
    if needs_field:
        assert exc.field or WHOLE_NETWORK.search(exc.message), f"no field named: {exc}"
    if field_prefix is not None:
        assert exc.field.startswith(field_prefix), f"expected a field under {field_prefix!r}: {exc}"


def check_valid(spec: Any) -> None:
    """A valid spec analyses to its planned parameter count and survives every round trip."""
    assert isinstance(spec, ArchSpec)
    COUNTS["valid"] += 1
    as_dict = spec.to_dict()
    text = json.dumps(as_dict, allow_nan=False)  # strict JSON: no NaN or infinity survives validation
    assert parse_spec(text) == spec
    assert parse_spec(as_dict) == spec
    assert decode_spec(encode_spec(spec)) == spec
    assert spec_from_values(spec.family, values_from_spec(spec)) == spec
    planned = spec.planned_params()
    if len(spec.planned_layers()) <= MAX_ANALYSED_LAYERS:
        assert analyze(spec).total_params == planned
        COUNTS["analysed"] += 1
    else:
        assert sum(parameter.numel() for parameter in build_model(spec, device="meta").parameters()) == planned
        COUNTS["counted_on_meta"] += 1


def judge(test: str, build: Callable[[], Any], what: Any, **error_checks: Any) -> Any:
    """Run ``build``; the outcome must be a valid spec or a good SpecError. Returns the spec or the error."""
    start = time.perf_counter()
    try:
        try:
            result = build()
        except SpecError as exc:
            COUNTS["spec_errors"] += 1
            check_error(exc, **error_checks)
            return exc
        check_valid(result)
        return result
    finally:
        record(test, time.perf_counter() - start, lambda: short_repr(what))


def short_repr(value: Any, limit: int = 100) -> str:
    """repr() cut to ``limit`` characters (for the timing report and the conv_arch text)."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - deep nesting
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def as_json_text(data: Any) -> str | None:
    """JSON text of ``data``, or None when it has no JSON form (too deep)."""
    try:
        return json.dumps(data, allow_nan=True)
    except (RecursionError, ValueError, TypeError):
        return None


# --- parse_spec ----------------------------------------------------------------------------------------------------
@fuzz("parse_spec_text")
@given(st.one_of(fs.all_texts, fs.json_values.map(json.dumps), fs.texts.map(lambda text: "{" + text),
                 fs.mutated_specs().map(fs.mutation_json_text)))
def test_parse_spec_text(text: str) -> None:
    judge("parse_spec_text", lambda: parse_spec(text), text)
    judge("parse_spec_text", lambda: parse_spec(text.encode("utf-8", "surrogatepass")), text)


@fuzz("parse_spec_values")
@given(st.one_of(fs.json_values, fs.deep_values, fs.numbers, st.binary(max_size=50),
                 st.lists(fs.json_values, max_size=3).map(tuple)))
def test_parse_spec_any_value(value: Any) -> None:
    judge("parse_spec_values", lambda: parse_spec(value), value, needs_field=False)
    judge("parse_spec_values", lambda: parse_spec({"spec": value}), value, needs_field=False)


@st.composite
def several_fields(draw: st.DrawFn) -> dict[str, Any]:
    """A family and several of its fields, each set to a random value."""
    family = draw(st.sampled_from(sorted(SPEC_CLASSES)))
    names = [field for field in SPEC_CLASSES[family].__dataclass_fields__]
    fields = draw(st.dictionaries(st.sampled_from(names), fs.replacements, min_size=1, max_size=4))
    return {"family": family, **fields}


@fuzz("parse_spec_fields")
@given(several_fields())
def test_parse_spec_several_fields_random(data: dict[str, Any]) -> None:
    judge("parse_spec_fields", lambda: parse_spec(data), data)


@fuzz("mutated_spec")
@given(fs.mutated_specs())
def test_parse_spec_one_part_mutated(mutation: fs.Mutation) -> None:
    """A valid spec with one field or nested entry replaced, deleted or added; wrong types name their field."""
    top = str(mutation.path[0])
    prefix = None
    if mutation.action == "replace" and top not in ("spec", "family") and fs.is_wrong_type(
            mutation.old, mutation.new, optional=mutation.path[-1] == "avgpool_size"):
        prefix = top
    elif mutation.action == "replace" and top == "family":
        prefix = None if isinstance(mutation.new, str) and mutation.new in SPEC_CLASSES else "family"
    outcome = judge("mutated_spec", lambda: parse_spec(mutation.data), mutation, field_prefix=prefix)
    text = as_json_text(mutation.data)
    if text is not None and len(text) <= 100_000 and "NaN" not in text and "Infinity" not in text:
        # The same input as JSON text gives the same verdict (longer text and NaN are refused as text).
        again = judge("mutated_spec", lambda: parse_spec(text), mutation, field_prefix=prefix)
        assert type(again) is type(outcome) and str(again) == str(outcome)
    elif text is not None:
        judge("mutated_spec", lambda: parse_spec(text), mutation, needs_field=False)


@pytest.mark.parametrize("family", sorted(SPEC_CLASSES))
def test_edge_values_in_every_field(family: str) -> None:
    """A deterministic sweep: every field and nested entry of a valid spec, set to each edge value."""
    base = SPEC_CLASSES[family]().to_dict()
    for path in fs.paths(base):
        if isinstance(path[-1], int) and path[-1] > 0:
            continue  # the first entry of a list stands for the rest
        old = fs.get_path(base, path)
        for value in fs.SWEEP_VALUES:
            data = json.loads(json.dumps(base))
            fs.set_path(data, path, value)
            wrong = path[0] != "family" and fs.is_wrong_type(old, value, optional=path[-1] == "avgpool_size")
            try:
                spec = parse_spec(data)
            except SpecError as exc:
                check_error(exc, field_prefix=str(path[0]) if wrong else None)
            else:
                assert not wrong, (path, value)
                assert parse_spec(spec.to_dict()) == spec
                assert spec_from_values(family, values_from_spec(spec)) == spec


# --- VGG conv_arch -------------------------------------------------------------------------------------------------
pair_items = st.one_of(st.integers(1, 4), st.integers(1, 4), st.integers(1, 128), fs.ints, fs.floats,
                       st.booleans(), st.none(), fs.texts)
pairs = st.one_of(st.tuples(st.integers(1, 3), st.integers(1, 96)).map(list),
                  st.lists(pair_items, max_size=3), pair_items)


def conv_arch_text(blocks: list[Any]) -> str:
    return "(" + ", ".join(short_repr(block, 10_000) for block in blocks) + ",)"


@fuzz("vgg_conv_arch")
@given(conv_arch=st.lists(pairs, max_size=8), as_text=st.booleans(), input_size=st.sampled_from([32, 64, 96, 224]),
       via_widgets=st.booleans())
def test_vgg_conv_arch_random_pairs(conv_arch: list[Any], as_text: bool, input_size: int, via_widgets: bool) -> None:
    arch: Any = conv_arch_text(conv_arch) if as_text or via_widgets else conv_arch
    if via_widgets:
        values = {**fs.FAMILY_WIDGETS["vgg"][0], "vgg.conv_arch": arch, "input_size": input_size,
                  "vgg.hidden_sizes": "64", "num_classes": 10.0}
        build = lambda: spec_from_values("vgg", values)  # noqa: E731
    else:
        data = {"family": "vgg", "conv_arch": arch, "input_size": input_size, "hidden_sizes": [64],
                "num_classes": 10}
        build = lambda: parse_spec(data)  # noqa: E731
    well_formed = all(isinstance(block, list) and len(block) == 2 and all(
        type(item) is int and item >= 1 for item in block) for block in conv_arch)
    prefix = "conv_arch" if conv_arch and not well_formed and not as_text and not via_widgets else None
    judge("vgg_conv_arch", build, arch, field_prefix=prefix)


# --- GoogLeNet's Inception table -------------------------------------------------------------------------------
GOOGLENET_WIDGETS = fs.FAMILY_WIDGETS["googlenet"]


@st.composite
def googlenet_values(draw: st.DrawFn) -> dict[str, Any]:
    values = dict(draw(st.sampled_from(GOOGLENET_WIDGETS)))
    values["googlenet.inceptions"] = draw(fs.tables(values["googlenet.inceptions"]))
    if draw(st.integers(0, 4)) == 0:
        values["googlenet.stem_channels"] = draw(st.one_of(fs.number_list_texts(max_size=4, elements=st.integers(1, 256)),
                                          fs.all_texts))
    values["input_size"] = draw(st.sampled_from([values["input_size"], 32, 64, 96, 224, 1.0, 0, 1025]))
    return values


@fuzz("googlenet_table")
@given(googlenet_values())
def test_googlenet_inception_table_random_cells(values: dict[str, Any]) -> None:
    judge("googlenet_table", lambda: spec_from_values("googlenet", values), values["googlenet.inceptions"])


def test_googlenet_table_every_bad_cell_names_its_block_and_column() -> None:
    """Each of the six columns of each block, set to something wrong, is named in the error."""
    values = values_from_spec(load_preset("googlenet"))
    for row_index, block in enumerate(["3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]):
        for column, name in enumerate(["ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj"]):
            for bad in (None, math.nan, "", "x", True, 64.5, -1, 0, 10**30, "1e999", [1]):
                table = [list(row) for row in values["googlenet.inceptions"]]
                table[row_index][3 + column] = bad
                with pytest.raises(SpecError) as info:
                    spec_from_values("googlenet", {**values, "googlenet.inceptions": table})
                check_error(info.value, field_prefix=f"inceptions.{block}.{name}")


# --- NiN's block table -----------------------------------------------------------------------------------------
NIN_WIDGETS = fs.FAMILY_WIDGETS["nin"]


@st.composite
def nin_values(draw: st.DrawFn) -> dict[str, Any]:
    values = dict(draw(st.sampled_from(NIN_WIDGETS)))
    if draw(st.integers(0, 3)) == 0:  # a table of random rows and row count
        rows = draw(st.lists(st.lists(fs.cells, max_size=7), max_size=8))
        values["nin.blocks"] = rows * draw(st.sampled_from([1, 1, 1, 5, 9]))  # past 32 blocks and 64 rows too
    else:
        values["nin.blocks"] = draw(fs.tables(values["nin.blocks"]))
    for key in ("nin.pool_kernel", "nin.pool_stride", "nin.head_kernel_size", "nin.dropout"):
        if draw(st.integers(0, 9)) == 0:
            values[key] = draw(fs.cells)
    values["input_size"] = draw(st.sampled_from([values["input_size"], 28, 32, 96, 224]))
    return values


@fuzz("nin_table")
@given(nin_values())
def test_nin_table_random_rows(values: dict[str, Any]) -> None:
    judge("nin_table", lambda: spec_from_values("nin", values), values["nin.blocks"])


# --- AlexNet's text fields -------------------------------------------------------------------------------------
channel_texts = st.one_of(fs.number_list_texts(max_size=7, elements=st.integers(1, 512)), fs.number_list_texts(),
                          fs.all_texts)
conv1_texts = st.one_of(fs.number_list_texts(max_size=4, elements=st.integers(0, 12)), fs.all_texts)


@fuzz("alexnet_text")
@given(base=st.sampled_from(fs.FAMILY_WIDGETS["alexnet"]), channels=st.one_of(st.none(), channel_texts),
       conv1=st.one_of(st.none(), conv1_texts), hidden=st.one_of(st.none(), channel_texts),
       groups=st.sampled_from([None, 1, 2, 1.0, 2.0, 3, "2", True]))
def test_alexnet_text_fields(base: dict[str, Any], channels: str | None, conv1: str | None, hidden: str | None,
                             groups: Any) -> None:
    values = dict(base)
    for key, value in (("alexnet.conv_channels", channels), ("alexnet.conv1", conv1), ("alexnet.hidden_sizes", hidden),
                       ("alexnet.groups", groups)):
        if value is not None:
            values[key] = value
    judge("alexnet_text", lambda: spec_from_values("alexnet", values), values)


# --- any widget --------------------------------------------------------------------------------------------------
@st.composite
def widget_mutations(draw: st.DrawFn) -> tuple[str, dict[str, Any], str]:
    values = dict(draw(st.sampled_from(fs.BASE_WIDGETS)))
    key = draw(st.sampled_from(sorted(key for key in values if key != "family")))
    if draw(st.integers(0, 9)) == 0:
        del values[key]
    else:
        values[key] = draw(fs.widget_values)
    return values["family"], values, key


@fuzz("widget_value")
@given(widget_mutations())
def test_any_widget_random_value(case: tuple[str, dict[str, Any], str]) -> None:
    family, values, key = case
    judge("widget_value", lambda: spec_from_values(family, values), (key, values.get(key)))


@fuzz("widget_family")
@given(family=st.one_of(fs.texts, fs.numbers, st.sampled_from([f.upper() for f in FAMILIES] + [" vgg", "vgg "])),
       base=st.sampled_from(fs.BASE_WIDGETS))
def test_widget_family_random(family: Any, base: dict[str, Any]) -> None:
    outcome = judge("widget_family", lambda: spec_from_values(family, base), family, needs_field=True)
    if family not in FAMILIES:
        assert isinstance(outcome, SpecError) and outcome.field == "family"


# --- presets, links, the API ---------------------------------------------------------------------------------------
@fuzz("resolve_spec")
@given(st.one_of(fs.preset_like_names, fs.all_texts,
                 fs.mutated_specs().map(fs.mutation_json_text),
                 fs.json_values))
def test_resolve_spec_random(text: Any) -> None:
    judge("resolve_spec", lambda: resolve_spec(text), text, needs_field=False)


@fuzz("decode_spec")
@given(st.one_of(fs.share_tokens, fs.json_values, st.binary(max_size=20)))
def test_decode_spec_random(token: Any) -> None:
    judge("decode_spec", lambda: decode_spec(token), token, needs_field=False)


@fuzz("analyze_api")
@given(st.one_of(fs.preset_like_names, fs.all_texts,
                 fs.mutated_specs().map(fs.mutation_json_text),
                 fs.json_values))
def test_analyze_api_raises_only_gradio_errors(text: Any) -> None:
    start = time.perf_counter()
    try:
        result = analyze_api(text)
    except gr.Error as exc:
        message = str(exc.message)
        assert message.strip() and len(message) < MAX_MESSAGE_LENGTH, message[:200]
    else:
        assert isinstance(text, str)
        spec = parse_spec(result["spec"])
        assert result["analysis"]["total_params"] == spec.planned_params()
        json.dumps(result, allow_nan=False)
    finally:
        record("analyze_api", time.perf_counter() - start, lambda: short_repr(text))


# --- no code execution -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A file path that any executed payload would create; it must never exist."""
    path = tmp_path_factory.mktemp("fuzz") / "SENTINEL"
    yield path
    assert not path.exists(), "an injection payload created the sentinel file"


def text_entry_points(payload: str) -> list[tuple[str, Callable[[], Any]]]:
    """Every place user text enters, with ``payload`` as that text."""
    entries: list[tuple[str, Callable[[], Any]]] = [
        ("parse_spec", lambda: parse_spec(payload)),
        ("resolve_spec", lambda: resolve_spec(payload)),
        ("decode_spec", lambda: decode_spec(payload)),
        ("decode_spec(link)", lambda: decode_spec(fs.encode_bytes(payload.encode("utf-8", "surrogatepass")))),
    ]
    for family, cls in SPEC_CLASSES.items():
        for field in cls.__dataclass_fields__:
            data = {"family": family, field: payload}
            entries.append((f"parse_spec {family}.{field}", lambda data=data: parse_spec(data)))
    entries += [
        ("inception row", lambda: parse_spec({"family": "googlenet", "inceptions": [payload] * 9})),
        ("inception cell", lambda: parse_spec({"family": "googlenet", "inceptions": [
            {**dict(zip(("ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj"), (1,) * 6)),
             "ch3x3": payload}] * 9})),
        ("nin row", lambda: parse_spec({"family": "nin", "blocks": [payload]})),
        ("nin mlp_channels", lambda: parse_spec({"family": "nin", "blocks": [[8, 3, 1, 1, payload]]})),
    ]
    for base in (values_from_spec(load_preset(name)) for name in ("vgg11", "googlenet", "d2l_nin", "alexnet")):
        family = base["family"]
        for key, value in base.items():
            if key == "family":
                continue
            if isinstance(value, list):  # a table: the payload in every cell of the first row, then as the table
                table = [list(row) for row in value]
                for column in range(len(table[0])):
                    cell_table = [list(row) for row in table]
                    cell_table[0][column] = payload
                    entries.append((f"{family} {key}[0][{column}]", lambda values={**base, key: cell_table},
                                    family=family: spec_from_values(family, values)))
                entries.append((f"{family} {key}", lambda values={**base, key: payload},
                                family=family: spec_from_values(family, values)))
            else:
                entries.append((f"{family} {key}", lambda values={**base, key: payload},
                                family=family: spec_from_values(family, values)))
    return entries


def test_injection_payloads_never_run(sentinel: Path) -> None:
    """Every payload through every text entry point: a SpecError (or an inert valid spec), never execution."""
    payloads = fs.injection_payloads(str(sentinel))
    checked = 0
    for payload in payloads:
        for name, call in text_entry_points(payload):
            try:
                result = call()
            except SpecError as exc:
                check_error(exc, needs_field=False)
            else:
                # Only widgets that take any value as "on" (checkboxes) may accept text, and then as a bool.
                assert isinstance(result, ArchSpec), name
                assert payload not in json.dumps(result.to_dict()), (name, payload)
                assert re.search(r"\.(batch_norm|aux_logits|lrn|overlapping_pool|fc_as_conv)$|googlenet\.inceptions\[0\]\[[012]\]$", name), \
                    (name, payload)
            checked += 1
            assert not sentinel.exists(), (name, payload)
    assert checked > 1_000


def test_injection_payloads_at_the_api(sentinel: Path) -> None:
    for payload in fs.injection_payloads(str(sentinel)):
        for text in (payload, json.dumps({"family": "vgg", "conv_arch": payload}),
                     json.dumps({"family": "alexnet", "conv_channels": payload, "hidden_sizes": payload})):
            with pytest.raises(gr.Error) as info:
                analyze_api(text)
            assert len(str(info.value.message)) < MAX_MESSAGE_LENGTH
            assert not sentinel.exists(), payload


def test_injection_payloads_at_the_cli(sentinel: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(sentinel.parent)
    for payload in fs.injection_payloads(str(sentinel)):
        for argv in (["summary", payload], ["summary", "--json", json.dumps({"family": "vgg", "conv_arch": payload})],
                     ["summary", json.dumps({"family": "nin", "blocks": [[8, 3, 1, 1, payload]]})]):
            assert run_cli(argv) != 0, argv
            assert "Traceback" not in capsys.readouterr().err
            assert not sentinel.exists(), payload


def run_cli(argv: list[str]) -> int:
    try:
        return cli_main(argv)
    except SystemExit as exc:  # argparse refusing the arguments
        return exc.code if isinstance(exc.code, int) else 1


@fuzz("injection")
@given(data=st.data())
def test_injection_payloads_anywhere_in_a_spec(sentinel: Path, data: st.DataObject) -> None:
    """A payload at a random place of a valid spec, as a dict, as JSON text and as a share link."""
    payloads = st.sampled_from(fs.injection_payloads(str(sentinel)))
    mutation = data.draw(fs.mutated_specs(values=payloads, near=False))
    text = json.dumps(mutation.data)
    for build in (lambda: parse_spec(mutation.data), lambda: resolve_spec(text),
                  lambda: decode_spec(fs.encode_bytes(text.encode()))):
        outcome = judge("injection", build, mutation, needs_field=False)
        if isinstance(outcome, ArchSpec) and isinstance(mutation.new, str):
            assert mutation.new not in json.dumps(outcome.to_dict())
    assert not sentinel.exists()


@fuzz("cli")
@given(arg=st.one_of(fs.preset_like_names.filter(lambda text: len(text.encode("utf-8", "surrogatepass")) < 250),
                     fs.texts, fs.mutated_specs().map(fs.mutation_json_text)))
def test_cli_summary_random_argument(arg: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    start = time.perf_counter()
    code = run_cli(["summary", arg])
    record("cli", time.perf_counter() - start, lambda: short_repr(arg))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    if code == 0:
        assert captured.out.strip()
    else:
        assert code == 2 and (captured.err.startswith("error: ") or "usage:" in captured.err), captured.err[:300]
        assert len(captured.err) < 5_000


def test_cli_summary_overlong_name_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli(["summary", "a" * 300]) == 2


def test_example_budget() -> None:
    """Item 2 of issue #6: at least 5,000 generated cases per CI run."""
    assert TOTAL_EXAMPLES >= 5_000


# --- deep networks and tiny inputs -------------------------------------------------------------------------------
@st.composite
def deep_specs(draw: st.DrawFn) -> dict[str, Any]:
    """Many layers, wide strides and small inputs: the shape walk's worst cases (and the too-small hint's)."""
    input_size = draw(st.one_of(st.integers(1, 1024), st.sampled_from([1, 2, 31, 32, 1023, 1024])))
    if draw(st.booleans()):
        arch = draw(st.lists(st.tuples(st.integers(1, 64), st.integers(1, 64)).map(list), min_size=1, max_size=32))
        arch = (arch * draw(st.sampled_from([1, 1, 4, 32])))[:32]  # often the full 32 blocks
        return {"family": "vgg", "conv_arch": arch, "input_size": input_size, "hidden_sizes": [16],
                "fc_as_conv": draw(st.booleans()), "avgpool_size": draw(st.sampled_from([None, 1, 7]))}
    kernel = draw(st.integers(1, 31))
    block = [draw(st.integers(1, 32)), kernel, draw(st.integers(1, 31)), draw(st.integers(0, kernel // 2)),
             draw(st.lists(st.integers(1, 32), max_size=8))]
    return {"family": "nin", "blocks": [block] * draw(st.integers(1, 32)), "input_size": input_size,
            "pool_kernel": draw(st.integers(1, 31)), "pool_stride": draw(st.integers(1, 31)),
            "head_kernel_size": draw(st.integers(1, 31))}


@fuzz("deep_spec")
@given(deep_specs())
def test_deep_networks_and_tiny_inputs(data: dict[str, Any]) -> None:
    judge("deep_spec", lambda: parse_spec(data), data)


# --- regressions: inputs that once crashed, hung or echoed -------------------------------------------------------
@pytest.mark.parametrize("data, field", [
    ({"family": "vgg", "dropout": 10**400}, "dropout"),  # OverflowError in float()
    ('{"family": "alexnet", "lrn_k": -1' + "0" * 400 + "}", "lrn_k"),
    ({"family": "vgg", "x" * 5_000: 1}, "'xxx"),  # the key echoed in full: a 5,000-character message
    ({"family": "vgg", "": 1}, "''"),  # an unknown key that named no field
    ({"family": "nin", "blocks": [{"out_channels": 8, "kernel_size": 3, 10**5000: 1}]}, "blocks[0].<int>"),
])
def test_regression_inputs(data: Any, field: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(data)
    check_error(info.value, field_prefix=field)


def test_regression_unknown_preset_message_is_short() -> None:
    with pytest.raises(SpecError) as info:
        resolve_spec("\U000e0001" * 60)  # 10 characters each once escaped: a 640-character message
    check_error(info.value, field_prefix="preset")


@pytest.mark.parametrize("data", [
    {"family": "vgg", "fc_as_conv": True, "avgpool_size": None, "input_size": 1024, "conv_arch": [[64, 8]] * 32},
    {"family": "nin", "input_size": 1024, "pool_kernel": 31, "pool_stride": 1, "blocks": [[1, 31, 1, 0, [1] * 8]] * 32},
])
def test_regression_too_small_hint_is_fast(data: dict[str, Any]) -> None:
    """The smallest-workable-size hint once tried all 1,024 sizes: 2.6 s for the VGG."""
    start = time.perf_counter()
    with pytest.raises(SpecError, match="at any input size"):
        parse_spec(data)
    assert time.perf_counter() - start < 0.5
