"""A throwaway PostgreSQL server on 127.0.0.1, for the tests, the benchmark and trying the
database path on a laptop: its own data directory, a free port, password authentication."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

# Debian's server binaries (`apt-get install postgresql`), newest version first.
BIN_DIRS = tuple(
    str(path)
    for path in sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
)
USER = "medallion"
DATABASE = "retail"

# The watcher a started server gets (LocalPostgres.start): it reads its stdin, a pipe only the
# server's owner holds, until end of file. The owner closes it when it stops the server itself;
# the kernel closes it when the owner dies any other way (a SIGKILLed test worker, say), and the
# watcher then stops the server and removes its directory, so no server outlives its owner.
WATCHER = """
import shutil, subprocess, sys
command, root = sys.argv[1:-1], sys.argv[-1]
sys.stdin.buffer.read()
subprocess.run(command, capture_output=True, timeout=120)
shutil.rmtree(root, ignore_errors=True)
"""


def postgres_bin() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``: $MEDALLION_PG_BIN, Debian's, or PATH's."""
    for candidate in (os.environ.get("MEDALLION_PG_BIN", ""), *BIN_DIRS):
        if candidate and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalPostgres:
    """A PostgreSQL server in a temporary directory; ``start()``, then ``stop()`` removes it.

    As root (PostgreSQL refuses to run as root) the server runs as the ``postgres`` user.
    """

    def __init__(self, bin_dir: Path | None = None) -> None:
        found = bin_dir or postgres_bin()
        if found is None:
            raise RuntimeError(
                "PostgreSQL server binaries not found (scripts/setup.sh installs them)"
            )
        self.bin = found
        self.root = Path(tempfile.mkdtemp(prefix="medallion-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.running = False
        self._watcher: subprocess.Popen[bytes] | None = None

    @staticmethod
    def _as_server_user(*command: str) -> list[str]:
        return [*(["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []), *command]

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._as_server_user(*command), check=True, capture_output=True, text=True, timeout=120
        )

    def _watch(self) -> None:
        """Start the watcher that stops the server if this process dies without stopping it."""
        stop = self._as_server_user(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"
        )
        # A session of its own: a signal to this process's group (Ctrl-C, a killed test run)
        # reaches the owner, not the watcher, which must outlive it to clean up.
        self._watcher = subprocess.Popen(
            [sys.executable, "-c", WATCHER, *stop, str(self.root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def start(self) -> LocalPostgres:
        """initdb (scram-sha-256 passwords), then start on 127.0.0.1:<port> and create the
        database; waits until it accepts connections."""
        password_file = self.root / "pw"
        password_file.write_text(self.password)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(password_file, "postgres")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "--auth=scram-sha-256",
            f"--pwfile={password_file}", "--encoding=UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        password_file.unlink()
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.root / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip
        self.running = True
        self._watch()
        self.execute(f"CREATE DATABASE {DATABASE}", database="postgres")
        return self

    def url(self, password: bool = True, database: str = DATABASE) -> str:
        """``postgresql://medallion[:password]@127.0.0.1:<port>/<database>``."""
        secret = f":{self.password}" if password else ""
        return f"postgresql://{USER}{secret}@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = DATABASE) -> list[tuple[object, ...]]:
        """Run one statement (autocommit) and return its rows, if any."""
        import psycopg  # lazy: only the database path needs the driver

        with psycopg.connect(self.url(database=database), autocommit=True) as conn:
            cursor = conn.execute(sql.encode())
            return list(cursor.fetchall()) if cursor.description else []

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its directory."""
        if self._watcher is not None:
            self._watcher.kill()  # this process stops the server itself
            self._watcher.wait()
            if self._watcher.stdin:
                self._watcher.stdin.close()
            self._watcher = None
        if self.running:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.running = False
        shutil.rmtree(self.root, ignore_errors=True)
