"""Reads the contracts a job runs with, from a local directory or the scripts bucket."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from jobs.common.contracts import Contract, default_contracts_dir, load_contracts
from jobs.common.errors import ContractError, JobArgumentError
from jobs.common.lake import LakeFiles


def read_contracts(files: LakeFiles, contracts_root: str) -> dict[str, Contract]:
    """Every ``*.yaml`` under ``contracts_root`` (default: the checkout's contracts/)."""
    root = contracts_root or str(default_contracts_dir())
    texts = {
        shown_path(path, root): files.read_text(path)
        for path in _listed_files(files, root)
        if path.endswith((".yaml", ".yml"))
    }
    if not texts:
        raise ContractError(f"{root}: no contracts (*.yaml) found")
    return load_contracts(texts)


def shown_path(path: str, root: str) -> str:
    """How errors name a contract file: its S3 key (``scripts/contracts/reviews.yaml``), or
    locally its path under the contracts root's parent (``contracts/reviews.yaml``)."""
    if path.startswith(("s3://", "s3a://", "s3n://")):
        return path.split("/", 3)[3]
    local_root = (root.split(":", 1)[1] if root.startswith("file:") else root).rstrip("/")
    start = path.find(f"{local_root}/")
    under = path[start + len(local_root) + 1 :] if start >= 0 else path.rsplit("/", 1)[-1]
    return f"{PurePosixPath(local_root).name}/{under}"


def _listed_files(files: LakeFiles, root: str) -> list[str]:
    """The files under ``root``, found by listing the prefix and nothing else.

    On S3 the contracts folder is a key prefix, not an object: asking whether it exists (what
    ``LakeFiles.list_files`` does first) sends a HEAD or GET for the folder key itself, which a
    role allowed only to list the prefix and read the objects under it is denied. Hadoop's
    ``listFiles`` on a prefix that holds objects only lists; a missing local directory raises
    FileNotFoundException, which means no contracts.
    """
    path = files._path(root)
    try:
        iterator: Any = files._fs(root).listFiles(path, True)
        found = []
        while iterator.hasNext():
            status = iterator.next().getPath()
            if not status.getName().startswith((".", "_")):
                found.append(str(status.toString()))
    except Exception as exc:  # py4j's error, raised by the JVM call
        if "FileNotFoundException" not in str(exc):
            raise
        return []
    return sorted(found)


def select_datasets(contracts: dict[str, Contract], wanted: tuple[str, ...]) -> list[str]:
    """The datasets to process: the requested ones (validated) or all, in dependency order."""
    unknown = sorted(set(wanted) - set(contracts))
    if unknown:
        raise JobArgumentError(
            f"--datasets names unknown dataset(s) {unknown}; known: {sorted(contracts)}"
        )
    chosen = set(wanted or contracts)
    ordered: list[str] = []

    def visit(name: str, seen: tuple[str, ...] = ()) -> None:
        if name in ordered or name not in contracts:
            return
        if name in seen:
            raise ContractError(f"contracts reference each other in a cycle: {(*seen, name)}")
        for ref in sorted(contracts[name].references):
            visit(ref, (*seen, name))
        ordered.append(name)

    for name in sorted(contracts):
        visit(name)
    return [name for name in ordered if name in chosen]
