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

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use sync_protocol::rpc::{RpcRequest, RpcResponse, MAX_PAYLOAD};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use super::config::{ConfigError, PodConfig};
use super::model::{AdvertisementData, PodModel, StateError};
use super::store;
use crate::radio::{
    Advertising, AttError, BdAddr, ConnectError, Connection, GattLink, LinkEvent, Peripheral,
    RadioEffects,
};

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
/// How often the clock task runs.
const TICK: Duration = Duration::from_millis(25);
/// Script runner steps per tick (a step is one record).
const SCRIPT_STEPS_PER_TICK: usize = 2;
/// Minimum time between two saves of the state file...
const SAVE_EVERY: Duration = Duration::from_secs(5);
/// ...unless this many ids were allocated since the last one.
const SAVE_AFTER_IDS: u32 = 1024;
/// Ids skipped when a POD restarts from its state file: those allocated after the last save
/// of a POD that was killed must never be reused.
pub const ID_RESERVE: u32 = 65_536;
/// Events a link buffers before the POD waits for the host.
const EVENT_QUEUE: usize = 64;

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
}

#[derive(Default)]
struct EffectState {
    effects: RadioEffects,
    /// Notifications attempted since the effects were set (for "drop every nth").
    attempts: u64,
}

/// Real time ↔ uptime: at `instant` the model's uptime was `uptime` (since boot `boot`).
struct Anchor {
    instant: Instant,
    uptime: u32,
    boot: u32,
}

struct ConnShared {
    id: u64,
    cancel: CancellationToken,
    /// Set by whoever ends the link: whether the host asked for it.
    host_ended: Mutex<Option<bool>>,
    /// The model's reboot count when the link opened: a reset drops the link.
    boot: u32,
    queue: mpsc::UnboundedSender<Outgoing>,
    pending_rpcs: AtomicUsize,
    gatt: Mutex<GattState>,
}

#[derive(Default)]
struct GattState {
    rpc_header_notify: bool,
    rpc_payload_notify: bool,
    streaming: bool,
    tracing: bool,
    send_payload: Vec<u8>,
    receive_header: Vec<u8>,
    receive_payload: Vec<u8>,
}

enum Outgoing {
    Notify(u16, Vec<u8>),
    /// The notifications of one RPC answer (Receive Header, then Receive Payload).
    Rpc(Vec<(u16, Vec<u8>)>),
}

/// Why the connection task stopped sending.
enum Stop {
    /// The POD dropped the link (effects, out of range, reset, stop).
    Peripheral,
    /// The host went away (disconnect, or its event receiver was dropped).
    Host,
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
            attempts: 0,
        };
        if out_of_range {
            self.inner.drop_link();
        }
        self.inner.wake.notify_one();
    }

    /// Replaces how advertising packets are built (the default is a v1 advertisement with
    /// scan response, §5.2).
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

impl Inner {
    fn current(&self) -> Option<Arc<ConnShared>> {
        lock(&self.connection).clone()
    }

    /// Moves the model's clock to real time × speed since the anchor. A reset since the last
    /// look re-anchors (uptime restarted at 0).
    fn sync_clock(&self, model: &mut PodModel) {
        if self.stop.is_cancelled() {
            // A stopped POD's clock stands still.
            return;
        }
        let mut anchor = lock(&self.clock);
        let now = Instant::now();
        if model.reboot_count() != anchor.boot || model.uptime() < anchor.uptime {
            *anchor = Anchor {
                instant: now,
                uptime: model.uptime(),
                boot: model.reboot_count(),
            };
        }
        let elapsed = now.duration_since(anchor.instant).as_secs_f64() * self.speed;
        let target = f64::from(anchor.uptime) + elapsed;
        let target = if target >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            target as u32
        };
        model.advance_to(target);
    }

    /// After the model changed outside the connection task: a reset drops the link, and the
    /// connection may have something new to send.
    fn after_model_change(&self) {
        let boot = lock(&self.model).reboot_count();
        if let Some(conn) = self.current() {
            if conn.boot != boot {
                self.end_connection(conn.id, false);
            }
        }
        self.wake.notify_one();
    }

    fn drop_link(&self) {
        if let Some(conn) = self.current() {
            self.end_connection(conn.id, false);
        }
    }

    /// Ends link `id` (idempotent): the model learns the link is gone, the connection task
    /// stops and, unless the host ended it, tells the host it was dropped.
    fn end_connection(&self, id: u64, host: bool) {
        let conn = {
            let mut slot = lock(&self.connection);
            match slot.as_ref() {
                Some(conn) if conn.id == id => slot.take(),
                _ => None,
            }
        };
        let Some(conn) = conn else {
            return;
        };
        lock(&conn.host_ended).get_or_insert(host);
        {
            let mut model = lock(&self.model);
            self.sync_clock(&mut model);
            model.link_lost();
        }
        conn.cancel.cancel();
    }

    fn save(&self) -> Result<(), StateError> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let (bytes, generation, id) = {
            let model = lock(&self.model);
            (
                model.to_bytes(),
                model.generation(),
                model.last_allocated_id(),
            )
        };
        store::write_bytes(path, &bytes)?;
        self.saved_generation.store(generation, Ordering::Relaxed);
        self.saved_id.store(u64::from(id), Ordering::Relaxed);
        Ok(())
    }

    /// One clock tick: time, script steps, resets, wake-up.
    fn tick(&self) {
        {
            let mut model = lock(&self.model);
            self.sync_clock(&mut model);
            for _ in 0..SCRIPT_STEPS_PER_TICK {
                if !model.service() {
                    break;
                }
            }
        }
        self.after_model_change();
    }
}

