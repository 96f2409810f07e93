#!/usr/bin/env python3
"""Take the screenshots in docs/screenshots/ from a running Tongxin with the demo data.

    .venv/bin/python manage.py seed_demo --scale 0.2      # into an empty database
    .venv/bin/gunicorn tongxin.wsgi --bind 127.0.0.1:8011 &
    .venv/bin/python scripts/screenshots.py --base http://127.0.0.1:8011

It signs in through the login form as the demo community worker of 仁和社区 (``shequ``)
and saves, as PNG:

    login.png                 the login page (before signing in)
    home.png                  the worker's home page
    residents-desktop.png     the resident register at 1366x900
    residents-phone.png       the resident register on a phone (390x844, 2x; first screen)
    area-grid.png             a grid (片区) with its responsible chain
    party.png                 the party organisations

Desktop shots are whole pages cut at 2000 pixels; phone shots are the first screen.
``--phone-all`` also shoots every page at phone width (``*-phone.png``), to check the
layout. Only the server is needed, not the database: the script finds its way by
following links, as a person would. Chromium is Debian's (/usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import sys
from collections import deque
from pathlib import Path
from urllib.parse import urljoin

from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"viewport": {"width": 1366, "height": 900}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def settle(page: Page) -> None:
    """Wait until requests (htmx included) are done and the CJK web fonts are in."""
    page.wait_for_load_state("networkidle")
    page.evaluate("document.fonts.ready.then(() => true)")


def shoot(page: Page, out: Path, name: str, max_height: int = 2000) -> None:
    """The whole page, cut at ``max_height`` CSS pixels (a phone: its first screen)."""
    settle(page)
    path = out / f"{name}.png"
    width = page.viewport_size["width"]
    if page.evaluate("navigator.maxTouchPoints > 0"):
        max_height = page.viewport_size["height"]
    height = min(max_height, page.evaluate("document.documentElement.scrollHeight"))
    page.screenshot(
        path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height}
    )
    print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def sign_in(page: Page, base: str, user: str, password: str) -> None:
    page.goto(urljoin(base, "/login/"))
    page.fill("#id_username", user)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    if "/login/" in page.url or page.locator("h1", has_text="您好").count() == 0:
        message = page.locator("main").inner_text().strip().splitlines()
        sys.exit(f"could not sign in as {user!r} at {base}: {' '.join(message[:3])}")


def find_grid(page: Page, base: str, prefer: str | None, limit: int = 80) -> str | None:
    """The URL of a grid (片区) with a responsible chain, found by walking the 下级区域
    links from the home page: the one named ``prefer``; else, to show the chain at work,
    the first where someone is away today; else the first found."""
    page.goto(urljoin(base, "/"))
    start = [
        a.get_attribute("href") for a in page.locator("a.list-group-item[href*='/areas/']").all()
    ]
    queue = deque(urljoin(base, h) for h in start if h)
    seen: set[str] = set()
    first = None
    while queue and len(seen) < limit:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        page.goto(url)
        level = page.locator("h1 + .badge").first.inner_text().strip()
        name = page.locator("h1").first.inner_text().strip()
        if level == "片区" and page.locator(".tx-chain li").count():
            if prefer is not None and name == prefer:
                return url
            if prefer is None and page.locator(".tx-chain .tx-absent").count():
                return url
            first = first or url
            continue
        links = page.locator("section a.list-group-item[href*='/areas/']").all()
        queue.extend(urljoin(base, a.get_attribute("href")) for a in links)
    return first


def take(browser: Browser, base: str, user: str, password: str, out: Path, args) -> int:
    out.mkdir(parents=True, exist_ok=True)
    common = {"locale": "zh-CN", "timezone_id": "Asia/Shanghai", "color_scheme": "light"}
    sizes = [("", DESKTOP)] + ([("-phone", PHONE)] if args.phone_all else [])
    for suffix, size in sizes:
        context = browser.new_context(**common, **size)
        context.set_default_timeout(args.timeout * 1000)
        page = context.new_page()
        page.goto(urljoin(base, "/login/"))
        shoot(page, out, f"login{suffix}")

        sign_in(page, base, user, password)
        shoot(page, out, f"home{suffix}")

        if not suffix:
            page.goto(urljoin(base, "/residents/"))
            shoot(page, out, "residents-desktop")

        grid = find_grid(page, base, args.grid)
        if grid is None:
            print(f"  (no grid with a responsible chain found for {user}; area-grid skipped)")
        else:
            page.goto(grid)
            shoot(page, out, f"area-grid{suffix}")

        page.goto(urljoin(base, "/party/"))
        shoot(page, out, f"party{suffix}")
        if args.phone_all:
            page.locator("a.list-group-item[href*='/party/']").filter(
                has_text="党支部"
            ).first.click()
            shoot(page, out, f"party-branch{suffix}")
            page.goto(urljoin(base, "/areas/"))
            page.locator(".tx-expand").first.click()
            page.locator(".tx-tree ul ul li").first.wait_for()
            shoot(page, out, f"area-tree{suffix}")
            page.goto(urljoin(base, "/residents/"))
            page.locator("#resident-table tbody a").first.click()
            shoot(page, out, f"resident-detail{suffix}")
            page.goto(urljoin(base, "/residents/import/"))
            shoot(page, out, f"import{suffix}")
        context.close()

    # The register on a phone: the layout most grid workers see.
    context = browser.new_context(**common, **PHONE)
    context.set_default_timeout(args.timeout * 1000)
    page = context.new_page()
    sign_in(page, base, user, password)
    page.goto(urljoin(base, "/residents/"))
    shoot(page, out, "residents-phone")
    context.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000", help="URL of a running Tongxin")
    parser.add_argument("--user", default="shequ", help="demo account to sign in with")
    parser.add_argument("--password", default="Tongxin@2026")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument(
        "--grid", help="name of the grid to show (default: one where someone is away)"
    )
    parser.add_argument("--phone-all", action="store_true", help="also every page at phone width")
    parser.add_argument("--timeout", type=float, default=30, help="seconds per page action")
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args(argv)
    if not Path(args.chromium).exists():
        return f"Chromium not found at {args.chromium} (apt-get install chromium)"
    base = args.base.rstrip("/") + "/"
    print(f"screenshots of {base} as {args.user} into {args.out}")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            return take(browser, base, args.user, args.password, args.out, args)
        finally:
            browser.close()


if __name__ == "__main__":
    sys.exit(main())
