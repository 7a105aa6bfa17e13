"""The landing zone's sequence numbers for Orthanc, whose change log numbers only what it keeps.

A NewInstance entry lands at its Orthanc `Seq` << 24; the deletes reconciliation finds take the
next free numbers above everything landed, inside the slot of the `Seq` the log was read to. Every
later Orthanc change has a higher `Seq`, so a re-upload after a delete lands above the delete.
"""

from __future__ import annotations

SEQUENCE_SHIFT = 24
"""Landed sequence = Orthanc Seq << 24 (+ k for synthetic deletes, 1 <= k < 2**24)."""
SEQUENCE_SLOTS = 1 << SEQUENCE_SHIFT


def landed_sequence(orthanc_seq: int, k: int = 0) -> int:
    """The landing zone's sequence for Orthanc `Seq` (k = 0) or the k-th delete landed at it."""
    if not 0 <= k < SEQUENCE_SLOTS:
        raise ValueError(f"k must be 0 to {SEQUENCE_SLOTS - 1}, not {k}")
    return (orthanc_seq << SEQUENCE_SHIFT) | k


def orthanc_seq(sequence: int) -> int:
    """The Orthanc `Seq` a landed sequence belongs to (the position the feed was read to)."""
    return sequence >> SEQUENCE_SHIFT


def free_delete_sequences(highest_landed: int, read_to: int) -> range:
    """The sequences deletes may take now: above everything landed, below the next `Seq`'s slot."""
    base = max(read_to, orthanc_seq(highest_landed))
    first = max(base << SEQUENCE_SHIFT, highest_landed) + 1
    return range(first, (base + 1) << SEQUENCE_SHIFT)
