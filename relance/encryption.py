"""Debtor data encrypted in Temporal: an AES-256-GCM payload codec over a ring of keys.

Every payload a Relance client, worker or replayer hands to Temporal (case starts with names, e-mails and
addresses, updates, activity results, the case state) is encrypted with the ring's current key; the key's
id rides in the payload's metadata, so that a history written under an older key still decrypts after a
rotation as long as the ring keeps that key. Payloads written before encryption was turned on are read as
they are. The keys come only from the environment (`RELANCE_CODEC_KEYS`, or a file named by
`RELANCE_CODEC_KEYS_FILE`), and a ring that is missing or malformed stops the process when it starts.

A payload this ring cannot decrypt (unknown key id, wrong key) raises: the workflow task fails and is
retried, so that fixing the ring resumes every case, rather than failing cases for a deployment mistake.
The worker checks its ring against the server's newest case when it starts (`check_ring_against`).
"""

import base64
import binascii
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCRYPTED = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32  # AES-256
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


class KeyRingError(ValueError):
    """The keys cannot be used as given; the message names the variable and the entry, never a key."""


class UndecryptablePayload(ValueError):
    """A payload was encrypted with a key this ring does not hold, or with another key of the same id."""


@dataclass(frozen=True)
class KeyRing:
    keys: dict[str, bytes]
    current: str

    def __repr__(self) -> str:  # a ring printed by mistake shows its ids, never its keys
        return f"KeyRing(ids={list(self.keys)}, current={self.current!r})"

    __str__ = __repr__


def new_key_line(key_id: str) -> str:
    """A fresh entry for RELANCE_CODEC_KEYS: `<id>:<base64 of 32 random bytes>`."""
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise KeyRingError(f"key id {key_id[:60]!r}: letters, digits, '_', '.', '-', at most 40")
    return f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


def parse_ring(text: str, source: str, current: str | None = None) -> KeyRing:
    """Entries `id:base64key`, separated by commas or new lines; the current key is `current`, else the last.

    Rotation in two deployments: add the new key (every worker can then read it) with `current` naming
    the old one, then make the new one current. Keep an old key as long as a history may hold it.
    """
    keys: dict[str, bytes] = {}
    entries = [e.strip() for e in re.split(r"[,\n]", text) if e.strip() and not e.strip().startswith("#")]
    if not entries:
        raise KeyRingError(f"{source} holds no key")
    for number, entry in enumerate(entries, start=1):
        key_id, colon, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not colon or not KEY_ID_PATTERN.fullmatch(key_id):
            raise KeyRingError(
                f"{source}: entry {number} is not `id:base64key` with an id of letters, digits, '_', '.', '-'"
            )
        if key_id in keys:
            raise KeyRingError(f"{source}: key id {key_id} appears twice")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KeyRingError(f"{source}: key {key_id} is not base64") from None
        if len(key) != KEY_BYTES:
            raise KeyRingError(
                f"{source}: key {key_id} is {len(key)} bytes; AES-256 needs {KEY_BYTES} (`relance keys new` makes one)"
            )
        keys[key_id] = key
    chosen = current or key_id
    if chosen not in keys:
        raise KeyRingError(f"RELANCE_CODEC_KEY_ID names {chosen[:60]!r}, which {source} does not hold")
    return KeyRing(keys, chosen)


def ring_from_environment(inline: str | None, file: Path | None, current: str | None) -> KeyRing | None:
    """The ring the settings name, or None when neither variable is set."""
    if inline and file:
        raise KeyRingError("set RELANCE_CODEC_KEYS or RELANCE_CODEC_KEYS_FILE, not both")
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as err:
            raise KeyRingError(f"RELANCE_CODEC_KEYS_FILE {file}: cannot be read ({err.strerror})") from None
        return parse_ring(text, f"RELANCE_CODEC_KEYS_FILE {file}", current)
    if inline:
        return parse_ring(inline, "RELANCE_CODEC_KEYS", current)
    if current:
        raise KeyRingError("RELANCE_CODEC_KEY_ID is set but no key is (RELANCE_CODEC_KEYS or RELANCE_CODEC_KEYS_FILE)")
    return None


class Nonces:
    """AES-GCM nonces that never repeat under a key: 8 random bytes drawn once per 2^32 payloads, then a 4-byte
    counter (NIST SP 800-38D's deterministic construction, the random field standing for the device). A fresh
    random nonce per payload cost a system call each, the worker's largest single cost in a burst; two
    processes share a prefix once in 2^64."""

    LIMIT = 1 << 32

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._prefix, self._count = os.urandom(NONCE_BYTES - 4), 0

    def next(self) -> bytes:
        with self._lock:  # the codec encodes from the event loop and from activity threads alike
            if self._count == self.LIMIT:
                self._prefix, self._count = os.urandom(NONCE_BYTES - 4), 0
            count, self._count = self._count, self._count + 1
            return self._prefix + count.to_bytes(4, "big")


class EncryptionCodec(PayloadCodec):
    """Encrypts with the ring's current key; decrypts with whichever key the payload names."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}
        self._nonces = Nonces()

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.ring.current
        nonce = self._nonces.next()
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(metadata={"encoding": ENCRYPTED, KEY_ID: key_id.encode()}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCRYPTED:
            return payload  # written before encryption was on, or by a tool without the codec
        key_id = payload.metadata.get(KEY_ID, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UndecryptablePayload(
                f"a payload is encrypted with key {key_id[:60]!r}, which the ring ({', '.join(self.ring.keys)}) "
                "does not hold: add it back to RELANCE_CODEC_KEYS"
            )
        try:
            clear = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise UndecryptablePayload(
                f"a payload encrypted with key {key_id!r} does not decrypt with the ring's {key_id!r}: "
                "the key was changed under the same id"
            ) from None
        return Payload.FromString(clear)
