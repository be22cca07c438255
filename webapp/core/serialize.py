"""Small pieces every object's dictionary (API, websockets, pages) formats the same way."""

from __future__ import annotations

from datetime import datetime


def iso(value: datetime | None) -> str | None:
    """A date and time as ISO 8601 with its offset (what `new Date(...)` reads), or None."""
    return value.isoformat() if value else None
