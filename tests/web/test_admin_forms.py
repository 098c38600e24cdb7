"""Admin forms as a browser sends them: a field left empty or refused is named on the form's own page with what was
typed kept (never FastAPI's bare 'Field required' page), and boxes left unticked mean what they show."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

from web.test_admin import admin, csrf_of  # noqa: F401  (the signed-in admin fixture and the page's CSRF token)
from xolap.store import accounts

JSON = {"Accept": "application/json"}


class _FormFields(HTMLParser):
    """The fields a browser would send from the form posting to `action` (text inputs as given, boxes as ticked)."""

    def __init__(self, action: str):
        super().__init__()
        self.action, self.inside, self.fields = action, False, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("action") == self.action
        elif tag == "input" and self.inside and attrs.get("name"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.fields.append((attrs["name"], attrs.get("value") or "", attrs.get("type") or "text"))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def form_fields(html: str, action: str) -> list[tuple[str, str, str]]:
    """(name, value, type) of each field the form would send as the page shows it."""
    parser = _FormFields(action)
    parser.feed(html)
    assert parser.fields, f"no form posting to {action}"
    return parser.fields


def field_value(html: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert match, name
    value = re.search(r'value="([^"]*)"', match.group(0))
    return value.group(1) if value else None


def test_a_new_user_without_an_email_is_named_on_the_users_page_keeping_what_was_typed(admin):
    for email in ("", "   "):
        answer = admin.post("/admin/users", data={"email": email, "name": "Ines Ortega", "is_admin": "true"})
        assert answer.status_code == 400, answer.text[:300]
        assert 'id="email-error"' in answer.text and "required" in answer.text.split('id="email-error"')[1][:200]
        assert 'action="/admin/users"' in answer.text and "Field required" not in answer.text
        assert field_value(answer.text, "name") == "Ines Ortega"
    answer = admin.post("/admin/users", data={"name": "Ines"}, headers=JSON)
    assert answer.status_code == 400 and "required" in answer.json()["errors"]["email"]
    assert [u["email"] for u in admin.get("/admin/users", headers=JSON).json()["users"]] == ["root@example.org"]


def test_a_refused_grant_keeps_the_role_and_scope_typed(runtime, admin):
    with runtime.sessions() as session:
        user_id = accounts.create_user(session, "ines@example.org", password="instructor pw").id
        session.commit()
    refused = admin.post(f"/admin/users/{user_id}/grant", data={"kind": "project", "ref": "no-such-project"})
    assert refused.status_code == 400 and "no project with id or slug 'no-such-project'" in unescape(refused.text)
    assert field_value(refused.text, "ref") == "no-such-project"
    assert re.search(r'<option value="project"[^>]*selected', refused.text)
    empty = admin.post(f"/admin/users/{user_id}/grant", data={"kind": "section", "ref": ""})
    assert empty.status_code == 400 and "Field required" not in empty.text
    assert "section or project" in empty.text.split('role="alert"')[1][:300]


def test_an_lrs_credential_with_every_scope_box_unticked_is_refused_not_given_write_and_read_all(admin):
    fields = form_fields(admin.get("/admin/lrs").text, "/admin/lrs/credentials")
    assert [value for name, value, kind in fields if kind == "checkbox"], "the page ticks some scopes by default"
    data: dict[str, list[str]] = {}
    for name, value, kind in fields:
        if kind != "checkbox":  # every box unticked; hidden fields are still sent
            data.setdefault(name, []).append(value)
    data["name"] = ["moodle"]
    answer = admin.post("/admin/lrs/credentials", data=data)
    assert answer.status_code == 400, answer.text[:300]
    assert "scope" in answer.text.split('role="alert"')[1][:300]
    assert admin.get("/admin/lrs", headers=JSON).json()["credentials"] == []
    # an API client that names no scope keeps the documented default
    default = admin.post("/admin/lrs/credentials", data={"name": "producer"}, headers=JSON)
    assert default.status_code == 201 and default.json()["created"]["scopes"] == ["read-all", "write"]


def test_a_refused_lrs_credential_is_named_and_keeps_what_was_typed(admin):
    answer = admin.post(
        "/admin/lrs/credentials", data={"name": "moodle", "scopes": ["", "read-own"], "section": "no-such-section"}
    )
    assert answer.status_code == 400 and "no section with id or slug 'no-such-section'" in unescape(answer.text)
    assert field_value(answer.text, "name") == "moodle" and field_value(answer.text, "section") == "no-such-section"
    ticked = re.findall(r'<input type="checkbox" name="scopes" value="([^"]+)"[^>]* checked', answer.text)
    assert ticked == ["read-own"]
    unnamed = admin.post("/admin/lrs/credentials", data={"name": "", "scopes": ["", "write"], "project": "physics"})
    assert unnamed.status_code == 400 and "Field required" not in unnamed.text
    assert "name" in unnamed.text.split('role="alert"')[1][:300]
    assert field_value(unnamed.text, "project") == "physics"
    assert admin.get("/admin/lrs", headers=JSON).json()["credentials"] == []


def test_a_scope_renamed_to_an_empty_slug_is_named_on_the_scopes_page(admin):
    answer = admin.post("/admin/scopes/project/7", data={"slug": "", "title": "Physics II"})
    assert answer.status_code == 400, answer.text[:300]
    assert 'action="/admin/scopes/import"' in answer.text and "Field required" not in answer.text
    assert "slug: required" in unescape(answer.text)
    assert admin.get("/admin/scopes", headers=JSON).status_code == 200


def test_an_empty_new_password_set_by_an_admin_is_named_on_the_users_page(runtime, admin):
    with runtime.sessions() as session:
        user_id = accounts.create_user(session, "ines@example.org", password="instructor pw").id
        session.commit()
    answer = admin.post(f"/admin/users/{user_id}/password", data={"password": ""})
    assert answer.status_code == 400 and "Field required" not in answer.text
    assert "new password: required" in answer.text.split('role="alert"')[1][:300]
