"""Notices: published documents become e-mails to the people who see their numbers.

Publishing writes a `document_event` per document. `notify_due` claims the events of
every client number whose oldest pending event has waited `BURST_WAIT`, so a burst
(an ingest, a month's invoices) becomes one e-mail per person, and in one transaction
marks them processed and queues the e-mails in the outbox: a notice is queued
exactly once, whichever worker claimed it. A worker takes whole client numbers,
each under a lock that other workers pass by, so a burst is never split between
two workers' notices.

The recipients are everyone who sees the number (`visible_client_number`: the main
contact and the shared users granted it), each once, in their own language, except
those who switched that number's notices off for themselves (`notice_opt_out`).
People who chose a daily or weekly digest get nothing now: their `notice_digest`
row remembers since when documents wait for them, and `digests.py` tells them at
their rhythm from the event log (events are marked, never deleted).

Every notice carries a one-click unsubscribe address (RFC 8058) for its numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from iportal import clock, db
from iportal.notifications.forwards import queue_forwards
from iportal.notifications.services import EmailToQueue, queue_emails, unsubscribe_url
from iportal.settings import Settings

BURST_WAIT = timedelta(seconds=90)
# Beyond this many documents a notice lists none of them, only a link per number.
MAX_LISTED = 50
# Client numbers per round: a round takes every pending event of each, so that a
# burst is never split over two notices (two e-mails for one ingest).
NUMBERS_PER_ROUND = 400
# The first key of the transaction-scoped advisory lock a worker holds on a client
# number while it turns its events into notices (the second is the number's id).
NOTICE_LOCK = 0x1F0A7A2

# The numbers whose oldest pending event is due, the longest waiting first, that no
# other worker is turning into notices: each is locked as the scan reaches it, and the
# scan stops at the round's size (the lock is tried in the outer query, after the
# sort, so that only the numbers taken are locked). Their pending events are then
# read afresh: another worker may have handled some just before.
CLAIM_NUMBERS_SQL = """
SELECT client_number_id
  FROM (SELECT client_number_id, min(id) AS first
          FROM document_event
         WHERE processed_at IS NULL
         GROUP BY client_number_id
        HAVING min(created_at) <= $1
         ORDER BY first) due
 WHERE pg_try_advisory_xact_lock($3, client_number_id)
 LIMIT $2
"""
CLAIM_SQL = """
SELECT e.id, e.document_id
  FROM document_event e
 WHERE e.processed_at IS NULL AND e.client_number_id = ANY($1::int[])
 ORDER BY e.id
   FOR UPDATE
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
 WHERE d.id = ANY($1::bigint[])
   AND NOT EXISTS (SELECT 1 FROM notice_opt_out o
                    WHERE o.user_id = v.user_id AND o.client_number_id = v.client_number_id)
 ORDER BY u.id, cn.client_code, d.issue_date, d.id
"""
# The documents waiting for these people (on a digest, or back to immediate notices)
# that they still see, numbers switched off left out; the visibility row is found by
# its primary key.
WAITING_SQL = """
SELECT u.id AS user_id, u.email, u.language, u.first_name, u.notification_frequency,
       d.id AS document_id, d.type, d.number, d.issue_date, d.amount_incl_vat, d.currency,
       cn.id AS client_number_id, cn.client_code, cn.company_name, i.name AS issuer_name
  FROM notice_digest nd
  JOIN portal_user u ON u.id = nd.user_id
  JOIN document_event e ON e.processed_at >= nd.pending_since AND e.processed_at <= $2
  JOIN document d ON d.id = e.document_id
  JOIN visible_document vd ON vd.user_id = nd.user_id
                          AND vd.client_number_id = d.client_number_id
                          AND vd.issue_date = d.issue_date AND vd.document_id = d.id
                          AND still_visible(vd.access_ends_at)
  JOIN client_number cn ON cn.id = d.client_number_id
  JOIN issuer i ON i.id = cn.issuer_id
 WHERE nd.user_id = ANY($1::int[])
   AND NOT EXISTS (SELECT 1 FROM notice_opt_out o
                    WHERE o.user_id = nd.user_id AND o.client_number_id = d.client_number_id)
 ORDER BY u.id, cn.client_code, d.issue_date, d.id
"""
# Of these people told at once, those for whom documents still wait from a digest
# they left; locked, so that a digest sent meanwhile does not tell them twice.
STILL_WAITING_SQL = """
SELECT user_id FROM notice_digest
 WHERE user_id = ANY($1::int[]) AND pending_since IS NOT NULL
 ORDER BY user_id
   FOR UPDATE
