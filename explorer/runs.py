"""Finished training runs as records: what was trained, how, how fast, how well, and its curves.

A :class:`RunRecord` is built from a run's events (:meth:`RunRecord.from_events`), written as JSON beside the
run's checkpoint (:func:`save_run`), downloaded and loaded back (:func:`read_run`, which checks an uploaded file
like any user input, and also reads a checkpoint ``.pt``: the engine saves the same curves in it), and compared: :func:`runs_table` lists runs, :func:`differences` says how two or more
differ. :class:`FinishedRuns` hands the runs a browser session finished to that session's runs view.

Nothing here imports gradio.
"""
from __future__ import annotations

import io
import json
import math
import os
import threading
import time
import zipfile
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .specs import SpecError

#: What :func:`save_run` writes in the ``format`` field.
RUN_FORMAT = "cnn-explorer run v1"
#: The file a run's record is saved as, beside its checkpoint.
RUN_FILE = "run.json"
#: Largest run file accepted (a record with step curves of a long run is well under 1 MB).
MAX_RUN_BYTES = 8 * 2**20
MAX_POINTS = 100_000
#: Config fields that say how a run was trained (the others are where files go and how often to report).
RECIPE_FIELDS = ("optimizer", "lr", "momentum", "weight_decay", "batch_size", "epochs", "init", "precision",
                 "input_size", "augment", "train_subset", "test_subset", "max_steps", "max_seconds", "seed")
#: Curves every record may carry; per epoch unless the name starts with ``step_``.
CURVES = ("epoch", "elapsed_s", "test_acc", "train_acc", "train_loss", "step", "step_elapsed_s", "step_loss")


def add_curve_points(curves: dict[str, list[float]], event: Mapping[str, Any]) -> None:
    """Append to ``curves`` (see :data:`CURVES`) what one event (``event.to_dict()``) adds: an ``epoch`` event
    with a test accuracy one point per epoch curve, a ``step`` event one point per step curve; others nothing."""
    kind = event.get("event")
    if kind == "epoch" and event.get("test_acc") is not None:
        points = {"epoch": event["epoch"], "elapsed_s": event["elapsed_s"], "test_acc": event["test_acc"],
                  "train_acc": event["train_acc"], "train_loss": event["train_loss"]}
    elif kind == "step":
        points = {"step": event["step"], "step_elapsed_s": event["elapsed_s"], "step_loss": event["loss"]}
    else:
        return
    for name, value in points.items():
        curves.setdefault(name, []).append(float(value))


def curves_from_events(history: Iterable[Mapping[str, Any]]) -> dict[str, list[float]]:
    """A run's curves from its events' dicts, in order (only the curves that have points)."""
    curves: dict[str, list[float]] = {}
    for event in history:
        add_curve_points(curves, event)
    return {name: curves[name] for name in CURVES if curves.get(name)}


