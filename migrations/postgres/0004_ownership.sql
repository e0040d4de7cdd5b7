-- The ownership registry (Art. 9 of the 2017 Measures): who is responsible for
-- an IP prefix, ASN, domain, registry suffix, mail domain or number range.
-- Entries are never deleted: removal closes them, so "who held this at T" stays answerable.

CREATE TABLE ownership_entries (
    id          TEXT PRIMARY KEY,
    -- OwnershipKind of the contract: 1 ip_prefix … 7 number_prefix
    kind        BIGINT NOT NULL,
    value       TEXT NOT NULL,
    origin_asn  BIGINT,
    owner_org   TEXT NOT NULL REFERENCES organisations(id),
    province    TEXT NOT NULL,
    valid_from  BIGINT NOT NULL,
    valid_until BIGINT
);
CREATE INDEX ownership_value ON ownership_entries(kind, value);
CREATE INDEX ownership_owner ON ownership_entries(owner_org, kind);

-- Bumped with every change; each replica rebuilds its routing table when it moves.
CREATE TABLE ownership_version (
    id      BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO ownership_version (id, version) VALUES (1, 0);
