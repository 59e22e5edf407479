"""Who sees what, kept by the database: `visible_client_number` (user, client number,
first issue date shown) and `visible_document` (user, document, the list's columns).

The rule itself is one SQL function, `entitled_client_numbers(user)`: the numbers of
the accounts the user is main contact of, and the numbers ticked for them as a shared
user. Triggers keep both tables in step with memberships, shared users, grants, client
numbers (account, contract start, code, name), documents, and TRUNCATE of the access
tables, whichever code path changes them, so that the document list is one index range
per user. A user's refresh locks the client numbers whose visibility changes (FOR
UPDATE, in id order, before writing), and publishing holds KEY SHARE on its documents'
numbers until it commits: one always sees what the other committed, so a document
published while access changes is neither lost nor leaked. This needs READ COMMITTED
(each statement sees what was committed before it); the functions refuse any other.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T07:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "per-user visibility of client numbers and documents, kept by triggers"

TABLES = [
    """
    CREATE TABLE visible_client_number (
        user_id integer NOT NULL REFERENCES portal_user (id) ON DELETE CASCADE,
        client_number_id integer NOT NULL REFERENCES client_number (id) ON DELETE CASCADE,
        since date NOT NULL,
        client_code varchar(32) COLLATE "C" NOT NULL,
        company_name varchar(200) NOT NULL,
        PRIMARY KEY (user_id, client_number_id)
    )
    """,
    "CREATE INDEX visible_client_number_number ON visible_client_number (client_number_id)",
    # A client-code filter checks the code is the user's without reading `client_number`.
    "CREATE INDEX visible_client_number_by_code ON visible_client_number (user_id, client_code)",
    """
    CREATE TABLE visible_document (
        user_id integer NOT NULL,
        client_number_id integer NOT NULL,
        issue_date date NOT NULL,
        document_id bigint NOT NULL REFERENCES document (id) ON DELETE CASCADE,
        type varchar(11) NOT NULL,
        number varchar(64) NOT NULL,
        amount_incl_vat numeric(14, 2) NOT NULL,
        due_date date,
        currency varchar(3) NOT NULL,
        PRIMARY KEY (user_id, client_number_id, issue_date, document_id),
        FOREIGN KEY (user_id, client_number_id)
            REFERENCES visible_client_number (user_id, client_number_id) ON DELETE CASCADE
    )
    """,
    # The list's two timed sorts read one range of these; the others sort this one's rows.
    "CREATE INDEX visible_document_by_issue_date ON visible_document "
    "(user_id, issue_date, document_id) "
    "INCLUDE (type, amount_incl_vat, number, client_number_id, due_date, currency)",
    "CREATE INDEX visible_document_by_amount ON visible_document "
    "(user_id, amount_incl_vat, document_id) "
    "INCLUDE (type, issue_date, number, client_number_id, due_date, currency)",
]

FUNCTIONS = [
    # Each statement of these functions must see what others committed before it (a
    # document published while a refresh waited for its lock): READ COMMITTED only.
    """
    CREATE FUNCTION visibility_needs_read_committed() RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
        IF current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE EXCEPTION 'who sees what is kept under READ COMMITTED only, not %',
                current_setting('transaction_isolation');
        END IF;
    END
    $$
    """,
    """
    CREATE FUNCTION entitled_client_numbers(p_user integer)
    RETURNS TABLE (client_number_id integer, since date) LANGUAGE sql STABLE AS $$
        SELECT cn.id, cn.contract_start
          FROM account_membership m
          JOIN client_number cn ON cn.account_id = m.account_id
         WHERE m.user_id = p_user
        UNION
        SELECT cn.id, cn.contract_start
          FROM shared_user su
          JOIN client_number_grant g ON g.shared_user_id = su.id
          JOIN client_number cn ON cn.id = g.client_number_id AND cn.account_id = su.account_id
         WHERE su.user_id = p_user
    $$
    """,
    """
    CREATE FUNCTION refresh_visibility(p_users integer[]) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
        u integer;
    BEGIN
        PERFORM visibility_needs_read_committed();
        FOR u IN SELECT DISTINCT x FROM unnest(p_users) x WHERE x IS NOT NULL ORDER BY x LOOP
            -- The numbers whose visibility changes, locked before anything is written:
            -- publishing on them waits for this transaction, or this one for it.
            PERFORM 1 FROM client_number c
              WHERE c.id IN (
                    SELECT coalesce(e.client_number_id, v.client_number_id)
                      FROM entitled_client_numbers(u) e
                      FULL JOIN (SELECT * FROM visible_client_number WHERE user_id = u) v
                        ON v.client_number_id = e.client_number_id
                     WHERE e.since IS DISTINCT FROM v.since)
              ORDER BY c.id FOR UPDATE;
            DELETE FROM visible_client_number v
             WHERE v.user_id = u
               AND v.client_number_id NOT IN (
                   SELECT e.client_number_id FROM entitled_client_numbers(u) e);
            UPDATE visible_client_number v SET since = e.since
              FROM entitled_client_numbers(u) e
             WHERE v.user_id = u AND v.client_number_id = e.client_number_id
               AND v.since <> e.since;
            INSERT INTO visible_client_number
                   (user_id, client_number_id, since, client_code, company_name)
            SELECT u, e.client_number_id, e.since, cn.client_code, cn.company_name
              FROM entitled_client_numbers(u) e
              JOIN client_number cn ON cn.id = e.client_number_id
            ON CONFLICT DO NOTHING;
        END LOOP;
    END
    $$
    """,
    # Documents of newly visible numbers (statement level: one insert for a batch).
    """
    CREATE FUNCTION visible_client_number_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM visibility_needs_read_committed();
        INSERT INTO visible_document
        SELECT v.user_id, d.client_number_id, d.issue_date, d.id, d.type, d.number,
               d.amount_incl_vat, d.due_date, d.currency
          FROM added v
          JOIN document d ON d.client_number_id = v.client_number_id
                         AND d.issue_date >= v.since;
        RETURN NULL;
    END
    $$
    """,
    # A contract start moved: drop what is now before it, add what it uncovered.
    """
    CREATE FUNCTION visible_client_number_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM visible_document v
         WHERE v.user_id = NEW.user_id AND v.client_number_id = NEW.client_number_id
           AND v.issue_date < NEW.since;
        INSERT INTO visible_document
        SELECT NEW.user_id, d.client_number_id, d.issue_date, d.id, d.type, d.number,
               d.amount_incl_vat, d.due_date, d.currency
          FROM document d
         WHERE d.client_number_id = NEW.client_number_id
           AND d.issue_date >= NEW.since AND d.issue_date < OLD.since;
        RETURN NULL;
    END
    $$
    """,
    # Publishing: each new document for everyone who sees its number.
    """
    CREATE FUNCTION document_published() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM visibility_needs_read_committed();
        INSERT INTO visible_document
        SELECT v.user_id, d.client_number_id, d.issue_date, d.id, d.type, d.number,
               d.amount_incl_vat, d.due_date, d.currency
          FROM published d
          JOIN visible_client_number v ON v.client_number_id = d.client_number_id
                                      AND d.issue_date >= v.since;
        RETURN NULL;
    END
    $$
    """,
    # Documents are not edited, but if one ever is, its copies follow.
    """
    CREATE FUNCTION document_changed() RETURNS trigger LANGUAGE plpgsql AS $$
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
        SELECT u.user_id, NEW.client_number_id, NEW.issue_date, NEW.id, NEW.type, NEW.number,
               NEW.amount_incl_vat, NEW.due_date, NEW.currency
          FROM visible_client_number u
         WHERE u.client_number_id = NEW.client_number_id AND NEW.issue_date >= u.since;
        RETURN NULL;
    END
    $$
    """,
    # The drop-down shows a number's code and company name as they are now.
    """
    CREATE FUNCTION client_number_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE visible_client_number v
           SET client_code = NEW.client_code, company_name = NEW.company_name
         WHERE v.client_number_id = NEW.id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION membership_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            PERFORM refresh_visibility(ARRAY[OLD.user_id]);
        ELSIF TG_OP = 'INSERT' THEN
            PERFORM refresh_visibility(ARRAY[NEW.user_id]);
        ELSE
            PERFORM refresh_visibility(ARRAY[OLD.user_id, NEW.user_id]);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    # A grant whose shared user is being deleted has no user left to refresh: the
    # shared user's own trigger refreshes them.
    """
    CREATE FUNCTION grant_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM refresh_visibility(array_agg(su.user_id))
           FROM shared_user su
          WHERE su.id IN (
                CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.shared_user_id END,
                CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.shared_user_id END);
        RETURN NULL;
    END
    $$
    """,
    # A table the rule reads was emptied at once (no row triggers): start again.
    """
    CREATE FUNCTION visibility_rebuilt() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM visible_client_number;
        PERFORM refresh_visibility(array(
            SELECT user_id FROM account_membership UNION SELECT user_id FROM shared_user));
        RETURN NULL;
    END
    $$
    """,
    # Everyone who saw the number, and everyone who may see it now.
    """
    CREATE FUNCTION client_number_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM refresh_visibility(array(
            SELECT v.user_id FROM visible_client_number v WHERE v.client_number_id = NEW.id
            UNION
            SELECT m.user_id FROM account_membership m WHERE m.account_id = NEW.account_id
            UNION
            SELECT su.user_id FROM shared_user su
              JOIN client_number_grant g ON g.shared_user_id = su.id
             WHERE g.client_number_id = NEW.id));
        RETURN NULL;
    END
    $$
    """,
]

