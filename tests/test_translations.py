"""The English catalogue (locale/en/LC_MESSAGES/django.po).

Message ids are the Chinese UI text; English comes from the catalogue. These tests
check that the committed catalogue is fully translated, that it covers every string
the code and templates mark for translation today, and that pages really switch
language. To refresh the catalogue after adding strings:

    .venv/bin/python manage.py makemessages -l en --ignore=.venv --ignore=node_modules \
        --ignore=static --ignore=staticfiles --ignore=bench --ignore=data --ignore=tests \
        --no-obsolete
    # translate the new entries, then
    .venv/bin/python manage.py compilemessages -l en --ignore=.venv
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# The same ignores as the documented makemessages command (tests hold no UI text).
IGNORES = [".venv", "node_modules", "static", "staticfiles", "bench", "data", "tests"]

PLACEHOLDER = re.compile(r"%\((\w+)\)[sdrif]")


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"GNU gettext tools not installed ({', '.join(missing)}); apt install gettext")


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=False, **kw)


def parse_po(path: Path) -> dict[tuple[str, str, str], list[str]]:
    """(msgctxt, msgid, msgid_plural) -> msgstrs, for every entry but the header and
    obsolete (#~) ones. Enough of the PO syntax for what makemessages writes."""
    entries: dict[tuple[str, str, str], list[str]] = {}
    fields: dict[str, str] = {}
    current = None

    def flush() -> None:
        if "msgid" in fields and fields["msgid"] != "":
            key = (fields.get("msgctxt", ""), fields["msgid"], fields.get("msgid_plural", ""))
            entries[key] = [v for k, v in sorted(fields.items()) if k.startswith("msgstr")]
        fields.clear()

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            if not line:
                flush()
                current = None
            continue
        match = re.match(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(\".*\")$", line)
        if match:
            if match.group(1) in ("msgctxt", "msgid") and "msgstr" in "".join(fields):
                flush()
            current = match.group(1)
            fields[current] = ast.literal_eval(match.group(2))
        elif line.startswith('"') and current:
            fields[current] += ast.literal_eval(line)
    flush()
    return entries


# --- a. the committed catalogue is complete and well-formed --------------------------
def test_catalogue_is_fully_translated_and_not_fuzzy():
    _need("msgattrib")
    assert PO.exists(), f"{PO} is missing; run makemessages -l en"
    untranslated = _run(["msgattrib", "--untranslated", "--no-wrap", str(PO)])
    assert untranslated.returncode == 0, untranslated.stderr
    assert untranslated.stdout.strip() == "", (
        "Untranslated entries in the English catalogue:\n" + untranslated.stdout
    )
    fuzzy = _run(["msgattrib", "--only-fuzzy", "--no-wrap", str(PO)])
    assert fuzzy.returncode == 0, fuzzy.stderr
    assert fuzzy.stdout.strip() == "", (
        "Fuzzy entries (check them, then drop '#, fuzzy'):\n" + fuzzy.stdout
    )


def test_catalogue_compiles_and_placeholders_match():
    _need("msgfmt")
    check = _run(["msgfmt", "--check", "-o", os.devnull, str(PO)])
    assert check.returncode == 0, check.stderr
    header = PO.read_text(encoding="utf-8").split("\n\n", 1)[0]
    assert '"Language: en\\n"' in header
    assert "charset=UTF-8" in header
    assert '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"' in header
    assert "#, fuzzy" not in header

    problems = []
    for (_ctx, msgid, plural), msgstrs in parse_po(PO).items():
        wanted = set(PLACEHOLDER.findall(msgid)) | set(PLACEHOLDER.findall(plural))
        for msgstr in msgstrs:
            if set(PLACEHOLDER.findall(msgstr)) != wanted:
                problems.append(f"{msgid!r} -> {msgstr!r}")
        if plural:
            assert len(msgstrs) == 2, f"{msgid!r}: English needs msgstr[0] and msgstr[1]"
    assert not problems, "Placeholders differ between msgid and msgstr:\n" + "\n".join(problems)


# --- b. the catalogue covers every string the source marks today ---------------------
def test_catalogue_covers_every_marked_string(tmp_path):
    _need("xgettext", "msgmerge", "msguniq")
    copy = tmp_path / "src"
    copy.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "locale")
    shutil.copytree(ROOT / "tongxin", copy / "tongxin", ignore=skip)
    shutil.copytree(ROOT / "templates", copy / "templates", ignore=skip)
    shutil.copy2(ROOT / "manage.py", copy / "manage.py")
    (copy / "locale").mkdir()  # empty: a fresh extraction, nothing merged in

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tongxin.settings",
        "TONGXIN_DATA_DIR": str(tmp_path / "data"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("PYTHONPATH", None)
    ignores = [f"--ignore={p}" for p in IGNORES]
    result = _run(
        [sys.executable, "manage.py", "makemessages", "-l", "en", "--no-obsolete", *ignores],
        cwd=copy,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    fresh = parse_po(copy / "locale" / "en" / "LC_MESSAGES" / "django.po")
    assert fresh, "makemessages extracted nothing: is the copy complete?"

    committed = parse_po(PO)
    missing = sorted(set(fresh) - set(committed))
    assert not missing, (
        f"{len(missing)} marked string(s) are not in {PO.relative_to(ROOT)}; run makemessages "
        "and translate them:\n"
        + "\n".join(
            f"  {msgid!r}"
            + (f" (plural {plural!r})" if plural else "")
            + (f" [context {ctx!r}]" if ctx else "")
            for ctx, msgid, plural in missing
        )
    )


# --- c. pages switch language -------------------------------------------------------
def _page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


def test_pages_are_english_with_the_language_cookie(client, world, english):
    client.force_login(world.worker_a)
    client.cookies[english] = "en"

    home = _page(client, "/")
    assert '<html lang="en">' in home
    for word in ("Home", "Residents", "Area grid", "Log out", "Resident register", "Hello,"):
        assert word in home, word
    for word in ("首页", "居民名册", "退出", "区域网格", "您好"):
        assert word not in home, word
    assert ">中文</button>" in home  # the switch offers the way back

    residents = _page(client, "/residents/")
    for word in ("Resident register", "Care tags", "Search", "ID number"):
        assert word in residents, word
    for word in ("首页", "居民名册", "关爱标签", "身份证号"):
        assert word not in residents, word


def test_pages_are_chinese_by_default(client, world, english):
    client.force_login(world.worker_a)
    assert "HTTP_ACCEPT_LANGUAGE" not in client.defaults
    home = _page(client, "/")
    assert '<html lang="zh-hans">' in home
    for word in ("首页", "居民名册", "退出"):
        assert word in home, word
    assert "Log out" not in home
    assert ">English</button>" in home


def test_the_language_switch_changes_the_language(client, world, english):
    client.force_login(world.worker_a)
    assert "首页" in _page(client, "/")

    response = client.post("/i18n/setlang/", {"language": "en", "next": "/residents/"})
    assert response.status_code == 302
    assert response["Location"] == "/residents/"
    assert client.cookies[english].value == "en"
    residents = _page(client, "/residents/")
    assert "Resident register" in residents
    assert "居民名册" not in residents

    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert client.cookies[english].value == "zh-hans"
    assert "首页" in _page(client, "/")
