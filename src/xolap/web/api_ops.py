"""Operations API: ClickHouse migrations (setup/up/down/status) so the CLI can drive a running server."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from xolap.web.security import require_admin_api

router = APIRouter(prefix="/api/v1/admin/clickhouse", tags=["admin"], dependencies=[Depends(require_admin_api)])


class MigrateRequest(BaseModel):
    action: str  # setup | up | down | status
    steps: int = 1
    target: int | None = None


def run_migration_action(migrator, action: str, *, steps: int = 1, target: int | None = None) -> dict:
    """The one implementation of setup/up/down/status used by the CLI (locally) and by this API."""
    if action == "setup":
        migrator.setup()
        changed: list = []
    elif action == "up":
        changed = migrator.up(target=target)
    elif action == "down":
        changed = migrator.down(steps=steps)
    elif action == "status":
        changed = []
    else:
        raise ValueError(f"unknown migration action {action!r}: use setup, up, down or status")
    return {
        "action": action,
        "changed": [f"{m.version:04d}_{m.name}" for m in changed],
        "status": [s.__dict__ for s in migrator.status()],
    }


@router.post("/migrations")
def migrations(body: MigrateRequest, request: Request) -> dict:
    return run_migration_action(request.app.state.runtime.migrator(), body.action, steps=body.steps, target=body.target)

