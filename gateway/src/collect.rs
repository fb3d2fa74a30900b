//! One visit to a POD: connect, stream its reports, keep each report durably, then tell the
//! POD what it may free. The POD frees data only on acknowledgement, so a visit cut short
//! loses nothing: the next visit streams the same readings again.
//!
//! A hash-signed report is verified here. A report signed with a user or device key cannot
//! be (the gateway holds no POD keys): it is kept and forwarded, and the cloud, which holds
//! the keys, verifies it. Bytes that do not decode, or whose signature fails, are kept aside
//! in the buffer's quarantine, never synced as data, and nothing after them is acknowledged.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sync_protocol::bgapi::BdAddr;
use sync_protocol::ids::DeviceId;
use sync_protocol::report::{SignedListReport, Verification};

use crate::buffer::{Buffer, BufferError, NewReport, ReportKind};
use crate::config::AckPolicy;
use crate::transport::{Connection, RpcAnswer, Transport, TransportError, CONTROLLER};

/// RPC ids of the controller's sensor log and streamer interface.
const COUNT_READINGS: u16 = 0x2001;
const QUERY_STREAMER: u16 = 0x200A;
const ACK_STREAMER: u16 = 0x200F;
const TRIGGER_STREAMER: u16 = 0x2010;
/// Byte of the 0x200A status that stays non-zero while the streamer is still sending.
const COMM_STATUS_AT: usize = 18;
const BUSY_RETRIES: usize = 5;
const BUSY_BACKOFF: Duration = Duration::from_millis(50);

/// What a visit does.
#[derive(Debug, Clone)]
pub struct VisitOptions {
    /// Streamers to trigger (0 is the signed-list streamer of user data).
    pub streamers: Vec<u16>,
    /// Acknowledgements known before the visit (what the buffer or the cloud holds), sent
    /// before asking for data so the POD streams only what is new.
    pub known_acks: Vec<(u16, u32)>,
    /// Whether reports stored in this visit are acknowledged before it ends (`Custody`), or
    /// only at a later visit, through `known_acks`, once the cloud has them (`Cloud`).
    pub policy: AckPolicy,
    /// How long the POD may stay quiet before its streamers are asked if they are done.
    pub idle: Duration,
    /// The whole visit's limit.
    pub limit: Duration,
    pub rpc_timeout: Duration,
}

impl Default for VisitOptions {
    fn default() -> Self {
        VisitOptions {
            streamers: vec![0],
            known_acks: Vec::new(),
            policy: AckPolicy::Custody,
            idle: Duration::from_secs(2),
            limit: Duration::from_secs(60),
            rpc_timeout: crate::transport::DEFAULT_RPC_TIMEOUT,
        }
    }
}

/// What a visit achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisitSummary {
    pub stored: usize,
    pub readings: usize,
    /// Reports that did not decode or verify: quarantined, and not acknowledged.
    pub rejected: usize,
    /// Per streamer, the highest reading id acknowledged to the POD.
    pub acknowledged: BTreeMap<u16, u32>,
}

impl VisitSummary {
    /// Records in the buffer what the visit acknowledged to the POD, so the next visit
    /// starts from there.
    pub fn record_acks(&self, buffer: &mut Buffer, device: DeviceId) -> Result<(), BufferError> {
        for (&streamer, &id) in &self.acknowledged {
            buffer.record_ack(device, streamer, id)?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("the report could not be stored: {0}")]
    Store(String),
    #[error("RPC {rpc_id:#06x} failed: {answer:?}")]
    Rpc { rpc_id: u16, answer: RpcAnswer },
    #[error("the POD was still streaming when the visit's {0:?} ran out")]
    TooLong(Duration),
}

/// What a visit hands to its store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A report to keep until the cloud has it.
    Report(NewReport),
    /// Bytes to keep aside, with why they are not data.
    Rejected { raw: Vec<u8>, reason: String },
}

/// The future a store callback returns.
pub type StoreFuture = Pin<Box<dyn Future<Output = Result<(), CollectError>> + Send>>;

/// A store callback writing into the buffer, on the blocking pool (the buffer is synchronous).
/// A report whose readings the buffer or the cloud already holds (one the POD sent again
/// because its acknowledgement was lost, or under the `cloud` policy) is not stored twice.
pub fn into_buffer(
    buffer: Arc<Mutex<Buffer>>,
) -> impl FnMut(Received) -> StoreFuture + Send + 'static {
    move |received| {
        let buffer = buffer.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut buffer = buffer
                    .lock()
                    .map_err(|_| CollectError::Store("the buffer lock is poisoned".into()))?;
                let report = match received {
                    Received::Report(report) => report,
                    Received::Rejected { raw, reason } => {
                        tracing::warn!(%reason, bytes = raw.len(), "a POD sent a bad report; kept aside");
                        return buffer
                            .quarantine(&raw, &reason, now_us())
                            .map(|_| ())
                            .map_err(|e| CollectError::Store(e.to_string()));
                    }
                };
                let held = buffer
                    .holds_to(report.device, report.streamer)
                    .map_err(|e| CollectError::Store(e.to_string()))?;
                if held.is_some_and(|held| report.last_reading_id <= held) {
                    tracing::debug!(device = %report.device, streamer = report.streamer,
                        last = report.last_reading_id, "report already held; not stored again");
                    return Ok(());
                }
                buffer
                    .store(&report)
                    .map(|_| ())
                    .map_err(|e| CollectError::Store(e.to_string()))
            })
            .await
            .map_err(|e| CollectError::Store(e.to_string()))?
        })
    }
}

