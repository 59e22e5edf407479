"""Publishing: how a document comes in, is checked and is recorded, exactly once.

It owns every file an issuer sends, from the bytes to the row: recognising and reading
it in the sandbox (`inspection`, with the e-invoice reader `einvoice` and the rules of
`metadata`), the client number it goes to and the invitation that number may get
(`clients`), recording a batch in one transaction (`recording`, where the key (client
number, type, number) decides between new, already published and conflict), bulk
publishing from folders and ZIPs (`ingest`), and the issuer API's services, history
for the demo and blob housekeeping (`services`). Reading what was published is the
other room's, `documents.reading`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iportal.documents._lazy import lazy_exports

if TYPE_CHECKING:
    from iportal.documents.publishing.clients import (
        ClientNumbers,
        DocumentClient,
        IssuerDirectory,
        all_issuers,
        invite_waiting,
    )
    from iportal.documents.publishing.ingest import (
        REPORT_COLUMNS,
        Ingest,
        Summary,
        report_row,
    )
    from iportal.documents.publishing.inspection import (
        Candidate,
        FileLimits,
        Job,
        Rejection,
        Source,
        inspect,
    )
    from iportal.documents.publishing.metadata import DocumentFields
    from iportal.documents.publishing.recording import (
        ALREADY_PUBLISHED,
        CONFLICT,
        PUBLISHED,
        REJECTED,
        NewDocument,
        Outcome,
        insert_statement,
        publish,
        publish_batch,
    )
    from iportal.documents.publishing.services import (
        IssuedDocument,
        IssuedDocuments,
        Recorded,
        clean_blobs,
        issuer_documents,
        parse_metadata_json,
        publish_upload,
        record_document,
    )
    from iportal.documents.publishing.sources import Item, collect

__all__ = [
    "ALREADY_PUBLISHED",
    "CONFLICT",
    "PUBLISHED",
    "REJECTED",
    "REPORT_COLUMNS",
    "Candidate",
    "ClientNumbers",
    "DocumentClient",
    "DocumentFields",
    "FileLimits",
    "Ingest",
    "IssuedDocument",
    "IssuedDocuments",
    "IssuerDirectory",
    "Item",
    "Job",
    "NewDocument",
    "Outcome",
    "Recorded",
    "Rejection",
    "Source",
    "Summary",
    "all_issuers",
    "clean_blobs",
    "collect",
    "insert_statement",
    "inspect",
    "invite_waiting",
    "issuer_documents",
    "parse_metadata_json",
    "publish",
    "publish_batch",
    "publish_upload",
    "record_document",
    "report_row",
]

# Loaded on first use: a sandboxed worker imports one module, not the whole room.
__getattr__ = lazy_exports(
    globals(), ("services", "recording", "clients", "ingest", "sources", "inspection", "metadata")
)
