"""What the secret key derives: pseudonyms, UIDs under 2.25 and each patient's date offset.

Each is an HMAC-SHA256 (RFC 2104) of the original under the key, with a label per use so that a
pseudonym never equals a UID's or an offset's digest. The same key gives the same results in
every run and every table, so keys and joins stay consistent; without the key they cannot be
reversed or recomputed. The key is read from the environment when it is used and is never
written, logged or put in an error message: messages name the variable only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import date, timedelta

KEY_VARIABLE = "DICOM_LAKE_PRIVACY_KEY"
MINIMUM_KEY_LENGTH = 32
PSEUDONYM_LENGTH = 16
"""Hex digits of a pseudonym: 64 bits, short enough for the 16 characters of an SH value."""
MAXIMUM_SHIFT_DAYS = 3650
"""Dates move back by 1 to this many days, the same for all of one patient's dates."""


class PrivacyKeyError(ValueError):
    """The policy needs the key and the environment does not hold a usable one."""


def check_key() -> None:
    """Raise PrivacyKeyError unless the environment holds a key long enough to be a secret."""
    _key()


def _key() -> bytes:
    key = os.environ.get(KEY_VARIABLE, "")
    if not key:
        raise PrivacyKeyError(
            f"the privacy policy hashes or shifts attributes, which needs a secret key: set "
            f"{KEY_VARIABLE} (at least {MINIMUM_KEY_LENGTH} characters, for example the output "
            "of `openssl rand -hex 32`) in the job's environment"
        )
    if len(key) < MINIMUM_KEY_LENGTH:
        raise PrivacyKeyError(
            f"{KEY_VARIABLE} is shorter than {MINIMUM_KEY_LENGTH} characters: use a longer "
            "random secret (for example the output of `openssl rand -hex 32`)"
        )
    return key.encode()


def _digest(label: str, text: str) -> bytes:
    return hmac.new(_key(), f"{label}\0{text}".encode(), hashlib.sha256).digest()


def key_check() -> str:
    """Tells one key from another without telling anything about it (a keyed digest of a
    constant), so that a build sees the key changed."""
    return _digest("key-check", "").hex()[:PSEUDONYM_LENGTH]


def pseudonym(text: str) -> str:
    """A value's keyed pseudonym: 16 upper-case hex digits, valid in every text VR."""
    return _digest("pseudonym", text).hex()[:PSEUDONYM_LENGTH].upper()


def uid(original: str) -> str:
    """A UID's keyed replacement under the 2.25 root (ISO/IEC 9834-8, a version 8 UUID)."""
    raw = bytearray(_digest("uid", original.strip())[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80  # version 8: custom
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 9562 variant
    return f"2.25.{int.from_bytes(raw, 'big')}"


def day_offset(patient_id: str) -> timedelta:
    """How far back one patient's dates move: the same for every date of the patient."""
    days = int.from_bytes(_digest("date-shift", patient_id)[:8], "big") % MAXIMUM_SHIFT_DAYS
    return timedelta(days=days + 1)


def shifted_date(value: date, patient_id: str) -> date:
    return value - day_offset(patient_id)
