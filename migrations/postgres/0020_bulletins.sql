-- The monthly bulletin (2009 reporting measures Art. 19): one row per month and language,
-- as published. `manifest` is the signed JSON naming the month, the publisher, the time and
-- the SHA-256 of the HTML and the PDF; `signature` is the publisher's Ed25519 signature over
-- it exactly as stored, with its key id and certificate chain (DER, concatenated with
-- 4-byte big-endian lengths). A rebuilt month replaces its row; the audit log keeps each.
CREATE TABLE bulletins (
    month TEXT NOT NULL,
    language TEXT NOT NULL,
    publisher TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    manifest BYTEA NOT NULL,
    signature BYTEA NOT NULL,
    key_id TEXT NOT NULL,
    chain_der BYTEA NOT NULL,
    html BYTEA NOT NULL,
    pdf BYTEA NOT NULL,
    figures TEXT NOT NULL,
    PRIMARY KEY (month, language)
);

-- The replica that builds a month's bulletin claims it first, so replicas running the same
-- daily check never publish a month twice; a claim older than an hour (a crashed build)
-- may be taken over.
CREATE TABLE bulletin_claims (
    month TEXT PRIMARY KEY,
    claimed_at BIGINT NOT NULL
);
