//! The bulletin pages: the published monthly bulletins and a bulletin's HTML or PDF.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;

use super::{Page, Params, next_page, page_request};
use crate::console::labels::Lang;
use crate::console::view;
use crate::console::{Console, Ctx, PageError, render, rpc};
use crate::pb;
use crate::pb::statistics_service_server::StatisticsService as _;

struct BulletinRow {
    month: String,
    language: String,
    publisher: String,
    published_at: String,
    key_id: String,
    pdf_kib: u64,
}

#[derive(askama::Template)]
#[template(path = "bulletins.html")]
struct Bulletins {
    l: Lang,
    me: String,
    active: &'static str,
    rows: Vec<BulletinRow>,
    next: String,
}

/// The monthly bulletins published on the platform (2009 reporting measures Art. 19).
pub async fn bulletins(State(c): State<Arc<Console>>, ctx: Ctx, Query(q): Params) -> Page {
    let l = ctx.lang;
    let me = c.me(&ctx, rpc::LIST_BULLETINS).await?;
    let answer = c
        .call(
            &ctx,
            rpc::LIST_BULLETINS,
            None,
            pb::ListBulletinsRequest {
                page: page_request(&q),
                ..Default::default()
            },
            |r| c.statistics.list_bulletins(r),
        )
        .await?;
    Ok(render(&Bulletins {
        l,
        me,
        active: "bulletins",
        rows: answer
            .bulletins
            .iter()
            .map(|b| BulletinRow {
                month: b.month.clone(),
                language: b.language.clone(),
                publisher: b.publisher.clone(),
                published_at: view::when(b.published_at.as_ref()),
                key_id: b.key_id.chars().take(16).collect(),
                pdf_kib: b.pdf_bytes.div_ceil(1024),
            })
            .collect(),
        next: next_page(&q, &answer.next_page_token),
    }))
}

/// A bulletin's signed HTML page or PDF, as GetBulletin answers it: `{lang}.html` shown in
/// the browser (its own inline styles and charts only), `{lang}.pdf` downloaded.
pub async fn bulletin_document(
    State(c): State<Arc<Console>>,
    ctx: Ctx,
    Path((month, file)): Path<(String, String)>,
) -> Page {
    let l = ctx.lang;
    let (language, pdf) = match file.rsplit_once('.') {
        Some((lang, "pdf")) => (lang.to_owned(), true),
        Some((lang, "html")) => (lang.to_owned(), false),
        _ => {
            return Err(PageError::new(
                l,
                tonic::Status::not_found(format!(
                    "{file}: a bulletin is fetched as <language>.html or <language>.pdf, e.g. zh-CN.pdf"
                )),
            ));
        }
    };
    let answer = c
        .call(
            &ctx,
            rpc::GET_BULLETIN,
            None,
            pb::GetBulletinRequest {
                month: month.clone(),
                language: language.clone(),
            },
            |r| c.statistics.get_bulletin(r),
        )
        .await?;
    let response = if pdf {
        (
            [
                (header::CONTENT_TYPE, "application/pdf".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"fenghuo-bulletin-{month}-{language}.pdf\""),
                ),
            ],
            answer.pdf,
        )
            .into_response()
    } else {
        (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
                // The bulletin's page carries its own styles and inline SVG; nothing else.
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'".to_owned(),
                ),
            ],
            answer.html,
        )
            .into_response()
    };
    Ok(response)
}
