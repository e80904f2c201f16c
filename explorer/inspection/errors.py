"""The errors an inspection raises: both are :class:`~explorer.specs.SpecError` (so a ``ValueError``), with a
message a student understands and the field it concerns (``checkpoint`` or ``image``)."""
from __future__ import annotations

from ..specs import SpecError


class CheckpointError(SpecError):
    """A file that is not a checkpoint this app's training wrote, a damaged one, or one whose parts disagree."""

    def __init__(self, message: str, message_zh: str = "") -> None:
        super().__init__("checkpoint", message, message_zh)


class ImageError(SpecError):
    """Something that is not an image we can read, or one too large to decode safely."""

    def __init__(self, message: str, message_zh: str = "") -> None:
        super().__init__("image", message, message_zh)
