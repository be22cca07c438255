from __future__ import annotations

from datetime import timedelta

from django import template

from webapp.experiments.compare import MAX_COMPARED, MIN_COMPARED

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """A run's length as 1h 02m, 3m 05s or 12s; a dash when it has none."""
    if value is None:
        return "–"
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


@register.filter
def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


@register.inclusion_tag("includes/compare_bar.html", takes_context=True)
def compare_bar(context, scope: str, key: object = "", best_n: bool = False) -> dict:
    """The "Compare (n)" bar for the runs ticked in a list; `scope` (and `key`, e.g. a sweep's number) names
    the selection kept in the browser tab, per user (another sign-in in the tab starts empty); `best_n` adds
    the "tick the best N" shortcut (sweep pages)."""
    user = context["request"].user
    scope = f"{scope}-{key}" if key != "" else scope
    return {
        "scope": f"{scope}.u{user.pk}",
        "best_n": best_n,
        "compare_min": MIN_COMPARED,
        "compare_max": MAX_COMPARED,
    }
