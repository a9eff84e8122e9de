"""Telling a table being rewritten from a table without files, for ``medallion query``.

A Spark overwrite removes the table's folder, writes its files under ``_temporary`` and then commits
them, so a query that lists the folder in between fails with DuckDB's ``IO error: No files found``.
The query waits and tries again while the table is being rewritten, and fails at once otherwise.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from medallion.aws.athena import QueryError

SETTLE_SECONDS = 120.0  # how long a query waits for a table being rewritten to have files again
QUIET_SECONDS = 1.0  # how long a table must look settled without its files to be a real error


def retrying() -> Retrying:
    """Runs a query again while a table it reads is being rewritten (:func:`settling`), for up to
    SETTLE_SECONDS, then raises its last error; any other error at once.

    The first tries come soon (20 ms, doubling to half a second): a small table's rewrite leaves
    it without files for a fraction of a second, a big one's for as long as its job writes, and
    each try opens the catalog (about 30 ms of CPU) beside that job.
    """
    return Retrying(
        retry=retry_if_exception(lambda e: isinstance(e, QueryError) and settling(e.message)),
        wait=wait_exponential(multiplier=0.02, max=0.5),
        stop=stop_after_delay(SETTLE_SECONDS),
        reraise=True,
    )


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
