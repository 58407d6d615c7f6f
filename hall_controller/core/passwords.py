"""Salted PBKDF2-SHA256 hashes for staff PINs and manager passwords (standard library only).

Format: "pbkdf2_sha256$iterations$salt_hex$hash_hex". The iteration count travels with the hash,
so hashes made with different counts all verify.
"""

from __future__ import annotations

import hashlib
import hmac
import os

ALGORITHM = "pbkdf2_sha256"
DEFAULT_ITERATIONS = 60_000
MAX_ITERATIONS = 10_000_000  # refuse absurd counts: one verify must not stall the server
SALT_BYTES = 16


def _derive(plain: str, salt: bytes, iterations: int) -> bytes:
    # surrogatepass: a lone surrogate can arrive from JSON input and must not crash a sign-in.
    return hashlib.pbkdf2_hmac("sha256", plain.encode("utf-8", "surrogatepass"), salt, iterations)


def hash_secret(plain: str, *, salt: bytes | None = None, iterations: int = DEFAULT_ITERATIONS) -> str:
    """Hash a PIN or password with a fresh random salt (or the given one)."""
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be between 1 and {MAX_ITERATIONS}")
    if salt is None:
        salt = os.urandom(SALT_BYTES)
    return f"{ALGORITHM}${iterations}${salt.hex()}${_derive(plain, salt, iterations).hex()}"


def parse_hash(hashed: str) -> tuple[int, bytes, bytes]:
    """Split a stored hash into (iterations, salt, digest); ValueError says what is malformed."""
    parts = hashed.split("$")
    if len(parts) != 4 or parts[0] != ALGORITHM:
        raise ValueError(f'expected "{ALGORITHM}$iterations$salt_hex$hash_hex"')
    count, salt_hex, digest_hex = parts[1:]
    if not (count.isascii() and count.isdigit() and len(count) <= 8 and 1 <= int(count) <= MAX_ITERATIONS):
        raise ValueError(f"iterations must be a whole number between 1 and {MAX_ITERATIONS}")
    try:
        salt, digest = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
    except ValueError:
        raise ValueError("salt and hash must be hexadecimal") from None
    if not salt or len(digest) != hashlib.sha256().digest_size:
        raise ValueError("salt must not be empty and the hash must be 64 hex digits")
    return int(count), salt, digest


def verify_secret(plain: str, hashed: str) -> bool:
    """True if `plain` matches `hashed`; a malformed hash never matches."""
    try:
        iterations, salt, digest = parse_hash(hashed)
    except ValueError:
        return False
    return hmac.compare_digest(_derive(plain, salt, iterations), digest)
