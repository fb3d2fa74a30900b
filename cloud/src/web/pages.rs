//! What every page shares: the layout's context (who is signed in, their orgs, the section
//! shown, the form token), rendering, and the error pages a handler's failure turns into.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::session::Session;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::orgs;

/// The assets' cache key: a new build serves new URLs, so browsers never mix versions.
pub const ASSET_VERSION: &str = env!("CARGO_PKG_VERSION");

/// An org in the switcher.
pub struct OrgChoice {
    pub slug: String,
    pub name: String,
}

/// The layout's context.
pub struct Page {
    pub title: String,
    /// The main navigation entry this page belongs to (`devices`, `projects`, ...).
    pub section: &'static str,
    pub email: String,
    pub is_staff: bool,
    pub orgs: Vec<OrgChoice>,
    /// The org the navigation points into: the one shown, else the last chosen.
    pub org: Option<String>,
    pub csrf: String,
    pub flash: Option<String>,
    pub asset_version: &'static str,
}

impl Page {
    /// The context for a page titled `title` in `section`, for the session's user.
    pub async fn load(
        state: &AppState,
        session: &Session,
        title: impl Into<String>,
        section: &'static str,
    ) -> Result<Page, WebError> {
        let user = session.user();
        let (_, found) = orgs::list(&state.db.meta, user.id, false, None, 0, 200).await?;
        let orgs: Vec<OrgChoice> = found
            .into_iter()
            .map(|o| OrgChoice {
                slug: o.slug,
                name: o.name,
            })
            .collect();
        let org = session
            .chosen_org
            .clone()
            .filter(|c| orgs.iter().any(|o| &o.slug == c))
            .or_else(|| orgs.first().map(|o| o.slug.clone()));
        Ok(Page {
            title: title.into(),
            section,
            email: user.email.clone(),
            is_staff: user.is_staff,
            orgs,
            org,
            csrf: session.csrf.clone(),
            flash: session.flash.clone(),
            asset_version: ASSET_VERSION,
        })
    }

    /// Points the navigation at `slug` (the org this page shows).
    pub fn in_org(mut self, slug: &str) -> Page {
        self.org = Some(slug.to_string());
        self
    }

    /// Whether `section` is the one shown, for `aria-current`.
    pub fn is(&self, section: &str) -> bool {
        self.section == section
    }
}

/// Renders a template into a page.
pub fn render(template: &impl Template) -> Result<Response, WebError> {
    let html = template
        .render()
        .map_err(|e| WebError::Internal(anyhow::anyhow!("rendering a page: {e}")))?;
    Ok(Html(html).into_response())
}

/// A page handler's result.
pub type PageResult = Result<Response, WebError>;

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found")]
    NotFound,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("session ended")]
    SignIn,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for WebError {
    fn from(e: sqlx::Error) -> WebError {
        WebError::Internal(e.into())
    }
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> WebError {
        match e {
            ApiError::NotFound => WebError::NotFound,
            ApiError::Forbidden(msg) => WebError::Forbidden(msg),
            ApiError::Unauthenticated(_) => WebError::SignIn,
            ApiError::Internal(e) => WebError::Internal(e),
            // Refusals with a body of their own (staff-only routes) keep their status.
            ApiError::Body(status, _) | ApiError::Detail(status, _)
                if status == axum::http::StatusCode::NOT_FOUND =>
            {
                WebError::NotFound
            }
            ref other @ (ApiError::Body(status, _) | ApiError::Detail(status, _))
                if status == axum::http::StatusCode::FORBIDDEN =>
            {
                WebError::Forbidden(super::forms::api_message(other))
            }
            other => WebError::BadRequest(super::forms::api_message(&other)),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::NotFound => error_page(
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or it belongs to an org you are not a member of.",
            ),
            WebError::Forbidden(msg) => error_page(StatusCode::FORBIDDEN, "Not allowed", &msg),
            WebError::BadRequest(msg) => error_page(StatusCode::BAD_REQUEST, "Not done", &msg),
            WebError::SignIn => Redirect::to("/login").into_response(),
            WebError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "page failed");
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The server could not show this page. It has been logged; try again in a moment.",
                )
            }
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate<'a> {
    title: &'a str,
    message: &'a str,
    status: u16,
    asset_version: &'static str,
}

/// A standalone error page (it needs no session, so it can answer anything).
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let page = ErrorTemplate {
        title,
        message,
        status: status.as_u16(),
        asset_version: ASSET_VERSION,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, message.to_string()).into_response(),
    }
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage<'a> {
    page: Page,
    question: &'a str,
    details: &'a [String],
    action: &'a str,
    button: &'a str,
    back: &'a str,
}

/// The page every destructive action passes through: it names what will happen and posts
/// to `action` only when the person confirms. Its text comes from the handler, never from
/// the URL, so a link cannot dress one action up as another.
pub fn confirm(
    page: Page,
    question: &str,
    details: &[String],
    action: &str,
    button: &str,
    back: &str,
) -> PageResult {
    render(&ConfirmPage {
        page,
        question,
        details,
        action,
        button,
        back,
    })
}

/// A moment (microseconds since the epoch) as pages show it: `2026-12-07 20:31:05 UTC`.
pub fn when(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros).map_or_else(String::new, |t| {
        t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    })
}
