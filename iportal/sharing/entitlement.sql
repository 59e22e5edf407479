CREATE OR REPLACE FUNCTION public.entitlements(p_user integer)
 RETURNS TABLE(client_number_id integer, since date, access_ends_at timestamp with time zone)
 LANGUAGE plpgsql
 STABLE
AS $function$
-- Which client numbers a user may see, and until when: the rule of the portal, in one
-- place.
--
-- The numbers of the accounts the user is main contact of, and the numbers ticked
-- for them as a shared user while the number is in the account that shared it.
-- Nothing else. `since` is the number's contract start: no document before it.
-- `access_ends_at` is when the shared user's access ends by itself (their end date's
-- end in Brussels), NULL for no end; reached by several paths, no end wins, else the
-- latest. Readers keep a row only while still_visible(access_ends_at).
--
-- The database keeps the result for every user in visible_client_number (the
-- triggers of the sharing migrations call refresh_visibility, which calls this),
-- and every query of the portal reads that table, never this rule again.
--
-- This file is the function exactly as pg_get_functiondef prints it: a sharing
-- migration applies it, and tests/sharing/test_entitlement.py fails when the
-- database's function and this file differ. To change the rule, edit this file and
-- add a sharing migration that applies it again (as the one of 2026-12-06 does).
-- PL/pgSQL, so that the earlier migration applying this file on an empty database
-- creates it before the columns it reads exist.
BEGIN
    RETURN QUERY
    SELECT p.id, p.contract_start,
           CASE WHEN bool_or(p.ends IS NULL) THEN NULL ELSE max(p.ends) END
      FROM (SELECT cn.id, cn.contract_start, NULL::timestamptz AS ends
              FROM account_membership m
              JOIN client_number cn ON cn.account_id = m.account_id
             WHERE m.user_id = p_user
            UNION ALL
            SELECT cn.id, cn.contract_start, su.access_ends_at
              FROM shared_user su
              JOIN client_number_grant g ON g.shared_user_id = su.id
              JOIN client_number cn ON cn.id = g.client_number_id
                                   AND cn.account_id = su.account_id
             WHERE su.user_id = p_user) p
     GROUP BY p.id, p.contract_start;
END
$function$
