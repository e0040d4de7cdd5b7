-- Threat intake and the shared feed (issue #3).

CREATE TABLE threats (
    id                  TEXT PRIMARY KEY,
    category            BIGINT NOT NULL,
    -- NULL for category 5 and hazards without a CVE/CNVD id (never merged)
    dedup_key           TEXT UNIQUE,
    indicator           TEXT NOT NULL,
    -- 1 unidentified, 2 confirmed, 3 rejected (Art. 7)
    status              BIGINT NOT NULL,
    grade               BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    identification_json TEXT
);

-- Search matches a normalised indicator without scanning.
CREATE INDEX threats_indicator ON threats(indicator);

-- One unit's report of a threat. (reporter_org, submission_id) is the
-- idempotency key; content_sha256 tells a retry from a changed resubmission.
CREATE TABLE sightings (
    id                TEXT PRIMARY KEY,
    threat_id         TEXT NOT NULL REFERENCES threats(id),
    reporter_org      TEXT NOT NULL,
    reporter_province TEXT NOT NULL,
    submission_id     TEXT NOT NULL,
    content_sha256    TEXT NOT NULL,
    tlp               BIGINT NOT NULL,
    discovered_at     BIGINT NOT NULL,
    received_at       BIGINT NOT NULL,
    created_threat    BIGINT NOT NULL,
    report            BLOB NOT NULL,
    -- submission_id leads: look-ups name many ids of one organisation
    UNIQUE (submission_id, reporter_org)
);
CREATE INDEX sightings_threat ON sightings(threat_id, received_at);
CREATE INDEX sightings_discovered ON sightings(discovered_at);

-- Units responsible for a threat's indicators (Art. 9 routing); AMBER reaches them.
CREATE TABLE threat_responsible (
    threat_id TEXT NOT NULL REFERENCES threats(id),
    org_id    TEXT NOT NULL,
    PRIMARY KEY (threat_id, org_id)
);

-- The feed. Positions are handed out under the lock of feed_head, held to
-- commit, so they follow commit order across replicas.
CREATE TABLE feed_events (
    position     BIGINT PRIMARY KEY,
    committed_at BIGINT NOT NULL,
    -- new_threat, new_sighting, identified, tlp_changed
    kind         TEXT NOT NULL,
    threat_id    TEXT NOT NULL,
    sighting_id  TEXT,
    category     BIGINT NOT NULL,
    details_json TEXT
);

CREATE TABLE feed_head (
    id       BIGINT PRIMARY KEY,
    position BIGINT NOT NULL
);
INSERT INTO feed_head (id, position) VALUES (1, 0);