TRIGGERS = [
    *(
        f"CREATE TRIGGER {table}_emptied AFTER TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION visibility_rebuilt()"
        for table in ("account_membership", "shared_user", "client_number_grant")
    ),
    "CREATE TRIGGER visible_client_number_added AFTER INSERT ON visible_client_number "
    "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
    "EXECUTE FUNCTION visible_client_number_added()",
    "CREATE TRIGGER visible_client_number_moved AFTER UPDATE OF since ON visible_client_number "
    "FOR EACH ROW WHEN (OLD.since IS DISTINCT FROM NEW.since) "
    "EXECUTE FUNCTION visible_client_number_moved()",
    "CREATE TRIGGER document_published AFTER INSERT ON document "
    "REFERENCING NEW TABLE AS published FOR EACH STATEMENT "
    "EXECUTE FUNCTION document_published()",
    "CREATE TRIGGER document_changed AFTER UPDATE OF client_number_id, issue_date, type, "
    "number, amount_incl_vat, due_date, currency ON document FOR EACH ROW "
    "EXECUTE FUNCTION document_changed()",
    "CREATE TRIGGER membership_changed AFTER INSERT OR UPDATE OR DELETE "
    "ON account_membership FOR EACH ROW EXECUTE FUNCTION membership_changed()",
    "CREATE TRIGGER shared_user_changed AFTER INSERT OR UPDATE OR DELETE "
    "ON shared_user FOR EACH ROW EXECUTE FUNCTION membership_changed()",
    "CREATE TRIGGER grant_changed AFTER INSERT OR UPDATE OR DELETE "
    "ON client_number_grant FOR EACH ROW EXECUTE FUNCTION grant_changed()",
    "CREATE TRIGGER client_number_added AFTER INSERT ON client_number FOR EACH ROW "
    "WHEN (NEW.account_id IS NOT NULL) EXECUTE FUNCTION client_number_moved()",
    "CREATE TRIGGER client_number_renamed AFTER UPDATE OF client_code, company_name "
    "ON client_number FOR EACH ROW WHEN (OLD.client_code IS DISTINCT FROM NEW.client_code "
    "OR OLD.company_name IS DISTINCT FROM NEW.company_name) "
    "EXECUTE FUNCTION client_number_renamed()",
    "CREATE TRIGGER client_number_moved AFTER UPDATE OF account_id, contract_start "
    "ON client_number FOR EACH ROW WHEN (OLD.account_id IS DISTINCT FROM NEW.account_id "
    "OR OLD.contract_start IS DISTINCT FROM NEW.contract_start) "
    "EXECUTE FUNCTION client_number_moved()",
]

