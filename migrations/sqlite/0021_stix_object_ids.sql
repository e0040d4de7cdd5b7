-- TAXII's object-id index (issue #14): the STIX id of every object the feed collection serves
-- for a sighting (its SDO, relationships, courses of action and the `sighting`; UUIDv5 of the
-- sighting id, so they cannot be parsed back), written in the intake's transaction, so
-- match[id], objects/{id}/ and versions/ find the sighting without scanning the feed. The
-- TLP rule is applied to the sighting found, as for every listing.
CREATE TABLE stix_object_ids (
    object_id   TEXT PRIMARY KEY,
    sighting_id TEXT NOT NULL,
    -- Retention removes a threat's rows with its sightings.
    threat_id   TEXT NOT NULL
);
CREATE INDEX stix_object_ids_threat ON stix_object_ids (threat_id);

-- The sightings stored before this migration are indexed at start-up, in batches after
-- `after_id` (sighting ids in order); the row is removed when they all are.
CREATE TABLE stix_object_ids_backfill (
    id       INTEGER PRIMARY KEY,
    after_id TEXT NOT NULL
);
INSERT INTO stix_object_ids_backfill (id, after_id) VALUES (1, '');
