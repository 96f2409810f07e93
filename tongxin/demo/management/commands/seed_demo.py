"""``manage.py seed_demo``: fill an empty database with the demo street 龙井街."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from tongxin.areas.models import Area
from tongxin.demands import rollup
from tongxin.demo.builder import DEMO_ACCOUNTS, DemoDataError, build_demo_street
from tongxin.demo.demands import build_demo_demands


class Command(BaseCommand):
    help = "生成演示数据：大安区龙井街的 6 个社区、约 3.2 万名居民、党组织和演示账号。"

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="规模倍数,1.0 约 3.2 万名居民;0.02 为完整的小型街道（默认 1.0）",
        )
        parser.add_argument(
            "--seed", type=int, default=2013, help="随机种子，相同种子生成相同数据（默认 2013）"
        )
        parser.add_argument(
            "--months",
            type=int,
            default=12,
            help="生成最近几个月的诉求（默认 12；规模 1.0 时每年约 1580 件）",
        )
        parser.add_argument(
            "--no-demands", action="store_true", help="只生成街道、居民和账号，不生成诉求"
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="数据库中已有区域数据时什么也不做（用于首次启动）",
        )

    def handle(
        self,
        *args,
        scale: float,
        seed: int,
        if_empty: bool,
        months: int,
        no_demands: bool,
        **options,
    ):
        if Area.objects.exists():
            if if_empty:
                self.stdout.write("数据库中已有区域数据，跳过生成演示数据。")
                return
            raise CommandError(
                "数据库中已有区域数据，未生成演示数据。演示数据只能生成到空数据库中；"
                "若只想在空库时生成，请加 --if-empty。"
            )
        if scale <= 0:
            raise CommandError("--scale 必须大于 0")
        if months < 1:
            raise CommandError("--months 必须至少为 1")
        started = time.monotonic()
        self.stdout.write(f"正在生成演示数据(规模 {scale:g}，种子 {seed})…")
        try:
            counts = build_demo_street(scale=scale, seed=seed, stdout=self.stdout)
        except DemoDataError as e:
            raise CommandError(str(e)) from None
        self.stdout.write(
            f"已创建 {counts['communities']} 个社区、{counts['households']:,} 户、"
            f"{counts['residents']:,} 名居民、{counts['party_members']:,} 名党员、"
            f"{counts['users']:,} 个账号。"
        )
        if not no_demands:
            build_demo_demands(scale=scale, seed=seed, months=months, stdout=self.stdout)
            # Written in bulk, round the actions: count the daily rollup afresh.
            rollup.rebuild()
        elapsed = time.monotonic() - started
        accounts = "、".join(a.username for a in DEMO_ACCOUNTS)
        self.stdout.write(f"演示账号：{accounts}，密码均为 {DEMO_ACCOUNTS[0].password}")
        self.stdout.write(self.style.SUCCESS(f"演示数据生成完毕，用时 {elapsed:.1f} 秒。"))
