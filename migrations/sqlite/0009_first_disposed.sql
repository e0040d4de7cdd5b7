-- Art. 10: the appeal window counts from the day the addressee first reported a
-- target disposed, whatever was reported before or after.
ALTER TABLE notice_targets ADD COLUMN first_disposed_at BIGINT;
UPDATE notice_targets SET first_disposed_at = first_reported_at WHERE result_outcome = 1;
