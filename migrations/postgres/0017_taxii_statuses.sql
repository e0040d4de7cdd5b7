-- TAXII 2.1 status resources (issue #14): the answer to each POST of objects, kept so that any
-- replica answers GET status/{id}/. Only the organisation that posted reads it.
CREATE TABLE taxii_statuses (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    -- The status resource as served (TAXII 2.1 section 4.3.1), JSON.
    status_json TEXT NOT NULL
);
