//! The one error type of the HTTP edge. Each variant is a body shape the original server
//! answers with (spec 2.6); internal failures are logged once and hidden from the caller.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 with `WWW-Authenticate`: no credentials, or credentials that do not verify.
    #[error("not authenticated: {0}")]
    Unauthenticated(&'static str),
    /// 403 `{"detail": msg}`.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404 `{"detail":"Not found."}`.
    #[error("not found")]
    NotFound,
    /// A status with `{"detail": msg}`.
    #[error("{1}")]
    Detail(StatusCode, String),
    /// 400 field errors `{"field": ["msg"], ...}`.
    #[error("invalid fields: {0:?}")]
    Fields(Map<String, Value>),
    /// 400 with a bare JSON array `["msg"]`.
    #[error("invalid: {0}")]
    Plain(String),
    /// Any status with a body given as is (bare strings, `{"error": ...}`, ...).
    #[error("{0}: {1}")]
    Body(StatusCode, Value),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad_request(msg: impl Into<String>) -> ApiError {
        ApiError::Detail(StatusCode::BAD_REQUEST, msg.into())
    }

    /// 400 `{"field": ["msg"]}`.
    pub fn field(field: &str, msg: impl Into<String>) -> ApiError {
        let mut map = Map::new();
        map.insert(field.to_string(), json!([msg.into()]));
        ApiError::Fields(map)
    }

    /// The generic permission refusal.
    pub fn no_permission() -> ApiError {
        ApiError::Forbidden("You do not have permission to perform this action.".into())
    }

    /// Staff-only writes: `{"error":"Restricted Access. Contact Arch"}` with 403 or 400.
    pub fn restricted(status: StatusCode) -> ApiError {
        ApiError::Body(status, json!({"error": "Restricted Access. Contact Arch"}))
    }

    pub fn error_body(status: StatusCode, msg: impl Into<String>) -> ApiError {
        ApiError::Body(status, json!({"error": msg.into()}))
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> ApiError {
        ApiError::Internal(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::Unauthenticated(msg) => {
                let mut response =
                    (StatusCode::UNAUTHORIZED, axum::Json(json!({"detail": msg}))).into_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("JWT realm=\"api\""),
                );
                return response;
            }
            ApiError::Forbidden(msg) => (StatusCode::FORBIDDEN, json!({"detail": msg})),
            ApiError::NotFound => (StatusCode::NOT_FOUND, json!({"detail": "Not found."})),
            ApiError::Detail(status, msg) => (status, json!({"detail": msg})),
            ApiError::Fields(map) => (StatusCode::BAD_REQUEST, Value::Object(map)),
            ApiError::Plain(msg) => (StatusCode::BAD_REQUEST, json!([msg])),
            ApiError::Body(status, body) => (status, body),
            ApiError::Internal(err) => {
                tracing::error!(error = %format!("{err:#}"), "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"detail": "Internal server error."}),
                )
            }
        };
        (status, axum::Json(body)).into_response()
    }
}