async fn clock_task(inner: Weak<Inner>, stop: CancellationToken) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_save = Instant::now();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = interval.tick() => {}
        }
        let Some(inner) = inner.upgrade() else {
            break;
        };
        inner.tick();
        if inner.state_file.is_none() {
            continue;
        }
        let (generation, id) = {
            let model = lock(&inner.model);
            (model.generation(), model.last_allocated_id())
        };
        let changed = generation != inner.saved_generation.load(Ordering::Relaxed);
        let ids = u64::from(id).saturating_sub(inner.saved_id.load(Ordering::Relaxed));
        if changed && (last_save.elapsed() >= SAVE_EVERY || ids >= u64::from(SAVE_AFTER_IDS)) {
            if let Err(error) = inner.save() {
                tracing::warn!(%error, "virtual POD could not save its state");
            }
            last_save = Instant::now();
        }
    }
}

impl Peripheral for VirtualPod {
    fn address(&self) -> BdAddr {
        self.inner.address
    }

    fn name(&self) -> String {
        self.inner.gap_name.clone()
    }

    fn advertising(&self) -> Option<Advertising> {
        if self.inner.stop.is_cancelled() || lock(&self.inner.effects).effects.out_of_range {
            return None;
        }
        let data = self.with_model(|model| model.advertisement_data());
        let advertiser = lock(&self.inner.advertiser).clone();
        Some(advertiser(&data))
    }

    fn rssi(&self) -> i16 {
        self.inner.rssi
    }

    fn connect(&self) -> Result<Connection, ConnectError> {
        if self.inner.stop.is_cancelled() || lock(&self.inner.effects).effects.out_of_range {
            return Err(ConnectError::OutOfRange);
        }
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let conn = {
            let mut slot = lock(&self.inner.connection);
            if slot.is_some() {
                return Err(ConnectError::Busy);
            }
            let boot = {
                let mut model = lock(&self.inner.model);
                self.inner.sync_clock(&mut model);
                model.set_user_connected(true);
                model.reboot_count()
            };
            let conn = Arc::new(ConnShared {
                id: self.inner.next_connection.fetch_add(1, Ordering::Relaxed),
                cancel: CancellationToken::new(),
                host_ended: Mutex::new(None),
                boot,
                queue: queue_tx,
                pending_rpcs: AtomicUsize::new(0),
                gatt: Mutex::new(GattState::default()),
            });
            *slot = Some(conn.clone());
            conn
        };
        self.inner.runtime.spawn(connection_task(
            self.inner.clone(),
            conn.clone(),
            queue_rx,
            events_tx,
        ));
        Ok(Connection {
            link: Box::new(PodLink {
                inner: self.inner.clone(),
                conn,
            }),
            events: events_rx,
        })
    }
}

/// One host's view of the GATT table.
struct PodLink {
    inner: Arc<Inner>,
    conn: Arc<ConnShared>,
}

impl PodLink {
    fn alive(&self) -> Result<(), AttError> {
        if self.conn.cancel.is_cancelled() {
            Err(AttError::Disconnected)
        } else {
            Ok(())
        }
    }

