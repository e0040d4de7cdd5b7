-- Why a review item waits for the regulator (Art. 9, Art. 12): 1 the institution found the
-- measure not effective, 2 the unit reported a target NOT_DISPOSED (a reported result of a
-- measure not taken, which the regulator accepts or orders again).
ALTER TABLE review_items ADD COLUMN reason BIGINT NOT NULL DEFAULT 1;
CREATE INDEX review_items_target ON review_items(notice_id, target_id);
