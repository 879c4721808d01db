-- 0001_init: batches, license images, organizations, their requested
-- services and the rows of every imported file.
--
-- Never edit this file once applied anywhere: add a new NNNN_name.up.sql.

-- One imported file.
CREATE TABLE batches (
    id             bigserial PRIMARY KEY,
    app_id         text        NOT NULL,
    file_name      text        NOT NULL,
    file_sha256    text        NOT NULL,
    sheet          text        NOT NULL,
    header_row     integer     NOT NULL,
    headers        jsonb       NOT NULL DEFAULT '[]'::jsonb, -- header cells in file order
    created_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,                              -- set once no organization of the batch has work pending
    rows           integer     NOT NULL DEFAULT 0,
    accepted       integer     NOT NULL DEFAULT 0,
    rejected       integer     NOT NULL DEFAULT 0,
    enqueued       integer     NOT NULL DEFAULT 0,
    unchanged      integer     NOT NULL DEFAULT 0,
    blocked_reason text                                      -- why the batch's application is paused, NULL when not
);

CREATE INDEX batches_app_id_created_idx ON batches (app_id, id DESC);

-- License pictures, stored once by the hex SHA-256 of their bytes.
CREATE TABLE license_images (
    sha256     text PRIMARY KEY,
    mime       text        NOT NULL,
    data       bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One sub-company of one channel application.
CREATE TABLE organizations (
    id                   bigserial PRIMARY KEY,
    app_id               text        NOT NULL,
    open_id              text        NOT NULL,
    name                 text        NOT NULL,
    credit_code          text        NOT NULL DEFAULT '',
    legal_name           text        NOT NULL DEFAULT '',
    legal_id_card_type   text        NOT NULL DEFAULT '',
    legal_id_card_number text        NOT NULL DEFAULT '',
    address              text        NOT NULL DEFAULT '',
    admin_open_id        text        NOT NULL DEFAULT '',
    license_sha256       text REFERENCES license_images (sha256),
    fingerprint          text        NOT NULL,              -- onboard.OrgData.Fingerprint
    data_version         integer     NOT NULL,              -- 1 on insert, +1 on every change of data
    state                text        NOT NULL,              -- onboard.State*; 'queued' on insert and on change
    state_changed_at     timestamptz NOT NULL DEFAULT now(),
    last_error_code      text,
    last_error_message   text,
    last_request_id      text,
    enqueued_version     integer,                           -- data version whose org:sync task is known to be in Redis
    enqueued_at          timestamptz,
    last_batch_id        bigint REFERENCES batches (id),    -- the batch that last changed the data
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT organizations_app_open_id_key UNIQUE (app_id, open_id)
);

CREATE INDEX organizations_app_state_idx ON organizations (app_id, state);
CREATE INDEX organizations_last_batch_idx ON organizations (last_batch_id);

-- The extended services an organization asked for.
CREATE TABLE organization_services (
    org_id             bigint      NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    service            text        NOT NULL,            -- onboard.ServiceType
    state              text        NOT NULL DEFAULT 'requested', -- onboard.Service*
    operate_url        text,
    url_expires_at     timestamptz,
    last_error_code    text,
    last_error_message text,
    last_request_id    text,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, service)
);

CREATE INDEX organization_services_state_idx ON organization_services (state, url_expires_at);

-- Every non-blank data row of every imported file, accepted or rejected, with
-- the cells as the user wrote them (for the results file).
CREATE TABLE batch_rows (
    batch_id   bigint  NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    row_number integer NOT NULL,                         -- 1-based, as Excel shows it
    cells      jsonb   NOT NULL DEFAULT '[]'::jsonb,     -- one string per header, in file order
    status     text    NOT NULL CHECK (status IN ('accepted', 'rejected')),
    reasons    jsonb   NOT NULL DEFAULT '[]'::jsonb,     -- [{column, field, reason}]
    warnings   jsonb   NOT NULL DEFAULT '[]'::jsonb,     -- [{field, message}]
    open_id    text,
    org_id     bigint REFERENCES organizations (id) ON DELETE SET NULL,
    PRIMARY KEY (batch_id, row_number)
);

CREATE INDEX batch_rows_org_idx ON batch_rows (org_id, batch_id);
