-- 0010_reconcile: a record of every reconciliation sweep and the drift it
-- found between the platform and onboard.
--
-- Never edit this file once applied anywhere: add a new NNNN_name.up.sql.

-- One sweep of one channel application.
CREATE TABLE reconcile_runs (
    id            bigserial PRIMARY KEY,
    app_id        text        NOT NULL,
    trigger       text        NOT NULL,            -- cli, schedule, dashboard
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,                     -- NULL while running (or if the process died)
    pages         integer     NOT NULL DEFAULT 0,  -- DescribeChannelOrganizations calls made
    platform_orgs integer     NOT NULL DEFAULT 0,  -- companies the platform listed
    status_updates integer    NOT NULL DEFAULT 0,  -- organizations whose status or OpenIds changed
    verified      integer     NOT NULL DEFAULT 0,  -- newly verified, service requests queued
    rejected      integer     NOT NULL DEFAULT 0,  -- newly rejected by the platform
    requeued      integer     NOT NULL DEFAULT 0,  -- lost or stuck work enqueued again
    links_renewed integer     NOT NULL DEFAULT 0,  -- expired service links issued again
    unknown_orgs  integer     NOT NULL DEFAULT 0,  -- drift: on the platform, not in onboard
    mismatched    integer     NOT NULL DEFAULT 0,  -- drift: name or credit code differ
    error         text                             -- why the sweep stopped early, NULL if it did not
);

CREATE INDEX reconcile_runs_app_idx ON reconcile_runs (app_id, id DESC);

-- The drift one sweep found. Kept per run so a report can be read later.
CREATE TABLE reconcile_drift (
    run_id    bigint NOT NULL REFERENCES reconcile_runs (id) ON DELETE CASCADE,
    open_id   text   NOT NULL,                     -- ProxyOrganizationOpenId
    kind      text   NOT NULL,                     -- unknown, name, credit_code
    ours      text   NOT NULL DEFAULT '',
    platform  text   NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, open_id, kind)
);
