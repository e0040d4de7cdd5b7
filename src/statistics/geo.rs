//! The country-range dataset an administrator loads (`fenghuo geo load FILE`): CSV rows
//! `start,end,country` (IPv4 or IPv6 addresses, both ends inclusive, ISO 3166-1 alpha-2),
//! e.g. the DB-IP "IP to Country Lite" CSV. Statistics count control servers by it.

use std::net::IpAddr;

/// Why a file is refused; nothing is stored then.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeoError {
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: String },
    #[error("line {line}: range overlaps the one on line {previous}")]
    Overlap { line: usize, previous: usize },
    #[error("no ranges in the file")]
    Empty,
}

/// One range of the file, with its line for messages.
pub type Range = (IpAddr, IpAddr, String);

fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

fn key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// Parses and checks the file: every row a range of one family with start ≤ end, a
/// two-letter country, no two ranges overlapping. A first row `start,end,country` is a header.
///
/// # Errors
/// The first row that breaks a rule, by its line number.
pub fn parse_csv(text: &str) -> Result<Vec<Range>, GeoError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows: Vec<(usize, Range)> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 1;
        let bad = |problem: String| GeoError::Line { line, problem };
        let record = record.map_err(|e| bad(e.to_string()))?;
        let field = |n: usize| record.get(n).unwrap_or("").trim();
        if line == 1 && field(0).eq_ignore_ascii_case("start") {
            continue;
        }
        if record.len() < 3 {
            return Err(bad(format!(
                "{} fields; expected start,end,country",
                record.len()
            )));
        }
        let start: IpAddr = field(0)
            .parse()
            .map_err(|_| bad(format!("start {:?} is not an IP address", field(0))))?;
        let end: IpAddr = field(1)
            .parse()
            .map_err(|_| bad(format!("end {:?} is not an IP address", field(1))))?;
        if !same_family(start, end) {
            return Err(bad("start and end are of different IP versions".into()));
        }
        if key(end) < key(start) {
            return Err(bad(format!("end {end} is before start {start}")));
        }
        let country = field(2).to_ascii_uppercase();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(bad(format!(
                "country {:?} is not an ISO 3166-1 alpha-2 code",
                field(2)
            )));
        }
        rows.push((line, (start, end, country)));
    }
    if rows.is_empty() {
        return Err(GeoError::Empty);
    }
    rows.sort_by_key(|(_, (s, _, _))| key(*s));
    for w in rows.windows(2) {
        let ((prev_line, (_, prev_end, _)), (line, (start, _, _))) = (&w[0], &w[1]);
        if key(*start) <= key(*prev_end) {
            return Err(GeoError::Overlap {
                line: *line.max(prev_line),
                previous: *line.min(prev_line),
            });
        }
    }
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_of_both_families_load_and_sort() {
        let r = parse_csv(
            "start,end,country\n8.8.8.0,8.8.8.255,us\n2001:4860::,2001:4860:ffff::,US\n1.0.0.0,1.0.0.255,AU\n",
        )
        .unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].2, "AU");
        assert_eq!(r[1].2, "US");
    }

    #[test]
    fn a_bad_row_is_refused_by_its_line() {
        assert_eq!(
            parse_csv("1.0.0.0,1.0.0.255,AU\n1.0.1.0,::1,AU\n").unwrap_err(),
            GeoError::Line {
                line: 2,
                problem: "start and end are of different IP versions".into()
            }
        );
        assert!(matches!(
            parse_csv("1.0.0.9,1.0.0.1,AU\n"),
            Err(GeoError::Line { line: 1, .. })
        ));
        assert!(matches!(
            parse_csv("1.0.0.0,1.0.0.9,Australia\n"),
            Err(GeoError::Line { line: 1, .. })
        ));
        assert_eq!(
            parse_csv("1.0.0.0,1.0.0.9,AU\n1.0.0.5,1.0.0.20,AU\n").unwrap_err(),
            GeoError::Overlap {
                line: 2,
                previous: 1
            }
        );
        assert_eq!(parse_csv("").unwrap_err(), GeoError::Empty);
    }
}
