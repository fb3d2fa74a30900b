//! `GET /api/v1/health/`: unauthenticated, 200 while the database answers, 503 once it does not.

mod common;

use reqwest::{Method, StatusCode};
use serde_json::json;

backends!(
    health_follows_the_database,
    |app: common::TestApp| async move {
        let (status, body) = app.call(Method::GET, "health/", None, None).await;
        assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
        // Without the final slash too, and still without credentials.
        let (status, _) = app.call(Method::GET, "health", None, None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = app.call(Method::POST, "health/", None, None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

        // A closed pool stands for a database that no longer answers.
        app.state.db.meta.close().await;
        let (status, body) = app.call(Method::GET, "health/", None, None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["status"], "unavailable");
    }
);
