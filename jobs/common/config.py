"""Reads the contracts a job runs with, from a local directory or the scripts bucket."""

from __future__ import annotations

from jobs.common.contracts import Contract, default_contracts_dir, load_contracts
from jobs.common.errors import ContractError, JobArgumentError
from jobs.common.lake import LakeFiles


def read_contracts(files: LakeFiles, contracts_root: str) -> dict[str, Contract]:
    """Every ``*.yaml`` under ``contracts_root`` (default: the checkout's contracts/)."""
    root = contracts_root or str(default_contracts_dir())
    texts = {
        info.path.rsplit("/", 1)[-1]: files.read_text(info.path)
        for info in files.list_files(root)
        if info.path.endswith((".yaml", ".yml"))
    }
    if not texts:
        raise ContractError(f"{root}: no contracts (*.yaml) found")
    return load_contracts(texts)


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
