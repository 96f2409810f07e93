"""``manage.py rollup``: the daily rollup (日汇总) by hand.

Without options it does what the minutely sweep does (count the complete days not yet
counted, recount the marked ones). ``--rebuild`` counts every day again from the
demands — after a bulk load or a restore. ``--check N`` compares the last N days of
every community with a full recount and exits non-zero on any difference."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tongxin.demands import metrics, rollup
from tongxin.demands.metrics import Period
from tongxin.demands.models import Demand


class Command(BaseCommand):
    help = "更新诉求日汇总（看板、镜子墙的统计数据）；--rebuild 全部重算；--check N 与全量重算核对最近 N 天。"

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="按诉求全部重新汇总")
        parser.add_argument(
            "--check", type=int, metavar="N", help="核对最近 N 天各社区的汇总与全量重算是否一致"
        )

    def handle(self, *args, rebuild: bool, check: int | None, **options) -> None:
        now = timezone.now()
        if rebuild:
            rows = rollup.rebuild(now)
            self.stdout.write(f"已重新汇总：{rows} 行。")
        else:
            rolled, recounted = rollup.refresh(now)
            self.stdout.write(f"汇总完成：新汇总 {rolled} 天，重算 {recounted} 个有变动的社区日。")
        if check:
            self._check(check, now)

    def _check(self, n: int, now: dt.datetime) -> None:
        last = timezone.localdate(now)
        first = last - dt.timedelta(days=n - 1)
        period = Period.days(first, last)
        differ = []
        for cid in rollup.community_ids(None):
            counted = rollup.figures([cid], first, last, now=now)
            recount = metrics.figures(Demand.objects.filter(community_id=cid), period, now=now)
            if counted != recount:
                differ.append(cid)
        if differ:
            raise CommandError(f"汇总与重算不一致的社区：{differ}；请运行 rollup --rebuild。")
        self.stdout.write(f"核对通过：最近 {n} 天的汇总与全量重算一致。")
