"""Signing in, as a person at the login page sees it."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

WRONG = "not-the-password"


def test_wrong_password_shows_the_error_and_stays_on_the_login_page(page, sign_in):
    response = sign_in("worker_a", WRONG)

    assert response.status == 200
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码不正确")
    # The username is kept, the password is not.
    expect(page.locator("#id_username")).to_have_value("worker_a")
    expect(page.locator("#id_password")).to_have_value("")


def test_right_password_lands_on_the_home_page(page, sign_in):
    sign_in("worker_a")

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("h1")).to_have_text(re.compile(r"^社工甲[,，]\s*您好$"))
    expect(page.get_by_role("navigation").first).to_contain_text("社工甲")


def test_too_many_wrong_passwords_lock_the_account_even_for_the_right_one(page, sign_in):
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        response = sign_in("worker_a", WRONG)
        assert response.status == 200
        expect(page.get_by_role("alert")).to_contain_text("用户名或密码不正确")

    response = sign_in("worker_a", WRONG)  # the last failure allowed locks the account
    assert response.status == 429
    expect(page.locator("h1")).to_contain_text("账号已被暂时锁定")

    response = sign_in("worker_a")  # now even the right password is refused
    assert response.status == 429
    expect(page.locator("h1")).to_contain_text("账号已被暂时锁定")
    expect(page.get_by_text("您好")).to_have_count(0)
