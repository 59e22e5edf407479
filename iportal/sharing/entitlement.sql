CREATE OR REPLACE FUNCTION public.entitled_client_numbers(p_user integer)
 RETURNS TABLE(client_number_id integer, since date)
 LANGUAGE sql
 STABLE
AS $function$
-- Which client numbers a user may see: the rule of the portal, in one place.
--
-- The numbers of the accounts the user is main contact of, and the numbers ticked
-- for them as a shared user while the number is in the account that shared it.
-- Nothing else. `since` is the number's contract start: no document before it.
--
-- The database keeps the result for every user in visible_client_number (the
-- triggers of the sharing migrations call refresh_visibility, which calls this),
-- and every query of the portal reads that table, never this rule again.
--
-- This file is the function exactly as pg_get_functiondef prints it: a sharing
-- migration applies it, and tests/sharing/test_entitlement.py fails when the
-- database's function and this file differ. To change the rule, edit this file and
-- add a sharing migration that applies it again (as the one of 2026-11-24 does).
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
$function$
