-- Regulators' notice-signing keys (Art. 8). Rotation retires a key but keeps
-- it: notices it signed stay verifiable.

CREATE TABLE signing_keys (
    key_id          TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organisations(id),
    certificate_pem TEXT NOT NULL,
    valid_from      BIGINT NOT NULL,
    valid_until     BIGINT NOT NULL,
    registered_at   BIGINT NOT NULL,
    retired_at      BIGINT
);
CREATE INDEX signing_keys_org ON signing_keys(org_id, registered_at);
