"""Access for a time: a shared user's `access_until` (a date, Europe/Brussels) ends
their access at that day's end, by itself, with no job to run on time.

`shared_user.access_ends_at` is derived from the date by the database (the instant
00:00 Brussels of the next day, in UTC). The access rule becomes `entitlements(user)`
(the text of `iportal/sharing/entitlement.sql`, now also answering until when: no end
wins over an end, the latest end over an earlier one), and `visible_client_number` and
`visible_document` carry that `access_ends_at`. Every read of them keeps only rows
with `still_visible(access_ends_at)`, one inlined SQL function: the end is checked at
query time, the list's covering indexes include the column so a page stays one
index-only range.

The rule takes a new name because a function's result columns cannot be changed in
place, and the earlier migration that applies `entitlement.sql` must still succeed on
an empty database (it creates this function there before the columns exist, which
PL/pgSQL allows; nothing calls it before this migration).

Forwards only: going back would drop the end dates, which gives access back.
"""

from importlib.resources import files

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T01:00:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "access ends by itself at a shared user's end date"
RULE_SHA256 = "648e32c4b5e527a3a08246c97286c1462562d892af780ea7de50ba6fed3cdc80"

COLUMNS = [
    # 00:00 in Brussels of the day after the last day, whatever the season.
    "ALTER TABLE shared_user ADD COLUMN access_ends_at timestamptz GENERATED ALWAYS AS "
    "(((access_until + 1)::timestamp) AT TIME ZONE 'Europe/Brussels') STORED",
    "ALTER TABLE visible_client_number ADD COLUMN access_ends_at timestamptz",
    "ALTER TABLE visible_document ADD COLUMN access_ends_at timestamptz",
    # The list's two covering indexes, now with the end, so the check needs no heap.
    "DROP INDEX visible_document_by_issue_date",
    "DROP INDEX visible_document_by_amount",
    "CREATE INDEX visible_document_by_issue_date ON visible_document "
    "(user_id, issue_date, document_id) "
    "INCLUDE (type, amount_incl_vat, number, client_number_id, due_date, currency, "
    "access_ends_at)",
    "CREATE INDEX visible_document_by_amount ON visible_document "
    "(user_id, amount_incl_vat, document_id) "
    "INCLUDE (type, issue_date, number, client_number_id, due_date, currency, "
    "access_ends_at)",
    # The count and a single document's probe read the primary key: with the end in it
    # they stay index-only too.
    "ALTER TABLE visible_document DROP CONSTRAINT visible_document_pkey, "
    "ADD PRIMARY KEY (user_id, client_number_id, issue_date, document_id) "
    "INCLUDE (access_ends_at)",
    # The warning job looks for ends in the coming week.
    "CREATE INDEX shared_user_access_ends ON shared_user (access_ends_at) "
    "WHERE access_ends_at IS NOT NULL",
]

