//! The cloud's REST API over real HTTP, as a user of the demo site calls it.

use std::time::Duration;

use anyhow::Context;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A client of one cloud's `/api/v1/`.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    root: String,
}

impl Api {
    /// `base` is the cloud's address, `http://HOST:PORT`.
    pub fn new(base: &str) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Api {
            http,
            root: format!("{}/api/v1/", base.trim_end_matches('/')),
        })
    }

    /// Logs in; returns the user's JWT.
    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let body = self
            .expect(
                Method::POST,
                "auth/login/",
                None,
                Some(json!({"email": email, "password": password})),
                StatusCode::OK,
            )
            .await?;
        body["jwt"]
            .as_str()
            .map(str::to_owned)
            .context("the login answer has no jwt")
    }

    /// A request that must answer `expected`; returns the JSON body.
    pub async fn expect(
        &self,
        method: Method,
        path: &str,
        jwt: Option<&str>,
        body: Option<Value>,
        expected: StatusCode,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.root));
        if let Some(jwt) = jwt {
            request = request.header("Authorization", format!("jwt {jwt}"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        anyhow::ensure!(
            status == expected,
            "{method} {path}: {status} {}",
            text.chars().take(300).collect::<String>()
        );
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// How many data rows the stream has in the cloud.
    pub async fn count(&self, stream: &str, jwt: &str) -> anyhow::Result<u64> {
        let page = self
            .expect(
                Method::GET,
                &format!("data/?filter={stream}&page_size=1"),
                Some(jwt),
                None,
                StatusCode::OK,
            )
            .await?;
        page["count"].as_u64().context("the data page has no count")
    }
}
