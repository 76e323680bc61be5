"""Purging: forgetting the values of rows held in quarantine for too long.

A purge keeps each entry's record (id, check, reason, key, checksum, when)
with status ``purged`` and clears the row's values: the ledger stays whole,
the data is gone for good. That is why it asks for confirmation.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from guardian.errors import QuarantineError
from guardian.quarantine import tables
from guardian.quarantine.entries import Entry, Filter, read_entries
from guardian.quarantine.spec import QuarantineConfig
from guardian.quarantine.tables import Place
from guardian.targets import Target, mask_url

log = logging.getLogger(__name__)

PURGEABLE = (*tables.WAITING, tables.RELEASED, tables.DISMISSED)


@dataclass(frozen=True)
class PurgePlan:
    """The entries quarantined before ``cutoff`` that a purge would clear."""

    cutoff: dt.datetime
    entries: tuple[Entry, ...]

    def by_table(self) -> dict[str, int]:
        """How many entries per source table."""
        return dict(Counter(e.source for e in self.entries))

    def describe(self) -> list[str]:
        """Lines saying what the purge would do."""
        if not self.entries:
            return [
                f"nothing in quarantine from before {self.cutoff:%Y-%m-%d %H:%M} UTC"
            ]
        return [
            f"{table}: {count} entries from before {self.cutoff:%Y-%m-%d %H:%M} UTC"
            for table, count in sorted(self.by_table().items())
        ]

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form."""
        return {
            "cutoff": self.cutoff.isoformat(),
            "ids": [e.id for e in self.entries],
            "tables": self.by_table(),
        }


def plan_purge(
    target: Target,
    older_than: dt.timedelta,
    *,
    config: QuarantineConfig | None = None,
    now: dt.datetime | None = None,
) -> PurgePlan:
    """The entries that entered quarantine more than ``older_than`` ago."""
    cutoff = (now or dt.datetime.now(dt.UTC)) - older_than
    place = Place.of(target.dialect, config)
    wanted = Filter(before=cutoff, statuses=PURGEABLE)
    with target.connect() as conn:
        entries = read_entries(conn, place, wanted)
    return PurgePlan(cutoff, tuple(entries))


def execute_purge(
    target: Target, plan: PurgePlan, *, config: QuarantineConfig | None = None
) -> list[int]:
    """Clear the plan's entries in one transaction; the ids purged."""
    place = Place.of(target.dialect, config)
    now = dt.datetime.now(dt.UTC)
    purged: list[int] = []
    try:
        with target.connect() as conn:
            for registered in {e.table for e in plan.entries}:
                quarantine = tables.reflect_quarantine(
                    conn, place, registered.quarantine_table
                )
                ids = [e.id for e in plan.entries if e.table == registered]
                cleared = {c.name: None for c in tables.data_columns(quarantine)}
                statement = (
                    sa.update(quarantine)
                    .where(
                        quarantine.c.guardian_id.in_(ids),
                        quarantine.c.guardian_status.in_(PURGEABLE),
                    )
                    .values(
                        guardian_status=tables.PURGED,
                        guardian_changed_at=now,
                        **cleared,
                    )
                    .returning(quarantine.c.guardian_id)
                )
                purged.extend(int(i) for i in conn.execute(statement).scalars())
            conn.commit()
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None)
        text = str(orig if orig is not None else exc).strip().splitlines()
        raise QuarantineError(
            f"purge failed ({mask_url(text[0] if text else type(exc).__name__)}); "
            "nothing was purged"
        ) from None
    log.info("quarantine purge: %d entries purged", len(purged))
    return sorted(purged)
