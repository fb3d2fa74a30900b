//! The POD's BLE personality: a [`PodModel`] behind the TileBus GATT table, as a
//! [`radio::Peripheral`](crate::radio::Peripheral) any virtual radio can serve.
//!
//! A [`VirtualPod`] owns the model (behind a mutex) and two kinds of tasks:
//! - a **clock** task that moves the model's uptime with real time × `clock_speed`, runs the
//!   script runner one step at a time, notices resets (which drop the link, as on a real POD),
//!   wakes the connection to send newly triggered reports, and saves the state file when it
//!   changed (every 5 s, or sooner after 1024 new ids, and on [`VirtualPod::stop`]). A POD
//!   restarted from its state file skips [`ID_RESERVE`] ids, so ids handed out after the last
//!   save of a killed POD are never reused;
//! - one **connection** task per link that sends every notification in order through the
//!   link's event channel, applying the [`RadioEffects`]: RPC answers first, then report bytes
//!   in ≤ 20-byte chunks pulled from the model one report at a time.
//!
//! GATT behaviour (§5.4–5.7): Send Payload (`0x2004`) stores up to 20 bytes; Send Header
//! (`0x2003`) runs the RPC and answers on Receive Header (`0x2001`, `[status, 0, 0, len]`)
//! then Receive Payload (`0x2002`) if len > 0 — only once both RPC CCCDs are enabled (the
//! RPC interface is closed before that and headers are ignored). Enabling Streaming
//! (`0x2005`) opens streaming (the model presents `0x3C01`); disabling closes it (`0x3C02`);
//! a dropped link closes it too and the streamer returns to idle with its data kept. High
//! Speed (`0x2006`) writes go to the script buffer. Tracing (`0x2007`) carries whatever
//! [`VirtualPod::trace`] is given. One host at a time.
//!
//! Submodules: `peripheral` the [`radio::Peripheral`](crate::radio::Peripheral) impl, connect
//! and the link's lifecycle; `gatt` the GATT link and its characteristic handling;
//! `connection` the connection task and notification delivery (radio effects); `clock` the
//! clock task, the real-time anchor and state-file saving.

mod clock;
mod connection;
mod gatt;
mod peripheral;

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::config::{ConfigError, PodConfig};
use super::model::{AdvertisementData, PodModel, StateError};
use super::store;
use crate::radio::{Advertising, BdAddr, RadioEffects};

use clock::{clock_task, Anchor};
use connection::Outgoing;
use gatt::ConnShared;

/// TileBus characteristics (16-bit UUIDs).
pub mod characteristic {
    pub const RECEIVE_HEADER: u16 = 0x2001;
    pub const RECEIVE_PAYLOAD: u16 = 0x2002;
    pub const SEND_HEADER: u16 = 0x2003;
    pub const SEND_PAYLOAD: u16 = 0x2004;
    pub const STREAMING: u16 = 0x2005;
    pub const HIGH_SPEED: u16 = 0x2006;
    pub const TRACING: u16 = 0x2007;
}

/// Largest notification (ATT default MTU).
pub const CHUNK: usize = 20;
/// Ids skipped when a POD restarts from its state file: those allocated after the last save
/// of a POD that was killed must never be reused.
pub const ID_RESERVE: u32 = 65_536;

/// Builds the advertising packets from what the POD says about itself.
pub type Advertiser = Arc<dyn Fn(&AdvertisementData) -> Advertising + Send + Sync>;

/// Why a virtual POD could not start.
#[derive(Debug, thiserror::Error)]
pub enum PodError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(
        "the state file {path} belongs to device {found:#x}, the configuration says {expected:#x}"
    )]
    WrongDevice {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("a virtual POD needs a tokio runtime to run in")]
    NoRuntime,
}

/// A virtual POD on the air. Cheap to clone (a handle).
#[derive(Clone)]
pub struct VirtualPod {
    inner: Arc<Inner>,
}

struct Inner {
    model: Mutex<PodModel>,
    address: BdAddr,
    gap_name: String,
    rssi: i16,
    speed: f64,
    state_file: Option<PathBuf>,
    runtime: tokio::runtime::Handle,
    effects: Mutex<EffectState>,
    connection: Mutex<Option<Arc<ConnShared>>>,
    next_connection: AtomicU64,
    clock: Mutex<Anchor>,
    /// Something for the connection task to look at (reports, queued notifications).
    wake: Notify,
    stop: CancellationToken,
    advertiser: Mutex<Advertiser>,
    saved_generation: AtomicU64,
    saved_id: AtomicU64,
    /// Held from snapshot to rename, so that the clock's periodic save and the one at stop
    /// never interleave (the last file written is the last state).
    saving: Mutex<()>,
}

