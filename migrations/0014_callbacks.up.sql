-- 0014_callbacks: every callback the platform pushed, once per MsgId, with
-- what onboard made of it. A callback only makes a check of its company
-- due: the company moves on the platform's answer, never on the payload.
--
-- Never edit this file once applied anywhere: add a new NNNN_name.up.sql.

CREATE TABLE callbacks (
    msg_id      text PRIMARY KEY,
    msg_type    text        NOT NULL,
    app_id      text        NOT NULL DEFAULT '',
    open_id     text        NOT NULL DEFAULT '',  -- ProxyOrganizationOpenId
    org_id      bigint REFERENCES organizations (id) ON DELETE SET NULL,
    event_at    timestamptz,                      -- when the platform says it happened
    received_at timestamptz NOT NULL,
    verdict     text        NOT NULL              -- what onboard did: check_due, poll_due, nothing_waiting, unknown_company, ignored
);

CREATE INDEX callbacks_org_idx ON callbacks (org_id, received_at DESC);

-- A callback about a company waiting for verification makes a check of that
-- one company due.
ALTER TABLE work DROP CONSTRAINT work_kind_check,
    ADD CONSTRAINT work_kind_check CHECK (kind IN ('sync', 'login', 'poll', 'service', 'check', 'verify'));
