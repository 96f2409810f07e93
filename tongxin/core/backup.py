"""Backups and restores of a whole Tongxin install: the database, the uploaded files and
the secret key, in one ``tongxin-backup-YYYYmmdd-HHMMSS.tar.gz``.

The archive holds, in this order:

- ``manifest.json``: the format version, when and from which database vendor it was
  made, the applied migrations and the row counts of a few key tables — both read from
  the very snapshot that was backed up, so a restore can check itself against them;
- ``database.sqlite3`` (SQLite, made with the online backup API: a consistent copy
  while the server runs and writes) or ``database.pgdump`` (PostgreSQL, ``pg_dump
  --format=custom`` taken in the same exported snapshot the counts were read in);
- ``secret_key`` (when the key lives in the data folder): without it, sessions, password
  reset links and other signed values of the backed-up install are void;
- ``media/``: the uploaded files, taken after the database (a photo uploaded meanwhile
  is an unused file after a restore, never a missing one).

The management commands ``backup`` and ``restore`` are thin wrappers around
:func:`create_backup`, :func:`read_manifest`, :func:`check_manifest` and
:func:`restore_backup`. Errors are :class:`BackupError` with a Chinese message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import django
from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
PG_MEMBER = "database.pgdump"
SECRET_KEY_MEMBER = "secret_key"
MEDIA_MEMBER = "media"
NAME_PREFIX = "tongxin-backup-"
SUFFIX = ".tar.gz"

# The tables whose row counts go into the manifest and are checked after a restore.
KEY_TABLES = (
    "areas_area",
    "people_resident",
    "accounts_user",
    "demands_demand",
    "demands_demandevent",
    "demands_attachment",
    "audit_auditentry",
)

VENDOR_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

# Database settings OPTIONS that libpq also reads from the environment.
_LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "service": "PGSERVICE",
    "passfile": "PGPASSFILE",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
}


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is for the operator (Chinese)."""


@dataclass
class BackupResult:
    path: Path
    manifest: dict
    size: int


@dataclass
class RestoreResult:
    manifest: dict
    counts: dict[str, int]  # after the restore
    # (table, in the manifest, after the restore) for every table that differs
    mismatches: list[tuple[str, int, int | None]]
    media_files: int
    media_expected: int
    secret_key_restored: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.media_files == self.media_expected


def vendor_name(vendor: str) -> str:
    return VENDOR_NAMES.get(vendor, vendor)


def default_backup_dir() -> Path:
    return Path(settings.DATA_DIR) / "backups"


def secret_key_path() -> Path:
    return Path(settings.DATA_DIR) / "secret_key"


# --- reading the state of a database -----------------------------------------------
def _read_state(cursor) -> tuple[dict[str, int], list[list[str]]]:
    """Row counts of the key tables and the applied migrations, through any DB-API
    cursor (sqlite3's or Django's): both vendors accept these statements as written."""
    counts = {}
    for table in KEY_TABLES:
        cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
        counts[table] = int(cursor.fetchone()[0])
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    migrations = [[app, name] for app, name in cursor.fetchall()]
    return counts, migrations


def current_counts(using: str = "default") -> dict[str, int]:
    with connections[using].cursor() as cursor:
        return _read_state(cursor)[0]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- SQLite ---------------------------------------------------------------------------
