"""An inspection written to a folder: PNGs of every picture and ``inspection.json`` with the numbers."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .checkpoints import LoadedCheckpoint
from .inspector import Inspection

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def write_inspection(result: Inspection, checkpoint: LoadedCheckpoint | None, folder: Path) -> list[Path]:
    """Write ``input.png`` (what the network sees), ``gradcam.png``, ``filters.png``,
    ``features/NN_<block>.png`` (and ``NN_<block>_branches.png`` for Inception blocks) and ``inspection.json``
    (probabilities, top classes, Grad-CAM map, block shapes and top channels, the checkpoint's metadata and the
    file names). Returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    files: dict[str, Any] = {"features": {}}

    def save(image: Any, relative: str) -> str:
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, format="PNG")
        written.append(path)
        return relative

    if result.input_image is not None:
        files["input"] = save(result.input_image, "input.png")
    if result.gradcam is not None and result.gradcam.overlay is not None:
        files["gradcam"] = save(result.gradcam.overlay, "gradcam.png")
    if result.filters is not None and result.filters.grid is not None:
        files["filters"] = save(result.filters.grid, "filters.png")
    for number, maps in enumerate(result.features, 1):
        stem = f"features/{number:02d}_{_UNSAFE.sub('_', maps.name)[:80]}"
        entry = {}
        if maps.grid is not None:
            entry["grid"] = save(maps.grid, f"{stem}.png")
        if maps.branches_grid is not None:
            entry["branches"] = save(maps.branches_grid, f"{stem}_branches.png")
        files["features"][maps.name] = entry
    data = {"inspection": result.to_dict(), "files": files,
            "checkpoint": checkpoint.metadata() if checkpoint is not None else None}
    path = folder / "inspection.json"
    path.write_text(json.dumps(data, indent=2, allow_nan=False, default=str), encoding="utf-8")
    written.append(path)
    return written
