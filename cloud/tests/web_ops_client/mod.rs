//! A browser for the page tests: signs in through the sign-in form, keeps the cookies the
//! server sets (session, one-shot messages), reads each page's form token, and never follows
//! redirects by itself, so a test sees each 303 and where it leads.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;

use reqwest::redirect::Policy;
use reqwest::StatusCode;

use crate::common::{TestApp, PASSWORD};

/// A page as the browser got it.
pub struct Got {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

pub struct Browser {
    base: String,
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    /// A browser signed in as `email` (whose password is the harness's) through `/login`.
    pub async fn signed_in(app: &TestApp, email: &str) -> Browser {
        let mut b = Browser {
            base: format!("http://{}", app.addr),
            client: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        };
        let form = b.get("/login").await;
        assert_eq!(form.status, StatusCode::OK);
        let token = csrf_of(&form.body);
        let done = b
            .send_form(
                "/login",
                &[
                    ("csrf", token.as_str()),
                    ("email", email),
                    ("password", PASSWORD),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(
            done.status,
            StatusCode::SEE_OTHER,
            "sign-in of {email}: {}",
            done.body
        );
        assert!(
            b.cookies.contains_key("iotile_session"),
            "no session cookie"
        );
        b
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, response: reqwest::Response) -> Got {
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let gone = value.is_empty() || text.to_ascii_lowercase().contains("max-age=0");
            if gone {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_string(), value.to_string());
            }
        }
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        let body = response.text().await.unwrap();
        Got {
            status,
            location,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Got {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(response).await
    }

    /// Posts exactly these fields (no token unless given).
    pub async fn send_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Got {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(fields)
            .send()
            .await
            .unwrap();
        self.finish(response).await
    }

    /// Posts the fields with the form token of the page at `form_page`, as a person filling
    /// that page's form would.
    pub async fn submit(&mut self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Got {
        let page = self.get(form_page).await;
        assert_eq!(
            page.status,
            StatusCode::OK,
            "GET {form_page}: {}",
            page.body
        );
        let token = csrf_of(&page.body);
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.send_form(action, &all).await
    }

    /// The form token any signed-in page carries (for posting where the page itself is
    /// refused, e.g. to check that the action is refused too).
    pub async fn token(&mut self) -> String {
        csrf_of(&self.get("/account/password").await.body)
    }
}

/// The value of the first `csrf` field of a page.
pub fn csrf_of(html: &str) -> String {
    let start = html
        .find(r#"name="csrf" value=""#)
        .expect("a form token on the page")
        + r#"name="csrf" value=""#.len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].to_string()
}

/// The text of the element with `id` (up to its first `<`).
pub fn text_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!(r#"id="{id}""#))?;
    let start = at + html[at..].find('>')? + 1;
    let end = start + html[start..].find('<')?;
    Some(html[start..end].trim().to_string())
}
