"""Other names files give a contract's columns (a column's ``aliases``), read as the column.

One rule for bronze, which maps a file's fields to the contract's columns, and for the schema
drift rule, which compares a file's own names with the contract's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def named_as_contract(
    header: Sequence[str], aliases: Mapping[str, str], case_sensitive: bool = False
) -> list[str]:
    """A file's field names with each one named like an alias of a source column (in any case
    for a CSV header, exactly for JSON keys) renamed to that column's source name, unless the
    file has the source name too (then the alias stays a column of its own). ``aliases``:
    alias -> source name (``Contract.source_aliases``).
    """

    def key(name: str) -> str:
        return name if case_sensitive else name.lower()

    keyed = {key(alias): source for alias, source in aliases.items()}
    present = {key(name) for name in header}
    renamed = []
    for name in header:
        source = keyed.get(key(name))
        renamed.append(source if source and key(source) not in present else name)
    return renamed