@dataclass(frozen=True)
class RunRecord:
    """One finished run: JSON-ready, no weights."""

    run_id: str  # unique within a session (the checkpoint's stem, or a time stamp)
    label: str  # how the run is called in tables and legends, e.g. "d2l_nin" or "VGG (edited)"
    family: str  # "vgg", "googlenet", ...
    preset: str | None  # the preset the spec matches, if any
    spec: dict[str, Any]  # spec.to_dict()
    params: int
    macs: int  # per image, at the input size trained
    dataset: str
    config: dict[str, Any]  # TrainConfig.to_dict()
    epochs: int  # completed
    steps: int
    seconds: float  # wall time of the whole run (data loading and evaluation included)
    train_seconds: float
    examples_per_s: float
    test_acc: float
    test_loss: float
    train_acc: float
    train_loss: float
    device: str
    precision: str
    curves: dict[str, list[float]] = field(default_factory=dict)  # see CURVES
    checkpoint: str | None = None  # the checkpoint's file name (not its path)
    created: str = ""  # ISO 8601, UTC
    notes: tuple[str, ...] = ()
    format: str = RUN_FORMAT

    @property
    def recipe(self) -> str:
        """The recipe in a few words, e.g. ``adam lr 0.001, batch 128``."""
        config = self.config
        text = f"{config.get('optimizer', '?')} lr {_number(config.get('lr'))}, batch {config.get('batch_size', '?')}"
        if config.get("input_size"):
            text += f", {config['input_size']} px"
        if config.get("train_subset"):
            text += f", {config['train_subset']:,} examples"
        return text

    @classmethod
    def from_events(cls, spec: Any, config: Any, start: Any, history: Sequence[Mapping[str, Any]], done: Any, *,
                    label: str | None = None, preset: str | None = None) -> "RunRecord":
        """A record from a finished run: its spec and TrainConfig, its StartEvent, the dicts of its step/eval/
        epoch events (``event.to_dict()``, in order) and its DoneEvent."""
        from .analysis import analyze

        trained = spec.replace(input_size=config.input_size) if getattr(config, "input_size", None) else spec
        try:
            macs = analyze(trained).total_macs
        except SpecError:
            macs = analyze(spec).total_macs
        curves = curves_from_events(history)
        checkpoint = Path(done.checkpoint_path).name if getattr(done, "checkpoint_path", None) else None
        run_id = Path(checkpoint).stem if checkpoint else f"run-{time.strftime('%Y%m%d-%H%M%S')}-{id(done) % 10000}"
        params = int(getattr(start, "total_params", 0) or 0) or int(analyze(spec).total_params)
        return cls(run_id=run_id, label=label or preset or f"{spec.family_label} (edited)", family=spec.family,
                   preset=preset, spec=spec.to_dict(), params=params, macs=int(macs), dataset=str(config.dataset),
                   config=_plain(config.to_dict()), epochs=int(done.epochs_completed), steps=int(done.steps),
                   seconds=float(done.elapsed_s), train_seconds=float(done.train_seconds),
                   examples_per_s=float(done.examples_per_s), test_acc=float(done.test_acc),
                   test_loss=float(done.test_loss), train_acc=float(done.train_acc), train_loss=float(done.train_loss),
                   device=str(getattr(start, "device", "?")), precision=str(getattr(start, "precision", "?")),
                   curves=curves, checkpoint=checkpoint,
                   created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   notes=tuple(str(note) for note in getattr(done, "notes", ()))[:20])

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Any) -> "RunRecord":
        """A record from JSON data, checked field by field (SpecError names the field)."""
        if not isinstance(data, Mapping):
            raise SpecError("run", f"a run file holds a JSON object, not {type(data).__name__}")
        if data.get("format") != RUN_FORMAT:
            raise SpecError("run", f"this is not a run file this app wrote (format {str(data.get('format'))[:60]!r}; "
                                   f"expected {RUN_FORMAT!r})")
        values: dict[str, Any] = {}
        for item in fields(cls):
            name = item.name
            if name not in data:
                if name in ("curves", "checkpoint", "created", "notes", "preset"):
                    continue
                raise SpecError(f"run.{name}", "missing")
            values[name] = _check(name, data[name])
        return cls(**values)


# -- files ------------------------------------------------------------------------------------------------------


def save_run(record: RunRecord, folder: str | os.PathLike) -> Path:
    """Write ``record`` as ``run.json`` in ``folder`` (the run's own folder, beside its checkpoint)."""
    path = Path(folder) / RUN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(record.to_json(), encoding="utf-8")
    return path


def export_run(record: RunRecord, folder: str | os.PathLike) -> Path:
    """Write ``record`` for download, named after the run (``<run_id>.run.json``)."""
    safe = "".join(char if char.isalnum() or char in "-_." else "_" for char in record.run_id)[:80] or "run"
    path = Path(folder) / f"{safe}.run.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(record.to_json(), encoding="utf-8")
    return path


