-- Statistics roll-ups (issue #15): the day counters of stat_counters summed per ISO week
-- (span 'W', start = its Monday) and per month (span 'M', start = its first day), so a
-- year's figures read about 12 rows per key instead of 365. Built by the daily roll-up from
-- days that ended at least a day earlier; a late batch of an already rolled day adds to
-- them in its own transaction (src/store/statistics.rs says why that is exact).
CREATE TABLE stat_rollups (
    scope     TEXT COLLATE "C" NOT NULL,
    span      TEXT COLLATE "C" NOT NULL,
    -- YYYYMMDD of the week's Monday or the month's first day
    start     BIGINT NOT NULL,
    dim       TEXT COLLATE "C" NOT NULL,
    item      TEXT COLLATE "C" NOT NULL,
    threats   BIGINT NOT NULL,
    sightings BIGINT NOT NULL,
    PRIMARY KEY (scope, span, start, dim, item)
);

-- The last day (YYYYMMDD) whose counters are in the roll-ups; 0 before the first roll-up.
-- Days are rolled in order, so every week or month ending on or before it is complete.
CREATE TABLE stat_rollup_state (
    id             BIGINT PRIMARY KEY CHECK (id = 1),
    rolled_through BIGINT NOT NULL
);
INSERT INTO stat_rollup_state (id, rolled_through) VALUES (1, 0);