/// The acknowledgements to send at the start of a visit to `device`: under `custody`, up to
/// what the buffer or the cloud holds; under `cloud`, up to what the cloud confirmed.
pub fn known_acks(
    buffer: &Buffer,
    device: DeviceId,
    policy: AckPolicy,
    streamers: &[u16],
) -> Result<Vec<(u16, u32)>, crate::buffer::BufferError> {
    let mut acks = Vec::new();
    for &streamer in streamers {
        let known = match policy {
            AckPolicy::Custody => buffer.holds_to(device, streamer)?,
            AckPolicy::Cloud => buffer.cloud_has(device, streamer)?,
        };
        acks.extend(known.filter(|&id| id > 0).map(|id| (streamer, id)));
    }
    Ok(acks)
}

/// What a visit tells as it goes, for whoever watches it (a technician's progress bar).
pub trait Progress: Send {
    /// Whether anyone watches: the count below costs an RPC a gateway need not make.
    fn watching(&self) -> bool {
        true
    }
    /// The readings in the POD's streaming log (RPC `0x2001`), read before streaming
    /// starts: an estimate of what the visit brings, since the log keeps readings already
    /// acknowledged until they are overwritten.
    fn holding(&mut self, _readings: u32) {}
    /// Told now and then while a report comes in: the report bytes received on the link
    /// so far, whole reports and the one still arriving.
    fn arriving(&mut self, _received: u64) {}
    /// A report was received and stored.
    fn stored(&mut self, _readings: usize, _bytes: usize) {}
}

/// Nobody watching.
impl Progress for () {
    fn watching(&self) -> bool {
        false
    }
}

/// Visits the POD at `address`: every verified report goes to `store`, and only once it is
/// stored (and, under the `cloud` policy, once the cloud has it) is the POD told it may free
/// those readings. The link is closed in all cases.
pub async fn visit<T, S>(
    transport: &T,
    address: BdAddr,
    options: &VisitOptions,
    store: S,
) -> Result<VisitSummary, CollectError>
where
    T: Transport,
    S: FnMut(Received) -> StoreFuture + Send,
{
    visit_watched(transport, address, options, store, &mut ()).await
}

/// [`visit`], telling `progress` how it goes.
pub async fn visit_watched<T, S>(
    transport: &T,
    address: BdAddr,
    options: &VisitOptions,
    store: S,
    progress: &mut dyn Progress,
) -> Result<VisitSummary, CollectError>
where
    T: Transport,
    S: FnMut(Received) -> StoreFuture + Send,
{
    let mut connection = transport.connect(address).await?;
    let outcome = collect(&mut connection, options, store, progress).await;
    let closed = connection.disconnect().await;
    let summary = outcome?;
    // A link that failed only while closing has done its work.
    if let Err(error) = closed {
        tracing::debug!(%error, %address, "the link did not close cleanly");
    }
    Ok(summary)
}

