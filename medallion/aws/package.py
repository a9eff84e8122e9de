"""What a deploy uploads to the scripts bucket: the entry scripts, jobs.zip, contracts and views.

The local job runner builds the same package, so local runs launch what Glue would.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from infra.common import LAYERS
from medallion.aws import DeployError

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same code gives the same jobs.zip


@dataclass(frozen=True)
class Package:
    """The files a deploy uploads to the scripts bucket: local path to key."""

    files: list[tuple[Path, str]] = field(default_factory=list)

    def keys(self) -> list[str]:
        """The S3 keys, in upload order."""
        return [key for _, key in self.files]


def build_jobs_zip(root: Path, out: Path) -> Path:
    """Zip the ``jobs`` package for Glue's ``--extra-py-files``, byte-for-byte reproducibly.

    Parameters
    ----------
    root : Path
        The repository root (holding ``jobs/``).
    out : Path
        The zip to write.

    Returns
    -------
    Path
        ``out``.
    """
    sources = sorted(
        p
        for p in (root / "jobs").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in {".py", ".yaml", ".json"}
    )
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sources:
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), compress_type=zipfile.ZIP_DEFLATED)
    return out


def package(root: Path, build_dir: Path) -> Package:
    """Everything the stack's jobs and state machine read from the scripts bucket.

    Parameters
    ----------
    root : Path
        The repository root.
    build_dir : Path
        Where to write ``jobs.zip``.

    Returns
    -------
    Package
        Entry scripts (``jobs/<layer>/job.py``), ``jobs.zip``, ``contracts/`` and ``sql/``.
    """
    files = [(root / "jobs" / layer / "job.py", f"jobs/{layer}/job.py") for layer in LAYERS]
    missing = [str(path) for path, _ in files if not path.is_file()]
    if missing:
        raise DeployError(f"entry script(s) missing: {', '.join(missing)}")
    files.append((build_jobs_zip(root, build_dir / "jobs.zip"), "jobs.zip"))
    for folder, patterns in (("contracts", ("*.yaml", "*.yml")), ("sql", ("*.sql", "*.yml"))):
        found = sorted({p for pattern in patterns for p in (root / folder).rglob(pattern)})
        files += [(p, f"{folder}/{p.relative_to(root / folder).as_posix()}") for p in found]
    return Package(files)
