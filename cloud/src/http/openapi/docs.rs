//! The browsable reference at `/api/docs/`: Swagger UI (vendored under `cloud/assets/api-docs/`,
//! built into the binary) showing `/api/v1/openapi.json`. The page and its assets come from
//! this server only, and its Content-Security-Policy lets it load nothing from anywhere else.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// Scripts, styles and the document from this origin only. Swagger UI sets styles on
/// elements and draws its icons from `data:` SVGs, hence those two allowances.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page and its assets: `(path, content type, bytes)`.
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "/api/docs/swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../assets/api-docs/swagger-ui.css"),
    ),
    (
        "/api/docs/swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/api-docs/swagger-ui-bundle.js"),
    ),
    (
        "/api/docs/init.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/api-docs/init.js"),
    ),
];

const PAGE: &[u8] = include_bytes!("../../../assets/api-docs/index.html");

fn answer(content_type: &'static str, body: &'static [u8]) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// Routes at the top level, outside `/api/v1`. A final slash is trimmed before routing, so
/// `/api/docs/` is `/api/docs`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new().route(
        "/api/docs",
        get(|| async { answer("text/html; charset=utf-8", PAGE) }),
    );
    for &(path, content_type, body) in ASSETS {
        router = router.route(path, get(move || async move { answer(content_type, body) }));
    }
    router
}