async fn collect<C, S>(
    connection: &mut C,
    options: &VisitOptions,
    mut store: S,
    progress: &mut dyn Progress,
) -> Result<VisitSummary, CollectError>
where
    C: Connection,
    S: FnMut(Received) -> StoreFuture + Send,
{
    let deadline = tokio::time::Instant::now() + options.limit;
    let mut summary = VisitSummary::default();
    for &(streamer, id) in &options.known_acks {
        // Old values are refused by the POD and harmless.
        ack(connection, options, streamer, id).await?;
        summary.acknowledged.insert(streamer, id);
    }
    // Only a watcher's estimate: a POD that cannot count still gives its data.
    if progress.watching() {
        if let Ok(answer) = call(connection, options, COUNT_READINGS, &[]).await {
            if let Some(streaming) = answer.get(8..12) {
                let mut word = [0u8; 4];
                word.copy_from_slice(streaming);
                progress.holding(u32::from_le_bytes(word));
            }
        }
    }
    connection.open_streaming().await?;
    for &streamer in &options.streamers {
        call(
            connection,
            options,
            TRIGGER_STREAMER,
            &streamer.to_le_bytes(),
        )
        .await?;
    }
    let mut highest: BTreeMap<u16, u32> = BTreeMap::new();
    let mut frozen = false;
    loop {
        if tokio::time::Instant::now() >= deadline {
            return Err(CollectError::TooLong(options.limit));
        }
        let bytes = match next_report(connection, options.idle, progress).await {
            Ok(bytes) => bytes,
            Err(TransportError::Timeout(..)) => {
                if streamers_idle(connection, options).await? {
                    break;
                }
                continue;
            }
            Err(other) => return Err(other.into()),
        };
        let report = match checked(&bytes) {
            Ok(report) => report,
            Err(reason) => {
                // Acknowledging anything after this report would free its readings unseen.
                summary.rejected += 1;
                frozen = true;
                store(Received::Rejected { raw: bytes, reason }).await?;
                continue;
            }
        };
        let streamer = u16::from(report.header.streamer);
        let count = report.reading_count();
        let bytes_len = bytes.len();
        store(Received::Report(NewReport {
            device: DeviceId::from_u32(report.header.device_id),
            streamer,
            report_id: report.header.report_id,
            first_reading_id: report.lowest_id,
            last_reading_id: report.highest_id,
            reading_count: u32::try_from(count).unwrap_or(u32::MAX),
            kind: ReportKind::SignedList,
            raw: bytes,
            received_at_us: now_us(),
        }))
        .await?;
        summary.stored += 1;
        summary.readings += count;
        progress.stored(count, bytes_len);
        if report.highest_id != 0 && !frozen {
            let entry = highest.entry(streamer).or_default();
            *entry = (*entry).max(report.highest_id);
        }
    }
    if options.policy == AckPolicy::Custody {
        for (streamer, id) in highest {
            ack(connection, options, streamer, id).await?;
            let entry = summary.acknowledged.entry(streamer).or_default();
            *entry = (*entry).max(id);
        }
    }
    Ok(summary)
}

/// How often a watcher is told the bytes of a report still arriving.
const ARRIVING_TICK: Duration = Duration::from_millis(100);

/// The connection's next whole report within `idle`; a watcher is told the bytes as they
/// arrive (a report of thousands of readings takes seconds over the air).
async fn next_report<C: Connection>(
    connection: &mut C,
    idle: Duration,
    progress: &mut dyn Progress,
) -> Result<Vec<u8>, TransportError> {
    if !progress.watching() {
        return connection.next_report(idle).await;
    }
    // A connection keeps a partial report across calls, so waiting in slices loses nothing.
    let deadline = tokio::time::Instant::now() + idle;
    let mut told = connection.report_bytes();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match connection.next_report(left.min(ARRIVING_TICK)).await {
            Err(TransportError::Timeout(..)) if left > ARRIVING_TICK => {
                let received = connection.report_bytes();
                if received != told {
                    progress.arriving(received);
                    told = received;
                }
            }
            other => return other,
        }
    }
}

/// A signed-list report whose hash signature checks, or that is signed with a key only the
/// cloud holds; otherwise why not.
fn checked(bytes: &[u8]) -> Result<SignedListReport, String> {
    let report = SignedListReport::decode(bytes).map_err(|e| format!("does not decode: {e}"))?;
    match report.verify(None) {
        Verification::Verified | Verification::NoKey => Ok(report),
        Verification::Failed => Err("the signature does not match the report".into()),
    }
}

/// Whether every triggered streamer has sent its last chunk (comm status 0).
async fn streamers_idle<C: Connection>(
    connection: &mut C,
    options: &VisitOptions,
) -> Result<bool, CollectError> {
    for &streamer in &options.streamers {
        let status = call(connection, options, QUERY_STREAMER, &streamer.to_le_bytes()).await?;
        if status.get(COMM_STATUS_AT).is_some_and(|&s| s != 0) {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn ack<C: Connection>(
    connection: &mut C,
    options: &VisitOptions,
    streamer: u16,
    id: u32,
) -> Result<(), CollectError> {
    let mut payload = streamer.to_le_bytes().to_vec();
    payload.extend_from_slice(&0u16.to_le_bytes());
    payload.extend_from_slice(&id.to_le_bytes());
    // The answer's error code says whether the cursor moved; either way the POD holds no
    // more than it did.
    call(connection, options, ACK_STREAMER, &payload).await?;
    Ok(())
}

async fn call<C: Connection>(
    connection: &mut C,
    options: &VisitOptions,
    rpc_id: u16,
    payload: &[u8],
) -> Result<Vec<u8>, CollectError> {
    let mut attempts = 0;
    loop {
        match connection
            .rpc(CONTROLLER, rpc_id, payload, options.rpc_timeout)
            .await?
        {
            RpcAnswer::Ok(answer) => return Ok(answer),
            // A busy tile asks to be called again shortly.
            RpcAnswer::Busy if attempts < BUSY_RETRIES => {
                attempts += 1;
                tokio::time::sleep(BUSY_BACKOFF).await;
            }
            answer => return Err(CollectError::Rpc { rpc_id, answer }),
        }
    }
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