#[derive(Default)]
struct EffectState {
    effects: RadioEffects,
    /// Notifications attempted since the effects were set (for "drop every nth").
    attempts: u64,
    /// Writes without response since the effects were set (for "buffers full every nth").
    writes: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock must not take every later caller down with it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl VirtualPod {
    /// Starts a POD: restored from its state file if it has one, else factory-fresh. Needs a
    /// tokio runtime (the clock task is spawned on it).
    pub fn new(config: PodConfig) -> Result<VirtualPod, PodError> {
        config.validate()?;
        let advertisement = config.advertisement;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| PodError::NoRuntime)?;
        let model = match &config.state_file {
            Some(path) if path.exists() => {
                let mut model = store::load(path)?;
                if model.device_id() != config.device_id {
                    return Err(PodError::WrongDevice {
                        path: path.clone(),
                        expected: config.device_id,
                        found: model.device_id(),
                    });
                }
                model.set_outputs(&config.outputs);
                model.skip_ids(ID_RESERVE);
                model
            }
            _ => PodModel::new(&config)?,
        };
        let anchor = Anchor {
            instant: Instant::now(),
            uptime: model.uptime(),
            boot: model.reboot_count(),
        };
        let inner = Arc::new(Inner {
            address: config.bd_addr()?,
            gap_name: config.gap_name.clone(),
            rssi: config.rssi,
            speed: config.clock_speed,
            state_file: config.state_file.clone(),
            runtime: runtime.clone(),
            effects: Mutex::new(EffectState::default()),
            connection: Mutex::new(None),
            next_connection: AtomicU64::new(1),
            clock: Mutex::new(anchor),
            wake: Notify::new(),
            stop: CancellationToken::new(),
            advertiser: Mutex::new(Arc::new(move |data: &AdvertisementData| {
                advertisement.packets(data)
            })),
            saved_generation: AtomicU64::new(model.generation()),
            saved_id: AtomicU64::new(u64::from(model.last_allocated_id())),
            saving: Mutex::new(()),
            model: Mutex::new(model),
        });
        if inner.state_file.is_some() {
            // Save the boot at once: a restart must never reuse reading ids.
            let _ = inner.save();
        }
        runtime.spawn(clock_task(Arc::downgrade(&inner), inner.stop.clone()));
        Ok(VirtualPod { inner })
    }

    pub fn address(&self) -> BdAddr {
        self.inner.address
    }

    pub fn device_id(&self) -> u64 {
        lock(&self.inner.model).device_id()
    }

    /// Runs `f` on the model, with its clock brought up to date first.
    pub fn with_model<R>(&self, f: impl FnOnce(&mut PodModel) -> R) -> R {
        let result = {
            let mut model = lock(&self.inner.model);
            self.inner.sync_clock(&mut model);
            f(&mut model)
        };
        self.inner.after_model_change();
        result
    }

    /// The radio faults currently applied.
    pub fn effects(&self) -> RadioEffects {
        lock(&self.inner.effects).effects.clone()
    }

    /// Applies radio faults. Going out of range drops an established link.
    pub fn set_effects(&self, effects: RadioEffects) {
        let out_of_range = effects.out_of_range;
        *lock(&self.inner.effects) = EffectState {
            effects,
            ..EffectState::default()
        };
        if out_of_range {
            self.inner.drop_link();
        }
        self.inner.wake.notify_one();
    }

    /// Replaces how advertising packets are built (by default the configured
    /// [`AdvertisementFormat`](super::advertising::AdvertisementFormat), v2 unless set).
    pub fn set_advertiser(&self, advertiser: Advertiser) {
        *lock(&self.inner.advertiser) = advertiser;
    }

    /// Sends debug bytes on the Tracing characteristic, if a host enabled it. Returns whether
    /// they were queued.
    pub fn trace(&self, bytes: &[u8]) -> bool {
        let Some(conn) = self.inner.current() else {
            return false;
        };
        if !lock(&conn.gatt).tracing {
            return false;
        }
        for chunk in bytes.chunks(CHUNK) {
            let _ = conn
                .queue
                .send(Outgoing::Notify(characteristic::TRACING, chunk.to_vec()));
        }
        self.inner.wake.notify_one();
        true
    }

    /// Whether a host is connected.
    pub fn is_connected(&self) -> bool {
        self.inner.current().is_some()
    }

    /// The POD drops the current link (as if it went away for a moment).
    pub fn drop_connection(&self) {
        self.inner.drop_link();
    }

    /// Writes the state file now (if the POD has one).
    pub fn save(&self) -> Result<(), StateError> {
        self.inner.save()
    }

    /// Stops the POD: the clock stops, a connected host sees the link drop, it no longer
    /// advertises or accepts connections, and the state is saved.
    pub fn stop(&self) -> Result<(), StateError> {
        self.inner.stop.cancel();
        self.inner.drop_link();
        self.inner.save()
    }
}