def read_run(source: str | os.PathLike | bytes) -> list[RunRecord]:
    """Runs from a run file: a ``.json`` record (or a list of them), a ``.zip`` holding ``*.json`` records, or a
    checkpoint (``.pt``) that this app's training wrote (one run; see :func:`read_checkpoint_run`).

    Raises:
        SpecError (field ``run``): not a run file, too large, damaged, or a field out of range.
    """
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        if _is_torch_file(data[:4], data):
            return [_checkpoint_bytes_run(data)]
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
            with open(path, "rb") as handle:
                magic = handle.read(4)
        except OSError:
            raise SpecError("run", f"no such file: {str(source)[:200]}") from None
        if path.suffix.lower() in CHECKPOINT_SUFFIXES or _is_torch_file(magic, path):
            return [read_checkpoint_run(path)]
        if size > MAX_RUN_BYTES:
            raise SpecError("run", f"the file is too large for a run file ({size / 2**20:.1f} MB; at most "
                                   f"{MAX_RUN_BYTES // 2**20} MB)")
        data = path.read_bytes()
    if len(data) > MAX_RUN_BYTES:
        raise SpecError("run", f"the file is too large for a run file (at most {MAX_RUN_BYTES // 2**20} MB)")
    if data.startswith(_ZIP_MAGIC):
        return _read_zip(data)
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpecError("run", f"this is not a run file (JSON that this app wrote): {str(exc)[:100]}") from None
    items = parsed if isinstance(parsed, list) else [parsed]
    if not items or len(items) > 100:
        raise SpecError("run", "a run file holds from 1 to 100 runs")
    return [RunRecord.from_dict(item) for item in items]


def _read_zip(data: bytes) -> list[RunRecord]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [info for info in archive.infolist() if info.filename.endswith(".json")][:100]
            if not names:
                raise SpecError("run", "the zip archive holds no run file (.json)")
            records = []
            for info in names:
                if info.file_size > MAX_RUN_BYTES:
                    raise SpecError("run", f"{info.filename[:80]} is too large for a run file")
                records += read_run(archive.read(info))
            return records
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as exc:
        raise SpecError("run", f"the zip archive is damaged: {str(exc)[:100]}") from None


def read_checkpoint_run(path: str | os.PathLike, *, name: str | None = None) -> RunRecord:
    """The run a checkpoint records: its spec (the network as trained), config, final metrics and, when the
    engine saved them, its curves, timing, device and precision (older checkpoints have no curves; their record
    has none, and zero for the timing). The file is read with ``torch.load(weights_only=True)`` (no code runs)
    and capped in size by :func:`explorer.inspection.read_checkpoint`; every part is checked like a run file's.

    Raises:
        SpecError (field ``run``): not a checkpoint this app wrote, damaged, or a part out of range.
    """
    from .inspection.checkpoints import CHECKPOINT_FORMAT, read_checkpoint  # PyTorch: only for a checkpoint
    from .specs import parse_spec

    file_name = name or Path(path).name
    try:
        checkpoint = read_checkpoint(path)
    except SpecError as exc:
        raise SpecError("run", f"{file_name[:80]} is not a checkpoint this app can read: {exc.message}") from None
    found = checkpoint.get("format")
    if found != CHECKPOINT_FORMAT or not isinstance(checkpoint.get("spec"), Mapping):
        what = f"format {str(found)[:60]!r}" if found is not None else "no 'format' entry"
        raise SpecError("run", f"{file_name[:80]} is a PyTorch file but not a checkpoint this app's training wrote "
                               f"({what}; expected {CHECKPOINT_FORMAT!r})")
    try:
        spec = parse_spec(dict(checkpoint["spec"]))
    except SpecError as exc:
        where = f" (at {exc.field})" if exc.field else ""
        raise SpecError("run", f"the checkpoint's spec is not valid{where}: {exc.message}") from None
    config = checkpoint.get("config")
    metrics = checkpoint.get("metrics")
    if not isinstance(config, Mapping) or not isinstance(metrics, Mapping):
        raise SpecError("run", "the checkpoint's config or metrics are not dicts; it was not written by this app")
    from .analysis import analyze
    from .training.recipes import matching_preset

    analysis = analyze(spec)
    preset = matching_preset(spec)
    stem = Path(file_name).stem
    try:
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(Path(path).stat().st_mtime))
    except OSError:
        created = ""

    def number(key: str) -> Any:  # absent (an older checkpoint) or None: 0; anything else is checked
        value = metrics.get(key)
        return 0 if value is None else value

    data = {
        "run_id": stem[:200], "label": preset or f"{spec.family_label} (checkpoint)", "family": spec.family,
        "preset": preset, "spec": spec.to_dict(), "params": int(analysis.total_params),
        "macs": int(analysis.total_macs), "dataset": str(config.get("dataset", "?"))[:200], "config": config,
        "epochs": number("epochs_completed"), "steps": number("steps"), "seconds": number("elapsed_s"),
        "train_seconds": number("train_seconds"), "examples_per_s": number("examples_per_s"),
        "test_acc": number("test_acc"), "test_loss": number("test_loss"), "train_acc": number("train_acc"),
        "train_loss": number("train_loss"), "device": str(checkpoint.get("device", "?"))[:200],
        "precision": str(checkpoint.get("precision", config.get("precision", "?")))[:200],
        "checkpoint": file_name[:200], "created": created, "format": RUN_FORMAT,
        "notes": [] if "curves" in checkpoint else ["an older checkpoint, saved without its training curves"],
    }
    if "curves" in checkpoint:
        data["curves"] = checkpoint["curves"]
    return RunRecord.from_dict(data)


