"""The current organization: one context variable, entered and left explicitly.

Every tenant-owned query runs inside ``tenant_context(org)``. On PostgreSQL the context
is also a database transaction: the organization id is set with
``set_config(..., is_local => true)``, so row-level security sees it for exactly this
transaction and a pooled connection never keeps it.

Crossing tenants on purpose (admin, API-key lookup, sweeps over all tenants) goes
through ``cross_tenant(reason=...)``: greppable, and visible in the database as a
separate transaction-local flag.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

from django.db import connection, transaction

logger = logging.getLogger(__name__)

ORG_SETTING = "app.organization_id"
CROSS_TENANT_SETTING = "app.cross_tenant"


class TenantContextMissing(RuntimeError):
    """A tenant-owned table was queried with no organization set (fail closed)."""


@dataclass(frozen=True, slots=True)
class TenantState:
    organization_id: int | None = None
    cross_tenant: bool = False
    reason: str = ""


_NO_TENANT = TenantState()
_state: contextvars.ContextVar[TenantState] = contextvars.ContextVar(
    "tenant_state", default=_NO_TENANT
)


def current_state() -> TenantState:
    return _state.get()


def current_organization_id() -> int | None:
    """The organization of the current context, or None outside any context."""
    return _state.get().organization_id


def require_organization_id() -> int:
    """The current organization id; raises when there is none (fail closed)."""
    organization_id = _state.get().organization_id
    if organization_id is None:
        raise TenantContextMissing(
            "No organization is set: enter tenants.context.tenant_context(org) first."
        )
    return organization_id


def _apply_to_database(state: TenantState) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config(%s, %s, true), set_config(%s, %s, true)",
            [
                ORG_SETTING,
                "" if state.organization_id is None else str(state.organization_id),
                CROSS_TENANT_SETTING,
                "on" if state.cross_tenant else "",
            ],
        )


@contextmanager
def _enter(state: TenantState) -> Iterator[None]:
    token = _state.set(state)
    completed = False
    # PostgreSQL: the context is a transaction, so the transaction-local setting that
    # row-level security reads covers every query inside it. SQLite has no RLS; there
    # the context opens no transaction (services own theirs), so a page view does not
    # take SQLite's write lock and block the worker.
    scope = transaction.atomic() if connection.vendor == "postgresql" else nullcontext()
    try:
        with scope:
            _apply_to_database(state)
            yield
        completed = True
    finally:
        _state.reset(token)
        # A nested context released its savepoint: give the outer transaction its own
        # organization back (a rolled-back savepoint restores the setting by itself).
        if completed and connection.in_atomic_block:
            _apply_to_database(_state.get())


def tenant_context(organization: object) -> AbstractContextManager[None]:
    """Enter the context of one organization (an Organization or its id)."""
    organization_id = getattr(organization, "pk", organization)
    if not isinstance(organization_id, int):
        raise TypeError(f"tenant_context needs an organization or its id, not {organization!r}")
    return _enter(TenantState(organization_id=organization_id))


def cross_tenant(*, reason: str) -> AbstractContextManager[None]:
    """Cross tenants on purpose. The reason is logged at debug level; keep it specific."""
    if not reason:
        raise ValueError("cross_tenant() needs a reason")
    logger.debug("crossing tenants: %s", reason)
    return _enter(TenantState(cross_tenant=True, reason=reason))
