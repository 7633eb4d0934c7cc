"""The units of a chunked daily start: a chunk of customers, what a run made of them, and how a day's
customers are cut into chunks (`workflows.batch.daily_starts` plans and runs them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from workflows.credit import dunning


@dataclass(frozen=True)
class Chunk:
    """Customers of one daily job to start, in order; `reasons` only for the review sweep."""

    process_key: str
    as_of: date
    customer_ids: tuple[int, ...]
    reasons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON (Prefect task parameters, logs)."""
        return {
            "process_key": self.process_key,
            "as_of": self.as_of.isoformat(),
            "customer_ids": list(self.customer_ids),
            "reasons": list(self.reasons),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Chunk:
        return cls(
            raw["process_key"],
            date.fromisoformat(raw["as_of"]),
            tuple(int(c) for c in raw["customer_ids"]),
            tuple(raw.get("reasons") or ()),
        )


@dataclass
class ChunkResult:
    """What one run's chunks did: instances started; customers handled elsewhere, held, or failed."""

    started: list[int] = field(default_factory=list)  # instance ids
    by_reason: dict[str, list[int]] = field(default_factory=dict)
    already_done: list[int] = field(default_factory=list)  # customer ids
    held_elsewhere: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def merge(self, other: ChunkResult) -> None:
        self.started += other.started
        for reason, ids in other.by_reason.items():
            self.by_reason.setdefault(reason, []).extend(ids)
        self.already_done += other.already_done
        self.held_elsewhere += other.held_elsewhere
        self.failed += other.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "by_reason": self.by_reason,
            "already_done": self.already_done,
            "held_elsewhere": self.held_elsewhere,
            "failed": self.failed,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ChunkResult:
        return cls(
            list(raw["started"]),
            {k: list(v) for k, v in raw["by_reason"].items()},
            list(raw["already_done"]),
            list(raw["held_elsewhere"]),
            list(raw["failed"]),
        )


def split(ids: Sequence[int], size: int) -> list[tuple[int, ...]]:
    """Consecutive slices of at most `size` ids (the order is kept, so chunks are the same in every run)."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    return [tuple(ids[i : i + size]) for i in range(0, len(ids), size)]


def leftovers(chunks: Sequence[Chunk], held: Sequence[int]) -> list[Chunk]:
    """The customers (with their reasons) another run held during the first pass, as chunks to wait for."""
    wanted = set(held)
    found: list[Chunk] = []
    for chunk in chunks:
        reasons = dict(zip(chunk.customer_ids, chunk.reasons, strict=False))
        ids = tuple(c for c in chunk.customer_ids if c in wanted)
        if ids:
            found.append(
                Chunk(chunk.process_key, chunk.as_of, ids, tuple(reasons[c] for c in ids if c in reasons))
            )
    return found


def summary(process_key: str, result: ChunkResult) -> dict[str, Any]:
    """What one run's chunks did, in the shape of the day's summary (the CLI's batch commands print it)."""
    if process_key == dunning.PROCESS_KEY:
        return {
            "cases_started": len(result.started),
            "instances": sorted(result.started),
            "failed_customers": sorted(result.failed),
        }
    return {
        "reviews_started": len(result.started),
        "by_reason": {k: sorted(v) for k, v in result.by_reason.items()},
        "failed_customers": sorted(result.failed),
    }
