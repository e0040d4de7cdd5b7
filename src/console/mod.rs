//! The web console: server-rendered pages for regulators, the institution and units, on
//! `console_listen` (HTTPS/1.1, the gRPC port's certificate and client-certificate check:
//! `crate::https`). A page is the answer of the RPCs it names, called in-process on the very
//! service objects gRPC serves, with the caller the gRPC auth layer admits for that RPC's
//! row of the authorization matrix (`AuthLayer::caller_with_token`): no rule is implemented
//! twice. Actions that need an officer carry the officer's token in the form, verified as the
//! `authorization: Bearer` metadata of a gRPC call.
//!
//! Plain HTML forms and inline SVG charts, no JavaScript and nothing from a CDN: the pages
//! work on an isolated network and in any browser that can present a client certificate.

mod actions;
pub mod labels;
mod pages;
mod view;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::api::appeal::AppealApi;
use crate::api::calendar::CalendarApi;
use crate::api::disposal::DisposalApi;
use crate::api::identification::IdentificationApi;
use crate::api::statistics::StatisticsApi;
use crate::api::threat::ThreatApi;
use crate::auth::layer::AuthLayer;
use crate::domain::clock::SharedClock;
use crate::https::PeerCerts;
use labels::Lang;

/// What the pages share: the auth layer and the service objects gRPC serves.
pub struct Console {
    pub auth: AuthLayer,
    pub clock: SharedClock,
    pub threat: Arc<ThreatApi>,
    pub identification: Arc<IdentificationApi>,
    pub disposal: Arc<DisposalApi>,
    pub appeal: Arc<AppealApi>,
    pub calendar: Arc<CalendarApi>,
    pub statistics: Arc<StatisticsApi>,
}

/// The gRPC method each page or action answers as: its row of the authorization matrix
/// decides who may open it (docs/authorization.md, "The web console").
pub mod rpc {
    pub const THREAT_STATISTICS: &str = "/fenghuo.v1.StatisticsService/GetThreatStatistics";
    pub const DISPOSAL_STATISTICS: &str = "/fenghuo.v1.StatisticsService/GetDisposalStatistics";
    pub const APPEAL_STATISTICS: &str = "/fenghuo.v1.StatisticsService/GetAppealStatistics";
    pub const LIST_UNIDENTIFIED: &str = "/fenghuo.v1.IdentificationService/ListUnidentified";
    pub const IDENTIFY: &str = "/fenghuo.v1.IdentificationService/Identify";
    pub const SEARCH_THREATS: &str = "/fenghuo.v1.ThreatService/SearchThreats";
    pub const GET_THREAT: &str = "/fenghuo.v1.ThreatService/GetThreat";
    pub const ISSUE_DECISION: &str = "/fenghuo.v1.DisposalService/IssueDecision";
    pub const LIST_NOTICES: &str = "/fenghuo.v1.DisposalService/ListNotices";
    pub const GET_NOTICE: &str = "/fenghuo.v1.DisposalService/GetNotice";
    pub const ACKNOWLEDGE_RECEIPT: &str = "/fenghuo.v1.DisposalService/AcknowledgeReceipt";
    pub const REPORT_RESULT: &str = "/fenghuo.v1.DisposalService/ReportResult";
    pub const VERIFY_RESULT: &str = "/fenghuo.v1.DisposalService/VerifyResult";
    pub const LIST_NON_COMPLIANCE: &str = "/fenghuo.v1.DisposalService/ListNonCompliance";
    pub const LIST_APPEALS: &str = "/fenghuo.v1.AppealService/ListAppeals";
    pub const GET_APPEAL: &str = "/fenghuo.v1.AppealService/GetAppeal";
    pub const ANSWER_APPEAL: &str = "/fenghuo.v1.AppealService/AnswerAppeal";
    pub const LIST_BULLETINS: &str = "/fenghuo.v1.StatisticsService/ListBulletins";
    pub const GET_BULLETIN: &str = "/fenghuo.v1.StatisticsService/GetBulletin";
    pub const WORKING_DAYS_BETWEEN: &str = "/fenghuo.v1.CalendarService/WorkingDaysBetween";
}