    fn run_rpc(&self, header: &[u8]) -> Result<(), AttError> {
        let (request, rpc_open) = {
            let gatt = lock(&self.conn.gatt);
            let mut payload = gatt.send_payload.clone();
            payload.resize(MAX_PAYLOAD, 0);
            let request =
                RpcRequest::from_header(header, &payload).map_err(|_| AttError::InvalidLength)?;
            (request, gatt.rpc_header_notify && gatt.rpc_payload_notify)
        };
        if !rpc_open {
            return Ok(());
        }
        let response = if self.conn.pending_rpcs.load(Ordering::SeqCst) > 0 {
            RpcResponse::busy()
        } else {
            let (response, reset) = {
                let mut model = lock(&self.inner.model);
                self.inner.sync_clock(&mut model);
                let boot = model.reboot_count();
                let response = model.rpc(request.address, request.rpc_id, request.payload());
                (response, model.reboot_count() != boot)
            };
            if reset {
                // The POD reset instead of answering: the host sees the link drop.
                self.inner.end_connection(self.conn.id, false);
                return Ok(());
            }
            response
        };
        let mut answer = vec![(characteristic::RECEIVE_HEADER, response.header().to_vec())];
        if RpcResponse::expects_payload(&response.header()) {
            answer.push((characteristic::RECEIVE_PAYLOAD, response.payload().to_vec()));
        }
        self.conn.pending_rpcs.fetch_add(1, Ordering::SeqCst);
        let _ = self.conn.queue.send(Outgoing::Rpc(answer));
        self.inner.after_model_change();
        Ok(())
    }
}

impl GattLink for PodLink {
    fn write(
        &mut self,
        characteristic: u16,
        value: &[u8],
        _with_response: bool,
    ) -> Result<(), AttError> {
        self.alive()?;
        match characteristic {
            characteristic::SEND_PAYLOAD => {
                if value.len() > MAX_PAYLOAD {
                    return Err(AttError::InvalidLength);
                }
                lock(&self.conn.gatt).send_payload = value.to_vec();
                Ok(())
            }
            characteristic::SEND_HEADER => self.run_rpc(value),
            characteristic::HIGH_SPEED => {
                if value.len() > 512 {
                    return Err(AttError::InvalidLength);
                }
                self.inner.with_model_raw(|model| {
                    model.script_chunk(value);
                });
                Ok(())
            }
            characteristic::RECEIVE_HEADER
            | characteristic::RECEIVE_PAYLOAD
            | characteristic::STREAMING
            | characteristic::TRACING => Err(AttError::NotPermitted),
            _ => Err(AttError::InvalidHandle),
        }
    }

    fn read(&mut self, characteristic: u16) -> Result<Vec<u8>, AttError> {
        self.alive()?;
        let gatt = lock(&self.conn.gatt);
        match characteristic {
            characteristic::RECEIVE_HEADER => Ok(gatt.receive_header.clone()),
            characteristic::RECEIVE_PAYLOAD => Ok(gatt.receive_payload.clone()),
            characteristic::STREAMING => Ok(Vec::new()),
            characteristic::SEND_HEADER
            | characteristic::SEND_PAYLOAD
            | characteristic::HIGH_SPEED
            | characteristic::TRACING => Err(AttError::NotPermitted),
            _ => Err(AttError::InvalidHandle),
        }
    }

    fn set_notify(&mut self, characteristic: u16, enabled: bool) -> Result<(), AttError> {
        self.alive()?;
        match characteristic {
            characteristic::RECEIVE_HEADER => lock(&self.conn.gatt).rpc_header_notify = enabled,
            characteristic::RECEIVE_PAYLOAD => lock(&self.conn.gatt).rpc_payload_notify = enabled,
            characteristic::TRACING => lock(&self.conn.gatt).tracing = enabled,
            characteristic::STREAMING => {
                let changed = {
                    let mut gatt = lock(&self.conn.gatt);
                    std::mem::replace(&mut gatt.streaming, enabled) != enabled
                };
                if changed {
                    self.inner.with_model_raw(|model| {
                        if enabled {
                            model.open_streaming();
                        } else {
                            model.close_streaming();
                        }
                    });
                }
            }
            characteristic::SEND_HEADER
            | characteristic::SEND_PAYLOAD
            | characteristic::HIGH_SPEED => return Err(AttError::NotPermitted),
            _ => return Err(AttError::InvalidHandle),
        }
        Ok(())
    }

    fn disconnect(&mut self) {
        self.inner.end_connection(self.conn.id, true);
    }
}

impl Drop for PodLink {
    fn drop(&mut self) {
        self.inner.end_connection(self.conn.id, true);
    }
}

impl Inner {
    fn with_model_raw(&self, f: impl FnOnce(&mut PodModel)) {
        {
            let mut model = lock(&self.model);
            self.sync_clock(&mut model);
            f(&mut model);
        }
        self.after_model_change();
    }
}

