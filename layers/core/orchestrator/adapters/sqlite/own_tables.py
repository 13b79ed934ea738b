"""Tables an adapter creates itself, idempotently, on first use, instead of a numbered migration: rows
that nothing else in the store reads or joins (sealed secrets, webhook deliveries)."""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.adapters.sqlite.database import Database


class OwnTables:
    def __init__(self, db: Database, statements: Sequence[str]) -> None:
        self._db = db
        self._statements = tuple(statements)
        self._ready = False

    def ensure(self) -> None:
        """Runs the CREATE ... IF NOT EXISTS statements once per process (they are no-ops after the first)."""
        if not self._ready:
            with self._db.write() as connection:
                for statement in self._statements:
                    connection.execute(statement)
            self._ready = True
