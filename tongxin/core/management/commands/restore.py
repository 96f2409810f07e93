"""``manage.py restore FILE [--yes]``: put a backup made by ``manage.py backup`` back —
the database, the uploaded files and the secret key — then check the row counts against
the backup's manifest (see :mod:`tongxin.core.backup` and docs/operations.md)."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from tongxin.core import backup


class Command(BaseCommand):
    help = (
        "从 manage.py backup 生成的备份文件恢复数据库、上传的文件和 secret_key，"
        "完成后核对各表行数。会覆盖现有数据，需确认（或加 --yes）。"
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="备份文件（tongxin-backup-….tar.gz）")
        parser.add_argument("--yes", "-y", action="store_true", help="不再询问，直接覆盖现有数据")

    def handle(self, *args, **options):
        path = options["file"]
        try:
            manifest = backup.read_manifest(path)
            warnings = backup.check_manifest(manifest)
        except backup.BackupError as e:
            raise CommandError(str(e)) from e

        db = connection.settings_dict["NAME"]
        self.stdout.write(
            f"备份文件：{path}\n"
            f"备份时间：{manifest['created_at']}；数据库 {backup.vendor_name(manifest['vendor'])}；"
            f"上传文件 {manifest.get('media', {}).get('files', '?')} 个。"
        )
        for warning in warnings:
            self.stdout.write(self.style.WARNING(f"注意：{warning}"))
        if not options["yes"]:
            if not sys.stdin.isatty():
                raise CommandError("不在终端中运行，无法确认：确定要覆盖现有数据时请加 --yes。")
            answer = input(
                f"恢复将覆盖当前数据库（{db}）和上传文件目录中的全部内容，且不可撤销。"
                "输入 yes 继续："
            )
            if answer.strip().lower() not in {"yes", "y", "是"}:
                raise CommandError("已取消，未做任何改动。")

        try:
            result = backup.restore_backup(path)
        except backup.BackupError as e:
            raise CommandError(str(e)) from e

        self.stdout.write("各表行数（备份时 / 恢复后）：")
        for table, expected in manifest["counts"].items():
            got = result.counts.get(table)
            line = f"  {table:<22} {expected} / {got}"
            self.stdout.write(line if got == expected else self.style.ERROR(f"{line}  不一致"))
        media_line = f"  上传文件 {result.media_expected} / {result.media_files}"
        self.stdout.write(
            media_line
            if result.media_files == result.media_expected
            else self.style.ERROR(f"{media_line}  不一致")
        )
        for warning in result.warnings[len(warnings) :]:  # found during the restore
            self.stdout.write(self.style.WARNING(f"注意：{warning}"))
        if result.secret_key_restored:
            self.stdout.write(
                self.style.WARNING(
                    "已恢复备份中的 secret_key（原来的密钥另存为 secret_key.before-restore-…）："
                    "请重启同心的所有进程（网页服务、后台任务）。"
                )
            )
        if not result.ok:
            raise CommandError("恢复后的数据与备份清单不一致，请检查上面标出的项目。")
        self.stdout.write(self.style.SUCCESS("恢复完成，数据与备份清单一致。"))
