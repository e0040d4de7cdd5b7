-- Identity, authorization and the audit chain (issue #2).
-- Instants are microseconds since the Unix epoch (UTC); flags are 0/1.

CREATE TABLE organisations (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    -- comma-separated role names, e.g. "basic_telecom,internet_enterprise"
    roles               TEXT NOT NULL,
    -- GB/T 2260 province code or "national"
    province            TEXT NOT NULL,
    parent_id           TEXT REFERENCES organisations(id),
    enabled             BIGINT NOT NULL,
    contacts_json       TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    contacts_updated_at BIGINT
);

CREATE TABLE certificates (
    fingerprint       TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organisations(id),
    subject           TEXT NOT NULL,
    not_before        BIGINT NOT NULL,
    not_after         BIGINT NOT NULL,
    registered_at     BIGINT NOT NULL,
    revoked_at        BIGINT,
    revocation_reason TEXT,
    pem               TEXT NOT NULL
);
CREATE INDEX certificates_org ON certificates(org_id);

CREATE TABLE officers (
    org_id        TEXT NOT NULL REFERENCES organisations(id),
    name          TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    enabled       BIGINT NOT NULL,
    registered_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, name)
);

CREATE TABLE officer_keys (
    org_id         TEXT NOT NULL REFERENCES organisations(id),
    kid            TEXT NOT NULL,
    algorithm      TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    registered_at  BIGINT NOT NULL,
    revoked_at     BIGINT,
    PRIMARY KEY (org_id, kid)
);

-- Bumped in the same transaction as any revocation or disabling, so that every
-- replica notices within its poll interval and ends the affected streams.
CREATE TABLE access_epoch (
    id    BIGINT PRIMARY KEY,
    epoch BIGINT NOT NULL
);
INSERT INTO access_epoch (id, epoch) VALUES (1, 0);

CREATE TABLE audit_log (
    seq              BIGINT PRIMARY KEY,
    at               BIGINT NOT NULL,
    org_id           TEXT NOT NULL,
    cert_fingerprint TEXT NOT NULL,
    officer          TEXT NOT NULL,
    action           TEXT NOT NULL,
    subject          TEXT NOT NULL,
    details_json     TEXT NOT NULL,
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log(subject, seq);
CREATE INDEX audit_log_org ON audit_log(org_id, seq);
CREATE INDEX audit_log_at ON audit_log(at);

-- The chain's head: appending locks this row, so records get gapless sequence
-- numbers in commit order and a removed last record is still detected.
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY,
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
