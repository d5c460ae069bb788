"""A fresh, migrated database for a benchmark run, and the environment that points at it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/quorum_bench")
MANAGE = [sys.executable, str(ROOT / "manage.py")]


def fresh_database(backend: str) -> dict[str, str]:
    """Environment for ``manage.py`` and servers: a new SQLite file, or the PostgreSQL database
    ``quorum_bench`` dropped and made anew; migrated; media in a new temporary folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    tmp = Path(tempfile.mkdtemp(prefix=f"quorum-bench-{backend}-"))
    env["QUORUM_MEDIA_ROOT"] = str(tmp / "media")
    if backend == "sqlite":
        env["QUORUM_SQLITE_PATH"] = str(tmp / "bench.sqlite3")
    elif backend == "postgres":
        return fresh_postgres(PG_URL, QUORUM_MEDIA_ROOT=env["QUORUM_MEDIA_ROOT"])
    else:
        raise SystemExit(f"unknown backend {backend!r}: sqlite or postgres")
    subprocess.run([*MANAGE, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    return env


def fresh_postgres(url: str, **extra: str) -> dict[str, str]:
    """Drop, re-create and migrate the PostgreSQL database named in ``url`` (its name must contain
    "bench"); the environment for children, with ``extra`` added and the server's version in
    ``BENCH_PG_VERSION``."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in ("postgres", "postgresql") or "bench" not in name:
        raise SystemExit(f"refusing to drop {url!r}: a postgres:// URL whose database name contains 'bench'")
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
            version = conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.OperationalError as e:
        raise SystemExit(
            f"{e}\nIs PostgreSQL up? pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        ) from e
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATABASE_URL=url, QUORUM_MEDIA_ROOT=tempfile.mkdtemp(prefix="quorum-bench-"), BENCH_PG_VERSION=version)
    env.update(extra)
    subprocess.run([*MANAGE, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    return env
