"""Explanations written with the user's own numbers (Markdown). Pure: spec + analysis -> text.

Each family's teaching module (``explorer.teaching.<family>``, named by the registry) writes its own; this
module only dispatches.
"""
from __future__ import annotations

from .analysis import Analysis
from .families import family_of
from .specs import Spec
from .teaching import check_pair, parameters_section, receptive_field_section


def explain(spec: Spec, analysis: Analysis, *, zh: bool = False) -> str:
    """Why this network looks the way it does, computed for the current widths and sizes (in Simplified Chinese
    when ``zh``)."""
    check_pair(spec, analysis)
    try:
        module = family_of(spec).teaching_module()
    except ModuleNotFoundError as exc:  # a family registered before its teaching module is written
        if not (exc.name or "").startswith("explorer.teaching"):
            raise
        return "\n".join([parameters_section(analysis, zh=zh), "", receptive_field_section(analysis, zh=zh)])
    return module.explain(spec, analysis, zh=zh)
