//! What the demo prints at start. One `  name     value` line per fact, so that people and
//! scripts (the demo's own test) can both read it.

use std::net::SocketAddr;
use std::path::Path;

use super::pods::Pods;
use super::site::{Site, ORG_NAME, PROJECT_NAME};

pub struct Banner<'a> {
    pub cloud: SocketAddr,
    pub status: SocketAddr,
    pub data_dir: &'a Path,
    pub kept: bool,
    pub site: &'a Site,
    pub pods: &'a Pods,
}

pub fn print(b: &Banner<'_>) {
    let cloud = format!("http://{}", b.cloud);
    let site = b.site;
    println!("IOTile demo: a cloud, a gateway and three virtual PODs, in one process");
    if let Some(why) = &b.pods.fallback {
        // The bus's own error may already say how to install it.
        let fix = if why.contains("apt-get") {
            ""
        } else {
            " (for BlueZ too: sudo apt-get install dbus)"
        };
        println!("note: every POD is behind the BLED112: {why}{fix}");
    }
    println!();
    println!("  web      {cloud}/   (open it and sign in with the login below)");
    println!("  login    {} / {}", site.email, site.password);
    println!("  cloud    {cloud}");
    println!("  api      {cloud}/api/v1/   (reference: {cloud}/api/docs/, OpenAPI: {cloud}/api/v1/openapi.json)");
    println!("  gateway  http://{}/status", b.status);
    println!(
        "  desktop  IOTILE_DESKTOP_BLED112={} cargo run -p iotile-desktop   (sign in to {cloud} with the login above; its dongle hears every POD)",
        b.pods.field.path().display()
    );
    let kept = if b.kept {
        "kept"
    } else {
        "removed at exit; --data-dir DIR keeps it"
    };
    println!("  data     {} ({kept})", b.data_dir.display());
    println!("\n  PODs in org \"{ORG_NAME}\", project \"{PROJECT_NAME}\":");
    for (device, (_, radio)) in site.devices.iter().zip(&b.pods.pods) {
        println!("  pod      {}  {radio:<7}  {}", device.slug, device.stream);
    }
    let stream = site
        .devices
        .first()
        .map(|d| d.stream.as_str())
        .unwrap_or_default();
    if let Some(device) = site.devices.first() {
        println!(
            "\nEach POD's page charts its readings live, e.g. {cloud}/device/{}",
            device.slug
        );
    }
    println!(
        "\nOr from a shell:\n  \
         JWT=$(curl -s -H 'Content-Type: application/json' \\\n      \
         -d '{{\"email\":\"{email}\",\"password\":\"{password}\"}}' \\\n      \
         {cloud}/api/v1/auth/login/ | sed 's/.*\"jwt\":\"\\([^\"]*\\)\".*/\\1/')\n  \
         curl -s -H \"Authorization: JWT $JWT\" '{cloud}/api/v1/data/?filter={stream}&lastn=5'\n  \
         curl -s http://{status}/status\n\n  \
         # Python (pip install iotile-cloud)\n  \
         from iotile_cloud.api.connection import Api\n  \
         api = Api(domain=\"{cloud}\")\n  \
         api.login(email=\"{email}\", password=\"{password}\")\n  \
         print(api.data.get(filter=\"{stream}\", lastn=5))\n\n\
         Readings appear as the gateway visits each POD (at most once a minute). Ctrl-C stops.\n",
        email = site.email,
        password = site.password,
        status = b.status,
    );
}
