"""Real app server processes for the live tests: gunicorn as the production docs run it
(docs/install.md: ``gunicorn tongxin.wsgi --workers 2``), on a scratch database, plus
the small HTTP clients that talk to it the way a browser and an integration do.

Everything here waits with a time limit; nothing sleeps on a guess."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# Fixed for every process of one test: several app servers must sign alike, as
# several machines of one deployment share DJANGO_SECRET_KEY.
SECRET_KEY = "live-tests-only-" + "x" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def live_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """The environment of every process of one test: its own data folder (SQLite file,
    uploads), its own database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TONGXIN_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.live.settings",
        DJANGO_SECRET_KEY=SECRET_KEY,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        TONGXIN_DATA_DIR=str(data_dir),
        # The tests send a few hundred API requests a minute with one key.
        TONGXIN_API_RATE_KEY="1000000",
        TONGXIN_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """``manage.py <args>`` in a process of its own; its output, or an error with it."""
    done = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed ({done.returncode}):\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done.stdout


def migrate_and_seed(env: dict[str, str]) -> dict:
    """The schema (the categories and the cache table come with it) and tests/live/seed.py."""
    manage(env, "migrate", "-v0")
    out = manage(env, "shell", "-v0", "-c", "from tests.live.seed import main; main()")
    line = next(x for x in out.splitlines() if x.startswith("SEED "))
    return json.loads(line.removeprefix("SEED "))


class AppServer:
    """One gunicorn master and its workers, in a process group of their own so that
    :meth:`kill` takes them all at once, as a power cut or the OOM killer would."""

    def __init__(self, name: str, log_dir: Path, workers: int = 2) -> None:
        self.name = name
        self.workers = workers
        self.log_path = log_dir / f"gunicorn-{name}.log"
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self, env: dict[str, str], port: int) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.port = port
        self.starts += 1
        with self.log_path.open("a") as log:
            log.write(f"\n===== start #{self.starts} on port {port} =====\n")
            log.flush()
            self.proc = subprocess.Popen(
                [
                    *(PYTHON, "-m", "gunicorn", "tongxin.wsgi"),
                    *("--bind", f"127.0.0.1:{port}", "--workers", str(self.workers)),
                    *("--timeout", "120", "--graceful-timeout", "10"),
                ],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: see kill()
            )

    def wait_ready(self, timeout: float = 30) -> None:
        """Until /healthz answers 200 (a worker is up and the database answers)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"gunicorn {self.name} exited ({self.proc.returncode}):\n{self.log_tail()}"
                )
            try:
                if request(self.url, "GET", "/healthz", timeout=2).status == 200:
                    return
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"gunicorn {self.name} not ready in {timeout}s:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def start(self, env: dict[str, str], port: int, timeout: float = 30) -> None:
        self.spawn(env, port)
        self.wait_ready(timeout)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM (systemctl stop): gunicorn lets the workers finish their requests."""
        if not self.running():
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._wait_port_closed()

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once: no cleanup of any kind."""
        if self.proc is None:
            return
        self._signal_group(signal.SIGKILL)
        self.proc.wait(10)
        self._wait_port_closed()

    def _wait_port_closed(self, timeout: float = 10) -> None:
        """Until nothing accepts connections on the port any more (the workers, which
        share the listening socket, die a moment after the master)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                return
            time.sleep(0.05)
        raise RuntimeError(f"port {self.port} still accepts connections after the stop")

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return "(no log)"


# --- clients ------------------------------------------------------------------------------
@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: dict[str, str]

    def json(self):
        return json.loads(self.body)


def request(
    base: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> Response:
    """One request on a new connection, redirects not followed. Connection errors
    (refused, reset, closed without an answer) raise OSError: the outcome is unknown."""
    host = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        cookies = {}
        for raw in resp.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(raw)
            cookies.update({k: m.value for k, m in jar.items()})
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, cookies)
    finally:
        conn.close()


_CSRF_RE = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
_DONE_RE = re.compile(r"/track/([A-Z0-9]{6,12})/done/$")


@dataclass
class Outcome:
    """One submission as the client saw it. ``code`` is set only on a success answer."""

    kind: str  # "form" or "api"
    server: str
    token: str
    status: int | None = None
    code: str | None = None
    created: bool | None = None  # the API says 201 or 200; the form does not tell
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.code is not None


def submit_form(base: str, server: str, seed: dict, token: str, title: str, sync=None) -> Outcome:
    """A resident on the QR page: GET it (the CSRF cookie and token), then POST the form.
    ``sync`` (a callable) is called between the two, to line racing posts up."""
    out = Outcome("form", server, token)
    path = f"/report/{seed['community']}/"
    page = request(base, "GET", path)
    if page.status != 200 or "csrftoken" not in page.cookies:
        out.status, out.error = page.status, "GET: " + page.body[:300].decode(errors="replace")
        return out
    found = _CSRF_RE.search(page.body)
    if found is None:
        out.status, out.error = page.status, "no csrfmiddlewaretoken in the page"
        return out
    form = {
        "csrfmiddlewaretoken": found.group(1).decode(),
        "submission_token": token,
        "category": str(seed["category_id"]),
        "title": title,
        "description": "楼道口的垃圾桶两天没清，气味很大。",
        "place": "",
        "address": "1栋楼下",
        "reporter_name": "李淑芬",
        "reporter_phone": "13900005678",
        "website": "",
    }
    if sync is not None:
        sync()
    resp = request(
        base,
        "POST",
        path,
        body=urllib.parse.urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={page.cookies['csrftoken']}",
        },
    )
    out.status = resp.status
    done = _DONE_RE.search(resp.headers.get("location", "")) if resp.status == 302 else None
    if done:
        out.code = done.group(1)
    else:
        out.error = resp.body[:300].decode(errors="replace")
    return out


def submit_api(base: str, server: str, seed: dict, token: str, title: str, sync=None) -> Outcome:
    """An integration (a 12345 hotline) handing a demand over, with an Idempotency-Key."""
    out = Outcome("api", server, token)
    body = {
        "area": seed["household"],
        "category": seed["category_code"],
        "title": title,
        "description": "热线转来：小区东门路灯不亮。",
        "reporter_name": "王五",
        "reporter_phone": "13700009999",
    }
    if sync is not None:
        sync()
    resp = request(
        base,
        "POST",
        "/api/v1/demands",
        body=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "X-Api-Key": seed["api_key"],
            "Idempotency-Key": token,
        },
    )
    out.status = resp.status
    if resp.status in (200, 201):
        out.code = resp.json()["tracking_code"]
        out.created = resp.status == 201
    else:
        out.error = resp.body[:300].decode(errors="replace")
    return out


SUBMIT = {"form": submit_form, "api": submit_api}
