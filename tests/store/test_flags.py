"""Feature flags: global and scoped rows, scoped rows override the global one, unknown names and scopes refused."""

from __future__ import annotations

import pytest

from xolap.store import flags
from xolap.store.db import session_scope
from xolap.store.models import Project, Section


@pytest.fixture()
def session(pg_settings):
    with session_scope(pg_settings) as s:
        s.add_all([Project(id=7, slug="p7"), Section(id=11, slug="s11"), Section(id=12, slug="s12")])
        s.flush()
        yield s


def test_flags_default_off_and_toggle(session):
    assert not flags.is_enabled(session, flags.ANALYTICS)
    flags.set_flag(session, flags.ANALYTICS, True)
    assert flags.is_enabled(session, flags.ANALYTICS)
    flags.set_flag(session, flags.ANALYTICS, False)
    assert not flags.is_enabled(session, flags.ANALYTICS)


def test_scoped_flag_is_per_section_and_overrides_global(session):
    flags.set_flag(session, flags.SECTION_DASHBOARD, True, "section", 11)
    assert flags.is_enabled(session, flags.SECTION_DASHBOARD, "section", 11)
    assert not flags.is_enabled(session, flags.SECTION_DASHBOARD, "section", 12)
    flags.set_flag(session, flags.SECTION_DASHBOARD, True)  # global rollout
    flags.set_flag(session, flags.SECTION_DASHBOARD, False, "section", 11)  # ...except 11
    assert flags.is_enabled(session, flags.SECTION_DASHBOARD, "section", 12)
    assert not flags.is_enabled(session, flags.SECTION_DASHBOARD, "section", 11)
    assert flags.clear_flag(session, flags.SECTION_DASHBOARD, "section", 11)
    assert flags.is_enabled(session, flags.SECTION_DASHBOARD, "section", 11)


def test_invalid_flags_are_refused_with_reasons(session):
    with pytest.raises(flags.FlagError, match="unknown flag 'nope'"):
        flags.set_flag(session, "nope", True)
    with pytest.raises(flags.FlagError, match="cannot be set per section"):
        flags.set_flag(session, flags.ANALYTICS, True, "section", 11)
    with pytest.raises(flags.FlagError, match="no section with id 99"):
        flags.set_flag(session, flags.SECTION_DASHBOARD, True, "section", 99)
    with pytest.raises(flags.FlagError, match="no project with id 99"):
        flags.set_flag(session, flags.PROJECT_DASHBOARD, True, "project", 99)


def test_list_shows_known_globals_even_without_rows(session):
    flags.set_flag(session, flags.PROJECT_DASHBOARD, True, "project", 7)
    listed = {(s.name, s.scope_type, s.scope_id): s.enabled for s in flags.list_flags(session)}
    assert listed[(flags.ANALYTICS, "global", 0)] is False
    assert listed[(flags.PROJECT_DASHBOARD, "project", 7)] is True
