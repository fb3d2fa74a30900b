//! The DRF pagination envelope (spec 2.2): `{count, next, previous, results}` with 1-based
//! `page` and a capped `page_size`; a page past the end is 404 `{"detail":"Invalid page."}`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{json, Value};

use super::error::ApiError;

/// Page-size classes: (default, maximum).
#[derive(Debug, Clone, Copy)]
pub enum PageClass {
    Standard,
    Large,
    SuperLarge,
}

impl PageClass {
    fn sizes(self) -> (i64, i64) {
        match self {
            PageClass::Standard => (100, 1000),
            PageClass::Large => (1000, 10_000),
            PageClass::SuperLarge => (5000, 20_000),
        }
    }
}

/// The page a request asks for, and what is needed to link its neighbours.
#[derive(Debug, Clone)]
pub struct PageRequest {
    page: Option<String>,
    page_size: Option<String>,
    base: String,
    query: Vec<(String, String)>,
}

/// One page in the envelope, serialized straight from its typed results. Fields are in the
/// order of the `Value` envelope (keys sorted), so both give the same bytes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub count: i64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

/// A resolved window into a list.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub page: i64,
    pub size: i64,
    pub offset: i64,
}

impl PageRequest {
    /// The window for a page-size class. A page that is not a positive integer is 404.
    pub fn window(&self, class: PageClass) -> Result<Window, ApiError> {
        let (default, max) = class.sizes();
        let size = self
            .page_size
            .as_deref()
            .and_then(|s| s.parse::<i64>().ok())
            .filter(|n| *n > 0)
            .map_or(default, |n| n.min(max));
        let page = match self.page.as_deref() {
            None => 1,
            Some("last") => i64::MAX,
            Some(p) => p
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(invalid_page)?,
        };
        Ok(Window {
            page,
            size,
            offset: page.saturating_sub(1).saturating_mul(size),
        })
    }

    /// The envelope for one page of results out of `count`.
    pub fn envelope<T: Serialize>(
        &self,
        window: Window,
        count: i64,
        results: Vec<T>,
    ) -> Result<Value, ApiError> {
        let page = self.page(window, count, results)?;
        Ok(json!({
            "count": page.count,
            "next": page.next,
            "previous": page.previous,
            "results": page.results,
        }))
    }

    /// [`PageRequest::envelope`] as a typed [`Page`], for lists large enough that building
    /// a `Value` tree first would cost more than the query.
    pub fn page<T: Serialize>(
        &self,
        window: Window,
        count: i64,
        results: Vec<T>,
    ) -> Result<Page<T>, ApiError> {
        let pages = ((count + window.size - 1) / window.size).max(1);
        if window.page > pages {
            return Err(invalid_page());
        }
        Ok(Page {
            count,
            next: (window.page < pages).then(|| self.link(window.page + 1)),
            previous: (window.page > 1).then(|| self.link(window.page - 1)),
            results,
        })
    }

    /// The request URL with `page` replaced (dropped for page 1, as DRF does).
    fn link(&self, page: i64) -> String {
        let mut pairs: Vec<(String, String)> = self
            .query
            .iter()
            .filter(|(k, _)| k != "page")
            .cloned()
            .collect();
        if page > 1 {
            pairs.push(("page".to_string(), page.to_string()));
        }
        if pairs.is_empty() {
            self.base.clone()
        } else {
            let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
            format!("{}?{}", self.base, query)
        }
    }
}

fn invalid_page() -> ApiError {
    ApiError::Detail(StatusCode::NOT_FOUND, "Invalid page.".into())
}

impl<S: Send + Sync> FromRequestParts<S> for PageRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<PageRequest, ApiError> {
        let query: Vec<(String, String)> = parts
            .uri
            .query()
            .and_then(|q| serde_urlencoded::from_str(q).ok())
            .unwrap_or_default();
        let get = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        // Inside `/api/v1` the router sees the path without that prefix; links need the
        // whole path, and its final slash, as clients expect.
        let full = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or(&parts.uri, |o| &o.0);
        let path = full.path().trim_end_matches('/');
        Ok(PageRequest {
            page: get("page"),
            page_size: get("page_size"),
            base: format!("{}{path}/", super::origin::of(parts)),
            query,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(page: Option<&str>, size: Option<&str>) -> PageRequest {
        let mut query = vec![("project".to_string(), "p--0000-0001".to_string())];
        if let Some(p) = page {
            query.push(("page".into(), p.into()));
        }
        PageRequest {
            page: page.map(String::from),
            page_size: size.map(String::from),
            base: "http://h/api/v1/device/".into(),
            query,
        }
    }

    #[test]
    fn windows_and_links() {
        let req = request(Some("2"), Some("2"));
        let w = req.window(PageClass::Large).unwrap();
        assert_eq!((w.page, w.size, w.offset), (2, 2, 2));
        let env = req.envelope(w, 5, vec![1, 2]).unwrap();
        assert_eq!(
            env["next"],
            "http://h/api/v1/device/?project=p--0000-0001&page=3"
        );
        assert_eq!(
            env["previous"],
            "http://h/api/v1/device/?project=p--0000-0001"
        );
        assert!(req
            .envelope(Window { page: 4, ..w }, 5, Vec::<i32>::new())
            .is_err());
        assert!(request(Some("0"), None)
            .window(PageClass::Standard)
            .is_err());
        assert!(request(Some("x"), None)
            .window(PageClass::Standard)
            .is_err());
        let capped = request(None, Some("99999"))
            .window(PageClass::Standard)
            .unwrap();
        assert_eq!(capped.size, 1000);
        let empty = request(None, None);
        let env = empty.envelope(
            empty.window(PageClass::Standard).unwrap(),
            0,
            Vec::<i32>::new(),
        );
        assert_eq!(env.unwrap()["count"], 0);
    }

    #[test]
    fn typed_page_serializes_as_the_envelope() {
        let req = request(Some("2"), Some("2"));
        let w = req.window(PageClass::Large).unwrap();
        let results = vec![json!({"b": 1, "a": [null, 2.5]}), json!("x")];
        let typed = serde_json::to_string(&req.page(w, 5, results.clone()).unwrap()).unwrap();
        let value = serde_json::to_string(&req.envelope(w, 5, results).unwrap()).unwrap();
        assert_eq!(typed, value);
        assert!(typed.starts_with("{\"count\":5,\"next\":\"http://h/api/v1/device/?"));
    }
}
