"""Files people send us (a reply's attachments, a debtor's proof of payment or dispute papers): kept in the
documents store under a folder of their own when their bytes are what they claim and small enough; the rest is
named with why, never kept. One implementation for every door that takes files (the files we hand back are
found by relance/ledger/documents.py)."""

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from starlette.datastructures import UploadFile

from relance.domain.limits import printable

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# What each type's bytes begin with: a declared type alone is whatever the sender says.
SIGNATURES = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "text/plain": (),  # any bytes
}


def keep_uploads(
    store: Path, folder: str, key: str, files: Sequence[UploadFile], allowed: frozenset[str]
) -> tuple[list[str], list[str]]:
    """The files kept (their paths in the documents store, under `folder`/<hash of key>) and those refused
    (name: why). Blocking: call it in a thread."""
    kept: list[str] = []
    refused: list[str] = []
    where = store / folder / hashlib.sha256(key.encode()).hexdigest()[:16]
    for n, upload in enumerate(files, start=1):
        name = re.sub(r"[^\w.-]", "_", printable(upload.filename or f"attachment{n}", 100)).lstrip(".") or f"file{n}"
        kind = (upload.content_type or "").split(";")[0].strip().lower()
        upload.file.seek(0)
        data = upload.file.read(MAX_UPLOAD_BYTES + 1)
        if kind not in allowed:
            refused.append(f"{name}: type {kind or 'unknown'} not kept")
        elif len(data) > MAX_UPLOAD_BYTES:
            refused.append(f"{name}: over {MAX_UPLOAD_BYTES:,} bytes")
        elif SIGNATURES[kind] and not data.startswith(SIGNATURES[kind]):
            refused.append(f"{name}: its bytes are not {kind}")
        else:
            where.mkdir(parents=True, exist_ok=True)
            (where / name).write_bytes(data)
            kept.append(str((where / name).relative_to(store)))
    return kept, refused
