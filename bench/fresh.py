"""A fresh, migrated database for a benchmark run, and the environment that points at it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/quorum_bench")
MANAGE = [sys.executable, str(ROOT / "manage.py")]


def fresh_database(backend: str, *, root: Path = ROOT, tag: str = "") -> dict[str, str]:
    """Environment for ``manage.py`` and servers: a new SQLite file, or the PostgreSQL database
    ``quorum_bench`` (``quorum_bench_<tag>`` with a tag) dropped and made anew; migrated by the
    code tree at ``root``; media in a new temporary folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    tmp = Path(tempfile.mkdtemp(prefix=f"quorum-bench-{backend}-"))
    env["QUORUM_MEDIA_ROOT"] = str(tmp / "media")
    if backend == "sqlite":
        env["QUORUM_SQLITE_PATH"] = str(tmp / "bench.sqlite3")
    elif backend == "postgres":
        url = PG_URL if not tag else _renamed(PG_URL, f"{urlsplit(PG_URL).path.lstrip('/')}_{tag}")
        return fresh_postgres(url, root=root, QUORUM_MEDIA_ROOT=env["QUORUM_MEDIA_ROOT"])
    else:
        raise SystemExit(f"unknown backend {backend!r}: sqlite or postgres")
    subprocess.run([sys.executable, str(root / "manage.py"), "migrate", "-v0"], env=env, check=True, cwd=root)
    return env


def fresh_postgres(url: str, *, root: Path = ROOT, **extra: str) -> dict[str, str]:
    """Drop, re-create and migrate (with the code tree at ``root``) the PostgreSQL database named
    in ``url`` (its name must contain "bench"); the environment for children, with ``extra`` added
    and the server's version in ``BENCH_PG_VERSION``."""
    name = _bench_name(url)
    version = _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"', "SHOW server_version")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATABASE_URL=url, QUORUM_MEDIA_ROOT=tempfile.mkdtemp(prefix="quorum-bench-"), BENCH_PG_VERSION=version)
    env.update(extra)
    subprocess.run([sys.executable, str(root / "manage.py"), "migrate", "-v0"], env=env, check=True, cwd=root)
    return env


def clone_database(env: dict[str, str], tag: str) -> dict[str, str]:
    """A copy of the database ``env`` points at (SQLite: the file; PostgreSQL: ``CREATE DATABASE
    … TEMPLATE``, so nothing may be connected to it), and the environment that points at the copy.
    Media are shared: the bench's items are text."""
    out = dict(env)
    if "DATABASE_URL" in env:
        source = _bench_name(env["DATABASE_URL"])
        name = f"{source}_{tag}"
        _admin(env["DATABASE_URL"], f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        out["DATABASE_URL"] = _renamed(env["DATABASE_URL"], name)
    else:
        source = Path(env["QUORUM_SQLITE_PATH"])
        copy = source.with_name(f"{source.stem}-{tag}{source.suffix}")
        for suffix in ("", "-wal"):  # the last connection to close checkpoints the WAL; copy it if any is left
            if Path(f"{source}{suffix}").exists():
                shutil.copyfile(f"{source}{suffix}", f"{copy}{suffix}")
        out["QUORUM_SQLITE_PATH"] = str(copy)
    return out


def drop_database(env: dict[str, str]) -> None:
    """Remove the database ``env`` points at (PostgreSQL: only one whose name contains "bench")."""
    if "DATABASE_URL" in env:
        _admin(env["DATABASE_URL"], f'DROP DATABASE IF EXISTS "{_bench_name(env["DATABASE_URL"])}" WITH (FORCE)')
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{env['QUORUM_SQLITE_PATH']}{suffix}").unlink(missing_ok=True)


def _bench_name(url: str) -> str:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in ("postgres", "postgresql") or "bench" not in name:
        raise SystemExit(f"refusing to drop {url!r}: a postgres:// URL whose database name contains 'bench'")
    return name


def _renamed(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _admin(url: str, *statements: str) -> str:
    """Run ``statements`` on the server's ``postgres`` database; the last one's first value."""
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            result = None
            for sql in statements:
                result = conn.execute(sql)
            row = result.fetchone() if result is not None and result.description else None
            return row[0] if row else ""
    except psycopg.OperationalError as e:
        raise SystemExit(
            f"{e}\nIs PostgreSQL up? pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        ) from e
