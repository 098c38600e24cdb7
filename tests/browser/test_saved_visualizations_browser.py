"""In chromium, the custom tab's saved visualizations: "Load & run" and "Delete" are on only while a saved one is
chosen (a click on them with none chosen did nothing at all, leaving the last message on screen); saving one chooses
it, deleting it leaves none chosen."""

from __future__ import annotations

PANEL = "#panel-custom"


def offered(page) -> dict[str, bool]:
    return {
        action: page.locator(f"{PANEL} [data-action={action}]").is_enabled() for action in ("load", "delete", "save")
    }


def test_load_and_delete_are_offered_only_for_a_chosen_visualization(page, log_in):
    log_in(page, "teacher")
    page.goto("/sections/physics-fall/analytics#custom")
    page.wait_for_selector(f"{PANEL} .xolap-editor-sql .cm-content", timeout=30_000)
    page.wait_for_function(
        "() => !document.querySelector('#panel-custom select[name=saved]').textContent.includes('loading')"
    )
    page.select_option(f"{PANEL} select[name=saved]", "")
    assert offered(page) == {"load": False, "delete": False, "save": True}
    page.fill(f"{PANEL} input[name=title]", "Saved, then deleted ✓")
    page.click(f"{PANEL} [data-action=save]")
    page.wait_for_function(
        "() => document.querySelector('#panel-custom select[name=saved]').selectedOptions[0]?.value !== ''"
    )
    assert offered(page) == {"load": True, "delete": True, "save": True}
    page.select_option(f"{PANEL} select[name=saved]", "")
    assert offered(page) == {"load": False, "delete": False, "save": True}
    page.select_option(f"{PANEL} select[name=saved]", label="Saved, then deleted ✓")
    assert offered(page) == {"load": True, "delete": True, "save": True}
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"{PANEL} [data-action=delete]")
    page.wait_for_function("() => document.querySelector('#panel-custom .status').textContent === 'Deleted.'")
    assert offered(page) == {"load": False, "delete": False, "save": True}
    assert page.errors == []  # type: ignore[attr-defined]
