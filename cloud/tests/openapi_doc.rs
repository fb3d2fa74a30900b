//! The API reference against what the server and its clients really do:
//!
//! - the served `/api/v1/openapi.json` passes `openapi-spec-validator` (from PyPI, in a venv
//!   under the target directory) with no error;
//! - the published Python SDK's compatibility suite (`tests/compat/`), run through a
//!   recording proxy, sends only documented operations (method and path template) with
//!   documented query parameters, gets the documented success status, and every JSON answer
//!   it gets matches the schema the document gives it (checked with the validator's
//!   `openapi-schema-validator`);
//! - `/api/docs/` is a page whose scripts and styles all come from this server, and they
//!   answer.
//!
//! No python3 or no PyPI is a failure, never a skip.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use cloud::http::openapi::{operations, Operation};
use common::{Backend, TestApp};
use serde_json::{json, Value};

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// A Python interpreter with `openapi-spec-validator`.
fn validator_python() -> PathBuf {
    common::venv::python_with(
        "iotile-cloud-openapi-venv",
        &tests_dir().join("openapi/requirements.txt"),
    )
}

async fn served_document(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_valid_openapi() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let document = served_document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    let file = app.dir.path().join("openapi.json");
    std::fs::write(&file, document.to_string()).unwrap();
    let validator = validator_python().with_file_name("openapi-spec-validator");
    let out = Command::new(&validator)
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", validator.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim_end().ends_with(": OK"),
        "openapi-spec-validator refused the document:\n{stdout}\n{stderr}"
    );
}

/// One request the SDK sent and what it got back.
#[derive(Debug, Clone)]
struct Exchange {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    status: u16,
    json: Option<Value>,
}

#[derive(Clone)]
struct Proxy {
    target: SocketAddr,
    client: reqwest::Client,
    seen: Arc<Mutex<Vec<Exchange>>>,
}

/// Forwards a request to the server as it came (but asking for no compression, so the answer
/// can be read) and records it with the answer.
async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap();
    let target = format!(
        "http://{}{}",
        proxy.target,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut headers = parts.headers.clone();
    for name in [
        header::ACCEPT_ENCODING,
        header::CONNECTION,
        header::CONTENT_LENGTH,
    ] {
        headers.remove(name);
    }
    let answer = proxy
        .client
        .request(parts.method.clone(), target)
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let mut answer_headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if name != header::TRANSFER_ENCODING && name != header::CONTENT_LENGTH {
            answer_headers.insert(name.clone(), value.clone());
        }
    }
    let is_json = answer_headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let bytes = answer.bytes().await.unwrap();
    proxy.seen.lock().unwrap().push(Exchange {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts
            .uri
            .query()
            .map(|q| serde_urlencoded::from_str(q).unwrap())
            .unwrap_or_default(),
        status: status.as_u16(),
        json: is_json.then(|| serde_json::from_slice(&bytes).unwrap()),
    });
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = answer_headers;
    response
}

async fn start_proxy(target: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<Exchange>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let proxy = Proxy {
        target,
        client: reqwest::Client::new(),
        seen: seen.clone(),
    };
    let router = axum::Router::new().fallback(forward).with_state(proxy);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (addr, seen)
}

/// The documented operation a request is, by method and path template (a final slash or not):
/// of several, the one with the most fixed segments (`device/claim/` over `device/{slug}/`).
fn operation_of(method: &str, path: &str) -> Option<&'static Operation> {
    let segments = |p: &str| -> Vec<String> {
        p.trim_end_matches('/')
            .split('/')
            .map(str::to_string)
            .collect()
    };
    let wanted = segments(path);
    operations()
        .filter(|op| op.method == method)
        .filter(|op| {
            let template = segments(op.path);
            template.len() == wanted.len()
                && template
                    .iter()
                    .zip(&wanted)
                    .all(|(t, w)| t == w || (t.starts_with('{') && !w.is_empty()))
        })
        .max_by_key(|op| op.path.split('/').filter(|s| !s.starts_with('{')).count())
}

/// The query parameters the document gives an operation.
fn documented_query(op: &Operation) -> Vec<&'static str> {
    let mut names: Vec<&str> = op.query.iter().map(|q| q.name).collect();
    if op.paged {
        names.extend(["page", "page_size"]);
    }
    if !op.public {
        names.push("staff");
    }
    names
}

