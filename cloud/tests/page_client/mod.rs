//! A browser stand-in for the page tests: signs in through the sign-in form, keeps cookies
//! (the session, the one-shot message), sends forms with the page's CSRF token, and does
//! not follow redirects by itself, so a test sees each 303 and where it leads.

#![allow(dead_code)]

use std::collections::BTreeMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

use crate::common::{TestApp, PASSWORD};

/// One answer: its status, where a redirect points, and the page.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl Answer {
    /// The message shown beside the form field `field`, if any.
    pub fn field_error(&self, field: &str) -> Option<String> {
        let marker = format!("id=\"f-{field}-error\">");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find("</p>")? + start;
        Some(self.body[start..end].to_string())
    }

    /// The page's main content (without the header, which names the signed-in person and
    /// their orgs on every page).
    pub fn main(&self) -> &str {
        let start = self.body.find("<main").unwrap_or(0);
        let end = self.body.rfind("</main>").unwrap_or(self.body.len());
        &self.body[start..end.max(start)]
    }

    /// Whether the page's main content contains `text`.
    pub fn has(&self, text: &str) -> bool {
        self.main().contains(text)
    }

    /// The text of the page's `<h1>`.
    pub fn h1(&self) -> String {
        let start = self.body.find("<h1").map(|i| i + 3).unwrap_or(0);
        let start = self.body[start..]
            .find('>')
            .map_or(start, |i| start + i + 1);
        let end = self.body[start..]
            .find("</h1>")
            .map_or(start, |i| start + i);
        self.body[start..end].to_string()
    }
}

/// A signed-in browser.
pub struct Browser {
    base: String,
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
    /// The session's form token, read from a page.
    pub csrf: String,
}

/// The value of the first `name="csrf" value="…"` on a page.
fn csrf_of(body: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].to_string())
}

impl Browser {
    /// Signs `email` (made with the test password) in through the sign-in form.
    pub async fn sign_in(app: &TestApp, email: &str) -> Browser {
        let mut browser = Browser {
            base: format!("http://{}", app.addr),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: BTreeMap::new(),
            csrf: String::new(),
        };
        let form = browser.get("/login").await;
        assert_eq!(form.status, StatusCode::OK, "sign-in form");
        browser.csrf = csrf_of(&form.body).expect("sign-in form token");
        let signed = browser
            .post(
                "/login",
                &[("email", email), ("password", PASSWORD), ("next", "/")],
            )
            .await;
        assert_eq!(
            signed.status,
            StatusCode::SEE_OTHER,
            "sign-in of {email}: {}",
            signed.body
        );
        let home = browser.get("/").await;
        assert_eq!(home.status, StatusCode::OK, "overview after sign-in");
        browser.csrf = csrf_of(&home.body).expect("session form token");
        browser
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for header in response.headers().get_all(SET_COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            let mut parts = text.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
                continue;
            };
            let expired = parts.any(|p| p.trim().eq_ignore_ascii_case("max-age=0"));
            if expired {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let response = request
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .expect("request");
        self.keep_cookies(&response);
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.text().await.expect("body");
        Answer {
            status,
            location,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let request = self.client.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// Posts a form with the session's token.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut all: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let body = serde_urlencoded::to_string(&all).expect("form");
        self.post_body(path, body).await
    }

    /// Posts a form exactly as given (no token added).
    pub async fn post_bare(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = serde_urlencoded::to_string(fields).expect("form");
        self.post_body(path, body).await
    }

    async fn post_body(&mut self, path: &str, body: String) -> Answer {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }

    /// Posts a form that must succeed with a redirect, and opens the page it leads to.
    pub async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let done = self.post(path, fields).await;
        assert_eq!(
            done.status,
            StatusCode::SEE_OTHER,
            "POST {path} {fields:?}: {}",
            done.body
        );
        let target = done.location.expect("redirect target");
        let page = self.get(&target).await;
        assert_eq!(
            page.status,
            StatusCode::OK,
            "GET {target} after POST {path}"
        );
        page
    }

    /// A page that must answer 200.
    pub async fn page(&mut self, path: &str) -> Answer {
        let page = self.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "GET {path}: {}", page.body);
        page
    }
}
