-- STIX import defaults stored per organisation (issue #14): TAXII 2.1 has no per-request place
-- for ImportStixBundle's `defaults`, so an organisation stores them (SetStixImportDefaults) and
-- its TAXII POSTs, and its ImportStixBundle calls without defaults, use them.
CREATE TABLE stix_import_defaults (
    org_id     TEXT PRIMARY KEY,
    -- The StixImportDefaults message, protobuf-encoded, as validated.
    defaults   BLOB NOT NULL,
    updated_at BIGINT NOT NULL
);
