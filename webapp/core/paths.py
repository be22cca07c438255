"""Server paths never reach a page: messages from the training library and the workers name files by
their full path (right for a command line), which would tell a user how the server is laid out."""

from __future__ import annotations

import re

# An absolute POSIX path of two components or more (not a URL's path: no scheme or host before it).
_ABSOLUTE = re.compile(r"(?<![\w:/.~-])/(?:[\w.@+-]+/)+([\w.@+-]+)")


def hide_paths(text: str) -> str:
    """`text` with every absolute path shortened to its last component: '/srv/data/checkpoints/7/model.pt'
    becomes 'model.pt'."""
    return _ABSOLUTE.sub(lambda m: m.group(1), text)
