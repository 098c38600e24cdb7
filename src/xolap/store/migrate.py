"""Postgres migrations (Alembic, shipped in the package): upgrade, downgrade, status."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from xolap.config import Settings
from xolap.store import access_cache
from xolap.store.db import engine


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("xolap.store").joinpath("alembic")))
    config.attributes["xolap_settings"] = settings
    return config


def _run(settings: Settings, action: Callable[..., None], *args: str) -> None:
    config = alembic_config(settings)
    with engine(settings).begin() as connection:
        config.attributes["connection"] = connection
        action(config, *args)
    access_cache.invalidate()  # a migration may change accounts, flags or scopes outside any session


def upgrade(settings: Settings, revision: str = "heads") -> None:
    _run(settings, command.upgrade, revision)


def downgrade(settings: Settings, revision: str = "-1") -> None:
    _run(settings, command.downgrade, revision)


def status(settings: Settings) -> dict[str, object]:
    """Current and head revisions, and whether anything is pending."""
    script = ScriptDirectory.from_config(alembic_config(settings))
    with engine(settings).connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    heads = set(script.get_heads())
    return {"current": sorted(current), "heads": sorted(heads), "pending": current != heads}