const STAFF_EMAIL: &str = "staff@compat.example.com";
const USER_EMAIL: &str = "user@compat.example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_uses_documented_operations_and_gets_documented_answers() {
    let sdk_python = common::venv::python_with(
        "iotile-cloud-sdk-venv",
        &tests_dir().join("compat/requirements.txt"),
    );
    let checker_python = validator_python();
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_user(STAFF_EMAIL, true).await;
    app.create_user(USER_EMAIL, false).await;
    let (proxy, seen) = start_proxy(app.addr).await;

    let compat = tests_dir().join("compat");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&sdk_python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE"])
            .arg(&compat)
            .current_dir(&compat)
            .env("IOTILE_CLOUD_URL", format!("http://{proxy}"))
            .env("IOTILE_STAFF_EMAIL", STAFF_EMAIL)
            .env("IOTILE_STAFF_PASSWORD", common::PASSWORD)
            .env("IOTILE_USER_EMAIL", USER_EMAIL)
            .env("IOTILE_USER_PASSWORD", common::PASSWORD)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run pytest")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "the SDK compatibility suite failed through the proxy:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let exchanges = seen.lock().unwrap().clone();
    let mut problems = Vec::new();
    let mut answers = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    for e in &exchanges {
        let what = format!("{} {}", e.method, e.path);
        let Some(op) = operation_of(&e.method, &e.path) else {
            // The suite also asks for what does not exist, which must be refused as such.
            if e.status != 404 {
                problems.push(format!("{what}: no documented operation, yet {}", e.status));
            }
            continue;
        };
        used.insert((op.method, op.path));
        let known = documented_query(op);
        for (key, _) in &e.query {
            if !known.contains(&key.as_str()) {
                problems.push(format!("{what}: query parameter {key} is not documented"));
            }
        }
        if (200..300).contains(&e.status) && e.status != op.status {
            problems.push(format!(
                "{what}: answered {} where the document says {}",
                e.status, op.status
            ));
        }
        if let Some(body) = &e.json {
            answers.push(json!({
                "method": op.method,
                "path": op.path,
                "status": e.status,
                "body": body,
            }));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The suite must have exercised the API broadly for the checks above to mean much.
    assert!(
        used.len() >= 30 && answers.len() >= 100,
        "the SDK suite reached only {} operations with {} JSON answers",
        used.len(),
        answers.len()
    );

    let document = app.dir.path().join("openapi.json");
    std::fs::write(&document, served_document(&app).await.to_string()).unwrap();
    let recorded = app.dir.path().join("answers.json");
    std::fs::write(&recorded, Value::Array(answers).to_string()).unwrap();
    let out = Command::new(&checker_python)
        .arg(tests_dir().join("openapi/check_answers.py"))
        .arg(&document)
        .arg(&recorded)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    println!(
        "{} requests to {} operations; {}",
        exchanges.len(),
        used.len(),
        String::from_utf8_lossy(&out.stdout).trim()
    );
    assert!(
        out.status.success(),
        "answers that do not match their documented schemas:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `src` and `href` attribute values of a page.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(at) = rest.find(attribute) {
            rest = &rest[at + attribute.len()..];
            let end = rest.find('"').unwrap();
            out.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_and_its_assets_come_from_this_server() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let root = format!("http://{}", app.addr);
    for page in ["/api/docs", "/api/docs/"] {
        let response = app
            .client
            .get(format!("{root}{page}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{page}");
        let headers = response.headers().clone();
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            policy.starts_with("default-src 'none'") && !policy.contains("http"),
            "{policy}"
        );
        let html = response.text().await.unwrap();
        assert!(
            !html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"),
            "the page names another host:\n{html}"
        );
        let links = links(&html);
        assert_eq!(links.len(), 3, "{links:?}");
        for link in links {
            assert!(
                link.starts_with('/') && !link.starts_with("//"),
                "{link} is not on this server"
            );
            let asset = app
                .client
                .get(format!("{root}{link}"))
                .send()
                .await
                .unwrap();
            assert_eq!(asset.status(), 200, "{link}");
            let kind = asset.headers()[header::CONTENT_TYPE].to_str().unwrap();
            let expected = if link.ends_with(".css") {
                "text/css"
            } else {
                "text/javascript"
            };
            assert!(kind.starts_with(expected), "{link}: {kind}");
            assert!(!asset.bytes().await.unwrap().is_empty(), "{link} is empty");
        }
    }
    // The viewer is started on this server's document with the online validator off.
    let init = app
        .client
        .get(format!("{root}/api/docs/init.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("url: \"/api/v1/openapi.json\"") && init.contains("validatorUrl: null"));
    assert!(!init.contains("://"), "{init}");
}
