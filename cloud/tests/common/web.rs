//! A browser-like client for the web pages: it keeps cookies, reads each page's form token
//! and posts forms with it, and does not follow redirects (tests look at where they go).

use reqwest::redirect::Policy;
use reqwest::StatusCode;

use super::{TestApp, PASSWORD};

pub struct Browser {
    client: reqwest::Client,
    base: String,
    /// The form token of the last page read.
    pub csrf: String,
}

/// A response: status, `Location` (for redirects) and body.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub location: String,
    pub body: String,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .expect("client");
        Browser {
            client,
            base: format!("http://{}", app.addr),
            csrf: String::new(),
        }
    }

    /// Signs in through the form (the account's password is the tests' `PASSWORD`).
    pub async fn sign_in(app: &TestApp, email: &str) -> Browser {
        let mut b = Browser::new(app);
        b.get("/login").await;
        let page = b
            .post("/login", &[("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "sign-in of {email}: {page:?}"
        );
        b.get("/").await;
        b
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        let page = read(response).await;
        if let Some(token) = form_token(&page.body) {
            self.csrf = token;
        }
        page
    }

    /// Posts a form with the last page's token.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf.clone();
        let mut form: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
        form.extend_from_slice(fields);
        self.post_raw(path, &form).await
    }

    /// Posts exactly these fields (no token added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .expect("POST");
        read(response).await
    }
}

async fn read(response: reqwest::Response) -> Page {
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response.text().await.expect("body");
    Page {
        status,
        location,
        body,
    }
}

/// The value of the first `name="csrf"` input in a page.
fn form_token(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let rest = &html[at..];
    Some(rest[..rest.find('"')?].to_string())
}
