//! JSON request bodies with the original's error shapes: malformed JSON gives
//! `{"detail":"JSON parse error - …"}`, a field of the wrong type gives `{"field":["…"]}`;
//! and typed JSON answers ([`Reply`]).

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::error::ApiError;

/// A JSON body deserialized into `T`. An empty body reads as `{}` so that optional-only
/// bodies (logout, unclaim) need not be sent.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::Detail(e.status(), e.body_text()))?;
        let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Map::new())
        } else if is_form {
            form_to_json(&bytes)
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::bad_request(format!("JSON parse error - {e}")))?
        };
        parse(value).map(Json)
    }
}

/// A typed answer, written with every object's keys in sorted order: the order this API has
/// always written (its answers were `serde_json::Value` trees, whose maps sort their keys),
/// so the bytes do not depend on the order of a struct's fields, or on `flatten`.
pub struct Reply<T>(pub T);

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        match serde_json::to_value(&self.0) {
            Ok(value) => axum::Json(value).into_response(),
            Err(e) => ApiError::Internal(e.into()).into_response(),
        }
    }
}

/// What a POST of one object or an array answers: the object written, or for an array how
/// many were written.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Written<T> {
    One(T),
    Many(Count),
}

/// `{"count": n}`: how many objects an array's POST wrote.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Count {
    pub count: usize,
}

/// Reads a body that is one object or an array of them.
pub fn one_or_many<T: DeserializeOwned>(body: Value) -> Result<(bool, Vec<T>), ApiError> {
    match body {
        Value::Array(items) => Ok((
            true,
            items
                .into_iter()
                .map(parse)
                .collect::<Result<Vec<T>, ApiError>>()?,
        )),
        other => Ok((false, vec![parse(other)?])),
    }
}

/// Deserializes a JSON value, naming the offending field on error.
pub fn parse<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        let (field, msg) = match inner.strip_prefix("missing field `") {
            Some(rest) => (
                rest.split('`')
                    .next()
                    .unwrap_or("non_field_errors")
                    .to_string(),
                "This field is required.".to_string(),
            ),
            None if path == "." || path == "?" || path.is_empty() => {
                ("non_field_errors".to_string(), invalid_data(&inner))
            }
            None => (path, invalid_data(&inner)),
        };
        let mut map = Map::new();
        map.insert(field, json!([msg]));
        ApiError::Fields(map)
    })
}

fn invalid_data(serde_msg: &str) -> String {
    // "invalid type: string \"x\", expected i64" reads better as the DRF sentence.
    if serde_msg.contains("expected i64")
        || serde_msg.contains("expected u32")
        || serde_msg.contains("expected u64")
    {
        "A valid integer is required.".to_string()
    } else if serde_msg.contains("expected a boolean") {
        "Must be a valid boolean.".to_string()
    } else if serde_msg.contains("expected f64") {
        "A valid number is required.".to_string()
    } else if serde_msg.contains("expected a string") {
        "Not a valid string.".to_string()
    } else {
        format!("Invalid data: {serde_msg}")
    }
}

/// HTML-form bodies (what `requests` sends for `data=`) as a flat JSON object of strings.
fn form_to_json(bytes: &[u8]) -> Value {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).unwrap_or_default();
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Body {
        #[allow(dead_code)]
        name: String,
        #[allow(dead_code)]
        lid: i64,
    }

    fn fields(err: ApiError) -> Map<String, Value> {
        match err {
            ApiError::Fields(map) => map,
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn names_the_field_in_errors() {
        let missing = fields(parse::<Body>(json!({"name": "x"})).unwrap_err());
        assert_eq!(missing["lid"], json!(["This field is required."]));
        let wrong = fields(parse::<Body>(json!({"name": "x", "lid": "ten"})).unwrap_err());
        assert_eq!(wrong["lid"], json!(["A valid integer is required."]));
        let not_object = fields(parse::<Body>(json!("text")).unwrap_err());
        assert!(not_object.contains_key("non_field_errors"));
    }
}
