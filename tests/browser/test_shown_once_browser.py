"""In chromium: a secret shown once (a new API token on the account page or a user's admin page, a new LRS credential)
stays shown once. Reloading the page that showed it, or going back to it, asks for the page again instead of sending
the form again: before, each reload created another token or credential (and showed its secret)."""

from __future__ import annotations

JSON = {"Accept": "application/json"}


def _count(page, address: str, key: str) -> int:
    return len(page.request.get(address, headers=JSON).json()[key])


def test_reloading_the_page_that_showed_a_new_secret_creates_nothing_more(page, log_in):
    log_in(page, "admin")
    page.goto("/admin/users")
    user_page = page.locator("main a[href^='/admin/users/']", has_text="teacher@").get_attribute("href")
    forms = [
        ("/account", "form[action='/account/tokens']", "name", "/account", "tokens", "xolap_"),
        (user_page, f"form[action='{user_page}/tokens']", "name", user_page, "tokens", "xolap_"),
        ("/admin/lrs", "form[action='/admin/lrs/credentials']", "name", "/admin/lrs", "credentials", "shown only now"),
    ]
    for address, form, field, listing, key, secret_words in forms:
        before = _count(page, listing, key)
        page.goto(address)
        page.locator(form).locator(f"input[name={field}]").fill("shown-once")
        page.locator(form).locator("[type=submit]").click()
        page.wait_for_selector(f"text={secret_words}")
        assert _count(page, listing, key) == before + 1
        page.reload()
        page.wait_for_load_state()
        assert _count(page, listing, key) == before + 1, f"a reload of {address} created another"
        assert secret_words not in page.locator("main").inner_text()  # shown once
        assert page.url.endswith(address)
    assert page.errors == []
