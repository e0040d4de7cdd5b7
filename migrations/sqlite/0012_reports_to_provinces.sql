-- The provinces a threat's resources lie in (the province of each routing ownership
-- entry): their provincial regulators see every report of it, whatever its TLP (Art. 6
-- of the 2017 Measures: reports go to MIIT and the relevant provincial administrations).
CREATE TABLE threat_provinces (
    threat_id TEXT NOT NULL REFERENCES threats(id),
    province  TEXT NOT NULL,
    PRIMARY KEY (threat_id, province)
);
CREATE INDEX threat_provinces_province ON threat_provinces(province, threat_id);

-- Threats stored before this table: the provinces of their responsible units.
INSERT INTO threat_provinces (threat_id, province)
SELECT DISTINCT r.threat_id, o.province
FROM threat_responsible r JOIN organisations o ON o.id = r.org_id
WHERE o.province <> 'national';
