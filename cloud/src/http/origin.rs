//! The scheme and host clients reached us at, for the absolute URLs the API hands out
//! (pagination links, script download and upload links). Behind a proxy, `X-Forwarded-Proto`
//! says whether the client used HTTPS; the host is the request's `Host`.

use axum::http::header;
use axum::http::request::Parts;

/// `scheme://host` of the request, without a final slash.
pub fn of(parts: &Parts) -> String {
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = parts
        .headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// The request's origin as an extractor.
#[derive(Debug, Clone)]
pub struct Origin(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Origin, Self::Rejection> {
        Ok(Origin(of(parts)))
    }
}
