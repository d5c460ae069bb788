"""Pure helpers the report pages share for drawing: no Django here."""

from __future__ import annotations


def shorten(text: str, size: int) -> str:
    """``text`` cut to ``size`` characters with an ellipsis, for an axis or a table cell."""
    return text if len(text) <= size else text[: size - 1] + "…"
