"""``manage.py backup [--output DIR_OR_FILE]``: the database, the uploaded files and the
secret key in one ``tongxin-backup-YYYYmmdd-HHMMSS.tar.gz`` (see
:mod:`tongxin.core.backup` and docs/operations.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from tongxin.core import backup


def format_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"  # not reached


class Command(BaseCommand):
    help = (
        "备份数据库（SQLite 在线备份或 PostgreSQL pg_dump）、上传的文件和 secret_key，"
        "写成一个 tongxin-backup-年月日-时分秒.tar.gz 文件（默认在数据目录的 backups/ 下）。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            "-o",
            metavar="DIR_OR_FILE",
            help="备份文件存放的目录，或以 .tar.gz 结尾的文件名（默认：数据目录/backups/）",
        )

    def handle(self, *args, **options):
        try:
            result = backup.create_backup(options["output"])
        except backup.BackupError as e:
            raise CommandError(str(e)) from e
        manifest = result.manifest
        self.stdout.write(self.style.SUCCESS(f"备份完成：{result.path}"))
        self.stdout.write(
            f"大小 {format_size(result.size)}；数据库 {backup.vendor_name(manifest['vendor'])}，"
            f"已应用迁移 {len(manifest['migrations'])} 个；"
            f"上传文件 {manifest['media']['files']} 个；"
            f"secret_key {'已包含' if manifest['secret_key'] else '未包含（使用环境变量 DJANGO_SECRET_KEY）'}。"
        )
        self.stdout.write("各表行数：")
        for table, count in manifest["counts"].items():
            self.stdout.write(f"  {table:<22} {count}")
