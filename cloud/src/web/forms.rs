//! Forms: the API's refusals turned into messages next to the fields they concern. A page
//! runs the same validating code the API runs, so a form shows exactly what the API would
//! have answered, in words.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::http::error::ApiError;

/// Messages per field; `""` holds those about the form as a whole.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> FieldErrors {
        FieldErrors::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message for `field`, or `""`.
    pub fn get(&self, field: &str) -> &str {
        self.0.get(field).map_or("", String::as_str)
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// The messages about the form as a whole, and those about fields the form does not show.
    pub fn general(&self, shown: &[&str]) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k.is_empty() || !shown.contains(&k.as_str()))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The field errors of an API refusal, or `Err` with the refusal when it is not about
    /// the input (not found, not allowed, a failure).
    pub fn from_api(error: ApiError) -> Result<FieldErrors, ApiError> {
        let mut errors = FieldErrors::new();
        match error {
            ApiError::Fields(map) => {
                for (field, messages) in map {
                    let field = if field == "non_field_errors" {
                        String::new()
                    } else {
                        field
                    };
                    errors.add(&field, first_message(&messages));
                }
            }
            ApiError::Plain(msg) => errors.add("", msg),
            ApiError::Detail(status, msg) if status.is_client_error() && status.as_u16() != 404 => {
                errors.add("", msg)
            }
            ApiError::Body(status, body) if status.is_client_error() && status.as_u16() != 404 => {
                errors.add("", first_message(&body))
            }
            other => return Err(other),
        }
        Ok(errors)
    }
}

/// The first human message in an API error body.
fn first_message(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.first().map(first_message).unwrap_or_default(),
        Value::Object(map) => map
            .iter()
            .next()
            .map(|(k, v)| {
                let inner = first_message(v);
                if k == "detail" || k == "error" || k == "non_field_errors" {
                    inner
                } else {
                    format!("{k}: {inner}")
                }
            })
            .unwrap_or_default(),
        other => other.to_string(),
    }
}

/// One line saying why the API refused, for a page that has no field to put it beside.
pub fn api_message(error: &ApiError) -> String {
    match error {
        ApiError::Fields(map) => first_message(&Value::Object(map.clone())),
        ApiError::Plain(msg) | ApiError::Forbidden(msg) | ApiError::Detail(_, msg) => msg.clone(),
        ApiError::Body(_, body) => first_message(body),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use serde_json::json;

    #[test]
    fn field_errors_come_from_the_api_shapes() {
        let e = FieldErrors::from_api(ApiError::field("name", "This field may not be blank."))
            .expect("fields");
        assert_eq!(e.get("name"), "This field may not be blank.");
        assert_eq!(e.general(&["name"]), Vec::<&str>::new());
        assert_eq!(e.general(&["about"]), vec!["This field may not be blank."]);

        let e = FieldErrors::from_api(ApiError::Body(
            StatusCode::BAD_REQUEST,
            json!({"error": "Device already claimed"}),
        ))
        .expect("body");
        assert_eq!(e.general(&[]), vec!["Device already claimed"]);
        assert!(FieldErrors::from_api(ApiError::NotFound).is_err());
    }
}
