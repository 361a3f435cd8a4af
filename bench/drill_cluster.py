"""A throw-away PostgreSQL cluster that archives its WAL into a pgBackRest repository, all under one
temporary directory, for the restore drill (bench/restore_drill.py): its own data directory, port and
socket; the machine's own PostgreSQL is never touched.

Debian's PostgreSQL 15 server binaries and Debian's pgBackRest (`apt-get install -y postgresql-15
pgbackrest`; pgBackRest 2.45, Debian 12's, knows PostgreSQL up to 15). `DRILL_PG_BIN` points at other
binaries. As root, the server and pgBackRest run as the `postgres` system user: PostgreSQL refuses root."""

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psycopg

PG_BIN = Path(os.environ.get("DRILL_PG_BIN", "/usr/lib/postgresql/15/bin"))
STANZA = "drill"
SERVER_USER = "postgres"


class DrillError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing_tools() -> list[str]:
    wanted = {"pgbackrest": shutil.which("pgbackrest"), str(PG_BIN / "initdb"): (PG_BIN / "initdb").exists() or None}
    return [name for name, found in wanted.items() if not found]


class Cluster:
    def __init__(self, root: Path, port: int):
        self.root, self.port = root, port
        self.pgdata, self.socket_dir, self.repo = root / "pgdata", root / "sock", root / "repo"
        self.config, self.log = root / "pgbackrest.conf", root / "log"
        self._as_server = ["runuser", "-u", SERVER_USER, "--"] if os.geteuid() == 0 else []

    # --- running things as the server's user ----------------------------------------------------------

    def run(self, *cmd: str, timeout: float = 600) -> str:
        done = subprocess.run([*self._as_server, *cmd], cwd=self.root, capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            raise DrillError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done.stdout

    def pgbackrest(self, *args: str, timeout: float = 600) -> str:
        return self.run("pgbackrest", f"--config={self.config}", f"--stanza={STANZA}", *args, timeout=timeout)

    def _own(self, *paths: Path) -> None:
        for path in paths:
            path.mkdir(mode=0o700, exist_ok=True)
            if self._as_server:
                user = pwd.getpwnam(SERVER_USER)
                os.chown(path, user.pw_uid, user.pw_gid)

    # --- the cluster ----------------------------------------------------------------------------------

    def create(self) -> None:
        """initdb with page checksums (pgBackRest verifies them while it copies), WAL archived by pgBackRest."""
        self.root.chmod(0o755)
        self._own(self.root, self.socket_dir, self.repo, self.log, self.root / "lock", self.root / "spool")
        self.run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--data-checksums",
        )
        archive = f"pgbackrest --config={self.config} --stanza={STANZA} archive-push %p"
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write(
                f"\n# restore drill\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.socket_dir}'\nwal_level = replica\narchive_mode = on\n"
                f"archive_command = '{archive}'\nshared_buffers = 64MB\nmax_wal_size = 1GB\n"
            )
        self.config.write_text(
            f"[global]\nrepo1-path={self.repo}\nrepo1-retention-full=2\nlog-path={self.log}\n"
            f"lock-path={self.root / 'lock'}\nspool-path={self.root / 'spool'}\nlog-level-console=warn\n"
            f"log-level-file=detail\nstart-fast=y\ncompress-type=zst\n\n"
            f"[{STANZA}]\npg1-path={self.pgdata}\npg1-port={self.port}\npg1-socket-path={self.socket_dir}\n"
        )
        self.config.chmod(0o644)

    def start(self) -> None:
        self.run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.pgdata),
            "-l",
            str(self.log / "postgresql.log"),
            "-w",
            "-t",
            "300",
            "start",
        )

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self.run(str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "300", "stop")

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.url(dbname), autocommit=True)

    def execute(self, sql: str, dbname: str = "postgres"):
        with self.connect(dbname) as conn:
            return conn.execute(sql).fetchone() if sql.lstrip().upper().startswith("SELECT") else conn.execute(sql)

    # --- backup and restore ---------------------------------------------------------------------------

    def stanza_create(self) -> None:
        self.pgbackrest("stanza-create")
        self.pgbackrest("check")  # archiving works end to end, or it says why

    def backup_full(self) -> str:
        self.pgbackrest("--type=full", "backup")
        return self.pgbackrest("info")

    def restore_point(self, name: str, timeout: float = 120) -> str:
        """A named point in the WAL, then the segment holding it closed and archived (polled)."""
        with self.connect() as conn:
            lsn = conn.execute("SELECT pg_create_restore_point(%s)", [name]).fetchone()[0]
            segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
            deadline = time.monotonic() + timeout
            while True:
                archived, failed = conn.execute(
                    "SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver"
                ).fetchone()
                if archived and archived >= segment:
                    return str(lsn)
                if time.monotonic() > deadline:
                    raise DrillError(f"WAL segment {segment} not archived after {timeout} s (last failed: {failed})")
                time.sleep(0.2)

    def restore_into_empty(self, target_name: str | None) -> None:
        """As onto a new machine: the data directory emptied, the full backup copied back, then the
        archived WAL replayed up to the named point (None: only to the end of the backup), and the
        server promoted."""
        self.stop()
        shutil.rmtree(self.pgdata)
        self._own(self.pgdata)
        target = ["--type=name", f"--target={target_name}"] if target_name else ["--type=immediate"]
        self.pgbackrest(*target, "--target-action=promote", "restore")
        self.start()
        self.wait_promoted()

    def wait_promoted(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if not self.execute("SELECT pg_is_in_recovery()")[0]:
                    return
            except psycopg.OperationalError:
                pass
            if time.monotonic() > deadline:
                raise DrillError(f"the restored server was still recovering after {timeout} s; see {self.log}")
            time.sleep(0.5)

    def versions(self) -> dict[str, str]:
        return {
            "pgbackrest": self.run("pgbackrest", "version").strip(),
            "postgres": self.run(str(PG_BIN / "postgres"), "--version").strip(),
        }
