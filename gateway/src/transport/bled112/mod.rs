//! The BLED112 dongle: BGAPI over a USB serial port (230 400 baud).
//!
//! One reader task owns the port's input: it hands each response to the single command in
//! flight, advertisements to the scanners and every connection event to that connection's
//! queue, so events that arrive while the host waits for something else are never lost.
//! Commands go out one at a time, each waiting for its response before the next.
//!
//! The dongle makes one link at a time, so connects take turns. A link that comes up with
//! nobody to own it (the connect's deadline passed just as the POD answered) is closed at
//! once: left open, it would hold the POD, which then reports another user connected and is
//! never visited again by anyone.

mod link;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sync_protocol::bgapi::{codes, BdAddr, Command, Event, PacketReader, Response};
use sync_protocol::ble::{is_v1, Advertisement};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;
use tokio_serial::{SerialPortBuilderExt, SerialStream};

pub use link::{Bled112Connection, Bled112Link};

use super::{Seen, Transport, TransportError};

/// A command's response comes at once; a dongle silent this long is gone.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// The dongle reports each connection slot right after 0/6.
const SLOT_EVENT_TIMEOUT: Duration = Duration::from_millis(500);
/// A link comes up within 4 s of the connect's response or not at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);
/// How often a connect that failed to be established is retried.
const CONNECT_ATTEMPTS: usize = 4;
const SCAN_QUEUE: usize = 256;
/// At open, how long input is read and dropped before the first command.
const STALE_INPUT: Duration = Duration::from_millis(100);

type EventQueue = mpsc::UnboundedReceiver<Event>;

/// What the reader task and the callers share.
struct State {
    /// The command in flight (its class and id) waits here for its response.
    pending: Option<((u8, u8), oneshot::Sender<Response>)>,
    scanners: Vec<mpsc::Sender<Seen>>,
    /// v1 advertisements waiting for their scan response.
    v1_adverts: HashMap<BdAddr, Vec<u8>>,
    /// Event queues per connection handle; `queues[h]` is `None` while a connection holds it.
    routes: Vec<mpsc::UnboundedSender<Event>>,
    queues: Vec<Option<EventQueue>>,
    /// Set once the port fails: every later operation fails fast.
    gone: Option<String>,
}

struct Driver {
    state: Mutex<State>,
    /// Held for the whole command/response exchange: one command in flight.
    writer: tokio::sync::Mutex<WriteHalf<SerialStream>>,
    /// Held for a whole connect procedure: a second 6/3 would be refused, and its 6/4
    /// would cancel the first.
    connecting: tokio::sync::Mutex<()>,
    /// Dropped with the driver, which stops the reader and closes the port.
    _stop: oneshot::Sender<()>,
}

/// A BLED112 dongle, opened and reset to a known state.
#[derive(Clone)]
pub struct Bled112 {
    driver: Arc<Driver>,
    max_connections: usize,
}

