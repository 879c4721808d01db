-- 0012_work: Postgres decides what work is due; Redis only carries it.
-- Every state change that needs a follow-up records it here, in the same
-- transaction; the dispatcher moves due work into the queue and hands it out
-- again when its task vanished or overran its lease.
--
-- Never edit this file once applied anywhere: add a new NNNN_name.up.sql.

CREATE TABLE work (
    id                 bigserial PRIMARY KEY,
    app_id             text        NOT NULL,
    kind               text        NOT NULL CHECK (kind IN ('sync', 'login', 'poll', 'service')),
    org_id             bigint REFERENCES organizations (id) ON DELETE CASCADE, -- NULL for poll
    data_version       integer     NOT NULL DEFAULT 0,
    service            text        NOT NULL DEFAULT '',  -- for service
    due_at             timestamptz NOT NULL,
    attempt            integer     NOT NULL DEFAULT 0,   -- dispatches so far; the TaskID carries it
    lease_until        timestamptz,                      -- in the queue or running until then; NULL: not dispatched
    claimed_at         timestamptz,                      -- when a worker last started it
    tries              integer     NOT NULL DEFAULT 0,   -- failed tries of the current run of transient errors
    first_error_at     timestamptz,                      -- when that run began
    last_error_code    text,
    last_error_message text,
    created_at         timestamptz NOT NULL
);

-- At most one step of each kind per organization (and service), one
-- polling round per application.
CREATE UNIQUE INDEX work_org_step_key ON work (org_id, kind, service) WHERE org_id IS NOT NULL;
CREATE UNIQUE INDEX work_app_poll_key ON work (app_id) WHERE kind = 'poll';
-- The dispatcher's two questions: what is due, and how much is in flight.
CREATE INDEX work_due_idx ON work (app_id, kind, due_at);
CREATE INDEX work_lease_idx ON work (app_id, kind, lease_until) WHERE lease_until IS NOT NULL;

-- Work that was in flight under the old scheme.
INSERT INTO work (app_id, kind, org_id, data_version, due_at, created_at)
SELECT app_id, 'sync', id, data_version, now(), now() FROM organizations WHERE state = 'queued';
INSERT INTO work (app_id, kind, org_id, data_version, service, due_at, created_at)
SELECT o.app_id, 'service', o.id, o.data_version, s.service, now(), now()
FROM organizations o JOIN organization_services s ON s.org_id = o.id
WHERE o.state = 'opening_services' AND s.state = 'requested';
INSERT INTO work (app_id, kind, due_at, created_at)
SELECT DISTINCT app_id, 'poll', now(), now() FROM organizations WHERE state = 'awaiting_auth';

-- The dispatcher's last run per application, shown by status and the dashboard.
ALTER TABLE applications
    ADD COLUMN dispatched_at     timestamptz, -- the last time the dispatcher handed out work of the application
    ADD COLUMN dispatched        integer NOT NULL DEFAULT 0, -- how many tasks it handed out then
    ADD COLUMN dispatch_error    text,        -- the last dispatch error, NULL once a dispatch succeeds
    ADD COLUMN dispatch_error_at timestamptz,
    DROP COLUMN poll_scheduled,
    DROP COLUMN poll_next_at,
    DROP COLUMN resumes;

ALTER TABLE organizations
    DROP COLUMN enqueued_version,
    DROP COLUMN enqueued_at;

-- The dispatcher walks the applications table: every application with
-- organizations has a row.
INSERT INTO applications (app_id) SELECT DISTINCT app_id FROM organizations ON CONFLICT DO NOTHING;
