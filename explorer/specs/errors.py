"""The one exception type for anything wrong with a user's spec."""
from __future__ import annotations


class SpecError(ValueError):
    """An invalid architecture spec.

    Attributes:
        field: where the problem is, e.g. ``"conv_arch[2]"`` or ``"blocks.inception4e.ch3x3"``;
            empty when the problem concerns the spec as a whole.
        message: what is wrong, in words a student understands.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)
