"""``manage.py link_hot_topics``: link every demand not linked yet into its hot-topic
group (热点问题) here and now, without the task queue — after an import, a restore, or
the first deployment. The background worker does the same every minute."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from tongxin.board import hot, tasks


class Command(BaseCommand):
    help = "立即把尚未归组的诉求按内容相似度归入热点问题分组（后台任务每分钟也会做同样的事）。"

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch",
            type=int,
            default=hot.LINK_BATCH,
            help=f"每轮归组的诉求数（默认 {hot.LINK_BATCH}）",
        )
        parser.add_argument(
            "--all",
            action="store_true",
            dest="everything",
            help="同时为30天以前、已不在办理中的旧诉求各建一个单独分组（首次部署后执行一次即可）",
        )

    def handle(self, *args, batch: int, everything: bool, **options) -> None:
        if batch <= 0:
            raise CommandError("--batch 必须大于 0")
        started = time.monotonic()
        linked = tasks.link_all(batch=batch, max_rounds=None, everything=everything)
        seconds = time.monotonic() - started
        self.stdout.write(f"热点问题归组完成：{linked} 件诉求，用时 {seconds:.1f} 秒。")
