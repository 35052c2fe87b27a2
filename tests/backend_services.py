"""Private PostgreSQL and Mosquitto servers for the backend tests, and fleet helpers.

Each server is this test run's own process on loopback, on a free port, in a temp dir,
stopped at the end. PostgreSQL refuses to run as root, so as root it runs as the
`postgres` system user (runuser). Tests that need a missing binary are skipped with the
reason (tests/services/ensure.sh installs them; `make test` runs it).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CITYNODE = [sys.executable, "-m", "citynode.cli"]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


# ------------------------------------------------------------------ PostgreSQL


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@dataclass
class PostgresServer:
    port: int
    datadir: Path
    proc: subprocess.Popen[bytes]

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://citynode@127.0.0.1:{self.port}/{dbname}"

    def create_db(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        pidfile = self.datadir / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGINT)  # fast shutdown
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_postgres() -> PostgresServer:
    initdb, postgres = _pg_bin("initdb"), _pg_bin("postgres")
    if not initdb or not postgres:
        pytest.skip("PostgreSQL binaries not installed (run tests/services/ensure.sh or `make test`)")
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed")
    base = Path(tempfile.mkdtemp(prefix="citynode-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data = base / "data"
    subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "citynode", "--no-sync",
                    "-E", "UTF8", "--locale=C"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    port = free_port()
    log = open(base / "server.log", "wb")  # noqa: SIM115 (lives as long as the server)
    proc = subprocess.Popen(
        [*prefix, postgres, "-D", str(data), "-p", str(port), "-k", str(base),
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=60"],
        stdout=log, stderr=subprocess.STDOUT)
    server = PostgresServer(port, data, proc)
    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(server.url(), connect_timeout=2).close()
            return server
        except psycopg.OperationalError:
            if proc.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError("PostgreSQL did not start: " + (base / "server.log").read_text()[-2000:]) \
                    from None
            time.sleep(0.1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.datadir.parent, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's private server."""
    return postgres_server.create_db()


# ------------------------------------------------------------------ Mosquitto


@dataclass
class MosquittoServer:
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_mosquitto() -> MosquittoServer:
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    if not binary:
        pytest.skip("mosquitto not installed (run tests/services/ensure.sh or `make test`)")
    work = Path(tempfile.mkdtemp(prefix="citynode-mqtt-"))
    port = free_port()
    conf = work / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "persistence false\n"
        "max_queued_messages 0\n"  # 0 = no limit: a stopped worker's session keeps every message
        "max_inflight_messages 0\n"
        "log_dest stderr\n"
        "log_type error\nlog_type warning\n")
    os.chmod(work, 0o755)
    os.chmod(conf, 0o644)
    log = open(work / "broker.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(port)
    except TimeoutError:
        proc.kill()
        raise RuntimeError("mosquitto did not start: " + (work / "broker.log").read_text()[-2000:]) from None
    return MosquittoServer(port, work, proc)


@pytest.fixture(scope="session")
def mosquitto_server() -> Iterator[MosquittoServer]:
    server = start_mosquitto()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


# ------------------------------------------------------------------ fleets and processes


@dataclass
class Fleet:
    """Device ids and secrets, and the keystore file serve reads them from."""

    keys: dict[int, bytes]
    path: Path

    @classmethod
    def create(cls, directory: Path, n: int, first_id: int = 0x1000) -> Fleet:
        keys = {first_id + i: os.urandom(16) for i in range(n)}
        path = directory / "fleet.keys.json"
        write_keys(path, keys)
        return cls(keys, path)


def write_keys(path: Path, keys: dict[int, bytes]) -> None:
    """A key file serve accepts: {"keys": {"0000002a": "32 hex digits"}} (the vectors.json form)."""
    path.write_text(json.dumps({"keys": {f"{d:08x}": s.hex() for d, s in keys.items()}}))
    os.chmod(path, 0o600)


def start_serve(args: list[str], log_path: Path, env: dict[str, str] | None = None,
                stdin: int | None = None) -> subprocess.Popen[bytes]:
    """`citynode serve ARGS` as a real subprocess, stderr (JSON log lines) to log_path."""
    full_env = {**os.environ, "CITYNODE_ROOT": str(ROOT), **(env or {})}
    log = open(log_path, "ab")  # noqa: SIM115
    return subprocess.Popen([*CITYNODE, "serve", *args], stdout=log, stderr=log, env=full_env, stdin=stdin)


def stop_all(procs: list[subprocess.Popen[bytes]]) -> list[int]:
    """SIGTERM every serve still running (a graceful stop), then their exit codes (-9: killed
    after 30 s without stopping)."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=30))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(-9)
    return codes


def count_rows(url: str, table: str = "frames") -> int:
    """Rows in one table of serve's database (SQLite path or PostgreSQL URL)."""
    from citynode.backend.db import connect

    db = connect(url)
    try:
        row = db.one(f"SELECT COUNT(*) FROM {table}")
        return int(row[0]) if row and row[0] is not None else 0
    finally:
        db.close()


def log_events(log_path: Path) -> list[dict[str, object]]:
    events = []
    for line in log_path.read_text(errors="replace").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            obj = json.loads(line)
            if isinstance(obj, dict):
                events.append(obj)
    return events


def wait_for(predicate: object, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_log_event(log_path: Path, event: str, timeout: float = 20.0, count: int = 1) -> dict[str, object]:
    found: list[dict[str, object]] = []

    def seen() -> bool:
        found[:] = [e for e in log_events(log_path) if e.get("event") == event]
        return len(found) >= count

    try:
        wait_for(seen, timeout, f"log event {event!r}")
    except AssertionError:
        raise AssertionError(f"no {event!r} in serve log:\n{log_path.read_text()[-3000:]}") from None
    return found[-1]
