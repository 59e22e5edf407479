"""Audit events: what a main contact may later want to know happened to their account."""

from __future__ import annotations

from typing import Any

from iportal.accounts.tables import AuditEvent


async def record_audit_event(
    kind: str,
    *,
    actor_id: int | None = None,
    account_id: int | None = None,
    client_number_id: int | None = None,
    document_id: int | None = None,
    ip: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    await AuditEvent.insert(
        AuditEvent(
            kind=kind,
            actor=actor_id,
            account=account_id,
            client_number=client_number_id,
            document_id=document_id,
            ip=ip[:45],
            detail=detail or {},
        )
    )
