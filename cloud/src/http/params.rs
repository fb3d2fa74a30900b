//! Query-string parameters, read leniently: unknown keys (such as `format=json`) are ignored.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::time;

#[derive(Debug, Clone, Default)]
pub struct Params(pub HashMap<String, String>);

impl Params {
    /// A parameter's value, `None` when absent or empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether a flag such as `all=1` is set.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("1" | "true" | "True"))
    }

    /// A date/time parameter (a bare date too with `allow_date`); a bad value gives 400.
    pub fn time(&self, key: &str, allow_date: bool) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| {
                time::parse(v, allow_date)
                    .ok_or_else(|| ApiError::field(key, "Enter a valid date/time."))
            })
            .transpose()
    }

    /// `lastn`, from 1 to 100,000; anything else gives 400.
    pub fn lastn(&self) -> Result<Option<i64>, ApiError> {
        self.get("lastn")
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or_else(|| ApiError::Plain("lastn must be greater than 0".into()))
            })
            .transpose()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Params, ApiError> {
        let pairs: Vec<(String, String)> = parts
            .uri
            .query()
            .and_then(|q| serde_urlencoded::from_str(q).ok())
            .unwrap_or_default();
        Ok(Params(pairs.into_iter().collect()))
    }
}
