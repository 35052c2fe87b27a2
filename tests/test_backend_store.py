"""Schema migrations and the database-backed replay counter, on SQLite and on a private PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from backend_services import pg_url, postgres_server  # noqa: F401 (fixtures)
from citynode.backend.db import connect
from citynode.backend.schema import LATEST, MIGRATIONS, current_version, migrate
from citynode.backend.store import open_store
from citynode.errors import CliError

TABLES = {"devices", "frames", "frame_receptions", "readings", "rejects", "alerts", "alert_state",
          "schema_migrations"}


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "citynode.db")
    return str(request.getfixturevalue("pg_url"))


def _tables(url: str) -> set[str]:
    db = connect(url)
    try:
        if db.dialect == "sqlite":
            rows = db.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = db.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        return {r[0] for r in rows}
    finally:
        db.close()


def test_migration_from_empty_database(db_url: str) -> None:
    store = open_store(db_url)
    store.close()
    assert _tables(db_url) >= TABLES
    db = connect(db_url)
    try:
        assert current_version(db) == LATEST == len(MIGRATIONS)
        assert migrate(db) == []  # idempotent: a second serve start applies nothing
        versions = [r[0] for r in db.query("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == [v for v, _, _ in MIGRATIONS]
    finally:
        db.close()


def test_migrations_apply_in_steps(db_url: str) -> None:
    db = connect(db_url)
    try:
        assert migrate(db, MIGRATIONS[:1]) == [1]
        assert "readings" in _tables(db_url)
        assert migrate(db) == [v for v, _, _ in MIGRATIONS[1:]]
        assert current_version(db) == LATEST
    finally:
        db.close()


def test_database_from_a_newer_citynode_is_refused(db_url: str) -> None:
    db = connect(db_url)
    try:
        migrate(db)
        with db.transaction():
            db.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                       (LATEST + 1, "future", 0.0))
        with pytest.raises(CliError, match="newer|knows up to"):
            migrate(db)
    finally:
        db.close()


def test_counter_advances_only_upwards(db_url: str) -> None:
    store = open_store(db_url)
    try:
        with store.transaction():
            assert store.counters.last(7) is None
            assert store.counters.advance(7, 10) is True
            assert store.counters.advance(7, 10) is False
            assert store.counters.advance(7, 9) is False
            assert store.counters.advance(7, 11) is True
            assert store.counters.last(7) == 11
        with store.transaction():
            assert store.counters.advance(8, 0) is True  # a new device's first frame may be 0
    finally:
        store.close()


def test_two_connections_never_both_accept_a_counter(db_url: str) -> None:
    """Two serve processes racing on the same counters: each counter is accepted exactly once."""
    open_store(db_url).close()
    stores = [open_store(db_url) for _ in range(2)]
    wins: list[list[int]] = [[], []]
    barrier = threading.Barrier(2)

    def worker(i: int) -> None:
        store = stores[i]
        barrier.wait()
        for counter in range(1, 61):
            with store.transaction():
                if store.counters.advance(99, counter):
                    wins[i].append(counter)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    accepted = sorted(wins[0] + wins[1])
    assert accepted == sorted(set(accepted)), "a counter was accepted twice"
    assert accepted[-1] == 60


def test_export_refuses_a_database_that_is_not_ours(tmp_path: Path) -> None:
    with pytest.raises(CliError):
        open_store(str(tmp_path / "missing.db"), migrate_schema=False)
