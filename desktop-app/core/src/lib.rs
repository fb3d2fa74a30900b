//! What the field technicians' desktop app does, with no window: the Tauri app is a thin
//! layer of commands and events over [`Desktop`]. Radio, visit, buffer and sync pass are the
//! gateway library's; this crate adds what a person with a laptop needs around them.
//!
//! Module map:
//! - [`profile`]: one signed-in user's files (app database and report buffer).
//! - [`store`]: the app database: session, offline copy, claims queue, sync log.
//! - [`cloud`]: the REST API under the user's token, and the report uplink.
//! - [`session`]: sign-in, token refresh, the offline copy's refresh.
//! - [`nearby`]: PODs heard on the radio, joined with the copy and the queue.
//! - [`collect`]: one POD's collection, with progress.
//! - [`updates`]: a POD's update on site, from the copy's feed and scripts.
//! - [`sync`]: sending what waits: claims, reports, update outcomes.
//! - [`readings`]: a POD's recent readings from the buffer, for its page.
//! - [`events`]: what the core tells the screen as things happen.

pub mod cloud;
pub mod collect;
pub mod error;
pub mod events;
pub mod nearby;
pub mod profile;
pub mod readings;
pub mod session;
pub mod store;
pub mod sync;
pub mod updates;

/// For the app's start: the BlueZ client's one harmless clean-up panic becomes a debug line.
pub use gateway::transport::bluez_panics::quiet_stream_cleanup_panics;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use gateway::transport::radio::Radio;
use gateway::transport::Transport;
use serde::Serialize;
use sync_protocol::ids::DeviceId;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use error::CoreError;

// With the `specta` feature the types describe themselves to the app's TypeScript, where a
// 64-bit integer is described as a `u32` so that it is a plain `number` there: device ids
// are 48-bit, times are seconds or milliseconds, counts are small, all exact below 2^53.

use crate::events::Events;
use crate::nearby::{Heard, NearbyPod};
use crate::profile::Profile;
use crate::session::SessionView;
use crate::store::{Claim, CopyOrg, CopyProject, LogEntry, Session};

/// How often the background loop looks for work when all is well.
const SYNC_INTERVAL: Duration = Duration::from_secs(30);
/// The longest wait between attempts while the network is away.
const OFFLINE_RETRY_MAX: Duration = Duration::from_secs(60);
/// How often the nearby list is sent to the screen while scanning.
const NEARBY_EVERY: Duration = Duration::from_millis(500);

/// Which radio the app uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RadioChoice {
    /// A BLED112 dongle on this serial port.
    Bled112(PathBuf),
    /// The laptop's own Bluetooth, through BlueZ.
    Bluez,
}

impl RadioChoice {
    /// `IOTILE_DESKTOP_BLED112=/dev/ttyACM0` picks a dongle; the laptop's Bluetooth otherwise.
    pub fn from_env() -> RadioChoice {
        match std::env::var_os("IOTILE_DESKTOP_BLED112") {
            Some(port) if !port.is_empty() => RadioChoice::Bled112(PathBuf::from(port)),
            _ => RadioChoice::Bluez,
        }
    }
}

/// The app: at most one signed-in profile, one radio, one scan.
pub struct Desktop {
    root: PathBuf,
    profile: RwLock<Option<Arc<Profile>>>,
    radio_choice: RadioChoice,
    radio: tokio::sync::Mutex<Option<Arc<Radio>>>,
    heard: Arc<Mutex<Heard>>,
    scan: Mutex<Option<CancellationToken>>,
    events: Arc<dyn Events>,
    kick: Notify,
}

/// A claim as the sync screen lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ClaimRow {
    #[serde(flatten)]
    pub claim: Claim,
    pub slug: String,
    pub project_name: String,
}

