-- Reporting deadlines (reporting measures Art. 13; 2009 mechanism Art. 8(2)): each first
-- report's deadline, the policy entry it came from, and whether it arrived at or after it.
-- NULL report_due: a follow-up (Art. 16), no limit in the policy, or a working-day limit
-- running into a calendar year not loaded when the report arrived.
ALTER TABLE sightings ADD COLUMN report_due BIGINT;
ALTER TABLE sightings ADD COLUMN report_deadline TEXT;
ALTER TABLE sightings ADD COLUMN reported_late BIGINT NOT NULL DEFAULT 0;
-- The units' KPIs (GetComplianceSummary.reports) count by reporter and due date.
CREATE INDEX sightings_report_due ON sightings(reporter_org, report_due);

-- The professional institution's own steps (2009 mechanism Art. 8(3), 9(5)): report a
-- confirmed major-or-above event to MIIT, notify the units of a general event, sum general
-- events up monthly. A durable timer sets `overdue` at due_at unless done by then.
CREATE TABLE institution_tasks (
    id              TEXT PRIMARY KEY,
    kind            BIGINT NOT NULL,
    institution_org TEXT NOT NULL,
    -- The threat (report, notify) or '' for the monthly summary.
    threat_id       TEXT NOT NULL,
    -- 'YYYY-MM' (Asia/Shanghai) of the monthly summary, else ''.
    month           TEXT NOT NULL,
    -- The policy entry, e.g. "mechanism_2009.major.institution_report".
    deadline_key    TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    -- NULL while the calendar year it runs into is not loaded.
    due_at          BIGINT,
    overdue         BIGINT NOT NULL DEFAULT 0,
    done_at         BIGINT,
    done_by         TEXT,
    done_note       TEXT,
    UNIQUE (kind, institution_org, threat_id, month)
);
CREATE INDEX institution_tasks_org ON institution_tasks(institution_org, id);
CREATE INDEX institution_tasks_threat ON institution_tasks(threat_id);
