//! `iotile-gateway status`: asks the running daemon's status API (`GET /status`) what it is
//! doing. It fails when the daemon does not answer, so it doubles as a health check.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum StatusQueryError {
    #[error("the gateway daemon does not answer at {url}: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("the gateway daemon at {url} answered {status}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
}

/// The URL of `/status` for a daemon listening on `bind`; a wildcard bind is asked on
/// loopback.
pub fn status_url(bind: SocketAddr) -> String {
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/status", SocketAddr::new(ip, bind.port()))
}

/// The daemon's `/status` document.
pub async fn fetch(bind: SocketAddr, timeout: Duration) -> Result<Value, StatusQueryError> {
    let url = status_url(bind);
    let unreachable = |source| StatusQueryError::Unreachable {
        url: url.clone(),
        source,
    };
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(unreachable)?;
    let response = client.get(&url).send().await.map_err(unreachable)?;
    if !response.status().is_success() {
        return Err(StatusQueryError::Status {
            url,
            status: response.status(),
        });
    }
    response.json().await.map_err(unreachable)
}

/// A few lines for people: the buffer, the PODs heard, the last sync and OTA updates.
pub fn summary(doc: &Value) -> String {
    let buffer = &doc["buffer"];
    let gateway = &doc["gateway"];
    let number = |v: &Value| v.as_u64().unwrap_or(0);
    let mut lines = vec![format!(
        "pending:          {} reports, {} readings, {} bytes{}",
        number(&buffer["pending_reports"]),
        number(&buffer["pending_readings"]),
        number(&buffer["pending_bytes"]),
        if buffer["over_budget"].as_bool() == Some(true) {
            " — OVER BUDGET: collection is stopped"
        } else {
            ""
        }
    )];
    let pods = gateway["pods"].as_object();
    lines.push(format!(
        "PODs heard:       {}",
        pods.map_or(0, serde_json::Map::len)
    ));
    for (slug, pod) in pods.into_iter().flatten() {
        lines.push(format!(
            "  {slug}  {} visits, {} failed{}{}",
            number(&pod["visits"]),
            number(&pod["failed_visits"]),
            if pod["starved"].as_bool() == Some(true) {
                " — STARVED: heard but not visited"
            } else {
                ""
            },
            pod["last_error"]
                .as_str()
                .map(|e| format!(", last error: {e}"))
                .unwrap_or_default()
        ));
    }
    lines.push(match gateway["last_sync_us"].as_i64() {
        Some(us) => format!("last sync:        at {us} µs (unix)"),
        None => "last sync:        none yet".to_string(),
    });
    lines.push(format!(
        "synced:           {} reports, {} rejected",
        number(&gateway["synced_reports"]),
        number(&gateway["rejected_reports"])
    ));
    if let Some(error) = gateway["last_sync_error"].as_str() {
        lines.push(format!("last sync error:  {error}"));
    }
    let ota = &doc["ota"];
    if ota.is_object() {
        let jobs: Vec<String> = ota["jobs"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(state, n)| format!("{} {state}", number(n)))
            .collect();
        lines.push(format!(
            "OTA:              {} deployments; updates: {}; {} outcomes not yet sent",
            number(&ota["deployments"]),
            if jobs.is_empty() {
                "none".to_string()
            } else {
                jobs.join(", ")
            },
            number(&ota["unsent_outcomes"])
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcard_binds_are_asked_on_loopback() {
        assert_eq!(
            status_url("0.0.0.0:9780".parse().unwrap()),
            "http://127.0.0.1:9780/status"
        );
        assert_eq!(
            status_url("[::]:9780".parse().unwrap()),
            "http://[::1]:9780/status"
        );
        assert_eq!(
            status_url("10.0.0.2:1".parse().unwrap()),
            "http://10.0.0.2:1/status"
        );
    }

    #[tokio::test]
    async fn fetches_the_document_and_fails_when_nobody_answers() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bind = listener.local_addr().unwrap();
        let doc = json!({
            "buffer": {"pending_reports": 2, "pending_readings": 40, "pending_bytes": 900,
                       "over_budget": false},
            "gateway": {"pods": {"d--0000-0000-0000-0042": {"visits": 3, "failed_visits": 1,
                                  "last_error": "timeout", "starved": true}},
                        "last_sync_us": null, "synced_reports": 5, "rejected_reports": 0},
            "ota": {"deployments": 1, "jobs": {"rebooting": 1, "succeeded": 4},
                    "unsent_outcomes": 2},
        });
        let served = doc.clone();
        let app = axum::Router::new().route(
            "/status",
            axum::routing::get(move || async move { axum::Json(served) }),
        );
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let got = fetch(bind, Duration::from_secs(5)).await.unwrap();
        assert_eq!(got, doc);
        let text = summary(&got);
        assert!(text.contains("2 reports, 40 readings"), "{text}");
        assert!(
            text.contains("1 deployments; updates: 1 rebooting, 4 succeeded; 2 outcomes"),
            "{text}"
        );
        assert!(text.contains("PODs heard:       1"), "{text}");
        assert!(
            text.contains(
                "3 visits, 1 failed — STARVED: heard but not visited, last error: timeout"
            ),
            "{text}"
        );
        assert!(text.contains("none yet"), "{text}");
        server.abort();
        let _ = server.await;
        let err = fetch(bind, Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(err, StatusQueryError::Unreachable { .. }), "{err}");
    }
}
