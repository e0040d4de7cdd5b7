-- TAXII's object-id index, narrower (issue #14). 0021 kept each served STIX id as text with
-- its sighting and threat: three B-tree inserts of ~40-byte random keys per object, which
-- made TAXII POST slow down as the collection grew. An object's id here is the first 8 bytes
-- of its UUID (the ids are UUIDv5, so these are as good as random), kept with the feed
-- position of the sighting that serves it: one B-tree of two integers. A lookup reads the
-- sightings at those positions and builds their objects, so a shared key (1 in 2^64 per
-- pair) can only add a candidate that the id filter then drops, never lose an object.
-- Retention removes a sighting's keys with its feed event or with the sighting.
CREATE TABLE stix_object_keys (
    object_key BIGINT NOT NULL,
    position   BIGINT NOT NULL,
    PRIMARY KEY (object_key, position)
) WITHOUT ROWID;

DROP TABLE stix_object_ids;

-- The backfill walks the feed (positions) rather than the sightings (ids). A database that
-- kept 0021's index rebuilds this one at the next start (as 0024 describes); one that did
-- not has nothing to rebuild.
DROP TABLE stix_object_ids_backfill;
CREATE TABLE stix_object_keys_backfill (
    id             BIGINT PRIMARY KEY CHECK (id = 1),
    after_position BIGINT NOT NULL
);
INSERT INTO stix_object_keys_backfill (id, after_position)
    SELECT 1, 0 FROM stix_object_index WHERE enabled = 1;
