"""Notices: published documents become e-mails to the people who see their numbers.

Publishing writes a `document_event` per document. `notify_due` claims the events of
every client number whose oldest pending event has waited `BURST_WAIT`, so a burst
(an ingest, a month's invoices) becomes one e-mail per person, and in one transaction
marks them processed and queues the e-mails in the outbox: a notice is queued
exactly once, whichever worker claimed it (`FOR UPDATE SKIP LOCKED`).

The recipients are everyone who sees the number (`visible_client_number`: the main
contact and the shared users granted it), each once, in their own language, unless
the number's notices are switched off. People who chose a daily or weekly digest get
nothing now: their documents stay in the event log (events are marked, never
deleted), which the digest reads by the time they were published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from iportal import clock, db
from iportal.notifications.services import queue_email
from iportal.settings import Settings

BURST_WAIT = timedelta(seconds=90)
# Beyond this many documents a notice lists none of them, only a link per number.
MAX_LISTED = 50
EVENTS_PER_ROUND = 2000

# The numbers whose oldest pending event is due; all their pending events are claimed,
# newer ones too, so that a burst goes out whole. Events another worker holds are
# skipped; those it has marked meanwhile no longer qualify when re-checked.
CLAIM_SQL = """
SELECT e.id, e.document_id
  FROM document_event e
 WHERE e.processed_at IS NULL
   AND e.client_number_id IN (SELECT client_number_id FROM document_event
                               WHERE processed_at IS NULL
                               GROUP BY client_number_id
                              HAVING min(created_at) <= $1)
 ORDER BY e.id
 LIMIT $2
   FOR UPDATE SKIP LOCKED
"""
# One row per (person, document): `visible_client_number` has one row per person and
# number, so whoever reaches a number by two routes is still one row.
RECIPIENTS_SQL = """
SELECT u.id AS user_id, u.email, u.language, u.first_name, u.notification_frequency,
       d.id AS document_id, d.type, d.number, d.issue_date, d.amount_incl_vat, d.currency,
       cn.id AS client_number_id, cn.client_code, cn.company_name, i.name AS issuer_name
  FROM document d
  JOIN client_number cn ON cn.id = d.client_number_id
  JOIN issuer i ON i.id = cn.issuer_id
  JOIN visible_client_number v ON v.client_number_id = d.client_number_id
                              AND d.issue_date >= v.since
                              AND still_visible(v.access_ends_at)
  JOIN portal_user u ON u.id = v.user_id
 WHERE d.id = ANY($1::bigint[]) AND cn.notifications_enabled
 ORDER BY u.id, cn.client_code, d.issue_date, d.id
"""
MARK_SQL = "UPDATE document_event SET processed_at = $1 WHERE id = ANY($2::bigint[])"


@dataclass(frozen=True)
class NoticeDocument:
    id: int
    type: str
    number: str
    issue_date: date
    amount_incl_vat: Decimal
    currency: str
    link: str


@dataclass
class NoticeNumber:
    """One client number's new documents in one notice."""

    client_code: str
    company_name: str
    issuer_name: str
    list_link: str
    documents: list[NoticeDocument] = field(default_factory=list)


@dataclass
class Notice:
    user_id: int
    email: str
    language: str
    first_name: str
    numbers: dict[str, NoticeNumber] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(n.documents) for n in self.numbers.values())


def _notices(rows: Sequence[db.Record], base_url: str) -> list[Notice]:
    notices: dict[int, Notice] = {}
    for row in rows:
        if row["notification_frequency"] != "immediate":
            continue  # the digest reads the event log
        notice = notices.setdefault(
            row["user_id"],
            Notice(row["user_id"], row["email"], row["language"], row["first_name"]),
        )
        code = row["client_code"]
        number = notice.numbers.get(code)
        if number is None:
            query = urlencode({"client_code": code})
            number = notice.numbers[code] = NoticeNumber(
                code, row["company_name"], row["issuer_name"], f"{base_url}/documents?{query}"
            )
        number.documents.append(
            NoticeDocument(
                row["document_id"],
                row["type"],
                row["number"],
                row["issue_date"],
                row["amount_incl_vat"],
                row["currency"],
                f"{base_url}/documents?{urlencode({'client_code': code, 'number': row['number']})}",
            )
        )
    return list(notices.values())


async def notify_due(settings: Settings) -> int:
    """Queue the notices whose wait is over; returns how many events were handled."""
    now = clock.utcnow()
    base_url = settings.base_url.rstrip("/")
    async with db.transaction():
        events = await db.fetch(CLAIM_SQL, now - BURST_WAIT, EVENTS_PER_ROUND)
        if not events:
            return 0
        document_ids = sorted({e["document_id"] for e in events})
        for notice in _notices(await db.fetch(RECIPIENTS_SQL, document_ids), base_url):
            await queue_email(
                "new_documents",
                notice.email,
                notice.language,
                {
                    "first_name": notice.first_name,
                    "base_url": base_url,
                    "numbers": list(notice.numbers.values()),
                    "count": notice.count,
                    "listed": notice.count <= MAX_LISTED,
                },
                user_id=notice.user_id,
            )
        await db.execute(MARK_SQL, now, [e["id"] for e in events])
    return len(events)
