//! The one shape of STIX pattern fenghuo writes and reads: a single comparison,
//! `[object-type:property = 'value']`.

/// `[object_type:path = 'value']`, with the value's quotes and backslashes escaped.
pub fn equals(object_type: &str, path: &str, value: &str) -> String {
    let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
    format!("[{object_type}:{path} = '{escaped}']")
}

/// The (object type, property path, value) of a single-comparison pattern, or why not.
pub fn parse_equals(pattern: &str) -> Result<(String, String, String), String> {
    let inner = pattern
        .trim()
        .strip_prefix('[')
        .and_then(|p| p.strip_suffix(']'))
        .ok_or("not a single observation expression [ ... ]")?;
    let (lhs, rhs) = inner
        .split_once('=')
        .ok_or("not an equality comparison (object:property = 'value')")?;
    let lhs = lhs.trim();
    if lhs.ends_with(['!', '<', '>']) {
        return Err("not an equality comparison (object:property = 'value')".into());
    }
    let (object_type, path) = lhs
        .split_once(':')
        .ok_or("the left side is not object-type:property")?;
    let rhs = rhs.trim();
    let body = rhs
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .ok_or("the right side is not one quoted string")?;
    let mut value = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n @ ('\\' | '\'')) => value.push(n),
                _ => return Err("an invalid escape in the quoted string".into()),
            },
            '\'' => {
                return Err(
                    "more than one comparison: fenghuo maps one comparison per indicator".into(),
                );
            }
            c => value.push(c),
        }
    }
    Ok((object_type.trim().into(), path.trim().into(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_pattern_reads_back() {
        let p = equals("url", "value", "http://a.example/it's\\x");
        assert_eq!(
            parse_equals(&p).unwrap(),
            (
                "url".into(),
                "value".into(),
                "http://a.example/it's\\x".into()
            )
        );
        assert_eq!(
            parse_equals("[file:hashes.'SHA-256' = 'ab']").unwrap(),
            ("file".into(), "hashes.'SHA-256'".into(), "ab".into())
        );
    }

    #[test]
    fn compound_patterns_are_refused_with_the_reason() {
        let e = parse_equals("[ipv4-addr:value = '1.2.3.4' OR ipv4-addr:value = '5.6.7.8']")
            .unwrap_err();
        assert!(e.contains("one comparison"), "{e}");
        assert!(parse_equals("[ipv4-addr:value != '1.2.3.4']").is_err());
    }
}
