//! The demo site: a user, their org and project with three claimed PODs, and the gateway
//! registered to the org. Made once per data directory and remembered in `demo.json`, so a
//! kept directory starts again where it stopped.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sync_protocol::ids::DeviceId;

use super::api::Api;
use super::cloud::Cloud;

pub const EMAIL: &str = "demo@iotile.local";
/// The staff account that registers the PODs' device ids, as a factory would.
const STAFF_EMAIL: &str = "factory@iotile.local";
pub const ORG_NAME: &str = "Demo Site";
pub const PROJECT_NAME: &str = "Demo Project";
/// The PODs' device ids.
pub const DEVICES: [u64; 3] = [0xD1, 0xD2, 0xD3];
/// The output stream every POD produces.
pub const STREAM: u16 = 0x5001;
const TEMPLATE: &str = "pod-1gg1-v3-0-0";
const SENSOR_GRAPH: &str = "water-meter-v1-1-0";
const FILE: &str = "demo.json";

/// What was made, and the login to see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Site {
    pub email: String,
    pub password: String,
    pub org: String,
    pub project: String,
    pub devices: Vec<SiteDevice>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteDevice {
    pub id: u64,
    /// `d--…`
    pub slug: String,
    /// The slug of the POD's stream [`STREAM`] in the project, `s--…`.
    pub stream: String,
}

/// A random password, readable enough to type.
pub fn random_password() -> anyhow::Result<String> {
    let mut bytes = [0u8; 9];
    getrandom::getrandom(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(hex::encode(bytes))
}

/// The site recorded in `dir`, if any.
pub fn load(dir: &Path) -> anyhow::Result<Option<Site>> {
    let path = dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(
            serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Makes the site in a fresh cloud and registers the gateway key at `key`; records it in
/// `dir`.
pub async fn create(cloud: &Cloud, api: &Api, dir: &Path, key: &Path) -> anyhow::Result<Site> {
    let password = random_password()?;
    let staff_password = random_password()?;
    anyhow::ensure!(
        cloud.create_account(EMAIL, &password, false).await?,
        "{EMAIL} already exists in this data directory, but {FILE} is missing: \
         use a new --data-dir"
    );
    cloud
        .create_account(STAFF_EMAIL, &staff_password, true)
        .await?;
    let jwt = api.login(EMAIL, &password).await?;
    let staff = api.login(STAFF_EMAIL, &staff_password).await?;

    let created = StatusCode::CREATED;
    let org = api
        .expect(
            Method::POST,
            "org/",
            Some(&jwt),
            Some(json!({"name": ORG_NAME})),
            created,
        )
        .await?;
    let org = org["slug"].as_str().context("org slug")?.to_owned();
    let project = api
        .expect(
            Method::POST,
            "project/",
            Some(&jwt),
            Some(json!({"name": PROJECT_NAME, "org": org})),
            created,
        )
        .await?;
    let project_id = project["id"].as_str().context("project id")?.to_owned();
    let mut devices = Vec::new();
    for id in DEVICES {
        let slug = DeviceId::new(id)
            .map_err(|e| anyhow::anyhow!("device {id:#x}: {e}"))?
            .to_string();
        let body = json!({"id": id, "template": TEMPLATE, "sg": SENSOR_GRAPH});
        api.expect(
            Method::POST,
            "device/?staff=1",
            Some(&staff),
            Some(body),
            created,
        )
        .await?;
        let claimed = api
            .expect(
                Method::POST,
                "device/claim/",
                Some(&jwt),
                Some(json!({"device": slug, "project": project_id})),
                StatusCode::ACCEPTED,
            )
            .await?;
        let project_slug = claimed["project"].as_str().context("claimed project")?;
        let stream = format!(
            "s--{}--{}--{STREAM:04x}",
            project_slug.trim_start_matches("p--"),
            slug.trim_start_matches("d--")
        );
        devices.push(SiteDevice { id, slug, stream });
    }

    let code = api
        .expect(
            Method::POST,
            "gateway/code/",
            Some(&jwt),
            Some(json!({"org": org})),
            created,
        )
        .await?;
    let code = code["code"].as_str().context("gateway code")?;
    let identity = gateway::identity::load_or_create(key)?;
    let base = format!("http://{}", cloud.addr);
    let client = gateway::sync::SyncClient::new(&base, identity.secret, Duration::from_secs(30))?;
    client
        .register(code, Some("demo-gateway".to_owned()))
        .await
        .context("registering the gateway")?;

    let site = Site {
        email: EMAIL.to_owned(),
        password,
        org,
        project: PROJECT_NAME.to_owned(),
        devices,
    };
    let path = dir.join(FILE);
    // It holds the demo user's password: for its owner only.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(&serde_json::to_vec_pretty(&site)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(site)
}