CHECKPOINT_SUFFIXES = (".pt", ".pth")
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"  # torch's legacy (non-zip) format starts with a pickle protocol opcode


def _is_torch_file(magic: bytes, content: Path | bytes) -> bool:
    """A ``torch.save`` file: a zip archive with a ``data.pkl`` entry, or a bare pickle."""
    if magic.startswith(_PICKLE_MAGIC):
        return True
    if not magic.startswith(_ZIP_MAGIC):
        return False
    try:
        with zipfile.ZipFile(content if isinstance(content, Path) else io.BytesIO(content)) as archive:
            return any(name == "data.pkl" or name.endswith("/data.pkl") for name in archive.namelist()[:10_000])
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError, ValueError):
        return False


def _checkpoint_bytes_run(data: bytes) -> RunRecord:
    import tempfile

    from .inspection.checkpoints import MAX_CHECKPOINT_BYTES

    if len(data) > MAX_CHECKPOINT_BYTES:
        raise SpecError("run", "the checkpoint is too large")
    with tempfile.TemporaryDirectory(prefix="explorer-run-") as folder:
        path = Path(folder) / "checkpoint.pt"
        path.write_bytes(data)
        return read_checkpoint_run(path)


def runs_zip(records: Sequence[RunRecord], folder: str | os.PathLike, name: str = "runs.zip") -> Path:
    """Several runs in one archive (one ``<run_id>.run.json`` each), for download."""
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        used: set[str] = set()
        for record in records:
            stem = "".join(char if char.isalnum() or char in "-_." else "_" for char in record.run_id)[:80] or "run"
            entry, number = f"{stem}.run.json", 2
            while entry in used:
                entry, number = f"{stem}-{number}.run.json", number + 1
            used.add(entry)
            archive.writestr(entry, record.to_json())
    return path


# -- comparing --------------------------------------------------------------------------------------------------

TABLE_HEADERS = ("Run", "Network", "Parameters", "MACs/image", "Dataset", "Recipe", "Epochs", "Time",
                 "Examples/s", "Test accuracy", "Device")


def table_row(record: RunRecord) -> list[Any]:
    return [record.label, record.family, f"{record.params:,}", _si(record.macs), record.dataset, record.recipe,
            record.epochs, _clock(record.seconds), f"{record.examples_per_s:,.0f}", f"{record.test_acc:.3f}",
            record.device]


def runs_table(records: Iterable[RunRecord]) -> list[list[Any]]:
    """One row per run (:data:`TABLE_HEADERS`)."""
    return [table_row(record) for record in records]


def differences(records: Sequence[RunRecord]) -> list[list[str]]:
    """``[what, value of run 1, value of run 2, ...]`` for everything that differs between the runs: the network,
    its size, the data, each recipe setting, and the results (the results always, as the point of comparing)."""
    if len(records) < 2:
        return []
    rows: list[list[str]] = []

    def add(what: str, values: list[Any], always: bool = False) -> None:
        texts = ["—" if value is None else str(value) for value in values]
        if always or len(set(texts)) > 1:
            rows.append([what, *texts])

    add("network", [record.label for record in records])
    add("family", [record.family for record in records])
    add("parameters", [f"{record.params:,}" for record in records])
    add("MACs/image", [_si(record.macs) for record in records])
    add("input", [_input(record) for record in records])
    add("dataset", [record.dataset for record in records])
    for name in RECIPE_FIELDS:
        add(name, [record.config.get(name) for record in records])
    add("device", [f"{record.device} ({record.precision})" for record in records])
    add("epochs completed", [record.epochs for record in records])
    add("steps", [record.steps for record in records])
    add("time", [_clock(record.seconds) for record in records], always=True)
    add("examples/s", [f"{record.examples_per_s:,.0f}" for record in records], always=True)
    add("test accuracy", [f"{record.test_acc:.3f}" for record in records], always=True)
    best = max(records, key=lambda record: record.test_acc)
    add("vs best accuracy", [f"{record.test_acc - best.test_acc:+.3f}" for record in records], always=True)
    return rows


