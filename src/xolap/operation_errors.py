"""Why an operation did not happen, the same whether it ran here or in the running server: refused (bad input, an
unknown section/project, the guard said no: CLI exit 2, HTTP 400/404) or failed (a limit, an engine error: exit 1)."""

from __future__ import annotations

REFUSED_STATUSES = (400, 404, 413)


class OperationError(Exception):
    """An operation that did not happen: `kind` names the reason (guard, not_found, timeout, …), `refused` says the
    request itself was at fault (exit 2) rather than the run (exit 1), `status_code` the HTTP status when it has one."""

    def __init__(self, message: str, *, kind: str = "error", refused: bool = False, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.refused = refused
        self.status_code = status_code

    @property
    def exit_code(self) -> int:
        return 2 if self.refused else 1


def refused(message: str, kind: str = "invalid") -> OperationError:
    return OperationError(message, kind=kind, refused=True, status_code=404 if kind == "not_found" else 400)