# What exists before this migration is made visible once, as the triggers would have.
BACKFILL = [
    "SELECT refresh_visibility(array(SELECT user_id FROM account_membership "
    "UNION SELECT user_id FROM shared_user))",
]

# The list now reads `visible_document`: the per-number list indexes only slow publishing.
OLD_LIST_INDEXES = (
    "document_list_by_issue_date",
    "document_list_by_amount",
    "document_list_by_number",
    "document_list_by_due_date",
    "document_list_by_type",
)

DROPPED = [
    *(
        f"DROP TRIGGER IF EXISTS {table}_emptied ON {table}"
        for table in ("account_membership", "shared_user", "client_number_grant")
    ),
    "DROP TRIGGER IF EXISTS client_number_moved ON client_number",
    "DROP TRIGGER IF EXISTS client_number_renamed ON client_number",
    "DROP TRIGGER IF EXISTS client_number_added ON client_number",
    "DROP TRIGGER IF EXISTS grant_changed ON client_number_grant",
    "DROP TRIGGER IF EXISTS shared_user_changed ON shared_user",
    "DROP TRIGGER IF EXISTS membership_changed ON account_membership",
    "DROP TRIGGER IF EXISTS document_changed ON document",
    "DROP TRIGGER IF EXISTS document_published ON document",
    "DROP TABLE IF EXISTS visible_document",
    "DROP TABLE IF EXISTS visible_client_number",
    "DROP FUNCTION IF EXISTS client_number_moved, client_number_renamed, grant_changed, "
    "membership_changed, document_changed, document_published, visible_client_number_moved, "
    "visible_client_number_added, visibility_rebuilt, refresh_visibility, "
    "entitled_client_numbers, visibility_needs_read_committed",
    "CREATE INDEX document_list_by_issue_date ON document "
    "(client_number_id, issue_date DESC, id DESC) INCLUDE (type, amount_incl_vat, number)",
    "CREATE INDEX document_list_by_amount ON document "
    "(client_number_id, amount_incl_vat DESC, id DESC) INCLUDE (type, issue_date, number)",
    "CREATE INDEX document_list_by_number ON document (client_number_id, number, id) "
    "INCLUDE (type, amount_incl_vat, issue_date)",
    "CREATE INDEX document_list_by_due_date ON document "
    "(client_number_id, (coalesce(due_date, issue_date)), id) "
    "INCLUDE (type, amount_incl_vat, issue_date, number)",
    "CREATE INDEX document_list_by_type ON document (client_number_id, type, issue_date, id) "
    "INCLUDE (amount_incl_vat, number)",
]


def _run(statements: list[str]):
    async def run():  # inside the migration's transaction
        engine = engine_finder()
        for statement in statements:
            await engine.run_ddl(statement)

    return run


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="sharing", description=DESCRIPTION)
    drop_old = [f"DROP INDEX IF EXISTS {name}" for name in OLD_LIST_INDEXES]
    manager.add_raw(_run([*TABLES, *FUNCTIONS, *TRIGGERS, *BACKFILL, *drop_old]))
    manager.add_raw_backwards(_run(DROPPED))
    return manager
