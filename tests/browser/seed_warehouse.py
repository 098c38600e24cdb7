"""Run as a script before `xolap serve` starts: migrate both stores of XOLAP_DATA_DIR and load the dashboard test events
plus the projects and sections they belong to (the browser tests' fixture calls it in its own process)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard_support import SECTIONS, load_events  # noqa: E402
from xolap.config import get_settings  # noqa: E402
from xolap.runtime import Runtime  # noqa: E402
from xolap.store.models import Project, Section  # noqa: E402
from xolap.store.postgres import stop_embedded  # noqa: E402

PROJECTS = {1: ("intro-physics", "Introductory Physics"), 2: ("chem-basics", "Chemistry Basics")}
SECTION_NAMES = {
    101: ("physics-fall", "Physics · Fall cohort"),
    102: ("physics-evening", "Physics · Evening cohort"),
    201: ("chem-fall", "Chemistry · Fall cohort"),
}


def main() -> None:
    runtime = Runtime(get_settings())
    try:
        runtime.migrate_all()
        count = load_events(runtime.clickhouse(), runtime.settings.clickhouse_database)
        with runtime.sessions() as session:
            for project_id, (slug, title) in PROJECTS.items():
                if session.get(Project, project_id) is None:
                    session.add(Project(id=project_id, slug=slug, title=title))
            session.flush()
            for section_id, (project_id, _learners) in SECTIONS.items():
                slug, title = SECTION_NAMES[section_id]
                if session.get(Section, section_id) is None:
                    session.add(Section(id=section_id, slug=slug, title=title, project_id=project_id))
            session.commit()
        print(f"seeded {count} events")
    finally:
        stop_embedded()


if __name__ == "__main__":
    main()
