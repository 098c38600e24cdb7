"""In chromium, keyboard only: the SQL and Vega-Lite editors (CodeMirror) take Tab to indent, so a keyboard user who
tabs into one needs the way out. Each editor's text box has its label as its name and a description saying that
Escape then Tab leaves it, and Escape, Tab does move on to the next control."""

from __future__ import annotations

import pytest

EDITOR_STATE = """(selector) => {
  const box = document.querySelector(selector + ' .cm-content');
  const ids = (box.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
  return {
    name: box.getAttribute('aria-label'),
    description: ids.map((id) => document.getElementById(id)?.textContent.trim() || '').join(' '),
  };
}"""
IN_EDITOR = "(selector) => Boolean(document.activeElement.closest(selector))"


def leaves_with_escape_then_tab(page, selector: str) -> bool:
    """Focus the editor, press Tab (indents, stays), then Escape and Tab: whether the focus left the editor."""
    page.locator(f"{selector} .cm-content").focus()
    page.keyboard.press("Tab")
    assert page.evaluate(IN_EDITOR, selector)  # Tab indents inside the editor
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    return not page.evaluate(IN_EDITOR, selector)


@pytest.mark.parametrize(
    ("role", "path", "editors"),
    [
        (
            "teacher",
            "/sections/physics-fall/analytics#custom",
            {"#panel-custom .xolap-editor-sql": "SQL", "#panel-custom .xolap-editor-json": "Vega-Lite spec (JSON)"},
        ),
        ("admin", "/admin/console", {"#sql-console .xolap-editor-sql": "SQL"}),
    ],
)
def test_every_editor_is_named_and_says_how_a_keyboard_leaves_it(page, log_in, role, path, editors):
    log_in(page, role)
    page.goto(path)
    for selector, name in editors.items():
        page.wait_for_selector(f"{selector} .cm-content", timeout=30_000)
        state = page.evaluate(EDITOR_STATE, selector)
        assert state["name"] == name, state
        assert "Escape" in state["description"] and "Tab" in state["description"], state
        assert leaves_with_escape_then_tab(page, selector)
    assert page.errors == []  # type: ignore[attr-defined]


def test_enter_in_a_field_does_what_its_button_does(page, log_in):
    """The custom tab's title saves on Enter (as Save), the admin console's row limit runs on Enter (as Run): they are
    not in a form, and Enter did nothing."""
    log_in(page, "admin")
    page.goto("/admin/console")
    page.wait_for_selector("#sql-console .xolap-editor-sql .cm-content", timeout=30_000)
    page.fill("#sql-console input[name=max_rows]", "2")
    page.press("#sql-console input[name=max_rows]", "Enter")
    page.wait_for_function("() => document.querySelector('#sql-console .status').textContent.includes(' in ')")
    page.goto("/sections/physics-fall/analytics#custom")
    page.wait_for_selector("#panel-custom .xolap-editor-sql .cm-content", timeout=30_000)
    page.fill("#panel-custom input[name=title]", "Saved with Enter")
    page.press("#panel-custom input[name=title]", "Enter")
    page.wait_for_function(
        "() => document.querySelector('#panel-custom select[name=saved]').selectedOptions[0]?.text === 'Saved with Enter'"
    )
    assert page.locator("#panel-custom .status").inner_text() == "Saved “Saved with Enter”."
    assert page.errors == []  # type: ignore[attr-defined]
