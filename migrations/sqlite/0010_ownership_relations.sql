-- Responsibility and holding (Art. 8, 9, 10 of the 2017 Measures; issue #11 items 1, 13, 14):
-- an entry names either the provider that must act on a notice (relation 1, responsible:
-- routing follows it) or the customer/party that uses the resource (relation 2, holder:
-- standing to appeal, informed of measures).
ALTER TABLE ownership_entries ADD COLUMN relation BIGINT NOT NULL DEFAULT 1;
-- A responsibility overlapping another unit's, or in a province other than its owner's,
-- waits for the regulator (issue #18 item 5, #11 item 2): 1 approved, 2 pending, 3 refused.
-- valid_from of an approved entry is when it started to count (its approval); declared_at
-- is when the unit declared it.
ALTER TABLE ownership_entries ADD COLUMN approval BIGINT NOT NULL DEFAULT 1;
ALTER TABLE ownership_entries ADD COLUMN declared_at BIGINT;
-- Why it waits (the entry it overlaps, the province), and the regulator's decision.
ALTER TABLE ownership_entries ADD COLUMN pending_reason TEXT;
ALTER TABLE ownership_entries ADD COLUMN decided_by TEXT;
ALTER TABLE ownership_entries ADD COLUMN decision_reason TEXT;
UPDATE ownership_entries SET declared_at = valid_from;
-- Entries of organisations without a provider role were holdings all along.
UPDATE ownership_entries SET relation = 2 WHERE owner_org IN (
    SELECT id FROM organisations
    WHERE roles NOT LIKE '%basic_telecom%' AND roles NOT LIKE '%internet_enterprise%'
      AND roles NOT LIKE '%domain_registry%' AND roles NOT LIKE '%domain_registrar%');
-- "national" was never a resource's province: the owner's own province, where it has one.
UPDATE ownership_entries SET province = (
    SELECT o.province FROM organisations o WHERE o.id = ownership_entries.owner_org)
WHERE province = 'national';
CREATE INDEX ownership_pending ON ownership_entries(approval, province);
