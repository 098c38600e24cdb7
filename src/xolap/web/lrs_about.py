"""GET /xAPI/about: the xAPI versions this LRS speaks (no credentials and no version header needed)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/xAPI", tags=["lrs"])

VERSIONS = ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "2.0.0"]


@router.get("/about")
def about() -> dict:
    return {"version": VERSIONS, "extensions": {}}


@router.head("/about", include_in_schema=False)
def about_head() -> dict:
    return about()