FUNCTIONS = [
    # The one condition every read of the visible tables adds. A plain SQL expression
    # function: the planner inlines it, so it costs what the expression costs.
    """
    CREATE FUNCTION still_visible(access_ends_at timestamptz) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT $1 IS NULL OR $1 > now()
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION refresh_visibility(p_users integer[])
    RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
        u integer;
    BEGIN
        PERFORM visibility_needs_read_committed();
        FOR u IN SELECT DISTINCT x FROM unnest(p_users) x WHERE x IS NOT NULL ORDER BY x LOOP
            -- The numbers whose visibility or end changes, locked before anything is
            -- written: publishing on them waits for this transaction, or this one for it.
            PERFORM 1 FROM client_number c
              WHERE c.id IN (
                    SELECT coalesce(e.client_number_id, v.client_number_id)
                      FROM entitlements(u) e
                      FULL JOIN (SELECT * FROM visible_client_number WHERE user_id = u) v
                        ON v.client_number_id = e.client_number_id
                     WHERE e.since IS DISTINCT FROM v.since
                        OR e.access_ends_at IS DISTINCT FROM v.access_ends_at)
              ORDER BY c.id FOR UPDATE;
            DELETE FROM visible_client_number v
             WHERE v.user_id = u
               AND v.client_number_id NOT IN (
                   SELECT e.client_number_id FROM entitlements(u) e);
            UPDATE visible_client_number v
               SET since = e.since, access_ends_at = e.access_ends_at
              FROM entitlements(u) e
             WHERE v.user_id = u AND v.client_number_id = e.client_number_id
               AND (v.since <> e.since OR v.access_ends_at IS DISTINCT FROM e.access_ends_at);
            INSERT INTO visible_client_number
                   (user_id, client_number_id, since, client_code, company_name, access_ends_at)
            SELECT u, e.client_number_id, e.since, cn.client_code, cn.company_name,
                   e.access_ends_at
              FROM entitlements(u) e
              JOIN client_number cn ON cn.id = e.client_number_id
            ON CONFLICT DO NOTHING;
        END LOOP;
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION visible_client_number_added()
    RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM visibility_needs_read_committed();
        INSERT INTO visible_document
               (user_id, client_number_id, issue_date, document_id, type, number,
                amount_incl_vat, due_date, currency, access_ends_at)
        SELECT v.user_id, d.client_number_id, d.issue_date, d.id, d.type, d.number,
               d.amount_incl_vat, d.due_date, d.currency, v.access_ends_at
          FROM added v
          JOIN document d ON d.client_number_id = v.client_number_id
                         AND d.issue_date >= v.since;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION visible_client_number_moved()
    RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM visible_document v
         WHERE v.user_id = NEW.user_id AND v.client_number_id = NEW.client_number_id
           AND v.issue_date < NEW.since;
        INSERT INTO visible_document
               (user_id, client_number_id, issue_date, document_id, type, number,
                amount_incl_vat, due_date, currency, access_ends_at)
        SELECT NEW.user_id, d.client_number_id, d.issue_date, d.id, d.type, d.number,
               d.amount_incl_vat, d.due_date, d.currency, NEW.access_ends_at
          FROM document d
         WHERE d.client_number_id = NEW.client_number_id
           AND d.issue_date >= NEW.since AND d.issue_date < OLD.since;
        RETURN NULL;
    END
    $$
    """,
    # An end set, moved or cleared: the user's copies of the number's documents follow.
    """
    CREATE FUNCTION visible_client_number_ended() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE visible_document v SET access_ends_at = NEW.access_ends_at
         WHERE v.user_id = NEW.user_id AND v.client_number_id = NEW.client_number_id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION document_published() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM visibility_needs_read_committed();
        INSERT INTO visible_document
               (user_id, client_number_id, issue_date, document_id, type, number,
                amount_incl_vat, due_date, currency, access_ends_at)
        SELECT v.user_id, d.client_number_id, d.issue_date, d.id, d.type, d.number,
               d.amount_incl_vat, d.due_date, d.currency, v.access_ends_at
          FROM published d
          JOIN visible_client_number v ON v.client_number_id = d.client_number_id
                                      AND d.issue_date >= v.since;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION document_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- As publishing does (its foreign key check): a refresh of these numbers
        -- waits for this change, or this change for it.
        PERFORM 1 FROM client_number c
          WHERE c.id IN (OLD.client_number_id, NEW.client_number_id)
          ORDER BY c.id FOR KEY SHARE;
        DELETE FROM visible_document v
         USING visible_client_number u
         WHERE u.client_number_id = OLD.client_number_id
           AND v.user_id = u.user_id AND v.client_number_id = OLD.client_number_id
           AND v.issue_date = OLD.issue_date AND v.document_id = OLD.id;
        INSERT INTO visible_document
               (user_id, client_number_id, issue_date, document_id, type, number,
                amount_incl_vat, due_date, currency, access_ends_at)
        SELECT u.user_id, NEW.client_number_id, NEW.issue_date, NEW.id, NEW.type, NEW.number,
               NEW.amount_incl_vat, NEW.due_date, NEW.currency, u.access_ends_at
          FROM visible_client_number u
         WHERE u.client_number_id = NEW.client_number_id AND NEW.issue_date >= u.since;
        RETURN NULL;
    END
    $$
    """,
]

TRIGGERS = [
    "CREATE TRIGGER visible_client_number_ended AFTER UPDATE OF access_ends_at "
    "ON visible_client_number FOR EACH ROW "
    "WHEN (OLD.access_ends_at IS DISTINCT FROM NEW.access_ends_at) "
    "EXECUTE FUNCTION visible_client_number_ended()",
    # Recording that the warning went out changes nobody's access: no refresh for it.
    "DROP TRIGGER shared_user_changed ON shared_user",
    "CREATE TRIGGER shared_user_changed AFTER INSERT OR DELETE "
    "OR UPDATE OF account_id, user_id, access_until ON shared_user "
    "FOR EACH ROW EXECUTE FUNCTION membership_changed()",
]

# The rule's earlier name has no caller left.
DROP_OLD_RULE = "DROP FUNCTION entitled_client_numbers(integer)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="sharing", description=DESCRIPTION)

    async def run():  # inside the migration's transaction
        rule = files("iportal.sharing").joinpath("entitlement.sql").read_text(encoding="utf-8")
        engine = engine_finder()
        for statement in COLUMNS:
            await engine.run_ddl(statement)
        await engine.run_ddl(rule)
        for statement in [*FUNCTIONS, *TRIGGERS, DROP_OLD_RULE]:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
