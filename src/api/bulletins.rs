//! The monthly bulletins through StatisticsService (2009 reporting measures Art. 19): the
//! requests become domain values here, the rows published by `crate::bulletin::publish`
//! become the contract's messages. Every organisation may read every bulletin
//! (docs/authorization.md), so there is no record-level rule.

use tonic::Status;

use super::{internal, invalid, next_page_token, page, precondition, timestamp};
use crate::bulletin::Language;
use crate::bulletin::publish::decode_chain;
use crate::domain::bulletin::{BulletinMonth, BulletinMonthError};
use crate::pb;
use crate::store::Store;
use crate::store::bulletins::{self, BulletinFilter, BulletinRow, BulletinSummary};

/// Which bulletin a GetBulletin asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulletinKey {
    pub month: BulletinMonth,
    pub language: Language,
}

/// Which months a ListBulletins asks for: `from` to `to`, inclusive, either open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonthSpan {
    pub from: Option<BulletinMonth>,
    pub to: Option<BulletinMonth>,
}

/// Everything a GetBulletin or ListBulletins can be refused for, one variant per rule.
#[derive(Debug, thiserror::Error)]
pub enum BulletinError {
    #[error("{source}")]
    Month {
        field: &'static str,
        source: BulletinMonthError,
    },
    #[error("{value:?} is not a language bulletins are published in: \"zh-CN\" or \"en\"")]
    Language { value: String },
    #[error("{year} is not a year of four digits (1000 to 9999)")]
    Year { year: i32 },
    #[error("name a year or a month range (from_month, to_month), not both")]
    YearAndRange,
    #[error("{to} is before from_month {from}")]
    Reversed { from: String, to: String },
    #[error("not a token this server issued")]
    PageToken,
    #[error(
        "no bulletin of {month} in {language} has been published (2009 reporting measures \
         Art. 19: a month's bulletin is due by the 10th working day of the next month)"
    )]
    NotPublished {
        month: String,
        language: &'static str,
    },
    #[error(
        "the bulletin of {month} in {language} is {bytes} bytes as a message, over this \
         server's [limits] max_message_bytes of {limit}: the operator raises the limit"
    )]
    TooLarge {
        month: String,
        language: &'static str,
        bytes: usize,
        limit: usize,
    },
    #[error("reading bulletins: {0}")]
    Storage(#[from] sqlx::Error),
    #[error("the stored certificate chain of the bulletin of {month} in {language} is unreadable")]
    Chain { month: String, language: String },
}

impl BulletinError {
    fn field(&self) -> &'static str {
        match self {
            BulletinError::Month { field, .. } => field,
            BulletinError::Language { .. } => "language",
            BulletinError::Year { .. } | BulletinError::YearAndRange => "year",
            BulletinError::Reversed { .. } => "to_month",
            BulletinError::PageToken => "page.page_token",
            BulletinError::NotPublished { .. }
            | BulletinError::TooLarge { .. }
            | BulletinError::Storage(_)
            | BulletinError::Chain { .. } => "",
        }
    }
}

impl From<BulletinError> for Status {
    fn from(e: BulletinError) -> Status {
        let field = e.field();
        match e {
            BulletinError::Month { .. }
            | BulletinError::Language { .. }
            | BulletinError::Year { .. }
            | BulletinError::YearAndRange
            | BulletinError::Reversed { .. }
            | BulletinError::PageToken => invalid(field, e.to_string()),
            BulletinError::NotPublished { .. } => Status::not_found(e.to_string()),
            BulletinError::TooLarge {
                ref month,
                language,
                ..
            } => precondition(
                "MESSAGE_SIZE",
                &format!("bulletin:{month}/{language}"),
                e.to_string(),
            ),
            BulletinError::Storage(_) | BulletinError::Chain { .. } => internal(format!("{e:#}")),
        }
    }
}

fn month(field: &'static str, raw: &str) -> Result<BulletinMonth, BulletinError> {
    BulletinMonth::parse(raw.trim()).map_err(|source| BulletinError::Month { field, source })
}