def _sqlite_connect(name: str | Path) -> sqlite3.Connection:
    # uri=True as Django does: the test database is "file:memorydb_…?mode=memory&cache=shared";
    # a plain path is still a plain path.
    conn = sqlite3.connect(str(name), uri=True, timeout=20, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=20000")
    return conn


def sqlite_online_backup(source: str | Path, target: str | Path, *, standalone: bool) -> None:
    """Copy the SQLite database ``source`` into ``target`` with the online backup API.

    All pages are copied in one step inside one read transaction of ``source`` and one
    write transaction of ``target``: the copy is the database as of one moment even
    while other connections write (in WAL mode they are not even blocked), and readers
    of ``target`` see either the old database or the new one. ``standalone``: switch
    the copy to an ordinary rollback journal, so it is one self-contained file (for a
    backup; a live target keeps its WAL mode)."""
    src = _sqlite_connect(source)
    try:
        dst = _sqlite_connect(target)
        try:
            src.backup(dst)
            if standalone:
                dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def sqlite_integrity(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def _sqlite_state(path: Path) -> tuple[dict[str, int], list[list[str]]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return _read_state(conn.cursor())
    finally:
        conn.close()


# --- PostgreSQL -----------------------------------------------------------------------
def pg_env(settings_dict: dict) -> dict[str, str]:
    """The environment for pg_dump and pg_restore: the connection parameters of the
    settings as libpq variables — the password in PGPASSWORD, never on a command line."""
    env = dict(os.environ)
    for key, var in (
        ("NAME", "PGDATABASE"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
    ):
        if settings_dict.get(key):
            env[var] = str(settings_dict[key])
    for key, var in _LIBPQ_OPTIONS.items():
        value = (settings_dict.get("OPTIONS") or {}).get(key)
        if value:
            env[var] = str(value)
    return env


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"找不到 {name}：请安装 PostgreSQL 客户端（Debian：apt install postgresql-client），"
            "其主版本不能低于数据库服务器的版本。"
        )
    return path


def _run_pg_tool(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    tool = Path(args[0]).name
    try:
        result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    except OSError as e:
        raise BackupError(f"无法运行 {tool}：{e}") from e
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise BackupError(f"{tool} 失败（退出码 {result.returncode}）：{detail}")
    return result


def _pg_dump(using: str, target: Path) -> tuple[dict[str, int], list[list[str]]]:
    """pg_dump into ``target``, inside a snapshot exported by a transaction of our own
    that also reads the counts and migrations: the manifest describes exactly the dump."""
    pg_dump = _pg_tool("pg_dump")
    own = connections.create_connection(using)
    try:
        with own.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            try:
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
                state = _read_state(cursor)
                _run_pg_tool(
                    [
                        pg_dump,
                        "--format=custom",
                        "--no-owner",
                        f"--snapshot={snapshot}",
                        f"--file={target}",
                    ],
                    pg_env(own.settings_dict),
                )
            finally:
                cursor.execute("ROLLBACK")
        return state
    except DatabaseError as e:
        raise BackupError(f"读取数据库失败：{e}") from e
    finally:
        own.close()


# --- making a backup ------------------------------------------------------------------
def _media_files(root: Path) -> Iterator[Path]:
    """The regular files under ``root`` (symbolic links and the like are left out)."""
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                yield path


def _target_path(output: str | Path | None, stamp: str) -> Path:
    """Where the archive goes: a ``.tar.gz`` file as given, else a file in that folder."""
    name = f"{NAME_PREFIX}{stamp}{SUFFIX}"
    if output is None:
        folder = default_backup_dir()
    else:
        output = Path(output).expanduser()
        if output.name.endswith(SUFFIX) and not output.is_dir():
            output.parent.mkdir(parents=True, exist_ok=True)
            return output.resolve()
        folder = output
    folder.mkdir(parents=True, exist_ok=True)
    path = folder.resolve() / name
    n = 1
    while path.exists():  # two backups in one second: never overwrite the first
        n += 1
        path = folder.resolve() / f"{NAME_PREFIX}{stamp}-{n}{SUFFIX}"
    return path


def create_backup(
    output: str | Path | None = None, *, using: str = "default", now: dt.datetime | None = None
) -> BackupResult:
    """Back up the database ``using``, the media folder and the secret key into one
    archive; return where it is and its manifest. The archive is written under a
    temporary name beside the final one and renamed when complete, so an interrupted
    backup never leaves a file that looks like a backup."""
    connection = connections[using]
    vendor = connection.vendor
    if vendor not in VENDOR_NAMES:
        raise BackupError(f"不支持备份 {vendor} 数据库，只支持 SQLite 和 PostgreSQL。")
    created = timezone.localtime(now or timezone.now())
    target = _target_path(output, created.strftime("%Y%m%d-%H%M%S"))
    work = Path(tempfile.mkdtemp(prefix=".tongxin-backup-", dir=target.parent))
    part = target.with_name(f".{target.name}.part")
    try:
        if vendor == "sqlite":
            db_member, db_file = SQLITE_MEMBER, work / SQLITE_MEMBER
            sqlite_online_backup(connection.settings_dict["NAME"], db_file, standalone=True)
            if (check := sqlite_integrity(db_file)) != "ok":
                raise BackupError(f"数据库副本未通过完整性检查：{check}")
            counts, migrations = _sqlite_state(db_file)
        else:
            db_member, db_file = PG_MEMBER, work / PG_MEMBER
            counts, migrations = _pg_dump(using, db_file)

        media_root = Path(settings.MEDIA_ROOT)
        media = list(_media_files(media_root))
        key = secret_key_path()
        has_key = key.is_file()
        manifest = {
            "format": "tongxin-backup",
            "format_version": FORMAT_VERSION,
            "created_at": created.isoformat(),
            "vendor": vendor,
            "database": {
                "member": db_member,
                "name": str(connection.settings_dict["NAME"]),
                "sha256": _sha256(db_file),
                "size": db_file.stat().st_size,
            },
            "counts": counts,
            "migrations": migrations,
            "media": {"files": len(media), "bytes": sum(p.stat().st_size for p in media)},
            "secret_key": has_key,
            "django_version": django.get_version(),
            "python_version": platform.python_version(),
        }
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # personal data
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
                data = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(data), int(created.timestamp()), 0o600
                tar.addfile(info, io.BytesIO(data))
                tar.add(db_file, arcname=db_member, recursive=False)
                if has_key:
                    tar.add(key, arcname=SECRET_KEY_MEMBER, recursive=False)
                folder = tarfile.TarInfo(MEDIA_MEMBER)
                folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, info.mtime
                tar.addfile(folder)  # present even when there are no uploads yet
                for path in media:
                    arcname = f"{MEDIA_MEMBER}/{path.relative_to(media_root).as_posix()}"
                    with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                        tar.add(path, arcname=arcname, recursive=False)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(part, target)
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return BackupResult(path=target, manifest=manifest, size=target.stat().st_size)


# --- reading and checking an archive --------------------------------------------------
_ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError, UnicodeDecodeError)
# A table in the table of contents ``pg_restore --list`` prints:
# "215; 1259 16390 TABLE public accounts_user postgres".
_PG_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE \S+ (\S+)", re.MULTILINE)


def read_manifest(archive: str | Path) -> dict:
    """The manifest of an archive (its first member), checked for the format version.
    Reads only the beginning of the file: a damaged rest is found by the restore."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"找不到备份文件：{archive}")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise BackupError(f"{archive.name} 不是同心的备份文件（缺少 {MANIFEST}）。")
            manifest = json.loads(tar.extractfile(first).read().decode("utf-8"))
    except BackupError:
        raise
    except (*_ARCHIVE_ERRORS, json.JSONDecodeError) as e:
        raise BackupError(f"备份文件已损坏或不完整，无法读取：{archive.name}（{e}）") from e
    if not isinstance(manifest, dict) or manifest.get("format") != "tongxin-backup":
        raise BackupError(f"{archive.name} 不是同心的备份文件（清单格式不对）。")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BackupError(
            f"备份格式版本为 {version}，当前版本的同心只能恢复格式版本 {FORMAT_VERSION} 的备份。"
        )
    for key in ("vendor", "counts", "migrations", "database"):
        if key not in manifest:
            raise BackupError(f"备份清单缺少 {key}，文件可能已损坏。")
    return manifest


def check_manifest(manifest: dict, *, using: str = "default") -> list[str]:
    """Refuse a backup of the other database vendor; return warnings (Chinese) about
    migrations that differ between the backup and the code."""
    vendor = connections[using].vendor
    if manifest["vendor"] != vendor:
        raise BackupError(
            f"这是 {vendor_name(manifest['vendor'])} 数据库的备份，当前配置的是 "
            f"{vendor_name(vendor)} 数据库，不能直接恢复。请在使用 "
            f"{vendor_name(manifest['vendor'])} 的安装上恢复它"
            "（两种数据库之间迁移数据请用 dumpdata/loaddata）。"
        )
    from django.db.migrations.loader import MigrationLoader

    on_disk = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    in_backup = {tuple(m) for m in manifest["migrations"]}
    warnings = []
    if newer := sorted(in_backup - on_disk):
        warnings.append(
            f"备份中有 {len(newer)} 个当前代码没有的数据库迁移（例如 {'.'.join(newer[0])}）："
            "备份来自更新版本的同心，恢复后请使用相同或更新版本的代码。"
        )
    if pending := sorted(on_disk - in_backup):
        warnings.append(
            f"当前代码有 {len(pending)} 个备份中尚未应用的数据库迁移："
            "恢复后请运行 ./tongxin.sh setup（执行 migrate）。"
        )
    return warnings


def _extract(archive: Path, into: Path, manifest: dict) -> tuple[int, set[str]]:
    """Unpack the whole archive, which also proves it is complete (gzip checks its CRC
    and length at the end), and check the database file against the manifest. Returns
    the number of uploaded files in the archive and (PostgreSQL) the dump's tables."""
    allowed_top = {MANIFEST, manifest["database"]["member"], SECRET_KEY_MEMBER, MEDIA_MEMBER}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()  # reads to the end
            for member in members:
                if member.name.split("/", 1)[0] not in allowed_top:
                    raise BackupError(f"备份文件中有不应出现的内容：{member.name}")
            tar.extractall(into, filter="data")
            media_files = sum(
                1 for m in members if m.isfile() and m.name.startswith(f"{MEDIA_MEMBER}/")
            )
    except BackupError:
        raise
    except (*_ARCHIVE_ERRORS, tarfile.FilterError) as e:
        raise BackupError(f"备份文件已损坏或不完整：{archive.name}（{e}）") from e
    db_file = into / manifest["database"]["member"]
    if not db_file.is_file():
        raise BackupError("备份文件中没有数据库文件，文件可能已损坏。")
    if manifest["database"].get("sha256") and _sha256(db_file) != manifest["database"]["sha256"]:
        raise BackupError("备份中的数据库文件与清单的校验值不符，文件已损坏。")
    if manifest["vendor"] == "sqlite":
        if (check := sqlite_integrity(db_file)) != "ok":
            raise BackupError(f"备份中的数据库未通过完整性检查：{check}")
    else:
        listing = _run_pg_tool([_pg_tool("pg_restore"), "--list", str(db_file)], dict(os.environ))
        return media_files, set(_PG_TABLE.findall(listing.stdout))
    return media_files, set()


def _media_count(root: Path) -> int:
    return sum(1 for _ in _media_files(root))


def _replace_media(source: Path, root: Path) -> None:
    """Make the contents of the media folder those of ``source`` (the folder itself
    stays: it may be a mount point or have its own owner and mode)."""
    root.mkdir(parents=True, exist_ok=True)
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    if source.is_dir():
        shutil.copytree(source, root, dirs_exist_ok=True)


def _restore_secret_key(source: Path) -> bool:
    """Put the backed-up key in the data folder; a different key found there is kept
    beside it. True when the key on disk changed."""
    key = source.read_text().strip()
    target = secret_key_path()
    if target.is_file() and target.read_text().strip() == key:
        return False
    if target.exists():
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        shutil.copy2(target, target.with_name(f"secret_key.before-restore-{stamp}"))
    tmp = target.with_name(".secret_key.restoring")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    os.replace(tmp, target)
    return True


def restore_backup(archive: str | Path, *, using: str = "default") -> RestoreResult:
    """Replace the database ``using``, the media folder and the secret key with those of
    ``archive``, then count the key tables again. Nothing is changed unless the whole
    archive reads back correctly and matches the configured database vendor."""
    archive = Path(archive)
    manifest = read_manifest(archive)
    warnings = check_manifest(manifest, using=using)
    connection = connections[using]
    work_parent = Path(settings.DATA_DIR)
    work_parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tongxin-restore-", dir=work_parent))
    try:
        media_expected, dump_tables = _extract(archive, work, manifest)
        db_file = work / manifest["database"]["member"]
        if manifest["vendor"] == "sqlite":
            counts, _migrations = _sqlite_state(db_file)
            if counts != manifest["counts"]:
                raise BackupError("备份中的数据库与清单记录的行数不符，文件已损坏。")
        connection.close()  # no transaction of ours stands in the way
        if manifest["vendor"] == "sqlite":
            # Into the live file through the backup API: one write transaction, so
            # other connections (and WAL readers) see the old database or the new one.
            sqlite_online_backup(db_file, connection.settings_dict["NAME"], standalone=False)
        else:
            _run_pg_tool(
                [
                    _pg_tool("pg_restore"),
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--single-transaction",
                    "--exit-on-error",
                    "-d",
                    str(connection.settings_dict["NAME"]),
                    str(db_file),
                ],
                pg_env(connection.settings_dict),
            )
        connection.close()

        media_root = Path(settings.MEDIA_ROOT)
        _replace_media(work / MEDIA_MEMBER, media_root)
        key_restored = False
        if (work / SECRET_KEY_MEMBER).is_file():
            key_restored = _restore_secret_key(work / SECRET_KEY_MEMBER)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    counts = current_counts(using)
    if manifest["vendor"] == "postgresql" and dump_tables:
        # pg_restore --clean drops only what the dump has: tables made since (by newer
        # migrations) stay, and "migrate" would stumble over them.
        extra = sorted(set(connections[using].introspection.table_names()) - dump_tables)
        if extra:
            warnings.append(
                f"数据库中有 {len(extra)} 个备份里没有的表，保持原样：{'、'.join(extra[:10])}"
                f"{' 等' if len(extra) > 10 else ''}。如需重新运行 migrate，请先删除这些表。"
            )
    mismatches = [
        (table, expected, counts.get(table))
        for table, expected in manifest["counts"].items()
        if counts.get(table) != expected
    ]
    return RestoreResult(
        manifest=manifest,
        counts=counts,
        mismatches=mismatches,
        media_files=_media_count(media_root),
        media_expected=media_expected,
        secret_key_restored=key_restored,
        warnings=warnings,
    )
