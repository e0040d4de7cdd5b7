//! A file's rows as fields: CSV under its header of column names, or one flat JSON object
//! per line, each handed on with its line number.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::Context;

use crate::cli::threat::columns::{self, Fields, Reject};

type Send<'a> = dyn FnMut(u64, Result<Fields, Reject>) -> anyhow::Result<bool> + 'a;

pub(super) fn read_csv(file: &Path, send: &mut Send) -> anyhow::Result<()> {
    let input = File::open(file).with_context(|| format!("reading {}", file.display()))?;
    let mut reader =
        csv::ReaderBuilder::new().from_reader(BufReader::with_capacity(1 << 20, input));
    let mut columns = Vec::new();
    for name in reader.headers()?.iter() {
        match columns::column(name) {
            Some(c) => columns.push(c),
            None => anyhow::bail!(
                "{}: unknown column {name:?} in the header (`fenghuo threat template` and the README list them)",
                file.display()
            ),
        }
    }
    let mut record = csv::StringRecord::new();
    loop {
        let line = match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => record.position().map(|p| p.line()).unwrap_or_default(),
            Err(e) => match e.position() {
                Some(p) => {
                    let line = p.line();
                    let reason = e.to_string();
                    if !send(
                        line,
                        Err(Reject {
                            field: String::new(),
                            reason,
                        }),
                    )? {
                        return Ok(());
                    }
                    continue;
                }
                None => return Err(e).with_context(|| format!("reading {}", file.display())),
            },
        };
        let fields = Fields(
            columns
                .iter()
                .zip(record.iter())
                .filter(|(_, v)| !v.trim().is_empty())
                .map(|(c, v)| (*c, Cow::Borrowed(v.trim())))
                .collect(),
        );
        if !send(line, Ok(fields))? {
            return Ok(());
        }
    }
}

pub(super) fn read_jsonl(file: &Path, send: &mut Send) -> anyhow::Result<()> {
    let input = File::open(file).with_context(|| format!("reading {}", file.display()))?;
    for (i, text) in BufReader::with_capacity(1 << 20, input).lines().enumerate() {
        let text = text.with_context(|| format!("reading {}", file.display()))?;
        if text.trim().is_empty() {
            continue;
        }
        let fields = json_fields(&text);
        if !send(i as u64 + 1, fields)? {
            return Ok(());
        }
    }
    Ok(())
}

fn json_fields(text: &str) -> Result<Fields<'static>, Reject> {
    use serde_json::Value;
    let object: serde_json::Map<String, Value> =
        serde_json::from_str(text).map_err(|e| Reject {
            field: String::new(),
            reason: format!("not a JSON object: {e}"),
        })?;
    let mut fields = Fields::default();
    for (key, value) in object {
        let Some(col) = columns::column(&key) else {
            return Err(Reject {
                field: key,
                reason: "unknown column (`fenghuo threat template` and the README list them)"
                    .into(),
            });
        };
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s.trim().to_owned(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect::<Vec<_>>()
                .join(";"),
            Value::Object(_) => {
                return Err(Reject {
                    field: key,
                    reason: "a flat value: text, number, true/false or a list".into(),
                });
            }
        };
        if !text.is_empty() {
            fields.0.push((col, Cow::Owned(text)));
        }
    }
    Ok(fields)
}
