-- 0013_awaiting_admin: a company is done when every requested service is
-- open on the platform (DescribeExtendedServiceAuthInfo says ENABLE), not when
-- a link was issued. While an admin must still open a link the company is
-- awaiting_admin, with a deadline, and a check of its services is due work.
--
-- Never edit this file once applied anywhere: add a new NNNN_name.up.sql.

ALTER TABLE work DROP CONSTRAINT work_kind_check,
    ADD CONSTRAINT work_kind_check CHECK (kind IN ('sync', 'login', 'poll', 'service', 'check'));

ALTER TABLE organizations
    ADD COLUMN awaiting_admin_since timestamptz, -- when the last link to open was issued
    ADD COLUMN admin_deadline       timestamptz; -- renewing links gives up (timed_out) after this

-- Companies counted done with a link still to open now wait for it.
UPDATE organizations o SET state = 'awaiting_admin', awaiting_admin_since = now(),
    admin_deadline = now() + interval '30 days', state_changed_at = now()
WHERE o.state = 'done' AND EXISTS (
    SELECT 1 FROM organization_services s WHERE s.org_id = o.id AND s.state = 'linked');
INSERT INTO work (app_id, kind, org_id, data_version, due_at, created_at)
SELECT app_id, 'check', id, data_version, now(), now() FROM organizations WHERE state = 'awaiting_admin';
