-- 0002_onboarding: the workers' state. Where each organization stands in
-- onboarding, every transition with its time, application pauses and query
-- identities, and the authorization polling rounds.
--
-- Never edit this file once applied anywhere: add a new NNNN_name.up.sql.

ALTER TABLE organizations
    ADD COLUMN synced_version         integer,      -- data version SyncProxyOrganization accepted
    ADD COLUMN synced_at              timestamptz,
    ADD COLUMN auth_status            text,         -- AuthorizationStatus last seen on the platform
    ADD COLUMN auth_checked_at        timestamptz,
    ADD COLUMN auth_deadline          timestamptz,  -- polling gives up (timed_out) after this
    ADD COLUMN verified_at            timestamptz,
    ADD COLUMN platform_org_id        text,         -- the platform's OrganizationId
    ADD COLUMN platform_admin_open_id text,         -- super admin's OpenId once verified
    ADD COLUMN platform_legal_open_id text,         -- legal representative's OpenId once verified
    ADD COLUMN login_url              text,         -- console (activation) link for the admin
    ADD COLUMN login_url_expires_at   timestamptz,
    ADD COLUMN login_operator_open_id text,         -- whom the link was issued to
    ADD COLUMN login_endpoint         text;

CREATE INDEX organizations_app_awaiting_idx ON organizations (app_id) WHERE state = 'awaiting_auth';

-- Every state transition (and every recorded error) of an organization.
CREATE TABLE onboarding_events (
    id            bigserial PRIMARY KEY,
    org_id        bigint      NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    data_version  integer     NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    step          text        NOT NULL,  -- sync, login_url, auth, service:<TYPE>, resume
    from_state    text,
    to_state      text,
    error_code    text,
    error_message text,
    request_id    text
);

CREATE INDEX onboarding_events_org_idx ON onboarding_events (org_id, id);

-- Per channel application: pause state, query identity and authorization
-- polling schedule.
CREATE TABLE applications (
    app_id                 text PRIMARY KEY,
    paused_at              timestamptz,          -- NULL when running
    pause_action           text,
    pause_code             text,
    pause_message          text,
    pause_request_id       text,
    resumes                integer     NOT NULL DEFAULT 0, -- makes re-enqueued TaskIDs unique
    query_org_open_id      text,                 -- verified company used for DescribeChannelOrganizations
    query_operator_open_id text,                 -- verified operator of that company
    poll_round             integer     NOT NULL DEFAULT 0,
    poll_scheduled         boolean     NOT NULL DEFAULT false,
    poll_next_at           timestamptz,
    poll_idle_rounds       integer     NOT NULL DEFAULT 0, -- rounds in a row in which nothing changed
    platform_total         integer     NOT NULL DEFAULT 0, -- companies the platform listed last time
    updated_at             timestamptz NOT NULL DEFAULT now()
);

-- One authorization polling round of an application.
CREATE TABLE auth_poll_rounds (
    app_id      text        NOT NULL,
    round       integer     NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    mode        text        NOT NULL,            -- single, list, none
    waiting     integer     NOT NULL,            -- organizations waiting at the start
    app_orgs    integer     NOT NULL,            -- organizations of the application the mode was chosen by
    calls       integer     NOT NULL,            -- DescribeChannelOrganizations calls made
    changed     integer     NOT NULL,            -- organizations whose state changed
    error_code  text,
    PRIMARY KEY (app_id, round)
);
