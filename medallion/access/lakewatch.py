"""Watches a local lake with inotify and records each operation as S3 requests of a principal."""

from __future__ import annotations

import contextlib
import os
import select
import threading
from collections.abc import Iterator
from pathlib import Path

from medallion.access.mapping import lake_key, s3_accesses
from medallion.access.model import Access


class LakeWatcher:
    """Every directory of a lake watched; events become accesses of the principal acting now.

    inotify to S3: a directory opened is a listing (``s3:ListBucket`` with its prefix), a file
    closed after reading only is ``s3:GetObject``, a file created, written or moved in is
    ``s3:PutObject``, one deleted or moved out ``s3:DeleteObject``; a rename (how Spark commits
    ``_temporary/`` and ``.spark-staging-*`` output) is on S3 a copy, so its source is also read.
    Events outside an :meth:`acting` block are not attributed to anyone and are dropped.
    """

    def __init__(self, root: Path) -> None:
        # lazy: inotify_simple is a dev dependency (recording), not one of the runtime's
        from inotify_simple import INotify, flags

        self.root = root.resolve()
        self._flags = flags
        self._mask = (
            flags.OPEN
            | flags.CLOSE_NOWRITE
            | flags.CLOSE_WRITE
            | flags.CREATE
            | flags.DELETE
            | flags.MOVED_FROM
            | flags.MOVED_TO
        )
        self._inotify = INotify()
        self._paths: dict[int, Path] = {}
        self._moves: dict[int, Path] = {}
        self._lock = threading.RLock()
        self._one_at_a_time = threading.Lock()  # held while a principal acts
        self._stop = threading.Event()
        self.principal: str | None = None
        self.accesses: set[Access] = set()
        self.overflowed = False
        self._watch_tree(self.root)
        self._thread = threading.Thread(target=self._loop, name="lake-watch", daemon=True)
        self._thread.start()

    # --- attribution ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def acting(self, principal: str) -> Iterator[None]:
        """Attribute what happens in the lake to ``principal`` until the block ends.

        One principal acts at a time: inotify cannot tell who touched a file, and the state
        machine starts a layer's crawler as its job ends, so a crawl overlapping the next job
        would take (or, ending first, drop) that job's operations. A block entered while
        another is open waits for it to end.
        """
        with self._one_at_a_time:
            self.flush()
            with self._lock:
                self.principal = principal
            try:
                yield
            finally:
                self.flush()
                with self._lock:
                    self.principal = None

    def flush(self) -> None:
        """Process every event the kernel has queued so far."""
        with self._lock:
            self._handle(self._inotify.read(timeout=0))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._inotify.close()

    # --- plumbing ------------------------------------------------------------------------------
    def _loop(self) -> None:
        # Events are read and handled under one lock hold: read outside it, a batch could be
        # handled after acting() switched principal, and go to the next job (or to none).
        while not self._stop.is_set():
            with contextlib.suppress(OSError, ValueError):
                ready, _, _ = select.select([self._inotify.fileno()], [], [], 0.05)
                if ready:
                    with self._lock:
                        self._handle(self._inotify.read(timeout=0))

    def _watch_tree(self, top: Path, record_files: bool = False) -> None:
        """Watch ``top`` and every folder under it, each watched before it is listed.

        The order matters: a folder listed and then watched (as ``os.walk`` would have it) misses
        a directory renamed into it between the two, both its ``MOVED_TO`` and its entry, and
        that directory's watch keeps its old path (Spark's commit renames ``.spark-staging-*/``
        partitions into freshly made folders: the next job's reads of them were recorded under
        the staging path). Watched first, such a rename is an event or an entry, possibly both.
        """
        try:
            self._paths[self._inotify.add_watch(top, self._mask)] = top
            entries = list(os.scandir(top))
        except OSError:
            return  # gone already: its removal is an event of its parent
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                self._watch_tree(Path(entry.path), record_files)
            elif record_files:
                # Written before the watch was there: S3 would have had PutObject for each.
                self._record("write", Path(entry.path))

    def _record(self, kind: str, path: Path) -> None:
        if self.principal is None:
            return
        try:
            relative = path.relative_to(self.root).as_posix()
        except ValueError:
            return
        key = lake_key("" if relative == "." else relative)
        if key is None:
            return
        self.accesses.update(s3_accesses(self.principal, kind, key))

    def _handle(self, events: list) -> None:
        f = self._flags
        for event in events:
            if event.mask & f.Q_OVERFLOW:
                self.overflowed = True
                continue
            folder = self._paths.get(event.wd)
            if folder is None:
                continue
            path = folder / event.name if event.name else folder
            is_dir = bool(event.mask & f.ISDIR)
            if is_dir:
                self._handle_dir(event, path)
            elif event.mask & f.CLOSE_NOWRITE:
                self._record("read", path)
            elif event.mask & (f.CREATE | f.CLOSE_WRITE):
                self._record("write", path)
            elif event.mask & f.DELETE:
                self._record("delete", path)
            elif event.mask & f.MOVED_FROM:
                self._record("read", path)
                self._record("delete", path)
            elif event.mask & f.MOVED_TO:
                self._record("write", path)

    def _handle_dir(self, event: object, path: Path) -> None:
        f = self._flags
        mask = event.mask  # type: ignore[attr-defined]
        if mask & f.OPEN:
            self._record("list", path)
        elif mask & f.CREATE:
            self._watch_tree(path, record_files=True)
        elif mask & f.MOVED_FROM:
            self._moves[event.cookie] = path  # type: ignore[attr-defined]
        elif mask & f.MOVED_TO:
            old = self._moves.pop(event.cookie, None)  # type: ignore[attr-defined]
            self._moved_dir(old, path)

    def _moved_dir(self, old: Path | None, new: Path) -> None:
        """A directory renamed: on S3 every object under it is copied to the new prefix."""
        for wd, watched in list(self._paths.items()):
            if old is not None and (watched == old or old in watched.parents):
                self._paths[wd] = new / watched.relative_to(old)
        for folder, _, files in os.walk(new):
            for name in files:
                target = Path(folder) / name
                self._record("write", target)
                if old is not None:
                    source = old / target.relative_to(new)
                    self._record("read", source)
                    self._record("delete", source)
        if old is None:
            self._watch_tree(new)
