"""Telling a table being rewritten from a table without files, for ``medallion query``.

A Spark overwrite removes the table's folder, writes its files under ``_temporary`` and then commits
them, so a query that lists the folder in between fails with DuckDB's ``IO error: No files found``.
The query waits and tries again while the table is being rewritten, and fails at once otherwise.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

SETTLE_SECONDS = 120.0  # how long a query waits for a table being rewritten to have files again
QUIET_SECONDS = 1.0  # how long a table must look settled without its files to be a real error


def settling(message: str) -> bool:
    """Whether an IO error names a table being rewritten, looked at for up to QUIET_SECONDS.

    One look is not enough: a rewrite passes through moments that look settled without files
    (``rmtree`` has removed the files but not yet the folder; ``mkdir`` has made the folder but
    not yet its ``_temporary``). Such a moment lasts microseconds; a real missing file stays.
    """
    if not message.startswith("IO error"):
        return False
    quiet_until = time.monotonic() + QUIET_SECONDS
    while not being_rewritten(message):
        if time.monotonic() > quiet_until:
            return False
        time.sleep(0.02)
    return True


def being_rewritten(message: str) -> bool:
    """Whether an IO error names a table being rewritten (gone, ``_temporary``) or settled since."""
    for path in re.findall(r'"(/[^"]+)"', message) if message.startswith("IO error") else []:
        head = re.split(r"[*?\[]", path, maxsplit=1)[0]
        folder = Path(head) if head != path else Path(path).parent
        settled = any(Path("/").glob(path.lstrip("/"))) if head != path else Path(path).exists()
        if settled or not folder.is_dir() or (folder / "_temporary").exists():
            return True
    return False
