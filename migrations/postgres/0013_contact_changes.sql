-- The contacts register's history (Art. 5 of the 2017 Measures; reporting measures Art. 21;
-- 2009 mechanism Art. 15): each change with the day it took effect, the day it reached the
-- platform and whether that was more than 3 working days later.
CREATE TABLE contact_changes (
    id                     TEXT PRIMARY KEY,
    org_id                 TEXT NOT NULL REFERENCES organisations(id),
    contacts_json          TEXT NOT NULL,
    -- Asia/Shanghai dates, YYYY-MM-DD
    effective_on           TEXT NOT NULL,
    reported_on            TEXT NOT NULL,
    working_days_to_report BIGINT NOT NULL,
    reported_late          BIGINT NOT NULL,
    recorded_at            BIGINT NOT NULL,
    at_creation            BIGINT NOT NULL
);
CREATE INDEX contact_changes_org ON contact_changes(org_id, id);

-- The latest change, shown with the organisation.
ALTER TABLE organisations ADD COLUMN contacts_effective_on TEXT;
ALTER TABLE organisations ADD COLUMN contacts_reported_late BIGINT NOT NULL DEFAULT 0;
