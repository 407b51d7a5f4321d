"""The files the ledger's rows name (documents a case produced, an imported invoice's PDF): found only under
the documents store, so that a row can never open another file."""

from pathlib import Path


def stored_file(store: Path, path: str | None) -> Path | None:
    """The file a ledger row names (as it was written: under the documents store), or None when it is no longer
    there or lies outside the store (a row must never open another file)."""
    if not path:
        return None
    found = Path(path).resolve()
    return found if found.is_relative_to(store.resolve()) and found.is_file() else None
