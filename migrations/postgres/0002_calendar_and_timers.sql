-- The working-day calendar, durable timers and operator alerts (issue #4).
-- Instants are microseconds since the Unix epoch (UTC); flags are 0/1.

-- Years an administrator loaded; they overlay the years embedded in the binary.
CREATE TABLE calendar_years (
    year          BIGINT PRIMARY KEY,
    -- the validated year in the shape of data/calendar (YearCalendar JSON)
    calendar_json TEXT NOT NULL,
    loaded_at     BIGINT NOT NULL,
    loaded_by     TEXT NOT NULL
);

-- Bumped by every load; its row lock orders a load against a deadline being stored as
-- pending calendar, so none is left pending for a year that was just loaded.
CREATE TABLE calendar_version (
    id      BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO calendar_version (id, version) VALUES (1, 0);

-- A timer is due at due_at; while its deadline runs past the loaded years it is
-- pending calendar: due_at is NULL and pending_event_at + pending_limit say how
-- to compute it once the year is loaded.
CREATE TABLE timers (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    subject          TEXT NOT NULL,
    payload_json     TEXT NOT NULL,
    due_at           BIGINT,
    pending_event_at BIGINT,
    pending_limit    TEXT,
    fired_at         BIGINT,
    cancelled_at     BIGINT,
    -- failed firings so far (the handler's effects rolled back), for back-off
    attempts         BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT
);
-- Only open timers are indexed: finding the due ones stays cheap however many have fired.
CREATE INDEX timers_open_due ON timers (due_at) WHERE fired_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX timers_subject ON timers (kind, subject);

-- Things an operator must act on, e.g. a deadline waiting for next year's calendar.
CREATE TABLE operator_alerts (
    id          TEXT PRIMARY KEY,
    raised_at   BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    message     TEXT NOT NULL,
    resolved_at BIGINT
);
CREATE INDEX operator_alerts_subject ON operator_alerts (subject);