impl Bled112 {
    /// Opens the dongle's serial port, disconnects links left over from an earlier host and
    /// stops any scan or advertising.
    pub async fn open(path: &Path) -> Result<Bled112, TransportError> {
        let port = tokio_serial::new(path.to_string_lossy(), 230_400)
            .open_native_async()
            .map_err(|e| TransportError::Radio(format!("{}: {e}", path.display())))?;
        let (reader, writer) = tokio::io::split(port);
        let (stop, stopped) = oneshot::channel();
        let driver = Arc::new(Driver {
            state: Mutex::new(State {
                pending: None,
                scanners: Vec::new(),
                v1_adverts: HashMap::new(),
                routes: Vec::new(),
                queues: Vec::new(),
                gone: None,
            }),
            writer: tokio::sync::Mutex::new(writer),
            connecting: tokio::sync::Mutex::new(()),
            _stop: stop,
        });
        tokio::spawn(read_port(reader, Arc::downgrade(&driver), stopped));
        // What the dongle still had to say to an earlier host arrives now and is dropped.
        tokio::time::sleep(STALE_INPUT).await;

        // Slot queues must exist before 0/6, whose slot events follow its response.
        let max = {
            let (tx, rx): (Vec<_>, Vec<_>) = (0..8).map(|_| mpsc::unbounded_channel()).unzip();
            {
                let mut state = driver.lock();
                state.routes = tx;
                state.queues = rx.into_iter().map(Some).collect();
            }
            match driver.call(Command::SystemGetConnections).await? {
                Response::SystemGetConnections { max_connections } => {
                    usize::from(max_connections).clamp(1, 8)
                }
                other => return Err(unexpected(&other)),
            }
        };
        for slot in 0..max {
            let Some(mut queue) = driver.take_queue(slot) else {
                continue;
            };
            let in_use = timeout(SLOT_EVENT_TIMEOUT, async {
                while let Some(event) = queue.recv().await {
                    if let Event::ConnectionStatus { flags, .. } = event {
                        return flags != 0;
                    }
                }
                false
            })
            .await
            .unwrap_or(false);
            if in_use {
                let connection = slot as u8;
                driver
                    .call(Command::ConnectionDisconnect { connection })
                    .await?;
                let _ = timeout(link::DISCONNECT_TIMEOUT, async {
                    while let Some(event) = queue.recv().await {
                        if matches!(event, Event::ConnectionDisconnected { .. }) {
                            break;
                        }
                    }
                })
                .await;
            }
            driver.put_queue(slot, queue);
        }
        driver.lock().queues.truncate(max);
        // 0x0181 (nothing to stop) is the usual answer.
        driver.call(Command::GapEndProcedure).await?;
        driver
            .call(Command::GapSetMode {
                discover: 0,
                connect: 0,
            })
            .await?;
        Ok(Bled112 {
            driver,
            max_connections: max,
        })
    }
}

impl Transport for Bled112 {
    type Connection = Bled112Connection;

    fn max_connections(&self) -> usize {
        self.max_connections
    }

    async fn scan(&self) -> Result<mpsc::Receiver<Seen>, TransportError> {
        let (tx, rx) = mpsc::channel(SCAN_QUEUE);
        self.driver.lock().scanners.push(tx);
        self.driver.start_scan().await?;
        Ok(rx)
    }

    async fn connect(&self, address: BdAddr) -> Result<Bled112Connection, TransportError> {
        let connection = match self.driver.open_link(address, self.max_connections).await {
            Ok((handle, queue)) => Bled112Link::start(self.driver.clone(), handle, queue).await,
            Err(error) => Err(error),
        };
        // Connecting stopped the scan, whether or not the link came up; the host restarts it
        // (the dongle never does), or every POD would go unheard after one failed connect.
        self.driver.resume_scan().await;
        connection
    }
}

impl Driver {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another task panicked mid-update; the data is plain.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_queue(&self, slot: usize) -> Option<EventQueue> {
        self.lock().queues.get_mut(slot).and_then(Option::take)
    }

    fn put_queue(&self, slot: usize, queue: EventQueue) {
        if let Some(entry) = self.lock().queues.get_mut(slot) {
            *entry = Some(queue);
        }
    }

