-- Disposal and appeal statistics (issue #15) read the notice and appeal tables by period.
CREATE INDEX notices_issued_at ON notices(issued_at);
CREATE INDEX notice_targets_deadline ON notice_targets(deadline);
CREATE INDEX notice_targets_verified_at ON notice_targets(verified_at);
CREATE INDEX appeals_filed_at ON appeals(filed_at);
