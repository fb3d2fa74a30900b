//! Login, logout, token refresh and the header schemes (spec 1), on both backends.

#![allow(clippy::unwrap_used)]

mod common;

use reqwest::{Method, StatusCode};
use serde_json::json;

use common::PASSWORD;

backends!(
    login_answers_like_the_original,
    |app: common::TestApp| async move {
        app.create_user("joe@arch.io", false).await;
        let (status, body) = app
            .call(
                Method::POST,
                "auth/login/",
                None,
                Some(json!({"email": "Joe@Arch.io", "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["username"], "joe");
        assert_eq!(body["token"].as_str().map(str::len), Some(40));
        let jwt = body["jwt"].as_str().expect("jwt").to_string();

        let (status, body) = app
            .call(
                Method::POST,
                "auth/login",
                None,
                Some(json!({"email": "joe@arch.io", "password": "wrong"})),
            )
            .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::UNAUTHORIZED,
                json!("Username/password combination invalid.")
            )
        );
        let (status, body) = app
            .call(
                Method::POST,
                "auth/login/",
                None,
                Some(json!({"email": "joe"})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body.get("email").is_some() || body.get("password").is_some(),
            "{body}"
        );
        let (status, body) = app
            .call(
                Method::POST,
                "auth/login/",
                Some(&jwt),
                Some(json!({"email": "joe@arch.io", "password": PASSWORD})),
            )
            .await;
        assert_eq!(
            (status, body),
            (StatusCode::FORBIDDEN, json!("Already Logged-in"))
        );

        // Every scheme spelling the clients use.
        let account = app.get("account/", &jwt).await;
        assert_eq!(
            (account.0, account.1["count"].clone()),
            (StatusCode::OK, json!(1))
        );
        for header in [
            format!("JWT {jwt}"),
            format!("jwt {jwt}"),
            format!("Token {}", body_token(&app).await),
        ] {
            let status = app
                .client
                .get(app.url("account/"))
                .header("Authorization", header)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, StatusCode::OK);
        }
        let anonymous = app.client.get(app.url("account/")).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(anonymous.headers()["www-authenticate"], "JWT realm=\"api\"");
        assert_eq!(
            anonymous.json::<serde_json::Value>().await.unwrap(),
            json!({"detail": "Authentication credentials were not provided."})
        );
        for bad in ["jwt", "jwt a b", "jwt garbage", "Bearer x", "Token 0000"] {
            let status = app
                .client
                .get(app.url("account/"))
                .header("Authorization", bad)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
        }
    }
);

async fn body_token(app: &common::TestApp) -> String {
    let (_, body) = app
        .call(
            Method::POST,
            "auth/login/",
            None,
            Some(json!({"email": "joe@arch.io", "password": PASSWORD})),
        )
        .await;
    body["token"].as_str().expect("token").to_string()
}

backends!(refresh_and_logout, |app: common::TestApp| async move {
    let jwt = app.user("ann@arch.io").await;
    let (status, body) = app
        .call(
            Method::POST,
            "auth/api-jwt-refresh/",
            None,
            Some(json!({"token": jwt})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let fresh = body["token"].as_str().expect("token").to_string();
    assert_ne!(fresh, jwt);
    assert_eq!(app.get("account/", &fresh).await.0, StatusCode::OK);
    let (status, body) = app
        .call(
            Method::POST,
            "auth/api-jwt-refresh/",
            None,
            Some(json!({"token": "garbage"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"non_field_errors": ["Error decoding signature."]})
        )
    );

    let (status, body) = app
        .call(Method::POST, "auth/logout/", Some(&jwt), None)
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::NO_CONTENT, serde_json::Value::Null)
    );
    // Logout ends the token it was called with, and only that one.
    assert_eq!(app.get("account/", &jwt).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("account/", &fresh).await.0, StatusCode::OK);
    let (status, _) = app
        .call(
            Method::POST,
            "auth/api-jwt-refresh/",
            None,
            Some(json!({"token": jwt})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
});

backends!(
    failed_logins_are_rate_limited,
    |app: common::TestApp| async move {
        app.create_user("eve@arch.io", false).await;
        let mut statuses = Vec::new();
        for _ in 0..12 {
            let (status, _) = app
                .call(
                    Method::POST,
                    "auth/login/",
                    None,
                    Some(json!({"email": "eve@arch.io", "password": "guess"})),
                )
                .await;
            statuses.push(status);
        }
        assert!(
            statuses[..10]
                .iter()
                .all(|s| *s == StatusCode::UNAUTHORIZED),
            "{statuses:?}"
        );
        assert_eq!(statuses[11], StatusCode::TOO_MANY_REQUESTS);
        // Even the right password waits out the window.
        let (status, _) = app
            .call(
                Method::POST,
                "auth/login/",
                None,
                Some(json!({"email": "eve@arch.io", "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    }
);

backends!(server_and_conventions, |app: common::TestApp| async move {
    let (status, body) = app.call(Method::GET, "server/", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let now = body["now"].as_str().expect("now");
    assert!(now.ends_with('Z') && now.len() == 20, "{now}");
    let jwt = app.user("kim@arch.io").await;
    // Without the final slash, the same answer.
    assert_eq!(
        app.get("account", &jwt).await,
        app.get("account/", &jwt).await
    );
    let (status, body) = app.call(Method::PUT, "server/", None, None).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"detail": "Method \"PUT\" not allowed."})
        )
    );
    let (status, body) = app.get("no-such-thing/", &jwt).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
    );
    let (status, body) = app.get("account/?page=2", &jwt).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({"detail": "Invalid page."}))
    );
    let (status, body) = app
        .client
        .post(app.url("auth/login/"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .map(|r| r.status())
        .map(|s| (s, ()))
        .unwrap();
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, ()));
    let big = vec![b'a'; cloud::http::MAX_BODY_BYTES + 10];
    let response = app
        .client
        .post(app.url("auth/login/"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
});
