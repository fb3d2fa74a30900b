//! The gateway's side of the OTA bench: virtual PODs behind virtual BLED112 dongles on ptys,
//! the gateway's BLED112 transport on each, and [`Metered`], a thin transport wrapper that
//! counts what crosses the [`Connection`] interface and can hide the high-speed script
//! channel, so that the update visit sends its script as `0x2101` RPC chunks instead.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use firmware_tools::pod::{PodConfig, VirtualPod};
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::Peripheral;
use gateway::transport::bled112::Bled112;
use gateway::transport::{Connection, RpcAnswer, Seen, Transport, TransportError};
use sync_protocol::bgapi::BdAddr;
use sync_protocol::ids::DeviceId;
use tokio::sync::mpsc;

/// Device ids of the bench PODs: `FIRST_DEVICE`, `FIRST_DEVICE + 1`, …
pub const FIRST_DEVICE: u32 = 0x100;
/// The stream the PODs' waiting readings are in.
pub const STREAM: u16 = 0x5001;

/// Remote bridge RPCs that open and close a script upload (spec 3.8).
const BRIDGE_BEGIN: u16 = 0x2100;
const BRIDGE_END: u16 = 0x2102;

pub struct Shape {
    pub pods: usize,
    pub dongles: usize,
    /// Connection slots of each dongle (a real BLED112 has 3).
    pub connections: u8,
    /// Readings waiting in each POD, for the collection visits.
    pub backlog: u32,
}

/// PODs with the factory app (tag 2049 v1.0) and `backlog` readings waiting, spread evenly
/// over the dongles, each in range of one; a BLED112 transport open on every dongle, and
/// scanning, as the gateway daemon always is.
pub struct Rig {
    pub pods: Vec<VirtualPod>,
    /// Per dongle: its transport and the PODs in its range.
    pub dongles: Vec<(Bled112, Vec<(BdAddr, DeviceId)>)>,
    radios: Vec<VirtualBled112>,
    _scans: Vec<mpsc::Receiver<Seen>>,
}

impl Rig {
    pub async fn start(shape: &Shape) -> Rig {
        let pods: Vec<VirtualPod> = (0..shape.pods as u32)
            .map(|d| pod(FIRST_DEVICE + d, shape.backlog))
            .collect();
        let mut radios = Vec::new();
        let mut dongles = Vec::new();
        let mut scans = Vec::new();
        for k in 0..shape.dongles {
            let in_range: Vec<&VirtualPod> = pods.iter().skip(k).step_by(shape.dongles).collect();
            let peripherals: Vec<Arc<dyn Peripheral>> = in_range
                .iter()
                .map(|p| Arc::new((*p).clone()) as Arc<dyn Peripheral>)
                .collect();
            let options = DongleOptions {
                max_connections: shape.connections,
                ..DongleOptions::default()
            };
            let radio = VirtualBled112::start(peripherals, options).unwrap();
            let transport = Bled112::open(radio.path()).await.unwrap();
            scans.push(transport.scan().await.unwrap());
            let targets = in_range
                .iter()
                .map(|p| (p.address(), DeviceId::new(p.device_id()).unwrap()))
                .collect();
            dongles.push((transport, targets));
            radios.push(radio);
        }
        Rig {
            pods,
            dongles,
            radios,
            _scans: scans,
        }
    }

    /// Waits (at most `within`) until no POD holds a link; returns how many still do.
    pub async fn links_left(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            let left = self.pods.iter().filter(|p| p.is_connected()).count();
            if left == 0 || Instant::now() >= deadline {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(self) {
        drop(self.dongles);
        for radio in self.radios {
            radio.stop().await;
        }
    }
}

/// A POD with no schedule of its own, the factory app, and `backlog` readings waiting.
fn pod(device: u32, backlog: u32) -> VirtualPod {
    let config = PodConfig {
        outputs: Vec::new(),
        trigger_on_connect: false,
        ..PodConfig::with_device_id(u64::from(device))
    };
    let pod = VirtualPod::new(config).unwrap();
    pod.with_model(|model| {
        for n in 0..backlog {
            model.push_reading(STREAM, n).unwrap();
        }
    });
    pod
}

/// What crossed the connections of a [`Metered`] transport.
#[derive(Default)]
pub struct Meter {
    /// Bytes the gateway sent: RPC payloads and script channel bytes.
    pub sent: AtomicU64,
    pub rpcs: AtomicU64,
    /// Bytes of whole reports received.
    pub received: AtomicU64,
    /// Per script upload, the time from `0x2100` to the answer of `0x2102`.
    pub transfers: Mutex<Vec<Duration>>,
}

/// A transport whose connections count what they carry and, with `script_channel` false,
/// say the POD has no high-speed channel.
pub struct Metered<T> {
    inner: T,
    script_channel: bool,
    meter: Arc<Meter>,
}

impl<T> Metered<T> {
    pub fn new(inner: T, script_channel: bool, meter: Arc<Meter>) -> Self {
        Metered {
            inner,
            script_channel,
            meter,
        }
    }
}

impl<T: Transport> Transport for Metered<T> {
    type Connection = MeteredConnection<T::Connection>;

    fn max_connections(&self) -> usize {
        self.inner.max_connections()
    }

    fn scan(&self) -> impl Future<Output = Result<mpsc::Receiver<Seen>, TransportError>> + Send {
        self.inner.scan()
    }

    async fn connect(&self, address: BdAddr) -> Result<Self::Connection, TransportError> {
        Ok(MeteredConnection {
            inner: self.inner.connect(address).await?,
            script_channel: self.script_channel,
            meter: self.meter.clone(),
            upload_started: None,
        })
    }
}

pub struct MeteredConnection<C> {
    inner: C,
    script_channel: bool,
    meter: Arc<Meter>,
    upload_started: Option<Instant>,
}

impl<C: Connection> Connection for MeteredConnection<C> {
    async fn rpc(
        &mut self,
        address: u8,
        rpc_id: u16,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<RpcAnswer, TransportError> {
        self.meter.rpcs.fetch_add(1, Ordering::Relaxed);
        self.meter
            .sent
            .fetch_add(payload.len() as u64, Ordering::Relaxed);
        if rpc_id == BRIDGE_BEGIN {
            self.upload_started = Some(Instant::now());
        }
        let answer = self.inner.rpc(address, rpc_id, payload, timeout).await;
        if rpc_id == BRIDGE_END {
            if let (Some(started), Ok(RpcAnswer::Ok(_))) = (self.upload_started.take(), &answer) {
                self.meter.transfers.lock().unwrap().push(started.elapsed());
            }
        }
        answer
    }

    fn open_streaming(&mut self) -> impl Future<Output = Result<(), TransportError>> + Send {
        self.inner.open_streaming()
    }

    async fn next_report(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        let report = self.inner.next_report(timeout).await?;
        self.meter
            .received
            .fetch_add(report.len() as u64, Ordering::Relaxed);
        Ok(report)
    }

    fn report_bytes(&self) -> u64 {
        self.inner.report_bytes()
    }

    fn has_script_channel(&self) -> bool {
        self.script_channel && self.inner.has_script_channel()
    }

    async fn send_script(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        if !self.script_channel {
            return Err(TransportError::Unsupported("High Speed"));
        }
        self.meter
            .sent
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.inner.send_script(bytes).await
    }

    fn disconnect(self) -> impl Future<Output = Result<(), TransportError>> + Send {
        self.inner.disconnect()
    }
}