fn optional_month(field: &'static str, raw: &str) -> Result<Option<BulletinMonth>, BulletinError> {
    match raw.trim() {
        "" => Ok(None),
        m => month(field, m).map(Some),
    }
}

impl TryFrom<&pb::GetBulletinRequest> for BulletinKey {
    type Error = BulletinError;

    fn try_from(req: &pb::GetBulletinRequest) -> Result<Self, BulletinError> {
        let month = month("month", &req.month)?;
        let language = match req.language.trim() {
            "" => Language::default(),
            tag => Language::from_tag(tag).ok_or_else(|| BulletinError::Language {
                value: tag.chars().take(20).collect(),
            })?,
        };
        Ok(BulletinKey { month, language })
    }
}

impl TryFrom<&pb::ListBulletinsRequest> for MonthSpan {
    type Error = BulletinError;

    fn try_from(req: &pb::ListBulletinsRequest) -> Result<Self, BulletinError> {
        let from = optional_month("from_month", &req.from_month)?;
        let to = optional_month("to_month", &req.to_month)?;
        if req.year != 0 {
            if from.is_some() || to.is_some() {
                return Err(BulletinError::YearAndRange);
            }
            let year = |m| {
                BulletinMonth::of_year(req.year, m).ok_or(BulletinError::Year { year: req.year })
            };
            return Ok(MonthSpan {
                from: Some(year(1)?),
                to: Some(year(12)?),
            });
        }
        if let (Some(f), Some(t)) = (from, to)
            && t < f
        {
            return Err(BulletinError::Reversed {
                from: f.key(),
                to: t.key(),
            });
        }
        Ok(MonthSpan { from, to })
    }
}

/// A page token names the last entry shown: `YYYY-MM/language`.
fn page_key(summary: &BulletinSummary) -> String {
    format!("{}/{}", summary.month, summary.language)
}

fn after(token: &str) -> Result<Option<(String, String)>, BulletinError> {
    if token.is_empty() {
        return Ok(None);
    }
    let (m, l) = token.split_once('/').ok_or(BulletinError::PageToken)?;
    let m = BulletinMonth::parse(m).map_err(|_| BulletinError::PageToken)?;
    let l = Language::from_tag(l).ok_or(BulletinError::PageToken)?;
    Ok(Some((m.key(), l.tag().to_owned())))
}

fn summary(s: &BulletinSummary) -> pb::BulletinSummary {
    pb::BulletinSummary {
        month: s.month.clone(),
        language: s.language.clone(),
        publisher: s.publisher.clone(),
        published_at: Some(timestamp(s.published_at)),
        key_id: s.key_id.clone(),
        html_bytes: u64::try_from(s.html_bytes).unwrap_or_default(),
        pdf_bytes: u64::try_from(s.pdf_bytes).unwrap_or_default(),
    }
}

/// ListBulletins: a page of the published bulletins in `span`.
///
/// # Errors
/// [`BulletinError`]: a malformed filter or page token, or storage.
pub async fn list(
    store: &Store,
    req: &pb::ListBulletinsRequest,
) -> Result<pb::ListBulletinsResponse, Status> {
    let (size, token) = page(req.page.as_ref())?;
    let span = MonthSpan::try_from(req)?;
    let filter = BulletinFilter {
        from: span.from.map(BulletinMonth::key),
        to: span.to.map(BulletinMonth::key),
        after: after(&token)?,
    };
    let rows = bulletins::list(store, &filter, size)
        .await
        .map_err(BulletinError::from)?;
    Ok(pb::ListBulletinsResponse {
        next_page_token: next_page_token(rows.len(), size, rows.last().map(page_key).as_deref()),
        bulletins: rows.iter().map(summary).collect(),
    })
}

