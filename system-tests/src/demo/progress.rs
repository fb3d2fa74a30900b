//! Progress while the demo runs: each POD's readings in the cloud, one line whenever they
//! changed, asked through the data API as the demo user.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::api::Api;
use super::site::Site;

/// How often the cloud is asked.
const EVERY: Duration = Duration::from_secs(5);

/// Prints a line per change until `stop`.
pub async fn report(api: Api, site: Site, stop: CancellationToken) {
    let started = Instant::now();
    let mut jwt: Option<String> = None;
    let mut last: Vec<u64> = Vec::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
        if jwt.is_none() {
            jwt = api.login(&site.email, &site.password).await.ok();
        }
        let Some(token) = &jwt else { continue };
        let mut counts = Vec::new();
        for device in &site.devices {
            match api.count(&device.stream, token).await {
                Ok(n) => counts.push(n),
                Err(error) => {
                    // An expired login or a busy cloud: log in again next time.
                    tracing::debug!(%error, "counting readings");
                    jwt = None;
                    break;
                }
            }
        }
        if counts.len() != site.devices.len() || counts == last {
            continue;
        }
        let cells: Vec<String> = site
            .devices
            .iter()
            .zip(&counts)
            .map(|(d, n)| format!("{} {n:>4}", d.slug))
            .collect();
        println!(
            "  {:>5}s  readings in the cloud: {}",
            started.elapsed().as_secs(),
            cells.join("   ")
        );
        last = counts;
    }
}