"""
TOLD_SQL = "UPDATE notice_digest SET pending_since = NULL WHERE user_id = ANY($1::int[])"
MARK_SQL = "UPDATE document_event SET processed_at = $1 WHERE id = ANY($2::bigint[])"
# People on a digest whom a notice passed by: documents wait for them since `$2`,
# unless some already did (then since earlier).
PENDING_SQL = """
INSERT INTO notice_digest (user_id, pending_since)
SELECT unnest($1::int[]), $2
ON CONFLICT (user_id) DO UPDATE
   SET pending_since = coalesce(notice_digest.pending_since, EXCLUDED.pending_since)
"""


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

    id: int
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
    frequency: str
    numbers: dict[str, NoticeNumber] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)

    @property
    def count(self) -> int:
        return sum(len(n.documents) for n in self.numbers.values())


def group_notices(rows: Sequence[db.Record], base_url: str) -> list[Notice]:
    """One notice per person, their documents by client number, each document once
    (rows ordered by person, client code, issue date)."""
    notices: dict[int, Notice] = {}
    for row in rows:
        notice = notices.get(row["user_id"])
        if notice is None:
            notice = notices[row["user_id"]] = Notice(
                row["user_id"],
                row["email"],
                row["language"],
                row["first_name"],
                row["notification_frequency"],
            )
        if row["document_id"] in notice.seen:
            continue
        notice.seen.add(row["document_id"])
        code = row["client_code"]
        number = notice.numbers.get(code)
        if number is None:
            query = urlencode({"client_code": code})
            number = notice.numbers[code] = NoticeNumber(
                row["client_number_id"],
                code,
                row["company_name"],
                row["issuer_name"],
                f"{base_url}/documents?{query}",
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


async def queue_notices(
    settings: Settings, notices: Sequence[Notice], *, rhythm: str | None = None
) -> list[int]:
    """Queue notices in one statement (`rhythm`: `immediate`, or the digest's `daily`
    or `weekly`; each person's own when None), each with its one-click unsubscribe
    address for all its numbers and a link per number."""
    return await queue_emails(
        [notice_email(settings, n, rhythm=rhythm or n.frequency) for n in notices]
    )


def notice_email(settings: Settings, notice: Notice, *, rhythm: str) -> EmailToQueue:
    base_url = settings.base_url.rstrip("/")
    numbers = list(notice.numbers.values())
    links = {n.client_code: unsubscribe_url(settings, notice.user_id, [n.id]) for n in numbers}
    return EmailToQueue(
        "new_documents",
        notice.email,
        notice.language,
        {
            "first_name": notice.first_name,
            "base_url": base_url,
            "numbers": numbers,
            "count": notice.count,
            "listed": notice.count <= MAX_LISTED,
            "rhythm": rhythm,
            "unsubscribe_links": links,
        },
        user_id=notice.user_id,
        list_unsubscribe=unsubscribe_url(settings, notice.user_id, [n.id for n in numbers]),
    )


async def _with_waiting(rows: list[db.Record], now: datetime) -> list[db.Record]:
    """The rows of a notice, plus, for people told at once who left a digest while
    documents waited for it, those documents: they lose nothing by switching."""
    told_now = sorted({r["user_id"] for r in rows if r["notification_frequency"] == "immediate"})
    if not told_now:
        return rows
    waiting = [r["user_id"] for r in await db.fetch(STILL_WAITING_SQL, told_now)]
    if not waiting:
        return rows
    rows += await db.fetch(WAITING_SQL, waiting, now)
    await db.execute(TOLD_SQL, waiting)
    return sorted(
        rows, key=lambda r: (r["user_id"], r["client_code"], r["issue_date"], r["document_id"])
    )


async def claim_events(now: datetime) -> list[db.Record]:
    """In the caller's transaction: the pending events of up to `NUMBERS_PER_ROUND`
    client numbers whose wait is over, each number whole and locked for this worker."""
    due = await db.fetch(CLAIM_NUMBERS_SQL, now - BURST_WAIT, NUMBERS_PER_ROUND, NOTICE_LOCK)
    if not due:
        return []
    return await db.fetch(CLAIM_SQL, [n["client_number_id"] for n in due])


async def notify_due(settings: Settings, now: datetime | None = None) -> int:
    """Queue the notices whose wait is over; returns how many events were handled."""
    now = now or clock.utcnow()
    base_url = settings.base_url.rstrip("/")
    async with db.transaction():
        events = await claim_events(now)
        if not events:
            return 0
        document_ids = sorted({e["document_id"] for e in events})
        rows = await _with_waiting(list(await db.fetch(RECIPIENTS_SQL, document_ids)), now)
        # Only those told at once get a notice now: the others' documents wait for
        # their digest, which reads them again then.
        told_now = [r for r in rows if r["notification_frequency"] == "immediate"]
        await queue_notices(settings, group_notices(told_now, base_url))
        on_digest = sorted({r["user_id"] for r in rows} - {r["user_id"] for r in told_now})
        if on_digest:
            await db.execute(PENDING_SQL, on_digest, now)
        await queue_forwards(document_ids, base_url)
        await db.execute(MARK_SQL, now, [e["id"] for e in events])
    return len(events)
