-- Appeals against Art. 8(1) measures (Art. 10): filed within 10 working days,
-- answered within 30; their events in commit order.

CREATE TABLE appeals (
    id              TEXT PRIMARY KEY,
    notice_id       TEXT NOT NULL REFERENCES notices(id),
    target_id       TEXT NOT NULL,
    -- The deciding regulator, who must answer.
    regulator       TEXT NOT NULL,
    province        TEXT NOT NULL,
    appellant_kind  BIGINT NOT NULL,
    filer           TEXT NOT NULL,
    -- Who appeals: the filer organisation, or the named person's identity.
    appellant_key   TEXT NOT NULL,
    state           BIGINT NOT NULL,
    filed_at        BIGINT NOT NULL,
    answer_due_at   BIGINT,
    overdue         BIGINT NOT NULL DEFAULT 0,
    -- The Appeal message as it now stands (protobuf).
    body            BLOB NOT NULL
);
-- One open appeal per (appellant, target).
CREATE UNIQUE INDEX appeals_one_open ON appeals(notice_id, target_id, appellant_key) WHERE state = 1;
CREATE INDEX appeals_regulator ON appeals(regulator, id);
CREATE INDEX appeals_filer ON appeals(filer, id);
CREATE INDEX appeals_notice ON appeals(notice_id);

CREATE TABLE appeal_head (
    id       BIGINT PRIMARY KEY,
    position BIGINT NOT NULL
);
INSERT INTO appeal_head (id, position) VALUES (1, 0);

CREATE TABLE appeal_events (
    position    BIGINT PRIMARY KEY,
    appeal_id   TEXT NOT NULL REFERENCES appeals(id),
    kind        BIGINT NOT NULL,
    occurred_at BIGINT NOT NULL,
    -- AppealEvent (protobuf) without its cursor.
    body        BLOB NOT NULL
);
CREATE INDEX appeal_events_appeal ON appeal_events(appeal_id, position);
