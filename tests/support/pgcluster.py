"""A private, throw-away PostgreSQL cluster for fault tests that stop or restart the server: it
lives in a temporary directory on a free loopback port, so restarting it never disturbs the
shared test PostgreSQL that other tests (and the other xdist worker) use."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.receiver import _free_port


def _bindir() -> Path | None:
    for candidate in (
        os.environ.get("TEST_POSTGRES_BINDIR"),
        *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True),
    ):
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@dataclass
class Cluster:
    bindir: Path
    datadir: Path
    port: int
    as_user: list[str]

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args],
            check=True,
            capture_output=True,
            timeout=timeout,
        )

    def start(self) -> None:
        self._ctl("-w", "-l", str(self.datadir / "server.log"), "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-w", "-m", mode, "stop")


def cluster_unavailable_reason() -> str | None:
    bindir = _bindir()
    if bindir is None:
        return "no initdb/pg_ctl found for a private PostgreSQL cluster"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: cannot run initdb as an unprivileged user"
    return None


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """initdb + pg_ctl start on 127.0.0.1:<free port>, trust auth, in a new directory under the
    system temp directory (reachable by the ``postgres`` user when the tests run as root);
    stopped and removed afterwards."""
    bindir = _bindir()
    assert bindir is not None
    as_user: list[str] = []
    directory = Path(tempfile.mkdtemp(prefix="captem-pg-"))
    datadir = directory / "pgdata"
    datadir.mkdir(mode=0o700)
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(directory, "postgres")
        shutil.chown(datadir, "postgres")
    subprocess.run(
        [
            *as_user,
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "--encoding=UTF8",
            "--locale=C",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = _free_port()
    with open(datadir / "postgresql.conf", "a") as conf:
        conf.write(
            f"\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{datadir}'\nfsync = off\n"
            "max_connections = 100\nshared_buffers = 32MB\n"
        )
    cluster = Cluster(bindir=bindir, datadir=datadir, port=port, as_user=as_user)
    cluster.start()
    try:
        yield cluster
    finally:
        try:
            cluster.stop("immediate")
        except subprocess.SubprocessError:
            pass
        deadline = time.monotonic() + 10
        while (datadir / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(directory, ignore_errors=True)
