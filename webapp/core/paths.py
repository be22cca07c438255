"""Server paths never reach a page: messages from the training library and the workers name files by
their full path (right for a command line), which would tell a user how the server is laid out.

Only the server's own folders are cut (the data, media, checkpoint and cache folders, the code, the
Python installation, the temporary folder, the home folder): names a user wrote, such as an archive's
entry "/etc/passwd" that a rejection quotes, stay as they are.
"""

from __future__ import annotations

import re
import sys
import tempfile
from functools import cache
from pathlib import Path

from django.conf import settings


def _server_roots() -> list[str]:
    roots = [
        settings.DATA_DIR,
        settings.MEDIA_ROOT,
        settings.CHECKPOINT_ROOT,
        settings.DATASET_CACHE_DIR,
        settings.DATASET_TORCHVISION_DIR,
        *settings.DATASET_FOLDER_ROOTS,
        settings.BASE_DIR,
        sys.prefix,
        sys.base_prefix,
        tempfile.gettempdir(),
        Path.home(),
    ]
    names = {str(Path(r)).rstrip("/") for r in roots}
    return sorted((n for n in names if n and n != "/"), key=len, reverse=True)


@cache
def _pattern(roots: tuple[str, ...]) -> re.Pattern:
    alternatives = "|".join(re.escape(r) for r in roots)
    return re.compile(
        rf"(?:{alternatives})(?:/[^\s/:;,'\"()]+)*/([^\s/:;,'\"()]+)|(?:{alternatives})(?=[\s:;,'\"()]|$)"
    )


def hide_paths(text: str) -> str:
    """`text` with every path under a server folder cut to its last component:
    '/srv/data/checkpoints/experiment-7/model.pt' becomes 'model.pt'; a server folder alone becomes '…'."""
    return _pattern(tuple(_server_roots())).sub(lambda m: m.group(1) or "…", text)
