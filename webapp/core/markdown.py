"""Markdown typed by users (experiment notes), rendered to HTML and then sanitized with nh3, so no
script, event handler or javascript: link from a note reaches another member's browser."""

from __future__ import annotations

import markdown as md
import nh3

EXTENSIONS = ["fenced_code", "tables", "sane_lists"]


def render_markdown(text: str) -> str:
    html = md.markdown(text or "", extensions=EXTENSIONS, output_format="html")
    return nh3.clean(html, url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")
