"""Documents (invoices and credit notes), in two rooms: `publishing` takes them in,
checked and recorded exactly once; `reading` shows each reader what they may see.

Shared by both: `tables` (documents, read marks, duplicate requests), `storage` (the
blob store of their PDF and XML bytes), `sandbox` (worker processes with time and
memory limits, for untrusted PDFs), `schemas` and `controllers` (HTTP).
"""