/// The console's routes.
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(pages::dashboard))
        .route("/identification", get(pages::identification_queue))
        .route("/threats", get(pages::threats))
        .route("/threats/{id}", get(pages::threat))
        .route("/threats/{id}/identify", post(actions::identify))
        .route("/threats/{id}/decision", post(actions::issue_decision))
        .route("/notices", get(pages::notices))
        .route("/notices/{id}", get(pages::notice))
        .route("/notices/{id}/acknowledge", post(actions::acknowledge))
        .route("/notices/{id}/result", post(actions::report_result))
        .route("/notices/{id}/verify", post(actions::verify_result))
        .route("/compliance", get(pages::non_compliance))
        .route("/appeals", get(pages::appeals))
        .route("/appeals/{id}", get(pages::appeal))
        .route("/appeals/{id}/answer", post(actions::answer_appeal))
        .route("/bulletins", get(pages::bulletins))
        .route("/bulletins/{month}/{file}", get(pages::bulletin_document))
        .route("/lang/{code}", get(pages::set_language))
        .route("/static/console.css", get(stylesheet))
        .fallback(|ctx: Ctx| async move {
            PageError::new(ctx.lang, tonic::Status::not_found("no such page"))
        })
        .layer(axum::middleware::map_response(security_headers))
        .with_state(console)
}

/// No framing, no third-party anything, nothing cached: the pages carry regulatory data.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    // A page may set a narrower policy of its own (a bulletin's self-contained HTML).
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("static/console.css"),
    )
        .into_response()
}

/// What every page knows of its request: the verified client certificate chain, the
/// language, and whether a form came from another site.
pub struct Ctx {
    pub certs: PeerCerts,
    pub lang: Lang,
    cross_site: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let text = |name| {
            parts
                .headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let lang = Lang::from_request(text(header::COOKIE), text(header::ACCEPT_LANGUAGE));
        // A browser names where a form came from (Sec-Fetch-Site; older ones only Origin):
        // only the console's own pages may post to it.
        let cross_site = match (
            text(header::HeaderName::from_static("sec-fetch-site")),
            text(header::ORIGIN),
        ) {
            (Some(site), _) => site != "same-origin" && site != "none",
            (None, Some(origin)) => {
                text(header::HOST).is_none_or(|host| origin.strip_prefix("https://") != Some(host))
            }
            (None, None) => false,
        };
        Ok(Ctx {
            certs: parts
                .extensions
                .get::<PeerCerts>()
                .cloned()
                .unwrap_or(PeerCerts(None)),
            lang,
            cross_site,
        })
    }
}

impl Console {
    /// A gRPC request for `rpc` carrying the caller the auth layer admits for it.
    async fn request<T>(
        &self,
        ctx: &Ctx,
        rpc: &str,
        officer_token: Option<&str>,
        message: T,
    ) -> Result<tonic::Request<T>, PageError> {
        let caller = self
            .auth
            .caller_with_token(ctx.certs.0.clone(), rpc, officer_token)
            .await
            .map_err(|s| PageError::new(ctx.lang, s))?;
        let mut request = tonic::Request::new(message);
        request.extensions_mut().insert(caller);
        Ok(request)
    }

    /// `rpc` called in-process as the caller admitted for it: the answer, or the page that
    /// says why not (the workflow's own status and message).
    async fn call<Req, Resp, F, Fut>(
        &self,
        ctx: &Ctx,
        rpc: &str,
        officer_token: Option<&str>,
        message: Req,
        handler: F,
    ) -> Result<Resp, PageError>
    where
        F: FnOnce(tonic::Request<Req>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let request = self.request(ctx, rpc, officer_token, message).await?;
        handler(request)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| PageError::new(ctx.lang, s))
    }

    /// The organisation of the presented certificate, for the page header.
    async fn me(&self, ctx: &Ctx, rpc: &str) -> Result<String, PageError> {
        Ok(self.caller(ctx, rpc).await?.organisation_id)
    }

    /// Who the certificate is, as admitted for `rpc` (which forms a page offers).
    async fn caller(&self, ctx: &Ctx, rpc: &str) -> Result<crate::auth::Caller, PageError> {
        self.auth
            .caller_for(ctx.certs.0.clone(), rpc)
            .await
            .map_err(|s| PageError::new(ctx.lang, s))
    }
}

/// A refused or failed page: the gRPC status of the workflow, as a page with the matching
/// HTTP status and the workflow's own message.
#[derive(Debug)]
pub struct PageError {
    lang: Lang,
    status: tonic::Status,
}

impl PageError {
    pub fn new(lang: Lang, status: tonic::Status) -> PageError {
        PageError { lang, status }
    }

    pub fn http_status(&self) -> StatusCode {
        use tonic::Code;
        match self.status.code() {
            Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::AlreadyExists | Code::Aborted | Code::FailedPrecondition => StatusCode::CONFLICT,
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    l: Lang,
    me: &'a str,
    active: &'a str,
    code: u16,
    grpc_code: String,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let code = self.http_status();
        let page = ErrorPage {
            l: self.lang,
            me: "",
            active: "",
            code: code.as_u16(),
            grpc_code: format!("{:?}", self.status.code()),
            message: self.status.message(),
        };
        (code, render(&page)).into_response()
    }
}

/// A template as a page; a template that cannot render is the server's fault.
fn render(page: &impl askama::Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console: a template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}
