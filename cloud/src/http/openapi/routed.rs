//! The list of operations against the routes the handler modules register: every
//! `.route("/path", get(..).post(..))` under `src/http/` is read from the source and must be
//! a documented operation, and every documented operation must be one of them. Paths written
//! from `/api/` on are routed outside `/api/v1` (the docs page) and are no operations.
//!
//! axum cannot list a router's routes, so they are read where they are written. The
//! authorization-matrix test checks the other way at run time too: every documented
//! operation answers, so none is documented but unrouted.

use std::collections::BTreeSet;
use std::path::Path;

use super::operations;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// `(METHOD, /path)` of every route registered in `source`, its path as written there
/// (relative to `/api/v1`, without the final slash).
fn routes_in(source: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let Some(open) = rest.trim_start().strip_prefix('"') else {
            continue;
        };
        let Some((path, after)) = open.split_once('"') else {
            break;
        };
        // The method router: everything up to the `)` closing `.route(`.
        let mut depth = 1;
        let end = after
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map_or(after.len(), |(i, _)| i);
        for method in methods_in(&after[..end]) {
            out.push((method, path.to_string()));
        }
        rest = after;
    }
    out
}

/// The HTTP methods a method-router expression such as `get(list).post(create)` names.
fn methods_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in expr.char_indices() {
        let before = expr[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        for m in METHODS {
            if expr[i..].starts_with(m) && expr[i + m.len()..].starts_with('(') {
                out.push(m.to_uppercase());
            }
        }
    }
    out
}

/// A path with its parameter names blanked, so `{key}` and `{slug}` compare equal.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') { "{}" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every route under `dir`, but for this file's own examples.
fn collect_routes(dir: &Path, out: &mut BTreeSet<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_routes(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with(file!()) {
            let source = std::fs::read_to_string(&path).unwrap();
            for (method, route) in routes_in(&source) {
                if !route.starts_with("/api/") {
                    out.insert((method, shape(&format!("/api/v1{route}/"))));
                }
            }
        }
    }
}

#[test]
fn the_reader_finds_methods_and_paths() {
    let source = r#"Router::new()
        .route("/a", get(list).post(create))
        .route(
            "/a/{id}",
            get(retrieve).patch(super::x::update).delete(remove),
        )
        .route("/b", post(nested(call()))) // targets_get(x) is no method
        let id = DeviceId::from_route(slug);"#;
    let found = routes_in(source);
    let want = [
        ("GET", "/a"),
        ("POST", "/a"),
        ("GET", "/a/{id}"),
        ("PATCH", "/a/{id}"),
        ("DELETE", "/a/{id}"),
        ("POST", "/b"),
    ];
    assert_eq!(
        found,
        want.map(|(m, p)| (m.to_string(), p.to_string())).to_vec()
    );
}

#[test]
fn every_route_is_documented_and_every_operation_routed() {
    let mut routed = BTreeSet::new();
    collect_routes(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http"),
        &mut routed,
    );
    assert!(routed.len() > 100, "only {} routes read", routed.len());
    let documented: BTreeSet<(String, String)> = operations()
        .map(|op| {
            // The document itself is the one path with an extension, routed without a slash.
            let path = op
                .path
                .strip_suffix("openapi.json")
                .map_or_else(|| op.path.to_string(), |dir| format!("{dir}openapi.json/"));
            (op.method.to_string(), shape(&path))
        })
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routed but not in the document: {undocumented:?}"
    );
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );
}
