-- Statistics (issue #15): counters kept by the intake in the transaction that stores the
-- sightings, and the country ranges an administrator loads (`fenghuo geo load`).

-- One row per (visibility scope, dimension, Asia/Shanghai day, key): threats first
-- reported and sightings received. scope: '*' every report, 'p:<province>' the reports a
-- provincial regulator sees, 'o:<organisation>' a reporter's own. Never decremented:
-- retention deletes rows, not what was received.
CREATE TABLE stat_counters (
    scope     TEXT NOT NULL,
    dim       TEXT NOT NULL,
    -- YYYYMMDD
    day       BIGINT NOT NULL,
    item      TEXT NOT NULL,
    threats   BIGINT NOT NULL,
    sightings BIGINT NOT NULL,
    PRIMARY KEY (scope, dim, day, item)
);

-- Versions of the country-range dataset; the highest is in force.
CREATE TABLE geo_datasets (
    version   BIGINT PRIMARY KEY,
    file_name TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    ranges    BIGINT NOT NULL,
    loaded_at BIGINT NOT NULL
);

-- Ranges of the version in force (a load replaces them). Addresses as 32 lower-case hex
-- digits of the IPv6 address (IPv4 as ::ffff:a.b.c.d), so text order is address order.
CREATE TABLE geo_ranges (
    version  BIGINT NOT NULL,
    start_ip TEXT NOT NULL,
    end_ip   TEXT NOT NULL,
    country  TEXT NOT NULL,
    PRIMARY KEY (version, start_ip)
);
