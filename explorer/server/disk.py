"""The disk that exports and checkpoints may hold on a server, and their ageing (no Gradio here).

Every file the app serves lives in its own folder ``<root>/<kind>/<64 hex digits>/``, where ``root`` is inside
Gradio's cache folder, so Gradio serves it without copying it (one copy per file) and its address is as hard to
guess as Gradio's own. :class:`DiskBudget` counts what is there plus what is being written, deletes folders older
than the maximum age, makes room by deleting the oldest folders older than a grace period (long enough to have
downloaded them), and refuses (:class:`DiskFull`) when even that is not enough.
"""
from __future__ import annotations

import secrets
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from .limits import LimitExceeded

_MB = 1_000_000


class DiskFull(LimitExceeded):
    """No room under the cap for one more file."""


def format_bytes(size: float) -> str:
    """Sizes as people read them: 553 MB, 27.6 MB, 10.9 kB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}" if size < 100 * scale else f"{size / scale:,.0f} {unit}"
    return f"{int(size)} bytes"


class DiskBudget:
    """Folders of served files under ``root``, their total size held under ``cap_bytes``.

    Args:
        root: the app's own folder, inside Gradio's cache (created when first needed).
        cap_bytes: what all folders together may hold, counting files being written at their estimated size.
        max_age_seconds: folders older than this are deleted whenever the budget is consulted.
        grace_seconds: to make room, folders older than this may be deleted early (oldest first); default the
            smaller of ten minutes and the maximum age.
    """

    def __init__(self, root: str | Path, *, cap_bytes: int, max_age_seconds: float,
                 grace_seconds: float | None = None, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.cap_bytes = int(cap_bytes)
        self.max_age_seconds = float(max_age_seconds)
        self.grace_seconds = float(min(600.0, max_age_seconds) if grace_seconds is None else grace_seconds)
        self._clock = clock
        self._active: dict[Path, int] = {}  # folder -> bytes reserved while it is being written
        self._lock = threading.RLock()

    # -- folders ------------------------------------------------------------------------------------------------
    def new_folder(self, kind: str) -> Path:
        """A fresh, unguessable folder for one file: ``<root>/<kind>/<64 hex>``."""
        if not kind.isidentifier():
            raise ValueError(f"kind must be a plain name, got {kind!r}")
        folder = self.root / kind / secrets.token_hex(32)
        folder.mkdir(parents=True)
        return folder

    def remove(self, folder: str | Path) -> None:
        """Delete one folder (a cancelled run's, a failed export's); only folders under the root."""
        folder = Path(folder)
        if self._item_of(folder) is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def _item_of(self, path: Path) -> Path | None:
        try:
            relative = path.resolve().relative_to(self.root.resolve())
        except (ValueError, OSError):
            return None
        return self.root / relative.parts[0] / relative.parts[1] if len(relative.parts) >= 2 else None

    def _items(self) -> list[tuple[Path, float, int]]:
        """(folder, newest modification time, bytes) of every item folder."""
        items = []
        if not self.root.is_dir():
            return items
        for kind in self.root.iterdir():
            if not kind.is_dir():
                continue
            for folder in kind.iterdir():
                try:
                    newest, size = folder.stat().st_mtime, 0
                    for path in folder.rglob("*"):
                        if path.is_file():
                            stat = path.stat()
                            newest, size = max(newest, stat.st_mtime), size + stat.st_size
                except OSError:  # deleted meanwhile (Gradio's delete_cache, another handler)
                    continue
                items.append((folder, newest, size))
        return items

    # -- accounting ---------------------------------------------------------------------------------------------
    def used_bytes(self) -> int:
        """Bytes on disk under the root plus what active writes still expect to add."""
        with self._lock:
            items = self._items()
            on_disk = sum(size for _, _, size in items)
            sizes = {folder: size for folder, _, size in items}
            pending = sum(max(reserved - sizes.get(folder, 0), 0) for folder, reserved in self._active.items())
            return on_disk + pending

    def prune(self) -> int:
        """Delete folders older than the maximum age (never one being written); returns the bytes freed."""
        with self._lock:
            now, freed = self._clock(), 0
            for folder, newest, size in self._items():
                if folder not in self._active and now - newest > self.max_age_seconds:
                    shutil.rmtree(folder, ignore_errors=True)
                    freed += size
            return freed

    @contextmanager
    def reserve(self, nbytes: int, folder: str | Path) -> Iterator[None]:
        """Hold ``nbytes`` for a file about to be written into ``folder``, or raise :class:`DiskFull`.

        While the block runs, the folder is never pruned and counts at least ``nbytes``; afterwards the file on
        disk counts.
        """
        folder = Path(folder)
        with self._lock:
            self.prune()
            needed = int(nbytes)
            if self.used_bytes() + needed > self.cap_bytes:
                self._evict(needed)
            used = self.used_bytes()
            if used + needed > self.cap_bytes:
                minutes = max(1, round(self.grace_seconds / 60))
                raise DiskFull(
                    f"The server's space for downloads is full: {format_bytes(used)} of {format_bytes(self.cap_bytes)}"
                    f" are held by files made in the last {minutes} minute(s), and this one needs about "
                    f"{format_bytes(needed)}. Try again in a few minutes, or make it on your own computer with "
                    f"`python -m explorer export ...`.")
            self._active[folder] = needed
        try:
            yield
        finally:
            with self._lock:
                self._active.pop(folder, None)

    def _evict(self, needed: int) -> None:
        """Delete the oldest folders past the grace period until ``needed`` bytes fit (or none is left)."""
        now = self._clock()
        candidates = sorted((item for item in self._items()
                             if item[0] not in self._active and now - item[1] > self.grace_seconds),
                            key=lambda item: item[1])
        for folder, _, _ in candidates:
            if self.used_bytes() + needed <= self.cap_bytes:
                return
            shutil.rmtree(folder, ignore_errors=True)

    def usage_line(self) -> str:
        return f"{format_bytes(self.used_bytes())} of {format_bytes(self.cap_bytes)}"