def _input(record: RunRecord) -> str:
    size = record.config.get("input_size") or record.spec.get("input_size")
    return f"{record.spec.get('in_channels', '?')}x{size}x{size}"


# -- the runs a session finished -------------------------------------------------------------------------------


class FinishedRuns:
    """Runs finished per browser session, until that session's runs view takes them (bounded both ways)."""

    def __init__(self, sessions: int = 1000, per_session: int = 50) -> None:
        self._items: OrderedDict[str, deque[RunRecord]] = OrderedDict()
        self._sessions, self._per_session = sessions, per_session
        self._lock = threading.Lock()

    def add(self, session: str | None, record: RunRecord) -> None:
        if not session:
            return
        with self._lock:
            queue = self._items.setdefault(session, deque(maxlen=self._per_session))
            queue.append(record)
            self._items.move_to_end(session)
            while len(self._items) > self._sessions:
                self._items.popitem(last=False)

    def add_folder(self, session: str | None, folder: str | os.PathLike) -> RunRecord | None:
        """Add the run saved in ``folder`` (its ``run.json``); None when there is none or it is unreadable."""
        path = Path(folder) / RUN_FILE
        try:
            record = read_run(path)[0]
        except (SpecError, OSError):
            return None
        self.add(session, record)
        return record

    def take(self, session: str | None) -> list[RunRecord]:
        if not session:
            return []
        with self._lock:
            queue = self._items.pop(session, None)
        return list(queue or ())


FINISHED = FinishedRuns()


# -- checks and words ---------------------------------------------------------------------------------------------

_INTS = {"params", "macs", "epochs", "steps"}
_FLOATS = {"seconds", "train_seconds", "examples_per_s", "test_acc", "test_loss", "train_acc", "train_loss"}
_TEXTS = {"run_id", "label", "family", "dataset", "device", "precision", "created", "format"}


def _check(name: str, value: Any) -> Any:
    where = f"run.{name}"
    if name in _INTS:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**18:
            raise SpecError(where, f"expected a whole number >= 0, got {str(value)[:40]!r}")
        return value
    if name in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value < 0:
            raise SpecError(where, f"expected a number >= 0, got {str(value)[:40]!r}")
        return float(value)
    if name in _TEXTS:
        if not isinstance(value, str) or len(value) > 200:
            raise SpecError(where, "expected a short text")
        return value
    if name in ("preset", "checkpoint"):
        if value is not None and (not isinstance(value, str) or len(value) > 200):
            raise SpecError(where, "expected a short text or null")
        return value
    if name in ("spec", "config"):
        if not isinstance(value, Mapping) or len(value) > 200:
            raise SpecError(where, "expected an object")
        return _plain(value)
    if name == "notes":
        if not isinstance(value, (list, tuple)):
            raise SpecError(where, "expected a list of texts")
        return tuple(str(note)[:500] for note in value[:20])
    if name == "curves":
        if not isinstance(value, Mapping):
            raise SpecError(where, "expected an object of number lists")
        curves = {}
        for key, points in value.items():
            if key not in CURVES:
                continue
            if not isinstance(points, list) or len(points) > MAX_POINTS or not all(
                    isinstance(point, (int, float)) and not isinstance(point, bool) and math.isfinite(point)
                    for point in points):
                raise SpecError(f"{where}.{key}", f"expected at most {MAX_POINTS:,} finite numbers")
            curves[key] = [float(point) for point in points]
        return curves
    return value


def _plain(value: Any, depth: int = 0) -> Any:
    if depth > 6:
        return None
    if isinstance(value, Mapping):
        return {str(key)[:100]: _plain(item, depth + 1) for key, item in list(value.items())[:200]}
    if isinstance(value, (list, tuple)):
        return [_plain(item, depth + 1) for item in list(value)[:1000]]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)[:500]


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "?"


def _si(value: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.2f}{unit}"
    return f"{value:.0f}"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"