    /// Sends a command and returns its response.
    async fn call(&self, command: Command) -> Result<Response, TransportError> {
        let packet = command
            .encode()
            .map_err(|e| TransportError::Protocol(e.to_string()))?;
        let mut writer = self.writer.lock().await;
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.lock();
            if let Some(reason) = &state.gone {
                return Err(TransportError::Radio(reason.clone()));
            }
            state.pending = Some((command.class_id(), tx));
        }
        writer
            .write_all(&packet.encode())
            .await
            .map_err(|e| TransportError::Radio(format!("write: {e}")))?;
        let response = match timeout(RESPONSE_TIMEOUT, rx).await {
            Ok(Ok(response)) => response,
            Ok(Err(_)) => return Err(TransportError::Radio("the dongle went away".into())),
            Err(_) => {
                self.lock().pending = None;
                return Err(TransportError::Timeout(
                    RESPONSE_TIMEOUT,
                    "a BGAPI response",
                ));
            }
        };
        drop(writer);
        if response.answers(&command) {
            Ok(response)
        } else {
            Err(TransportError::Protocol(format!(
                "{response:?} does not answer {command:?}"
            )))
        }
    }

    async fn start_scan(&self) -> Result<(), TransportError> {
        self.call(Command::coretools_scan_parameters(true)).await?;
        // 0x0181: already scanning.
        match self.call(Command::GapDiscover { mode: 2 }).await?.result() {
            Some(codes::SUCCESS | codes::WRONG_STATE) => Ok(()),
            other => Err(TransportError::Radio(format!("gap_discover: {other:?}"))),
        }
    }

    /// Restarts scanning if anyone still listens.
    async fn resume_scan(&self) {
        let wanted = {
            let mut state = self.lock();
            state.scanners.retain(|s| !s.is_closed());
            !state.scanners.is_empty()
        };
        if wanted {
            if let Err(error) = self.start_scan().await {
                tracing::warn!(%error, "BLED112: scanning did not restart");
            }
        }
    }

    /// 6/4 then 6/3, retried when the link fails to be established; returns the connection
    /// handle and its event queue once the link is up.
    async fn open_link(
        &self,
        address: BdAddr,
        max: usize,
    ) -> Result<(u8, EventQueue), TransportError> {
        let _turn = self.connecting.lock().await;
        let mut last = String::new();
        for _ in 0..CONNECT_ATTEMPTS {
            if self.lock().queues.iter().all(Option::is_none) {
                return Err(TransportError::Busy(max));
            }
            self.close_stray_links().await;
            self.call(Command::GapEndProcedure).await?;
            let (result, handle) = match self.call(Command::connect(address)).await? {
                Response::GapConnectDirect { result, connection } => (result, connection),
                other => return Err(unexpected(&other)),
            };
            if result != codes::SUCCESS {
                return Err(TransportError::ConnectFailed(format!(
                    "gap_connect_direct: {}",
                    codes::result_text(result)
                )));
            }
            let slot = usize::from(handle);
            let Some(mut queue) = self.take_queue(slot) else {
                return Err(TransportError::Protocol(format!(
                    "the dongle gave handle {handle}, which is in use or out of range"
                )));
            };
            let up = timeout(CONNECT_TIMEOUT, async {
                while let Some(event) = queue.recv().await {
                    match event {
                        Event::ConnectionStatus {
                            flags, address: a, ..
                        } if flags != 0 && a == address => return Some(Ok(())),
                        Event::ConnectionDisconnected { reason, .. } => return Some(Err(reason)),
                        _ => {}
                    }
                }
                None
            })
            .await;
            match up {
                Ok(Some(Ok(()))) => return Ok((handle, queue)),
                Ok(Some(Err(reason))) => {
                    last = codes::result_text(reason).to_string();
                    self.put_queue(slot, queue);
                    if reason != codes::CONNECTION_FAILED_TO_BE_ESTABLISHED {
                        break;
                    }
                }
                Ok(None) => {
                    return Err(TransportError::Radio("the dongle went away".into()));
                }
                Err(_) => {
                    // Cancel the pending connect. A link that came up meanwhile reported it
                    // before the dongle answers (one ordered stream): it is in the queue now.
                    let _ = self.call(Command::GapEndProcedure).await;
                    self.close_if_up(handle, &mut queue).await;
                    self.put_queue(slot, queue);
                    return Err(TransportError::Timeout(
                        CONNECT_TIMEOUT,
                        "the link to come up",
                    ));
                }
            }
        }
        Err(TransportError::ConnectFailed(last))
    }

    /// Free slots carry nothing live: old events are dropped, and a link that came up in
    /// one with nobody to own it is closed.
    async fn close_stray_links(&self) {
        let slots = self.lock().queues.len();
        for slot in 0..slots {
            if let Some(mut queue) = self.take_queue(slot) {
                self.close_if_up(slot as u8, &mut queue).await;
                self.put_queue(slot, queue);
            }
        }
    }

    /// Reads what `queue` (a slot nobody owns) received; when it says the link came up and
    /// nothing since says it went down, disconnects it.
    async fn close_if_up(&self, connection: u8, queue: &mut EventQueue) {
        let mut up = None;
        while let Ok(event) = queue.try_recv() {
            match event {
                Event::ConnectionStatus { flags, address, .. } if flags != 0 => {
                    up = Some(address);
                }
                Event::ConnectionDisconnected { .. } => up = None,
                _ => {}
            }
        }
        let Some(address) = up else { return };
        tracing::warn!(%address, connection, "BLED112: closing a link that came up after its connect gave up");
        if self
            .call(Command::ConnectionDisconnect { connection })
            .await
            .is_ok()
        {
            let _ = timeout(link::DISCONNECT_TIMEOUT, async {
                while let Some(event) = queue.recv().await {
                    if matches!(event, Event::ConnectionDisconnected { .. }) {
                        break;
                    }
                }
            })
            .await;
        }
    }

    /// Handles one packet from the dongle.
    fn dispatch(&self, message: Message) {
        let mut state = self.lock();
        match message {
            Message::Response(response) => match state.pending.take() {
                Some((awaited, waiter)) if response.class_id() == awaited => {
                    let _ = waiter.send(response);
                }
                // The answer to a command of a host that died before reading it (a gateway
                // killed mid-command): not ours.
                other => {
                    state.pending = other;
                    tracing::debug!(?response, "BLED112: a response nobody waits for; dropped");
                }
            },
            Message::Event(Event::ScanResponse {
                rssi,
                packet_type,
                address,
                data,
                ..
            }) => state.advertised(address, packet_type, data, i16::from(rssi)),
            Message::Event(event) => {
                let Some(handle) = event.connection() else {
                    return;
                };
                if let Some(route) = state.routes.get(usize::from(handle)) {
                    let _ = route.send(event);
                }
            }
        }
    }
}