/// Sends one link's notifications in order: queued RPC answers and traces first, then the
/// reports the model hands out, chunk by chunk.
async fn connection_task(
    inner: Arc<Inner>,
    conn: Arc<ConnShared>,
    mut queue: mpsc::UnboundedReceiver<Outgoing>,
    events: mpsc::Sender<LinkEvent>,
) {
    let mut chunks: VecDeque<Vec<u8>> = VecDeque::new();
    let mut report_token = None;
    let stop = loop {
        if conn.cancel.is_cancelled() {
            break Stop::Peripheral;
        }
        match queue.try_recv() {
            Ok(item) => {
                if let Err(stop) = handle_outgoing(&inner, &conn, &events, item).await {
                    break stop;
                }
                continue;
            }
            Err(mpsc::error::TryRecvError::Disconnected) => break Stop::Host,
            Err(mpsc::error::TryRecvError::Empty) => {}
        }
        let streaming = lock(&conn.gatt).streaming;
        if let Some(token) = report_token {
            let current = streaming && lock(&inner.model).outgoing_token() == Some(token);
            if !current {
                chunks.clear();
                report_token = None;
                continue;
            }
            if let Some(chunk) = chunks.pop_front() {
                if let Err(stop) =
                    deliver(&inner, &conn, &events, characteristic::STREAMING, chunk).await
                {
                    break stop;
                }
                if chunks.is_empty() {
                    lock(&inner.model).report_delivered(token);
                    report_token = None;
                    inner.after_model_change();
                }
                continue;
            }
        }
        if streaming {
            let next = {
                let mut model = lock(&inner.model);
                inner.sync_clock(&mut model);
                model.next_report()
            };
            if let Some(report) = next {
                chunks = report.bytes.chunks(CHUNK).map(<[u8]>::to_vec).collect();
                report_token = Some(report.token);
                continue;
            }
        }
        tokio::select! {
            _ = conn.cancel.cancelled() => break Stop::Peripheral,
            item = queue.recv() => match item {
                Some(item) => {
                    if let Err(stop) = handle_outgoing(&inner, &conn, &events, item).await {
                        break stop;
                    }
                }
                None => break Stop::Host,
            },
            _ = inner.wake.notified() => {}
        }
    };
    let host_ended = match stop {
        Stop::Host => true,
        Stop::Peripheral => false,
    };
    inner.end_connection(conn.id, host_ended);
    let host_ended = lock(&conn.host_ended).unwrap_or(host_ended);
    if !host_ended {
        let _ = tokio::time::timeout(Duration::from_secs(1), events.send(LinkEvent::Disconnected))
            .await;
    }
}

async fn handle_outgoing(
    inner: &Inner,
    conn: &ConnShared,
    events: &mpsc::Sender<LinkEvent>,
    item: Outgoing,
) -> Result<(), Stop> {
    match item {
        Outgoing::Notify(characteristic, value) => {
            deliver(inner, conn, events, characteristic, value).await
        }
        Outgoing::Rpc(answer) => {
            // Taken for delivery: the next RPC is no longer "busy", and its answer queues
            // behind this one.
            conn.pending_rpcs.fetch_sub(1, Ordering::SeqCst);
            for (characteristic, value) in answer {
                {
                    let mut gatt = lock(&conn.gatt);
                    match characteristic {
                        characteristic::RECEIVE_HEADER => gatt.receive_header = value.clone(),
                        _ => gatt.receive_payload = value.clone(),
                    }
                }
                deliver(inner, conn, events, characteristic, value).await?;
            }
            Ok(())
        }
    }
}

/// Sends one notification through the radio effects.
async fn deliver(
    inner: &Inner,
    conn: &ConnShared,
    events: &mpsc::Sender<LinkEvent>,
    characteristic: u16,
    value: Vec<u8>,
) -> Result<(), Stop> {
    let delay = lock(&inner.effects).effects.notification_delay;
    if let Some(delay) = delay {
        tokio::select! {
            _ = conn.cancel.cancelled() => return Err(Stop::Peripheral),
            _ = tokio::time::sleep(delay) => {}
        }
    }
    {
        let mut state = lock(&inner.effects);
        if state.effects.out_of_range {
            return Err(Stop::Peripheral);
        }
        if state.effects.disconnect_after_notifications == Some(0) {
            state.effects.disconnect_after_notifications = None;
            return Err(Stop::Peripheral);
        }
        state.attempts += 1;
        if let Some(n) = state.effects.drop_every_nth_notification {
            if n >= 2 && state.attempts % n == 0 {
                return Ok(());
            }
        }
    }
    let event = LinkEvent::Notify {
        characteristic,
        value,
    };
    tokio::select! {
        _ = conn.cancel.cancelled() => return Err(Stop::Peripheral),
        sent = events.send(event) => sent.map_err(|_| Stop::Host)?,
    }
    let mut state = lock(&inner.effects);
    if let Some(remaining) = &mut state.effects.disconnect_after_notifications {
        *remaining = remaining.saturating_sub(1);
        if *remaining == 0 {
            state.effects.disconnect_after_notifications = None;
            return Err(Stop::Peripheral);
        }
    }
    Ok(())
}
