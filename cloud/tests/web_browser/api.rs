//! The REST API as the site's seed uses it: each call must succeed.

use serde_json::{json, Value};

use crate::site::PASSWORD;

pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
}

impl Api {
    /// A token of `email`.
    pub async fn login(&self, email: &str) -> String {
        let answer = self
            .send(
                "",
                "POST",
                "auth/login/",
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        answer["jwt"].as_str().expect("a jwt").to_string()
    }

    /// One JSON request; its JSON answer.
    pub async fn send(&self, jwt: &str, method: &str, path: &str, body: Value) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let request = self
            .client
            .request(method.clone(), format!("{}/{path}", self.base))
            .json(&body);
        self.answer(jwt, request, &format!("{method} {path}")).await
    }

    /// A file posted as the multipart part `file`; the JSON answer.
    pub async fn upload(&self, jwt: &str, path: &str, name: &str, bytes: Vec<u8>) -> Value {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string());
        let request = self
            .client
            .post(format!("{}/{path}", self.base))
            .multipart(reqwest::multipart::Form::new().part("file", part));
        self.answer(jwt, request, &format!("POST {path}")).await
    }

    async fn answer(&self, jwt: &str, mut request: reqwest::RequestBuilder, what: &str) -> Value {
        if !jwt.is_empty() {
            request = request.header("Authorization", format!("jwt {jwt}"));
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "{what}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}
