-- Art. 8(3); 2009 mechanism Art. 9(4), 19: an organisation marked as a party or government
-- organ, critical information infrastructure or important information system, with who is
-- informed of measures on its resources (domain::protection::ProtectionMark as JSON; '' unmarked).
ALTER TABLE organisations ADD COLUMN protection_json TEXT NOT NULL DEFAULT '';
