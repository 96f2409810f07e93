"""Twelve months of demands for the demo street 龙井街, in the proportions of source 004
(1,580 problems collected, 1,272 resolved: 80.5%).

``build_demo_demands`` tells each demand's story the way the software would have
written it: taken in through a channel, dispatched along the responsibility chains or
to the party members' pool, claimed, handled, resolved with an answer, visited back;
the late ones escalated by the sweep a minute after their deadline (T2 the community,
T3 the street with a co-building unit, T4 the district office and its meeting on the
25th), decided there, some postponed; duplicates merged, a few withdrawn; and about
sixty still in hand today, green, yellow and (at T4 only: below it the sweep would
already have moved them up) red. Times, deadlines and yellow lights come from
:mod:`tongxin.demands.clock` on the working calendar, the same as live.

Everything is drawn from one ``random.Random`` seeded with ``seed``, relative to
``now``: the same seed, scale and moment give the same demands. The stories are
planned before the write transaction opens, where :mod:`tongxin.workcal` keeps its
calendar cached (one read for the whole year), and written with ``bulk_create``.

- :mod:`.street` loads the street as the stories need it;
- :mod:`.story` is one demand's ledger, each step as :mod:`tongxin.demands.actions`
  takes it;
- :mod:`.planner` decides when, where and who, and plays a story through its tiers;
- :mod:`.year` decides how many end which way, and writes them all;
- :mod:`.texts` is what residents report and what the handlers write.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from typing import IO, Any

from django.utils import timezone, translation

from tongxin.demo.demands.planner import Planner
from tongxin.demo.demands.street import load_street
from tongxin.demo.demands.year import plan_year, write_year

# 004: 1,580 collected in the period, 1,272 resolved.
FULL_DEMANDS = 1580


def build_demo_demands(
    *,
    scale: float = 1.0,
    seed: int = 2013,
    months: int = 12,
    now: dt.datetime | None = None,
    stdout: IO[str] | Any | None = None,
) -> dict[str, int]:
    """Add ``months`` months of demands up to ``now`` to the demo street; returns counts.

    ``scale`` multiplies the number (1,580 a year at 1.0)."""
    started = time.monotonic()
    now = timezone.localtime(now or timezone.now())
    rng = random.Random(f"tongxin-demands-{seed}")
    with translation.override("zh-hans"):
        street = load_street(now)
        planner = Planner(street, rng, now, months)
        stories, meetings = plan_year(planner, round(FULL_DEMANDS * scale * months / 12))
        planned = time.monotonic() - started
        counts = write_year(street, stories, meetings, now)
    counts["seconds"] = round(time.monotonic() - started, 1)
    if stdout is not None:
        c = counts
        stdout.write(
            f"已生成 {months} 个月的诉求 {c['demands']:,} 件：已办结 {c['resolved']:,} 件，"
            f"办理中 {c['open']:,} 件（其中缓办 {c['postponed']}、T4 {c['open_t4']}），"
            f"合并 {c['merged']}、撤回 {c['withdrawn']}；办理记录 {c['events']:,} 条，"
            f"调度会 {c['meetings']} 次(用时 {c['seconds']:.1f} 秒，"
            f"其中计划 {planned:.1f} 秒)\n"
        )
    return counts
