"""A fresh, migrated database for a benchmark run, and the environment that points at it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
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
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS quorum_bench WITH (FORCE)")
            conn.execute("CREATE DATABASE quorum_bench")
        env["DATABASE_URL"] = PG_URL
    else:
        raise SystemExit(f"unknown backend {backend!r}: sqlite or postgres")
    subprocess.run([*MANAGE, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    return env