impl Desktop {
    /// Opens the app's data under `root`, with the last signed-in profile if there is one.
    pub fn open(
        root: &Path,
        radio: RadioChoice,
        events: Arc<dyn Events>,
    ) -> Result<Desktop, CoreError> {
        std::fs::create_dir_all(root)
            .map_err(|e| CoreError::Invalid(format!("{}: {e}", root.display())))?;
        let profile = Profile::open_current(root)?.map(Arc::new);
        Ok(Desktop {
            root: root.to_path_buf(),
            profile: RwLock::new(profile),
            radio_choice: radio,
            radio: tokio::sync::Mutex::new(None),
            heard: Arc::new(Mutex::new(Heard::default())),
            scan: Mutex::new(None),
            events,
            kick: Notify::new(),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.root
    }

    fn current(&self) -> Option<Arc<Profile>> {
        self.profile.read().ok().and_then(|p| p.clone())
    }

    fn signed_in(&self) -> Result<Arc<Profile>, CoreError> {
        self.current().ok_or(CoreError::SignedOut)
    }

    pub fn session(&self) -> Result<Option<SessionView>, CoreError> {
        match self.current() {
            Some(profile) => session::view(&profile),
            None => Ok(None),
        }
    }

    /// Signs in with a password (online), makes the user's profile current and fetches
    /// the offline copy.
    pub async fn sign_in(
        &self,
        cloud: &str,
        email: &str,
        password: &str,
    ) -> Result<SessionView, CoreError> {
        let cloud = cloud.trim().trim_end_matches('/');
        if !(cloud.starts_with("http://") || cloud.starts_with("https://")) {
            return Err(CoreError::Invalid(
                "the cloud's address starts with https:// (or http://)".into(),
            ));
        }
        let key = profile::key(cloud, email);
        let profile = Profile::open(&self.root, &key, cloud)?;
        // A 401 here is the password, not an expired sign-in.
        let signed =
            profile.api.sign_in(email.trim(), password).await.map_err(
                |e| match CoreError::from(e) {
                    CoreError::SignInAgain => CoreError::Refused("wrong email or password".into()),
                    other => other,
                },
            )?;
        let now = session::now();
        let expires = session::token_expiry(&signed.jwt).unwrap_or(now + 3600);
        profile.store()?.save_session(&Session {
            cloud: cloud.to_string(),
            email: signed.email,
            username: signed.username,
            token: Some(signed.jwt.clone()),
            token_expires: Some(expires),
            signed_in_at: now,
        })?;
        profile.api.set_token(Some(signed.jwt));
        Profile::make_current(&self.root, Some(&key))?;
        let profile = Arc::new(profile);
        if let Ok(mut current) = self.profile.write() {
            *current = Some(profile.clone());
        }
        if let Err(error) = session::refresh_copy(&profile).await {
            tracing::warn!(%error, "the offline copy could not be fetched after sign-in");
        }
        self.kick.notify_one();
        self.events.sync_changed();
        session::view(&profile)?.ok_or(CoreError::SignedOut)
    }

    /// Forgets the token. What waits stays in the profile, and goes up when the same
    /// user signs in again.
    pub fn sign_out(&self) -> Result<(), CoreError> {
        if let Some(profile) = self.current() {
            profile.store()?.forget_token()?;
            profile.api.set_token(None);
        }
        Profile::make_current(&self.root, None)?;
        if let Ok(mut current) = self.profile.write() {
            *current = None;
        }
        Ok(())
    }

    pub fn orgs(&self) -> Result<Vec<CopyOrg>, CoreError> {
        Ok(self.signed_in()?.store()?.orgs()?)
    }

    pub fn projects(&self) -> Result<Vec<CopyProject>, CoreError> {
        Ok(self.signed_in()?.store()?.projects()?)
    }

    async fn radio(&self) -> Result<Arc<Radio>, CoreError> {
        let mut radio = self.radio.lock().await;
        if let Some(open) = radio.as_ref() {
            return Ok(open.clone());
        }
        let opened = match &self.radio_choice {
            RadioChoice::Bled112(port) => Radio::bled112(port).await,
            RadioChoice::Bluez => Radio::bluez(1).await,
        }
        .map_err(|e| CoreError::Radio(e.to_string()))?;
        let opened = Arc::new(opened);
        *radio = Some(opened.clone());
        Ok(opened)
    }

    /// Starts listening for PODs (or keeps listening); the list comes as events.
    pub async fn start_scan(self: &Arc<Self>) -> Result<(), CoreError> {
        if self.scan.lock().map(|s| s.is_some()).unwrap_or(false) {
            return Ok(());
        }
        let radio = self.radio().await?;
        let mut seen = radio.scan().await?;
        let stop = CancellationToken::new();
        if let Ok(mut scan) = self.scan.lock() {
            *scan = Some(stop.clone());
        }
        let app = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(NEARBY_EVERY);
            let mut changed = true;
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    heard = seen.recv() => match heard {
                        Some(s) => {
                            if let Ok(mut h) = app.heard.lock() { h.hear(s); }
                            changed = true;
                        }
                        None => break,
                    },
                    _ = tick.tick() => {
                        if let Ok(mut h) = app.heard.lock() { h.forget_gone(); }
                        if changed {
                            changed = false;
                            if let Ok(pods) = app.nearby() { app.events.nearby(&pods); }
                        }
                    }
                }
            }
            if let Ok(mut scan) = app.scan.lock() {
                *scan = None;
            }
        });
        Ok(())
    }

    pub fn stop_scan(&self) {
        if let Some(stop) = self.scan.lock().ok().and_then(|mut s| s.take()) {
            stop.cancel();
        }
    }

    pub fn nearby(&self) -> Result<Vec<NearbyPod>, CoreError> {
        let profile = self.current();
        let store = match &profile {
            Some(p) => Some(p.store()?),
            None => None,
        };
        let heard = self
            .heard
            .lock()
            .map_err(|_| CoreError::Invalid("the nearby list's lock is poisoned".into()))?;
        Ok(heard.list(store.as_deref())?)
    }

    /// Queues a claim of `device` into `project` (its UUID or slug, from the copy); it goes
    /// up with the next sync, at once when the network is there.
    pub fn claim(&self, device: u64, project: &str) -> Result<Claim, CoreError> {
        DeviceId::new(device).map_err(|e| CoreError::Invalid(e.to_string()))?;
        let profile = self.signed_in()?;
        let mut store = profile.store()?;
        let project = store.project(project)?.ok_or_else(|| {
            CoreError::Invalid(format!("no project {project} in the offline copy"))
        })?;
        let claim = store.queue_claim(device, &project.id, session::now())?;
        drop(store);
        self.kick.notify_one();
        self.events.sync_changed();
        Ok(claim)
    }

    /// Claims made here, newest first.
    pub fn claims(&self) -> Result<Vec<ClaimRow>, CoreError> {
        let profile = self.signed_in()?;
        let store = profile.store()?;
        store
            .claims(200)?
            .into_iter()
            .map(|claim| {
                let project_name = store
                    .project(&claim.project)?
                    .map_or_else(|| claim.project.clone(), |p| p.name);
                Ok(ClaimRow {
                    slug: nearby::slug(claim.device),
                    project_name,
                    claim,
                })
            })
            .collect()
    }

    /// Collects a POD heard nearby.
    pub async fn collect(&self, device: u64) -> Result<collect::Collected, CoreError> {
        let profile = self.signed_in()?;
        let address = self.address(device)?;
        let radio = self.radio().await?;
        let collected =
            collect::collect(&profile, &radio, device, address, self.events.as_ref()).await;
        self.kick.notify_one();
        collected
    }

    /// The deployments the copy offers a POD.
    pub fn update_offers(&self, device: u64) -> Result<Vec<updates::UpdateOffer>, CoreError> {
        updates::offers(&*self.signed_in()?, device)
    }

    /// Updates a POD heard nearby; the outcome goes up with the next sync.
    pub async fn update(&self, device: u64) -> Result<updates::UpdateResult, CoreError> {
        let profile = self.signed_in()?;
        let address = self.address(device)?;
        let radio = self.radio().await?;
        let result = updates::update(&profile, &radio, device, address, self.events.as_ref()).await;
        self.kick.notify_one();
        result
    }

    fn address(&self, device: u64) -> Result<sync_protocol::bgapi::BdAddr, CoreError> {
        u32::try_from(device)
            .ok()
            .and_then(|d| self.heard.lock().ok()?.address(d))
            .ok_or_else(|| CoreError::Pod(format!("{} is not in range", nearby::slug(device))))
    }

    pub fn waiting(&self) -> Result<sync::Waiting, CoreError> {
        sync::waiting(&*self.signed_in()?)
    }

    pub fn log(&self, limit: u32) -> Result<Vec<LogEntry>, CoreError> {
        Ok(self.signed_in()?.store()?.recent_log(limit)?)
    }

    /// One sync pass now.
    pub async fn sync_now(&self) -> Result<sync::SyncSummary, CoreError> {
        let profile = self.signed_in()?;
        let summary = sync::sync_now(&profile, self.events.as_ref()).await;
        self.events.sync_changed();
        Ok(summary)
    }

    /// A POD's recent readings, from what this laptop collected.
    pub fn readings(&self, device: u64) -> Result<readings::DeviceReadings, CoreError> {
        let id = DeviceId::new(device).map_err(|e| CoreError::Invalid(e.to_string()))?;
        let profile = self.signed_in()?;
        let reports = collect::lock(&profile.buffer)?.reports_of(id, 500)?;
        Ok(readings::from_reports(&reports))
    }

    /// Syncs by itself: whenever something waits or the copy is stale, and again soon
    /// after the network comes back; until `stop`.
    pub async fn run_background(&self, stop: CancellationToken) {
        let mut failures = 0u32;
        loop {
            let wait = match self.current() {
                Some(profile) if due(&profile) => {
                    let summary = sync::sync_now(&profile, self.events.as_ref()).await;
                    self.events.sync_changed();
                    match summary.stopped {
                        _ if summary.sign_in_again => Duration::MAX,
                        Some(_) => {
                            failures = failures.saturating_add(1);
                            let jitter = u64::from(getrandom_u32());
                            gateway::sync::backoff(failures, OFFLINE_RETRY_MAX, jitter)
                        }
                        None => {
                            failures = 0;
                            SYNC_INTERVAL
                        }
                    }
                }
                _ => SYNC_INTERVAL,
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.kick.notified() => {}
                () = tokio::time::sleep(wait.min(Duration::from_secs(24 * 3600))) => {}
            }
        }
    }
}

/// Whether a pass has anything to do: something waits, or the copy is stale.
fn due(profile: &Profile) -> bool {
    let waiting = sync::waiting(profile).unwrap_or_default();
    let stale = profile
        .store()
        .ok()
        .and_then(|s| s.copy_refreshed_at().ok().flatten())
        .is_none_or(|at| session::now() - at >= session::COPY_STALE_AFTER);
    waiting.claims + waiting.reports + waiting.actions > 0 || stale
}

fn getrandom_u32() -> u32 {
    let mut bytes = [0u8; 4];
    getrandom::getrandom(&mut bytes).unwrap_or_default();
    u32::from_le_bytes(bytes)
}
