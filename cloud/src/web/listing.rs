//! Lists: one way for every page to read its page number, sort column and filters from the
//! query string, and to write the links of its pager and sortable column headers.

use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;

use super::session::urlencode;

/// Rows per page.
pub const PAGE_SIZE: i64 = 25;

/// A list's query: `page`, `sort` (a column, `-column` for descending) and any filters.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub page: i64,
    sort: String,
    params: BTreeMap<String, String>,
    path: String,
    pub total: i64,
}

impl<S: Send + Sync> FromRequestParts<S> for Listing {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Listing, Self::Rejection> {
        let params = Query::<BTreeMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Query(p)| p)
            .unwrap_or_default();
        let page = params
            .get("page")
            .and_then(|p| p.parse::<i64>().ok())
            .filter(|p| *p >= 1)
            .unwrap_or(1);
        Ok(Listing {
            page,
            sort: params.get("sort").cloned().unwrap_or_default(),
            params: params
                .into_iter()
                .filter(|(k, v)| k != "page" && k != "sort" && !v.is_empty())
                .collect(),
            path: parts.uri.path().to_string(),
            total: 0,
        })
    }
}

impl Listing {
    /// A filter's value, trimmed; `None` when absent or blank.
    pub fn filter(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A filter's value for a form field, `""` when absent.
    pub fn value(&self, name: &str) -> &str {
        self.filter(name).unwrap_or("")
    }

    /// The sort column, if it is one of `allowed`, else `default`; and whether descending.
    pub fn sort(
        &self,
        allowed: &[&'static str],
        default: (&'static str, bool),
    ) -> (&'static str, bool) {
        let (desc, name) = match self.sort.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, self.sort.as_str()),
        };
        allowed
            .iter()
            .find(|c| **c == name)
            .map_or(default, |c| (*c, desc))
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1) * PAGE_SIZE
    }

    pub fn limit(&self) -> i64 {
        PAGE_SIZE
    }

    /// Records how many rows the whole list has, for the pager.
    pub fn with_total(mut self, total: i64) -> Listing {
        self.total = total;
        self
    }

    pub fn pages(&self) -> i64 {
        ((self.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1)
    }

    pub fn has_prev(&self) -> bool {
        self.page > 1
    }

    pub fn has_next(&self) -> bool {
        self.page < self.pages()
    }

    /// The first and last row shown, 1-based, for "21–40 of 95".
    pub fn shown(&self) -> (i64, i64) {
        if self.total == 0 {
            return (0, 0);
        }
        let first = self.offset() + 1;
        (
            first.min(self.total),
            (self.offset() + PAGE_SIZE).min(self.total),
        )
    }

    /// The link to page `page` with the same filters and sort.
    pub fn page_href(&self, page: i64) -> String {
        self.href(Some(page), &self.sort)
    }

    pub fn prev_href(&self) -> String {
        self.page_href(self.page - 1)
    }

    pub fn next_href(&self) -> String {
        self.page_href(self.page + 1)
    }

    /// The link a column header points to: sorts by `column`, flipping the direction when
    /// it is already the sort column. Starts again at page 1.
    pub fn sort_href(&self, column: &str) -> String {
        let next = if self.sort == column {
            format!("-{column}")
        } else {
            column.to_string()
        };
        self.href(None, &next)
    }

    /// `ascending`, `descending` or `none`, for the header's `aria-sort`.
    pub fn aria_sort(&self, column: &str) -> &'static str {
        if self.sort == column {
            "ascending"
        } else if self.sort.strip_prefix('-') == Some(column) {
            "descending"
        } else {
            "none"
        }
    }

    fn href(&self, page: Option<i64>, sort: &str) -> String {
        let mut parts: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect();
        if !sort.is_empty() {
            parts.push(format!("sort={}", urlencode(sort)));
        }
        if let Some(page) = page.filter(|p| *p > 1) {
            parts.push(format!("page={page}"));
        }
        if parts.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, parts.join("&"))
        }
    }
}

/// Sorts rows already in memory (short lists: members, keys) by a chosen key.
pub fn sort_rows<T, K: Ord>(rows: &mut [T], descending: bool, key: impl Fn(&T) -> K) {
    rows.sort_by_key(|r| key(r));
    if descending {
        rows.reverse();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    async fn listing(uri: &str) -> Listing {
        let (mut parts, _) = Request::builder()
            .uri(uri)
            .body(())
            .expect("request")
            .into_parts();
        Listing::from_request_parts(&mut parts, &())
            .await
            .expect("infallible")
    }

    #[tokio::test]
    async fn links_keep_filters_and_flip_sorting() {
        let l = listing("/devices?q=pump&sort=label&page=3&empty=")
            .await
            .with_total(95);
        assert_eq!(l.page, 3);
        assert_eq!(l.filter("q"), Some("pump"));
        assert_eq!(
            l.sort(&["label", "slug"], ("slug", false)),
            ("label", false)
        );
        assert_eq!(l.sort_href("label"), "/devices?q=pump&sort=-label");
        assert_eq!(l.sort_href("slug"), "/devices?q=pump&sort=slug");
        assert_eq!(l.next_href(), "/devices?q=pump&sort=label&page=4");
        assert_eq!(l.page_href(1), "/devices?q=pump&sort=label");
        assert_eq!(l.pages(), 4);
        assert_eq!(l.shown(), (51, 75));
        assert_eq!(l.aria_sort("label"), "ascending");
    }

    #[tokio::test]
    async fn unknown_sorts_and_bad_pages_fall_back() {
        let l = listing("/devices?sort=-password&page=-2").await;
        assert_eq!(l.page, 1);
        assert_eq!(l.sort(&["label"], ("label", true)), ("label", true));
        assert_eq!(l.shown(), (0, 0));
    }
}
