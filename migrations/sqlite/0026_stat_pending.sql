-- Statistics counters, written in bulk (issue #15): an intake batch keeps its counts as one
-- row here, in its own transaction; the fold adds many batches at once to stat_counters (and
-- to stat_rollups for days already rolled) and removes them in one transaction. Reads take
-- one snapshot of both, so every committed batch counts exactly once.
CREATE TABLE stat_pending (
    id     INTEGER PRIMARY KEY,
    day    BIGINT NOT NULL,
    -- The batch's (scope, dimension, key) → (threats, sightings), protobuf-encoded.
    counts BLOB NOT NULL
);
CREATE INDEX stat_pending_day ON stat_pending (day);
