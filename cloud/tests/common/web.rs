//! The one browser the web-page tests drive the pages with, over real HTTP. It keeps the
//! cookies the server sets (the session, the one-shot message), reads the form token of each
//! page and posts forms with it, and never follows a redirect by itself, so a test sees each
//! 303 and where it leads. A `Page` has the few readers the tests need: the error beside a
//! field, an element's text, the `<h1>`, and the `<main>` content without the header (which
//! names the signed-in person and their orgs on every page).

use std::sync::Arc;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use reqwest::{StatusCode, Url};

use super::{TestApp, PASSWORD};

/// A browser signed in as one person.
pub struct Browser {
    client: reqwest::Client,
    base: String,
    /// The form token of the last page that carried one (stable for a session).
    csrf: String,
}

/// One answer: its status, where a redirect leads, and the body.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl Browser {
    /// Signs `email` in through the sign-in form (its password is the harness's `PASSWORD`).
    pub async fn sign_in(app: &TestApp, email: &str) -> Browser {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .expect("client");
        let base = format!("http://{}", app.addr);
        let mut browser = Browser {
            client,
            base: base.clone(),
            csrf: String::new(),
        };
        let form = browser.page("/login").await;
        assert!(form_token(&form.body).is_some(), "sign-in form token");
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
        let cookies = jar.cookies(&Url::parse(&base).expect("base URL"));
        assert!(
            cookies.is_some_and(|c| c.to_str().is_ok_and(|c| c.contains("iotile_session="))),
            "no session cookie after the sign-in of {email}"
        );
        let home = browser.page("/").await;
        assert!(form_token(&home.body).is_some(), "session form token");
        browser
    }

    /// Opens `path`, whatever it answers.
    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.client.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// Opens a page that must answer 200.
    pub async fn page(&mut self, path: &str) -> Page {
        let page = self.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "GET {path}: {}", page.body);
        page
    }

    /// Posts a form with the form token, as the page's own form would.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form = vec![("csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        let request = self.client.post(format!("{}{path}", self.base)).form(&form);
        self.send(request).await
    }

    /// Posts exactly `fields`, without the form token: a forged or stale form.
    pub async fn post_without_token(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .form(fields);
        self.send(request).await
    }

    /// Posts a form that must succeed with a redirect, and opens the page it leads to.
    pub async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
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

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let response = request.send().await.expect("request");
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|v| v.to_str().expect("Location").to_string());
        let body = response.text().await.expect("body");
        if let Some(token) = form_token(&body) {
            self.csrf = token;
        }
        Page {
            status,
            location,
            body,
        }
    }
}

impl Page {
    /// The message shown beside the form field `field`, if any.
    pub fn field_error(&self, field: &str) -> Option<String> {
        self.text_of(&format!("f-{field}-error"))
    }

    /// The text of the element with `id`, up to the first tag inside it.
    pub fn text_of(&self, id: &str) -> Option<String> {
        let at = self.body.find(&format!("id=\"{id}\""))?;
        let start = at + self.body[at..].find('>')? + 1;
        let end = start + self.body[start..].find('<')?;
        Some(self.body[start..end].to_string())
    }

    /// The text of the page's `<h1>`.
    pub fn h1(&self) -> String {
        let at = self.body.find("<h1").unwrap_or(0);
        let start = self.body[at..].find('>').map_or(at, |i| at + i + 1);
        let end = self.body[start..]
            .find("</h1>")
            .map_or(start, |i| start + i);
        self.body[start..end].to_string()
    }

    /// The page's `<main>` content: the page without its header.
    pub fn main(&self) -> &str {
        let start = self.body.find("<main").unwrap_or(0);
        let end = self.body.rfind("</main>").unwrap_or(self.body.len());
        &self.body[start..end.max(start)]
    }

    /// Whether the page's `<main>` content contains `text`.
    pub fn has(&self, text: &str) -> bool {
        self.main().contains(text)
    }
}

/// The value of the first `csrf` field of a page.
fn form_token(html: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    Some(html[start..end].to_string())
}
