-- Identification of threats by a professional institution (Art. 7).

CREATE TABLE identifications (
    id             TEXT PRIMARY KEY,
    -- A threat is identified once.
    threat_id      TEXT NOT NULL UNIQUE REFERENCES threats(id),
    outcome        BIGINT NOT NULL,
    institution    TEXT NOT NULL,
    identified_at  BIGINT NOT NULL,
    -- SHA-256 of the request: an identical retry gets the same answer.
    request_sha256 TEXT NOT NULL,
    -- The Identification message as answered (protobuf).
    body           BLOB NOT NULL
);