impl State {
    fn advertised(&mut self, address: BdAddr, packet_type: u8, data: Vec<u8>, rssi: i16) {
        use sync_protocol::bgapi::scan_packet_type as kind;
        let parsed = if packet_type == kind::SCAN_RESPONSE {
            // v1: the scan response completes the advertisement heard just before it.
            let Some(adv) = self.v1_adverts.remove(&address) else {
                return;
            };
            Advertisement::parse(&adv, Some(&data), None)
        } else if is_v1(&data) {
            if self.v1_adverts.len() > 1024 {
                self.v1_adverts.clear();
            }
            self.v1_adverts.insert(address, data);
            return;
        } else {
            Advertisement::parse(&data, None, None)
        };
        let Ok(advertisement) = parsed else {
            return;
        };
        let seen = Seen::from_advertisement(address, rssi, advertisement);
        self.scanners.retain(|s| !s.is_closed());
        for scanner in &self.scanners {
            // A scanner that falls behind misses this one; the POD advertises again soon.
            let _ = scanner.try_send(seen.clone());
        }
    }
}

enum Message {
    Response(Response),
    Event(Event),
}

/// Reads the port until it fails or the transport is dropped.
async fn read_port(
    mut port: ReadHalf<SerialStream>,
    driver: std::sync::Weak<Driver>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut reader = PacketReader::new();
    let mut buf = [0u8; 512];
    let reason = loop {
        let read = tokio::select! {
            _ = &mut stopped => return,
            read = port.read(&mut buf) => read,
        };
        let n = match read {
            Ok(0) => break "the serial port closed".to_string(),
            Ok(n) => n,
            Err(e) => break format!("the serial port failed: {e}"),
        };
        let Some(driver) = driver.upgrade() else {
            return;
        };
        reader.push(&buf[..n]);
        while let Some(next) = reader.pop() {
            let Ok(packet) = next else {
                tracing::warn!("BLED112: skipped bytes that are not BGAPI");
                continue;
            };
            let message = if packet.event {
                Event::decode(&packet).map(Message::Event)
            } else {
                Response::decode(&packet).map(Message::Response)
            };
            match message {
                Ok(message) => driver.dispatch(message),
                Err(error) => tracing::warn!(%error, "BLED112: undecodable packet"),
            }
        }
    };
    if let Some(driver) = driver.upgrade() {
        let mut state = driver.lock();
        tracing::error!(%reason, "BLED112: the dongle is gone");
        state.gone = Some(reason);
        state.pending = None;
        // Closing every route ends each connection's queue: its operations fail at once.
        state.routes.clear();
        state.scanners.clear();
    }
}

fn unexpected(response: &Response) -> TransportError {
    TransportError::Protocol(format!("unexpected response {response:?}"))
}
