//! A site in the real cloud for the system tests: an admin's org and project with device
//! 0xA1 claimed into it, and device 0xA2 registered but claimed by no one; more PODs can be
//! claimed, and gateways registered to the org. `process` runs the gateway binary.

#![allow(dead_code)]

pub mod ota;
pub mod outage;
pub mod pods;
pub mod process;
pub mod runs;

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::common;

pub const DEVICE: u32 = 0xA1;
pub const STRANGER: u32 = 0xA2;

pub struct Site {
    pub staff: String,
    pub admin: String,
    pub project: String,
    pub org: String,
    /// The claimed device's stream 5001.
    pub stream: String,
}

pub async fn site(app: &common::TestApp) -> Site {
    let staff = app.staff("staff@arch.io").await;
    let admin = app.user("admin@site.io").await;
    let (_, org) = app.post("org/", &admin, json!({"name": "Site"})).await;
    let org = org["slug"].as_str().unwrap().to_string();
    let (_, project) = app
        .post("project/", &admin, json!({"name": "P", "org": org}))
        .await;
    for id in [DEVICE, STRANGER] {
        let body = json!({"id": id, "template": "pod-1gg1-v3-0-0", "sg": "water-meter-v1-1-0"});
        assert_eq!(
            app.post("device/?staff=1", &staff, body).await.0,
            StatusCode::CREATED
        );
    }
    let (status, claimed) = app
        .post(
            "device/claim/",
            &admin,
            json!({"device": "d--0000-0000-0000-00a1", "project": project["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{claimed}");
    let gid = &claimed["project"].as_str().unwrap()[3..];
    Site {
        staff,
        admin,
        project: project["id"].as_str().unwrap().to_string(),
        org,
        stream: format!("s--{gid}--0000-0000-0000-00a1--5001"),
    }
}

/// A second POD, claimed by [`two_pods`].
pub const SECOND: u32 = 0xA3;

/// The site with a second device claimed, and a quiet virtual POD for each: the PODs, and
/// their streams 5001 by device.
pub async fn two_pods(
    app: &common::TestApp,
) -> (
    Site,
    std::collections::BTreeMap<u32, String>,
    Vec<(u32, firmware_tools::pod::VirtualPod)>,
) {
    let s = site(app).await;
    let second = s.claim(app, SECOND).await;
    let streams = std::collections::BTreeMap::from([(DEVICE, s.stream.clone()), (SECOND, second)]);
    let pods = [DEVICE, SECOND]
        .into_iter()
        .map(|id| (id, pods::quiet_pod(id)))
        .collect();
    (s, streams, pods)
}

impl Site {
    /// Waits (at most `within`) until the cloud holds every reading `made` and every POD is
    /// acknowledged up to its last one; then checks exactly that, and that no POD lost a
    /// reading. `context` (the gateways' logs) goes into failure messages.
    pub async fn assert_delivered(
        &self,
        app: &common::TestApp,
        streams: &std::collections::BTreeMap<u32, String>,
        pods: &[(u32, firmware_tools::pod::VirtualPod)],
        made: &pods::Made,
        within: Duration,
        context: impl Fn() -> String,
    ) {
        let last = |id: &u32| made[id].last().map_or(0, |r| r.0);
        let deadline = tokio::time::Instant::now() + within;
        let arrived = loop {
            let arrived = self.arrived(app, streams).await;
            let complete = made
                .iter()
                .all(|(id, want)| arrived.get(id).map_or(0, Vec::len) >= want.len());
            let acked = pods.iter().all(|(id, pod)| pods::pod_ack(pod) == last(id));
            if (complete && acked) || tokio::time::Instant::now() >= deadline {
                break arrived;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        pods::assert_exactly_once(made, &arrived, &context());
        for (id, pod) in pods {
            assert_eq!(
                pods::pod_ack(pod),
                last(id),
                "POD {id:#x} acknowledged to its last reading"
            );
            assert_eq!(
                pod.with_model(|m| m.lost_readings()),
                0,
                "POD {id:#x} lost nothing"
            );
        }
    }

    /// Registers and claims another device into the project; returns its stream 5001.
    pub async fn claim(&self, app: &common::TestApp, id: u32) -> String {
        let body = json!({"id": id, "template": "pod-1gg1-v3-0-0", "sg": "water-meter-v1-1-0"});
        let (status, made) = app.post("device/?staff=1", &self.staff, body).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let slug = made["slug"].as_str().unwrap().to_string();
        let (status, claimed) = app
            .post(
                "device/claim/",
                &self.admin,
                json!({"device": slug, "project": self.project}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{claimed}");
        let gid = &claimed["project"].as_str().unwrap()[3..];
        format!("s--{gid}--{}--5001", &slug[3..])
    }

    /// Makes a gateway key at `key` and registers it to the org with a fresh code.
    pub async fn register_gateway(&self, app: &common::TestApp, key: &Path, name: &str) {
        let identity = gateway::identity::load_or_create(key).unwrap();
        let (_, code) = app
            .post("gateway/code/", &self.admin, json!({"org": self.org}))
            .await;
        let client = gateway::sync::SyncClient::new(
            &format!("http://{}", app.addr),
            identity.secret,
            Duration::from_secs(30),
        )
        .unwrap();
        let registered = client
            .register(code["code"].as_str().unwrap(), Some(name.into()))
            .await
            .unwrap();
        assert_eq!(registered.org, self.org);
    }

    /// Per device, the `(reading id, value)` pairs of its stream 5001 in the cloud.
    pub async fn arrived(
        &self,
        app: &common::TestApp,
        streams: &std::collections::BTreeMap<u32, String>,
    ) -> pods::Made {
        let mut out = pods::Made::new();
        for (id, stream) in streams {
            out.insert(*id, self.readings(app, stream).await);
        }
        out
    }

    /// The `(reading id, value)` pairs of a stream in the cloud, in id order.
    pub async fn readings(&self, app: &common::TestApp, stream: &str) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        let mut url = format!("data/?filter={stream}&page_size=5000");
        loop {
            let page = app.ok(&url, &self.admin).await;
            for row in page["results"].as_array().unwrap() {
                let id = u32::try_from(row["streamer_local_id"].as_i64().unwrap()).unwrap();
                let value = u32::try_from(row["int_value"].as_i64().unwrap()).unwrap();
                out.push((id, value));
            }
            match page["next"].as_str() {
                // `next` is absolute; the harness takes paths under /api/v1/.
                Some(next) => url = next.split("/api/v1/").nth(1).unwrap().to_string(),
                None => break,
            }
        }
        out.sort_unstable();
        out
    }
}
