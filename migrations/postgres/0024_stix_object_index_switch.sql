-- The TAXII object-id index (0021) costs the intake about 70% of its throughput (BENCHMARKS.md),
-- so a database keeps it only once a server that serves TAXII has started on it: that start
-- turns this switch on under the feed_head lock and indexes the sightings stored before
-- (stix_object_ids_backfill); from then on every replica's intake indexes what it stores.
CREATE TABLE stix_object_index (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    enabled BIGINT NOT NULL
);
INSERT INTO stix_object_index (id, enabled) VALUES (1, 0);
-- Nothing to index until the switch is on; turning it on sets the mark again.
DELETE FROM stix_object_ids_backfill;
