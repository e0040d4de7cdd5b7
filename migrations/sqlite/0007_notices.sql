-- Decisions and signed disposal notices (Art. 8), results and verification
-- (Art. 9), revocation, and non-compliance records with enforcement (Art. 12).

CREATE TABLE decisions (
    id             TEXT PRIMARY KEY,
    regulator      TEXT NOT NULL REFERENCES organisations(id),
    -- Idempotency key per regulator; the hash tells a retry from a clash.
    request_id     TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    threat_id      TEXT NOT NULL REFERENCES threats(id),
    officer        TEXT NOT NULL,
    decided_at     BIGINT NOT NULL,
    UNIQUE (regulator, request_id)
);

-- Delivery positions are handed out under the lock of notice_head, held to
-- commit, so a cursor never skips a notice that commits late.
CREATE TABLE notice_head (
    id       BIGINT PRIMARY KEY,
    position BIGINT NOT NULL
);
INSERT INTO notice_head (id, position) VALUES (1, 0);

CREATE TABLE notices (
    id                   TEXT PRIMARY KEY,
    position             BIGINT NOT NULL UNIQUE,
    kind                 BIGINT NOT NULL,
    decision_id          TEXT NOT NULL,
    threat_id            TEXT NOT NULL,
    issuer               TEXT NOT NULL,
    -- NULL: an informational addressee off the platform.
    addressee            TEXT,
    measure_type         BIGINT NOT NULL,
    -- The province whose regulator has jurisdiction: of the issuer.
    province             TEXT NOT NULL,
    issued_at            BIGINT NOT NULL,
    deadline             BIGINT,
    receipt_due          BIGINT,
    -- The signed NoticeBody exactly as delivered.
    body                 BLOB NOT NULL,
    signature            BLOB NOT NULL,
    key_id               TEXT NOT NULL,
    signer_certificate   BLOB NOT NULL,
    state                BIGINT NOT NULL,
    received_at          BIGINT,
    received_body_sha256 TEXT,
    revokes_notice_id    TEXT,
    -- OfflineNotification (protobuf) once recorded.
    offline              BLOB
);
CREATE INDEX notices_addressee ON notices(addressee, position);
CREATE INDEX notices_threat ON notices(threat_id);
CREATE INDEX notices_decision ON notices(decision_id);
CREATE INDEX notices_receipt_due ON notices(receipt_due);

CREATE TABLE notice_targets (
    notice_id            TEXT NOT NULL REFERENCES notices(id),
    target_id            TEXT NOT NULL,
    ordinal              BIGINT NOT NULL,
    kind                 BIGINT NOT NULL,
    value                TEXT NOT NULL,
    province             TEXT NOT NULL,
    addressee            TEXT NOT NULL,
    deadline             BIGINT NOT NULL,
    -- The latest TargetResult (protobuf); the first report's time decides on-time.
    result               BLOB,
    result_outcome       BIGINT,
    first_reported_at    BIGINT,
    result_reported_at   BIGINT,
    verification_due     BIGINT,
    verification         BLOB,
    verified_at          BIGINT,
    revocation_notice_id TEXT,
    lift_due             BIGINT,
    lifted_at            BIGINT,
    lift_details         TEXT,
    PRIMARY KEY (notice_id, target_id)
);
CREATE INDEX notice_targets_addressee ON notice_targets(addressee, deadline);

-- Failed verifications awaiting the regulator (Art. 9).
CREATE TABLE review_items (
    id           TEXT PRIMARY KEY,
    notice_id    TEXT NOT NULL REFERENCES notices(id),
    target_id    TEXT NOT NULL,
    threat_id    TEXT NOT NULL,
    addressee    TEXT NOT NULL,
    province     TEXT NOT NULL,
    verifier     TEXT NOT NULL,
    -- ReviewQueueItem (protobuf).
    body         BLOB NOT NULL,
    queued_at    BIGINT NOT NULL,
    settled_at   BIGINT,
    settled_by   TEXT
);
CREATE INDEX review_items_open ON review_items(settled_at, queued_at);

-- Art. 12 records; created by timers, never deleted.
CREATE TABLE non_compliance (
    id           TEXT PRIMARY KEY,
    kind         BIGINT NOT NULL,
    org_id       TEXT NOT NULL,
    notice_id    TEXT NOT NULL REFERENCES notices(id),
    -- '' for a missing receipt.
    target_id    TEXT NOT NULL,
    province     TEXT NOT NULL,
    due_at       BIGINT NOT NULL,
    recorded_at  BIGINT NOT NULL,
    fulfilled_at BIGINT,
    UNIQUE (kind, notice_id, target_id)
);
CREATE INDEX non_compliance_org ON non_compliance(org_id, due_at);

CREATE TABLE enforcements (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    regulator   TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    -- Enforcement (protobuf) as answered.
    body        BLOB NOT NULL
);
CREATE INDEX enforcements_org ON enforcements(org_id);

CREATE TABLE enforcement_records (
    enforcement_id    TEXT NOT NULL REFERENCES enforcements(id),
    non_compliance_id TEXT NOT NULL REFERENCES non_compliance(id),
    PRIMARY KEY (enforcement_id, non_compliance_id)
);
CREATE INDEX enforcement_records_nc ON enforcement_records(non_compliance_id);