/// GetBulletin: one published bulletin with its documents and signature, refused when it
/// would not fit in `max_message_bytes`.
///
/// # Errors
/// [`BulletinError`]: malformed month or language, none published, too large, storage.
pub async fn get(
    store: &Store,
    req: &pb::GetBulletinRequest,
    max_message_bytes: usize,
) -> Result<pb::GetBulletinResponse, BulletinError> {
    let key = BulletinKey::try_from(req)?;
    let month = key.month.key();
    let language = key.language.tag();
    let row = bulletins::get(store, &month, language)
        .await?
        .ok_or_else(|| BulletinError::NotPublished {
            month: month.clone(),
            language,
        })?;
    let response = response(row)?;
    let bytes = prost::Message::encoded_len(&response);
    if bytes > max_message_bytes {
        return Err(BulletinError::TooLarge {
            month,
            language,
            bytes,
            limit: max_message_bytes,
        });
    }
    Ok(response)
}

fn response(row: BulletinRow) -> Result<pb::GetBulletinResponse, BulletinError> {
    let chain = decode_chain(&row.chain_der).ok_or_else(|| BulletinError::Chain {
        month: row.month.clone(),
        language: row.language.clone(),
    })?;
    Ok(pb::GetBulletinResponse {
        summary: Some(summary(&BulletinSummary {
            month: row.month,
            language: row.language,
            publisher: row.publisher,
            published_at: row.published_at,
            key_id: row.key_id.clone(),
            html_bytes: row.html.len() as i64,
            pdf_bytes: row.pdf.len() as i64,
        })),
        html: row.html,
        pdf: row.pdf,
        manifest: row.manifest,
        signature: row.signature,
        key_id: row.key_id,
        signer_chain_der: chain,
        figures_json: row.figures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(month: &str, language: &str) -> Result<BulletinKey, BulletinError> {
        BulletinKey::try_from(&pb::GetBulletinRequest {
            month: month.into(),
            language: language.into(),
        })
    }

    fn span(year: i32, from: &str, to: &str) -> Result<MonthSpan, BulletinError> {
        MonthSpan::try_from(&pb::ListBulletinsRequest {
            year,
            from_month: from.into(),
            to_month: to.into(),
            ..Default::default()
        })
    }

    #[test]
    fn a_request_names_a_month_and_a_known_language_or_the_default() {
        let key = get("2026-11", "").unwrap();
        assert_eq!(
            (key.month.key(), key.language),
            ("2026-11".into(), Language::Chinese)
        );
        assert_eq!(get("2026-11", "en").unwrap().language, Language::English);
        let bad = Status::from(get("2026-13", "en").unwrap_err());
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);
        assert!(
            bad.message()
                .starts_with("month: \"2026-13\" is not a month: YYYY-MM"),
            "{}",
            bad.message()
        );
        let bad = Status::from(get("2026-11", "fr").unwrap_err());
        assert!(
            bad.message().contains("\"zh-CN\" or \"en\""),
            "{}",
            bad.message()
        );
        assert!(bad.message().starts_with("language: "), "{}", bad.message());
    }

    #[test]
    fn a_listing_takes_a_year_or_a_range_in_order() {
        let year = span(2026, "", "").unwrap();
        assert_eq!(
            (year.from.unwrap().key(), year.to.unwrap().key()),
            ("2026-01".into(), "2026-12".into())
        );
        assert_eq!(span(0, "", "").unwrap(), MonthSpan::default());
        assert!(matches!(
            span(2026, "2026-01", ""),
            Err(BulletinError::YearAndRange)
        ));
        assert!(matches!(
            span(26, "", ""),
            Err(BulletinError::Year { year: 26 })
        ));
        assert!(matches!(
            span(0, "2026-05", "2026-04"),
            Err(BulletinError::Reversed { .. })
        ));
        assert!(matches!(
            span(0, "2026-5", ""),
            Err(BulletinError::Month {
                field: "from_month",
                ..
            })
        ));
    }

    #[test]
    fn a_page_token_is_a_month_and_a_language_this_server_wrote() {
        assert_eq!(
            after("2026-11/en").unwrap(),
            Some(("2026-11".into(), "en".into()))
        );
        assert_eq!(after("").unwrap(), None);
        for bad in ["2026-11", "2026-11/fr", "x/en", "2026-11/en' OR 1=1"] {
            assert!(matches!(after(bad), Err(BulletinError::PageToken)), "{bad}");
        }
    }
}
