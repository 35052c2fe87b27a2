"""One small connection interface over SQLite and PostgreSQL, so the store's SQL is written once.

SQL is written with `?` placeholders and converted for psycopg. Transactions nest: the
outer one is BEGIN/COMMIT (SQLite: BEGIN IMMEDIATE, so concurrent writers queue instead
of failing half-way), inner ones are savepoints, which lets one bad frame in a batch be
rolled back without losing the others.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from citynode.errors import CliError

Params = Sequence[Any]


class TransientDbError(Exception):
    """A failure worth retrying the whole transaction for (deadlock, lock timeout, lost connection)."""


class Database:
    dialect = ""
    url = ""

    def execute(self, sql: str, params: Params = ()) -> Any:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        raise NotImplementedError

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return list(self.execute(sql, params).fetchall())

    def one(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        rows = self.execute(sql, params).fetchall()  # fetchall: finishes the statement (RETURNING on SQLite)
        return tuple(rows[0]) if rows else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        raise NotImplementedError
        yield

    def recover(self) -> None:
        """After a transient failure: reconnect if the connection was lost."""

    def close(self) -> None:
        raise NotImplementedError


class SqliteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, path: str, *, synchronous: str = "FULL") -> None:
        self.url = path
        self.path = path
        if path != ":memory:":
            parent = Path(path).expanduser().resolve().parent
            if not parent.is_dir():
                raise CliError(f"cannot create the database {path}: {parent} does not exist",
                               "create the directory or give another --db path")
        try:
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
            self.conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a frame acknowledged to MQTT after COMMIT survives a power cut, not only a crash.
            self.conn.execute(f"PRAGMA synchronous={synchronous}")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as err:
            raise CliError(f"cannot open the SQLite database {path}: {err}",
                           "check the path and its permissions") from None
        self._depth = 0

    def execute(self, sql: str, params: Params = ()) -> Any:
        try:
            return self.conn.execute(sql, tuple(params))
        except sqlite3.OperationalError as err:
            if "locked" in str(err) or "busy" in str(err):
                raise TransientDbError(str(err)) from err
            raise

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        self.conn.executemany(sql, [tuple(r) for r in rows])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        depth = self._depth
        name = f"sp{depth}"
        self.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth = depth
            if depth == 0:
                self.conn.execute("ROLLBACK")
            else:
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
            raise
        self._depth = depth
        self.execute("COMMIT" if depth == 0 else f"RELEASE {name}")

    def close(self) -> None:
        self.conn.close()


class PostgresDatabase(Database):
    dialect = "postgres"

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self._psycopg = psycopg
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as err:
            raise CliError(f"cannot connect to PostgreSQL: {str(err).strip().splitlines()[0]}",
                           "check the --db URL (postgresql://user@host:port/dbname) and that the server runs") \
                from None

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def execute(self, sql: str, params: Params = ()) -> Any:
        errors = self._psycopg.errors
        try:
            return self.conn.execute(self._sql(sql), tuple(params), prepare=True)
        except (errors.DeadlockDetected, errors.SerializationFailure, errors.LockNotAvailable) as err:
            raise TransientDbError(str(err).strip()) from err
        except self._psycopg.OperationalError as err:
            raise TransientDbError(str(err).strip()) from err

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(self._sql(sql), [tuple(r) for r in rows])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def recover(self) -> None:
        if not self.conn.closed:
            return
        try:
            self.conn = self._psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except self._psycopg.OperationalError as err:
            raise TransientDbError(str(err).strip()) from err

    def close(self) -> None:
        self.conn.close()


def connect(url: str) -> Database:
    """postgresql://... or postgres://... for PostgreSQL; sqlite:///path or a plain path for SQLite."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url)
    if url.startswith("sqlite:///"):
        return SqliteDatabase(url[len("sqlite:///"):])  # sqlite:///rel.db, sqlite:////abs/path.db
    if "://" in url:
        raise CliError(f"unsupported database URL {url!r}",
                       "use a file path (SQLite) or postgresql://user@host:port/dbname")
    return SqliteDatabase(url)
