//! The virtual BlueZ on a real private D-Bus bus, driven by unmodified btleplug (and, for the
//! BlueZ-specific details btleplug hides, by a plain zbus client).
//!
//! These tests need `dbus-daemon` (Debian package `dbus`) and fail without it.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use btleplug::api::{
    AddressType, BDAddr, Central, CentralEvent, CharPropFlags, Characteristic, Manager as _,
    Peripheral as _, ScanFilter, ValueNotification, WriteType,
};
use btleplug::platform::{Adapter, Manager, Peripheral as BtPeripheral};
use firmware_tools::radio::bluez::{
    device_path, gatt, BluezError, BluezOptions, GattCache, PrivateBus, VirtualBluez, ADAPTER_PATH,
};
use firmware_tools::radio::{
    Advertising, AttError, BdAddr, ConnectError, Connection, GattLink, LinkEvent, Peripheral,
};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::time::timeout;
use uuid::Uuid;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

const STEP: Duration = Duration::from_secs(10);

// ------------------------------------------------------------------------------------------
// A small simulated device: answers an RPC header write on 0x2003 with notifications on
// 0x2001/0x2002, and streams its blobs on 0x2005 once that CCCD is enabled.

#[derive(Clone, Copy, PartialEq, Eq)]
enum AdFormat {
    V1,
    V2,
}

#[derive(Default)]
struct LinkState {
    tx: Option<mpsc::Sender<LinkEvent>>,
    epoch: u64,
    notifying: BTreeSet<u16>,
    payload: Vec<u8>,
    resp_header: Vec<u8>,
    resp_payload: Vec<u8>,
    writes: Vec<(u16, Vec<u8>, bool)>,
}

struct SimPod {
    address: BdAddr,
    name: String,
    format: AdFormat,
    device_uuid: u32,
    rssi: AtomicI16,
    in_range: AtomicBool,
    connects: AtomicUsize,
    blobs: Vec<Vec<u8>>,
    link: Arc<Mutex<LinkState>>,
}

fn blobs() -> Vec<Vec<u8>> {
    (0..3u8)
        .map(|n| {
            (0..(70 + 45 * usize::from(n)))
                .map(|i| (i as u8).wrapping_mul(7).wrapping_add(n))
                .collect()
        })
        .collect()
}

impl SimPod {
    fn new(address: [u8; 6], format: AdFormat, device_uuid: u32, rssi: i16) -> Arc<SimPod> {
        Arc::new(SimPod {
            address: BdAddr(address),
            name: "V_IOTile ".to_string(),
            format,
            device_uuid,
            rssi: AtomicI16::new(rssi),
            in_range: AtomicBool::new(true),
            connects: AtomicUsize::new(0),
            blobs: blobs(),
            link: Arc::new(Mutex::new(LinkState::default())),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LinkState> {
        self.link.lock().expect("pod state")
    }

    /// The peripheral drops the link (as if it reset or went out of range).
    fn drop_link(&self) {
        let mut st = self.state();
        st.epoch += 1;
        st.notifying.clear();
        if let Some(tx) = st.tx.take() {
            let _ = tx.try_send(LinkEvent::Disconnected);
        }
    }

    fn is_linked(&self) -> bool {
        self.state().tx.is_some()
    }

    fn v1_advertisement(&self) -> Vec<u8> {
        let mut a = vec![0x02, 0x01, 0x06, 0x11, 0x06];
        let mut service = gatt::TILEBUS_SERVICE_UUID.as_bytes().to_vec();
        service.reverse();
        a.extend(service);
        a.extend([0x09, 0xFF, 0xC0, 0x03]);
        a.extend(self.device_uuid.to_le_bytes());
        a.extend([0x08, 0x00]);
        assert_eq!(a.len(), 31);
        a
    }

    fn v1_scan_response_data(&self) -> Vec<u8> {
        let mut d = vec![0x00, 0x03, 0xFF, 0xFF];
        d.extend([0u8; 8]);
        d.extend(1234u32.to_le_bytes());
        d
    }

    fn v1_scan_response(&self) -> Vec<u8> {
        let mut s = vec![0x13, 0xFF, 0xC0, 0x03];
        s.extend(self.v1_scan_response_data());
        s.extend([0x07, 0x09]);
        s.extend(b"IOTile");
        s.extend([0, 0, 0]);
        assert_eq!(s.len(), 31);
        s
    }

    fn v2_service_data(&self) -> Vec<u8> {
        let mut d = self.device_uuid.to_le_bytes().to_vec();
        d.extend([5, 0, 0, 0x01]);
        d.extend(1234u32.to_le_bytes());
        d.extend([0xFF, 0x00, 0xFF, 0xFF]);
        d.extend([0u8; 8]);
        assert_eq!(d.len(), 24);
        d
    }

    fn v2_advertisement(&self) -> Vec<u8> {
        let mut a = vec![0x02, 0x01, 0x06, 0x1B, 0x16, 0xDD, 0xFD];
        a.extend(self.v2_service_data());
        assert_eq!(a.len(), 31);
        a
    }
}

impl Peripheral for SimPod {
    fn address(&self) -> BdAddr {
        self.address
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn advertising(&self) -> Option<Advertising> {
        if !self.in_range.load(Ordering::SeqCst) {
            return None;
        }
        let connectable = !self.is_linked();
        Some(match self.format {
            AdFormat::V1 => Advertising {
                advertisement: self.v1_advertisement(),
                scan_response: Some(self.v1_scan_response()),
                connectable,
            },
            AdFormat::V2 => Advertising {
                advertisement: self.v2_advertisement(),
                scan_response: None,
                connectable,
            },
        })
    }

    fn rssi(&self) -> i16 {
        self.rssi.load(Ordering::SeqCst)
    }

    fn connect(&self) -> Result<Connection, ConnectError> {
        if !self.in_range.load(Ordering::SeqCst) {
            return Err(ConnectError::OutOfRange);
        }
        let mut st = self.state();
        if st.tx.is_some() {
            return Err(ConnectError::Busy);
        }
        let (tx, rx) = mpsc::channel(4096);
        st.tx = Some(tx);
        st.epoch += 1;
        st.notifying.clear();
        self.connects.fetch_add(1, Ordering::SeqCst);
        Ok(Connection {
            link: Box::new(SimLink {
                state: self.link.clone(),
                epoch: st.epoch,
                blobs: self.blobs.clone(),
            }),
            events: rx,
        })
    }
}

struct SimLink {
    state: Arc<Mutex<LinkState>>,
    epoch: u64,
    blobs: Vec<Vec<u8>>,
}

impl SimLink {
    fn live(&self) -> Result<std::sync::MutexGuard<'_, LinkState>, AttError> {
        let st = self.state.lock().expect("link state");
        if st.epoch != self.epoch || st.tx.is_none() {
            return Err(AttError::Disconnected);
        }
        Ok(st)
    }
}

impl GattLink for SimLink {
    fn write(
        &mut self,
        characteristic: u16,
        value: &[u8],
        with_response: bool,
    ) -> Result<(), AttError> {
        let mut st = self.live()?;
        st.writes
            .push((characteristic, value.to_vec(), with_response));
        match characteristic {
            0x2004 => {
                if value.len() > 20 {
                    return Err(AttError::InvalidLength);
                }
                st.payload = value.to_vec();
                Ok(())
            }
            0x2003 => {
                if value.len() != 8 {
                    return Err(AttError::InvalidLength);
                }
                st.resp_header = vec![0x00, 0x00, st.payload.len() as u8, 0x00];
                st.resp_payload = st.payload.iter().map(|b| b ^ 0xFF).collect();
                if st.notifying.contains(&0x2001) && st.notifying.contains(&0x2002) {
                    let tx = st.tx.clone().ok_or(AttError::Disconnected)?;
                    let _ = tx.try_send(LinkEvent::Notify {
                        characteristic: 0x2001,
                        value: st.resp_header.clone(),
                    });
                    if !st.resp_payload.is_empty() {
                        let _ = tx.try_send(LinkEvent::Notify {
                            characteristic: 0x2002,
                            value: st.resp_payload.clone(),
                        });
                    }
                }
                Ok(())
            }
            0x2006 if !with_response => Ok(()),
            _ => Err(AttError::NotPermitted),
        }
    }

    fn read(&mut self, characteristic: u16) -> Result<Vec<u8>, AttError> {
        let st = self.live()?;
        match characteristic {
            0x2001 => Ok(st.resp_header.clone()),
            0x2002 => Ok(st.resp_payload.clone()),
            0x2005 => Ok(Vec::new()),
            _ => Err(AttError::NotPermitted),
        }
    }

    fn set_notify(&mut self, characteristic: u16, enabled: bool) -> Result<(), AttError> {
        let mut st = self.live()?;
        if !matches!(characteristic, 0x2001 | 0x2002 | 0x2005 | 0x2007) {
            return Err(AttError::NotPermitted);
        }
        if !enabled {
            st.notifying.remove(&characteristic);
            return Ok(());
        }
        let newly = st.notifying.insert(characteristic);
        if characteristic == 0x2005 && newly {
            let tx = st.tx.clone().ok_or(AttError::Disconnected)?;
            let blobs = self.blobs.clone();
            std::thread::spawn(move || {
                for blob in blobs {
                    for chunk in blob.chunks(20) {
                        let event = LinkEvent::Notify {
                            characteristic: 0x2005,
                            value: chunk.to_vec(),
                        };
                        if tx.blocking_send(event).is_err() {
                            return;
                        }
                        std::thread::sleep(Duration::from_micros(300));
                    }
                }
            });
        }
        Ok(())
    }

    fn disconnect(&mut self) {
        let mut st = self.state.lock().expect("link state");
        if st.epoch == self.epoch {
            st.tx = None;
            st.notifying.clear();
            st.epoch += 1;
        }
    }
}

const POD1: [u8; 6] = [0x00, 0x1B, 0xDC, 0x00, 0x00, 0x01];
const POD2: [u8; 6] = [0xD0, 0x5A, 0x00, 0x00, 0x00, 0x02];

fn start_bus() -> PrivateBus {
    match PrivateBus::start() {
        Ok(bus) => bus,
        Err(e) => panic!("these tests need dbus-daemon: {e}"),
    }
}

fn fast_options() -> BluezOptions {
    BluezOptions {
        advertising_interval: Duration::from_millis(50),
        ..BluezOptions::default()
    }
}

// ------------------------------------------------------------------------------------------
// btleplug: all in one test, because DBUS_SYSTEM_BUS_ADDRESS is process-wide.

fn bt(address: BdAddr) -> BDAddr {
    BDAddr::from(address.0)
}

async fn find_peripheral(adapter: &Adapter, address: BdAddr) -> BtPeripheral {
    let want = bt(address);
    timeout(STEP, async {
        loop {
            if let Some(p) = adapter
                .peripherals()
                .await
                .expect("peripherals")
                .into_iter()
                .find(|p| p.address() == want)
            {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{address} never showed up in a scan"))
}

async fn wait_event(
    events: &mut (impl Stream<Item = CentralEvent> + Unpin),
    what: &str,
    mut pred: impl FnMut(&CentralEvent) -> bool,
) -> CentralEvent {
    timeout(STEP, async {
        while let Some(e) = events.next().await {
            if pred(&e) {
                return e;
            }
        }
        panic!("adapter event stream ended while waiting for {what}");
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

async fn next_notification(
    notes: &mut (impl Stream<Item = ValueNotification> + Unpin),
    uuid: Uuid,
) -> Vec<u8> {
    timeout(STEP, async {
        while let Some(n) = notes.next().await {
            if n.uuid == uuid {
                return n.value;
            }
        }
        panic!("notification stream ended");
    })
    .await
    .unwrap_or_else(|_| panic!("no notification on {uuid}"))
}

fn characteristic(p: &BtPeripheral, short: u16) -> Characteristic {
    p.characteristics()
        .into_iter()
        .find(|c| c.uuid == gatt::uuid16(short) && c.service_uuid == gatt::TILEBUS_SERVICE_UUID)
        .unwrap_or_else(|| panic!("no characteristic {short:04x}"))
}

async fn connect_and_discover(p: &BtPeripheral) {
    timeout(STEP, p.connect())
        .await
        .expect("connect timed out")
        .expect("connect");
    timeout(STEP, p.discover_services())
        .await
        .expect("discover timed out")
        .expect("discover services");
}

/// Subscribes to the RPC characteristics and runs one call; returns the response.
async fn rpc(
    p: &BtPeripheral,
    notes: &mut (impl Stream<Item = ValueNotification> + Unpin),
    payload: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let header = [0x00, 0x00, 0x04, 0x00, 0x0A, 0x00, 0x08, 0x00];
    p.write(
        &characteristic(p, 0x2004),
        payload,
        WriteType::WithoutResponse,
    )
    .await
    .expect("write payload");
    p.write(&characteristic(p, 0x2003), &header, WriteType::WithResponse)
        .await
        .expect("write header");
    let h = next_notification(notes, gatt::uuid16(0x2001)).await;
    let body = next_notification(notes, gatt::uuid16(0x2002)).await;
    (h, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn btleplug_scans_connects_and_streams_through_the_virtual_radio() {
    let bus = start_bus();
    let pod1 = SimPod::new(POD1, AdFormat::V1, 0x0000_1234, -55);
    let pod2 = SimPod::new(POD2, AdFormat::V2, 0x0000_5678, -70);
    let bluez = VirtualBluez::start_with_options(
        bus.address(),
        vec![pod1.clone(), pod2.clone()],
        fast_options(),
    )
    .await
    .expect("start virtual bluez");

    // btleplug (through bluez-async / libdbus) finds BlueZ on the "system" bus.
    std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", bus.address());
    let manager = Manager::new().await.expect("btleplug manager");
    let adapters = manager.adapters().await.expect("adapters");
    assert_eq!(adapters.len(), 1, "one virtual adapter");
    let adapter = adapters.into_iter().next().expect("adapter");
    assert!(adapter
        .adapter_info()
        .await
        .expect("info")
        .starts_with("hci0"));
    let mut events = adapter.events().await.expect("events");

    // ---- scanning
    adapter
        .start_scan(ScanFilter::default())
        .await
        .expect("start scan");
    let p1 = find_peripheral(&adapter, pod1.address).await;
    let p2 = find_peripheral(&adapter, pod2.address).await;

    let props1 = p1.properties().await.expect("props").expect("props1");
    assert_eq!(props1.address, bt(pod1.address));
    assert_eq!(props1.address_type, Some(AddressType::Public));
    // Advertisement and scan response both carry company 0x03C0; BlueZ keeps the later one.
    assert_eq!(
        props1.manufacturer_data,
        HashMap::from([(0x03C0u16, pod1.v1_scan_response_data())])
    );
    assert_eq!(props1.services, vec![gatt::TILEBUS_SERVICE_UUID]);
    assert_eq!(props1.local_name.as_deref(), Some("IOTile"));
    assert_eq!(props1.rssi, Some(-55));
    assert!(props1.service_data.is_empty());

    let props2 = p2.properties().await.expect("props").expect("props2");
    assert_eq!(props2.address, bt(pod2.address));
    assert_eq!(props2.address_type, Some(AddressType::Random));
    let fddd = gatt::uuid16(0xFDDD);
    assert_eq!(
        props2.service_data,
        HashMap::from([(fddd, pod2.v2_service_data())])
    );
    assert_eq!(props2.services, vec![fddd]);
    assert!(props2.manufacturer_data.is_empty());
    assert_eq!(props2.advertisement_name, None);
    assert_eq!(props2.rssi, Some(-70));

    wait_event(
        &mut events,
        "DeviceDiscovered(pod1)",
        |e| matches!(e, CentralEvent::DeviceDiscovered(id) if *id == p1.id()),
    )
    .await;
    // btleplug asks for duplicate data: every advertisement re-announces the data.
    for _ in 0..2 {
        wait_event(&mut events, "ManufacturerDataAdvertisement(pod1)", |e| {
            matches!(e, CentralEvent::ManufacturerDataAdvertisement { id, manufacturer_data }
                if *id == p1.id() && manufacturer_data.contains_key(&0x03C0))
        })
        .await;
    }
    wait_event(&mut events, "ServiceDataAdvertisement(pod2)", |e| {
        matches!(e, CentralEvent::ServiceDataAdvertisement { id, service_data }
            if *id == p2.id() && service_data.contains_key(&fddd))
    })
    .await;
    pod2.rssi.store(-48, Ordering::SeqCst);
    wait_event(
        &mut events,
        "RssiUpdate(pod2)",
        |e| matches!(e, CentralEvent::RssiUpdate { id, rssi } if *id == p2.id() && *rssi == -48),
    )
    .await;

    // ---- connect + discover
    connect_and_discover(&p1).await;
    assert!(p1.is_connected().await.expect("is_connected"));
    wait_event(
        &mut events,
        "DeviceConnected(pod1)",
        |e| matches!(e, CentralEvent::DeviceConnected(id) if *id == p1.id()),
    )
    .await;
    let services = p1.services();
    let tilebus = services
        .iter()
        .find(|s| s.uuid == gatt::TILEBUS_SERVICE_UUID)
        .expect("TileBus service");
    assert!(tilebus.primary);
    assert_eq!(tilebus.characteristics.len(), 7);
    let flags = |short: u16| characteristic(&p1, short).properties;
    assert_eq!(flags(0x2001), CharPropFlags::READ | CharPropFlags::NOTIFY);
    assert_eq!(flags(0x2002), CharPropFlags::READ | CharPropFlags::NOTIFY);
    assert_eq!(
        flags(0x2003),
        CharPropFlags::WRITE | CharPropFlags::WRITE_WITHOUT_RESPONSE
    );
    assert_eq!(
        flags(0x2004),
        CharPropFlags::WRITE | CharPropFlags::WRITE_WITHOUT_RESPONSE
    );
    assert_eq!(flags(0x2005), CharPropFlags::READ | CharPropFlags::NOTIFY);
    assert_eq!(flags(0x2006), CharPropFlags::WRITE_WITHOUT_RESPONSE);
    assert_eq!(flags(0x2007), CharPropFlags::NOTIFY);
    let cccd = gatt::uuid16(0x2902);
    for short in [0x2001, 0x2002, 0x2005, 0x2007] {
        let c = characteristic(&p1, short);
        assert_eq!(c.descriptors.len(), 1, "{short:04x} has its CCCD");
        assert!(c.descriptors.iter().all(|d| d.uuid == cccd));
    }
    assert!(characteristic(&p1, 0x2003).descriptors.is_empty());

    // ---- RPC: a header write yields notifications on 0x2001 then 0x2002
    let mut notes1 = p1.notifications().await.expect("notifications");
    p1.subscribe(&characteristic(&p1, 0x2001))
        .await
        .expect("sub 2001");
    p1.subscribe(&characteristic(&p1, 0x2002))
        .await
        .expect("sub 2002");
    let (h, body) = rpc(&p1, &mut notes1, &[1, 2, 3, 4]).await;
    assert_eq!(h, vec![0x00, 0x00, 4, 0x00]);
    assert_eq!(body, vec![0xFE, 0xFD, 0xFC, 0xFB]);
    assert_eq!(
        p1.read(&characteristic(&p1, 0x2001)).await.expect("read"),
        vec![0x00, 0x00, 4, 0x00]
    );
    // As with the real BlueZ, a read updates the cached Value and announces it, so
    // btleplug's notification stream shows the value read too.
    assert_eq!(
        next_notification(&mut notes1, gatt::uuid16(0x2001)).await,
        vec![0x00, 0x00, 4, 0x00]
    );
    // Writes arrive in order and with the write type the host chose.
    let writes: Vec<(u16, bool)> = pod1
        .state()
        .writes
        .iter()
        .map(|(c, _, r)| (*c, *r))
        .collect();
    assert_eq!(writes, vec![(0x2004, false), (0x2003, true)]);
    // A refused write surfaces as an error.
    let err = p1
        .write(
            &characteristic(&p1, 0x2006),
            &[0; 4],
            WriteType::WithResponse,
        )
        .await;
    assert!(
        err.is_err(),
        "write request on a write-without-response characteristic"
    );

    // ---- streaming: a multi-notification blob arrives intact and in order
    let mut stream_notes = p1.notifications().await.expect("notifications");
    p1.subscribe(&characteristic(&p1, 0x2005))
        .await
        .expect("sub 2005");
    let expected: Vec<u8> = pod1.blobs.concat();
    let mut got = Vec::new();
    while got.len() < expected.len() {
        got.extend(next_notification(&mut stream_notes, gatt::uuid16(0x2005)).await);
    }
    assert_eq!(got, expected);
    p1.unsubscribe(&characteristic(&p1, 0x2005))
        .await
        .expect("unsub");
    p1.unsubscribe(&characteristic(&p1, 0x2005))
        .await
        .expect("a second unsubscribe is harmless (btleplug maps BlueZ's error)");

    // ---- two peripherals at once
    connect_and_discover(&p2).await;
    let mut notes2 = p2.notifications().await.expect("notifications");
    p2.subscribe(&characteristic(&p2, 0x2001))
        .await
        .expect("sub");
    p2.subscribe(&characteristic(&p2, 0x2002))
        .await
        .expect("sub");
    let (h2, body2) = rpc(&p2, &mut notes2, &[9, 9]).await;
    assert_eq!((h2, body2), (vec![0, 0, 2, 0], vec![0xF6, 0xF6]));
    let (h1, body1) = rpc(&p1, &mut notes1, &[7]).await;
    assert_eq!((h1, body1), (vec![0, 0, 1, 0], vec![0xF8]));
    assert!(bluez.is_connected(pod1.address) && bluez.is_connected(pod2.address));

    // ---- the peripheral drops the link: an event and failing operations, never a hang
    pod1.drop_link();
    wait_event(
        &mut events,
        "DeviceDisconnected(pod1)",
        |e| matches!(e, CentralEvent::DeviceDisconnected(id) if *id == p1.id()),
    )
    .await;
    assert!(!p1.is_connected().await.expect("is_connected"));
    let write = timeout(
        STEP,
        p1.write(
            &characteristic(&p1, 0x2003),
            &[0; 8],
            WriteType::WithResponse,
        ),
    )
    .await
    .expect("a write after link loss must not hang");
    assert!(write.is_err(), "a write after link loss fails");
    let read = timeout(STEP, p1.read(&characteristic(&p1, 0x2001)))
        .await
        .expect("a read after link loss must not hang");
    assert!(read.is_err(), "a read after link loss fails");
    // pod2 is unaffected.
    let (h2, _) = rpc(&p2, &mut notes2, &[1]).await;
    assert_eq!(h2, vec![0, 0, 1, 0]);

    // ---- host disconnect
    timeout(STEP, p2.disconnect())
        .await
        .expect("disconnect timed out")
        .expect("disconnect");
    wait_event(
        &mut events,
        "DeviceDisconnected(pod2)",
        |e| matches!(e, CentralEvent::DeviceDisconnected(id) if *id == p2.id()),
    )
    .await;
    assert!(!pod2.is_linked(), "the peripheral saw the host disconnect");
    timeout(STEP, p2.disconnect())
        .await
        .expect("second disconnect timed out")
        .expect("disconnecting a disconnected device succeeds, as in BlueZ");

    // ---- reconnect after the drop
    connect_and_discover(&p1).await;
    let mut notes1 = p1.notifications().await.expect("notifications");
    p1.subscribe(&characteristic(&p1, 0x2001))
        .await
        .expect("sub");
    p1.subscribe(&characteristic(&p1, 0x2002))
        .await
        .expect("sub");
    let (h1, _) = rpc(&p1, &mut notes1, &[5, 6]).await;
    assert_eq!(h1, vec![0, 0, 2, 0]);
    assert_eq!(pod1.connects.load(Ordering::SeqCst), 2);
    p1.disconnect().await.expect("disconnect");

    adapter.stop_scan().await.expect("stop scan");
    bluez.stop().await.expect("stop");
}

// ------------------------------------------------------------------------------------------
// BlueZ details btleplug does not show, through a plain zbus client.

struct Client {
    conn: zbus::Connection,
}

type Props = HashMap<String, OwnedValue>;

impl Client {
    async fn new(address: &str) -> Client {
        let conn = zbus::connection::Builder::address(address)
            .expect("address")
            .build()
            .await
            .expect("client connection");
        Client { conn }
    }

    async fn call<B>(
        &self,
        path: &str,
        iface: &str,
        method: &str,
        body: &B,
    ) -> Result<zbus::Message, (String, String)>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        match timeout(
            STEP,
            self.conn
                .call_method(Some("org.bluez"), path, Some(iface), method, body),
        )
        .await
        .expect("D-Bus call timed out")
        {
            Ok(m) => Ok(m),
            Err(zbus::Error::MethodError(name, msg, _)) => {
                Err((name.to_string(), msg.unwrap_or_default()))
            }
            Err(e) => panic!("{method} on {path}: {e}"),
        }
    }

    async fn get_all(&self, path: &str, iface: &str) -> Props {
        let m = self
            .call(path, "org.freedesktop.DBus.Properties", "GetAll", &(iface,))
            .await
            .unwrap_or_else(|e| panic!("GetAll {iface} on {path}: {e:?}"));
        m.body().deserialize::<Props>().expect("a{sv}")
    }

    async fn managed_objects(&self) -> HashMap<OwnedObjectPath, HashMap<String, Props>> {
        let m = self
            .call(
                "/",
                "org.freedesktop.DBus.ObjectManager",
                "GetManagedObjects",
                &(),
            )
            .await
            .expect("GetManagedObjects");
        m.body().deserialize().expect("a{oa{sa{sv}}}")
    }

    async fn has_object(&self, path: &str, iface: &str) -> bool {
        self.managed_objects()
            .await
            .iter()
            .any(|(p, ifaces)| p.as_str() == path && ifaces.contains_key(iface))
    }

    async fn wait_object(&self, path: &str, iface: &str, present: bool) {
        timeout(STEP, async {
            while self.has_object(path, iface).await != present {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{path} {iface} present={present} never happened"));
    }
}

fn no_options() -> HashMap<String, Value<'static>> {
    HashMap::new()
}

fn char_path(address: BdAddr, short: u16) -> String {
    let def = gatt::TILEBUS_CHARACTERISTICS
        .iter()
        .find(|c| c.uuid16 == short)
        .expect("def");
    gatt::char_path(&device_path(address), def)
}

fn err_name(r: Result<zbus::Message, (String, String)>) -> (String, String) {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bluez_api_details_match_bluez() {
    let bus = start_bus();
    let pod1 = SimPod::new(POD1, AdFormat::V1, 0x42, -60);
    let pod2 = SimPod::new(POD2, AdFormat::V2, 0x43, -60);
    let bluez = VirtualBluez::start_with_options(
        bus.address(),
        vec![pod1.clone()],
        BluezOptions {
            temporary_timeout: Duration::from_millis(600),
            ..fast_options()
        },
    )
    .await
    .expect("start");
    let c = Client::new(bus.address()).await;
    const ADAPTER: &str = "org.bluez.Adapter1";
    const DEVICE: &str = "org.bluez.Device1";
    const CHAR: &str = "org.bluez.GattCharacteristic1";
    const DESC: &str = "org.bluez.GattDescriptor1";

    // Adapter: what bluez-async insists on (Address, AddressType, Name, Alias, Modalias,
    // Powered, Discovering).
    let adapter = c.get_all(ADAPTER_PATH, ADAPTER).await;
    for key in [
        "Address",
        "AddressType",
        "Name",
        "Alias",
        "Modalias",
        "Powered",
        "Discovering",
    ] {
        assert!(adapter.contains_key(key), "Adapter1.{key}");
    }
    assert_eq!(adapter["Powered"], OwnedValue::from(true));
    assert_eq!(adapter["Discovering"], OwnedValue::from(false));

    // Discovery sessions.
    let (name, msg) = err_name(c.call(ADAPTER_PATH, ADAPTER, "StopDiscovery", &()).await);
    assert_eq!(
        (name.as_str(), msg.as_str()),
        ("org.bluez.Error.Failed", "No discovery started")
    );
    let bad: HashMap<&str, Value<'_>> = HashMap::from([("Bogus", Value::from(true))]);
    let (name, _) = err_name(
        c.call(ADAPTER_PATH, ADAPTER, "SetDiscoveryFilter", &(bad,))
            .await,
    );
    assert_eq!(name, "org.bluez.Error.InvalidArguments");
    let filter: HashMap<&str, Value<'_>> = HashMap::from([
        ("Transport", Value::from("le")),
        ("DuplicateData", Value::from(false)),
        (
            "UUIDs",
            Value::from(vec![gatt::TILEBUS_SERVICE_UUID.to_string()]),
        ),
    ]);
    c.call(ADAPTER_PATH, ADAPTER, "SetDiscoveryFilter", &(filter,))
        .await
        .expect("filter");
    c.call(ADAPTER_PATH, ADAPTER, "StartDiscovery", &())
        .await
        .expect("start");
    let (name, _) = err_name(c.call(ADAPTER_PATH, ADAPTER, "StartDiscovery", &()).await);
    assert_eq!(name, "org.bluez.Error.InProgress");

    // The UUID filter lets the v1 POD (TileBus service in its advertisement) through only.
    bluez.add_peripheral(pod2.clone()).expect("add");
    let dev1 = device_path(pod1.address);
    let dev2 = device_path(pod2.address);
    c.wait_object(&dev1, DEVICE, true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!c.has_object(&dev2, DEVICE).await, "filtered out");

    let props = c.get_all(&dev1, DEVICE).await;
    assert_eq!(
        props["Address"],
        OwnedValue::try_from(Value::from("00:1B:DC:00:00:01")).expect("v")
    );
    assert_eq!(
        props["AddressType"],
        OwnedValue::try_from(Value::from("public")).expect("v")
    );
    assert_eq!(props["RSSI"], OwnedValue::from(-60i16));
    assert_eq!(
        props["Name"],
        OwnedValue::try_from(Value::from("IOTile")).expect("v")
    );
    assert_eq!(props["Adapter"].value_signature().to_string(), "o");
    assert_eq!(
        props["ManufacturerData"].value_signature().to_string(),
        "a{qv}"
    );
    assert!(
        !props.contains_key("ServiceData"),
        "absent properties are left out"
    );
    for key in [
        "Paired",
        "Trusted",
        "Blocked",
        "LegacyPairing",
        "Connected",
        "ServicesResolved",
        "UUIDs",
        "Alias",
    ] {
        assert!(props.contains_key(key), "Device1.{key}");
    }
    let (name, _) = err_name(
        c.call(
            &dev1,
            "org.freedesktop.DBus.Properties",
            "Get",
            &(DEVICE, "ServiceData"),
        )
        .await,
    );
    assert_eq!(name, "org.freedesktop.DBus.Error.InvalidArgs");

    // Clearing the filter (empty dict) lets every POD in.
    c.call(
        ADAPTER_PATH,
        ADAPTER,
        "SetDiscoveryFilter",
        &(no_options(),),
    )
    .await
    .expect("clear filter");
    c.wait_object(&dev2, DEVICE, true).await;
    let props2 = c.get_all(&dev2, DEVICE).await;
    assert!(!props2.contains_key("Name"));
    assert_eq!(
        props2["Alias"],
        OwnedValue::try_from(Value::from("D0-5A-00-00-00-02")).expect("v")
    );
    assert_eq!(
        props2["AddressType"],
        OwnedValue::try_from(Value::from("random")).expect("v")
    );

    // Connect: GATT objects, then ServicesResolved; Name becomes the GAP name (until the next
    // advertisement with a complete name, so discovery is paused for this check).
    c.call(ADAPTER_PATH, ADAPTER, "StopDiscovery", &())
        .await
        .expect("stop");
    assert!(
        !c.get_all(&dev1, DEVICE).await.contains_key("RSSI"),
        "RSSI invalidated"
    );
    c.call(&dev1, DEVICE, "Connect", &())
        .await
        .expect("connect");
    let props = c.get_all(&dev1, DEVICE).await;
    assert_eq!(props["Connected"], OwnedValue::from(true));
    assert_eq!(props["ServicesResolved"], OwnedValue::from(true));
    assert_eq!(
        props["Name"],
        OwnedValue::try_from(Value::from("V_IOTile ")).expect("v")
    );
    c.call(ADAPTER_PATH, ADAPTER, "StartDiscovery", &())
        .await
        .expect("start again");
    let svc = gatt::service_path(&dev1);
    assert!(svc.ends_with("/service000b"));
    let svc_props = c.get_all(&svc, "org.bluez.GattService1").await;
    assert_eq!(
        svc_props["UUID"],
        OwnedValue::try_from(Value::from("00002000-3ff7-53ba-e611-132c0ff60f63")).expect("v")
    );
    assert_eq!(svc_props["Primary"], OwnedValue::from(true));
    let hdr = char_path(pod1.address, 0x2001);
    assert!(hdr.ends_with("/service000b/char000c"));
    let hp = c.get_all(&hdr, CHAR).await;
    assert_eq!(hp["MTU"], OwnedValue::from(23u16));
    assert_eq!(hp["Notifying"], OwnedValue::from(false));
    assert!(!hp.contains_key("Value"), "no cached value yet");
    assert_eq!(hp["Handle"], OwnedValue::from(0x000Cu16));

    // Notify sessions are per client.
    let (name, msg) = err_name(c.call(&hdr, CHAR, "StopNotify", &()).await);
    assert_eq!(
        (name.as_str(), msg.as_str()),
        ("org.bluez.Error.Failed", "No notify session started")
    );
    c.call(&hdr, CHAR, "StartNotify", &())
        .await
        .expect("start notify");
    c.call(&hdr, CHAR, "StartNotify", &())
        .await
        .expect("again: no-op");
    assert_eq!(
        c.get_all(&hdr, CHAR).await["Notifying"],
        OwnedValue::from(true)
    );
    let cccd = format!("{hdr}/desc000e");
    let v = c
        .call(&cccd, DESC, "ReadValue", &(no_options(),))
        .await
        .expect("read cccd");
    assert_eq!(v.body().deserialize::<Vec<u8>>().expect("ay"), vec![1, 0]);
    let (name, _) = err_name(
        c.call(&cccd, DESC, "WriteValue", &(vec![1u8, 0], no_options()))
            .await,
    );
    assert_eq!(name, "org.bluez.Error.NotPermitted");

    // Writes: request on a write-without-response characteristic is refused by the device;
    // a command larger than MTU-3 cannot be sent; a wrongly typed offset is invalid.
    let hs = char_path(pod1.address, 0x2006);
    let request: HashMap<&str, Value<'_>> = HashMap::from([("type", Value::from("request"))]);
    let (name, msg) = err_name(c.call(&hs, CHAR, "WriteValue", &(vec![1u8], request)).await);
    assert_eq!(
        (name.as_str(), msg.as_str()),
        ("org.bluez.Error.NotPermitted", "Write not permitted")
    );
    c.call(&hs, CHAR, "WriteValue", &(vec![1u8; 20], no_options()))
        .await
        .expect("command of 20 bytes");
    let (name, _) = err_name(
        c.call(&hs, CHAR, "WriteValue", &(vec![1u8; 21], no_options()))
            .await,
    );
    assert_eq!(name, "org.bluez.Error.Failed");
    let bad_offset: HashMap<&str, Value<'_>> = HashMap::from([("offset", Value::from(1u64))]);
    let (name, _) = err_name(c.call(&hdr, CHAR, "ReadValue", &(bad_offset,)).await);
    assert_eq!(name, "org.bluez.Error.InvalidArguments");
    let (name, msg) = err_name(
        c.call(
            &char_path(pod1.address, 0x2003),
            CHAR,
            "ReadValue",
            &(no_options(),),
        )
        .await,
    );
    assert_eq!(
        (name.as_str(), msg.as_str()),
        ("org.bluez.Error.NotPermitted", "Read not permitted")
    );
    let (name, _) = err_name(c.call(&hdr, CHAR, "AcquireNotify", &(no_options(),)).await);
    assert_eq!(name, "org.bluez.Error.NotSupported");

    // Disconnect: GATT objects removed; calls on them fail; a second Disconnect succeeds.
    c.call(&dev1, DEVICE, "Disconnect", &())
        .await
        .expect("disconnect");
    assert!(!c.has_object(&hdr, CHAR).await);
    assert!(!c.has_object(&svc, "org.bluez.GattService1").await);
    let (name, _) = err_name(c.call(&hdr, CHAR, "ReadValue", &(no_options(),)).await);
    assert_eq!(name, "org.freedesktop.DBus.Error.UnknownObject");
    c.call(&dev1, DEVICE, "Disconnect", &())
        .await
        .expect("disconnect again");
    assert!(!pod1.is_linked());

    // Out of range: Connect fails the way BlueZ's does, the device expires.
    pod1.in_range.store(false, Ordering::SeqCst);
    let (name, msg) = err_name(c.call(&dev1, DEVICE, "Connect", &()).await);
    assert_eq!(
        (name.as_str(), msg.as_str()),
        ("org.bluez.Error.Failed", "le-connection-abort-by-local")
    );
    c.wait_object(&dev1, DEVICE, false).await;
    assert!(
        c.has_object(&dev2, DEVICE).await,
        "pod2 is still advertising"
    );

    // RemoveDevice: gone, and back with the next advertisement.
    let dev2_path = OwnedObjectPath::try_from(dev2.clone()).expect("path");
    c.call(ADAPTER_PATH, ADAPTER, "RemoveDevice", &(dev2_path.clone(),))
        .await
        .expect("remove");
    let (name, _) = err_name(
        c.call(ADAPTER_PATH, ADAPTER, "RemoveDevice", &(dev2_path,))
            .await,
    );
    assert_eq!(name, "org.bluez.Error.DoesNotExist");
    c.wait_object(&dev2, DEVICE, true).await;

    // A client leaving the bus ends its discovery session.
    let watcher = Client::new(bus.address()).await;
    assert_eq!(
        watcher.get_all(ADAPTER_PATH, ADAPTER).await["Discovering"],
        OwnedValue::from(true)
    );
    drop(c);
    timeout(STEP, async {
        while watcher.get_all(ADAPTER_PATH, ADAPTER).await["Discovering"] != OwnedValue::from(false)
        {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await
    .expect("discovery ends with its client");

    bluez.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_gatt_objects_answer_not_connected() {
    let bus = start_bus();
    let pod = SimPod::new(POD1, AdFormat::V1, 0x42, -60);
    let bluez = VirtualBluez::start_with_options(
        bus.address(),
        vec![pod.clone()],
        BluezOptions {
            gatt_cache: GattCache::Always,
            ..fast_options()
        },
    )
    .await
    .expect("start");
    let c = Client::new(bus.address()).await;
    c.call(ADAPTER_PATH, "org.bluez.Adapter1", "StartDiscovery", &())
        .await
        .expect("start");
    let dev = device_path(pod.address);
    c.wait_object(&dev, "org.bluez.Device1", true).await;
    c.call(&dev, "org.bluez.Device1", "Connect", &())
        .await
        .expect("connect");
    let hdr = char_path(pod.address, 0x2001);
    c.call(&hdr, "org.bluez.GattCharacteristic1", "StartNotify", &())
        .await
        .expect("notify");

    pod.drop_link();
    timeout(STEP, async {
        while bluez.is_connected(pod.address) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("link loss noticed");
    assert!(
        c.has_object(&hdr, "org.bluez.GattCharacteristic1").await,
        "kept"
    );
    let (name, msg) = err_name(
        c.call(
            &hdr,
            "org.bluez.GattCharacteristic1",
            "ReadValue",
            &(no_options(),),
        )
        .await,
    );
    assert_eq!(
        (name.as_str(), msg.as_str()),
        ("org.bluez.Error.Failed", "Not connected")
    );

    // Reconnecting re-registers the notify session with the peripheral.
    c.call(&dev, "org.bluez.Device1", "Connect", &())
        .await
        .expect("reconnect");
    assert!(pod.state().notifying.contains(&0x2001));
    bluez.stop().await.expect("stop");
    assert!(!pod.is_linked(), "stop drops links");
}

#[tokio::test]
async fn org_bluez_is_owned_once() {
    let bus = start_bus();
    let first = VirtualBluez::start(bus.address(), vec![])
        .await
        .expect("first");
    match VirtualBluez::start(bus.address(), vec![]).await {
        Err(BluezError::NameTaken(_)) => {}
        other => panic!("expected NameTaken, got {other:?}"),
    }
    first.stop().await.expect("stop");
    // The name is free again.
    let again = VirtualBluez::start(bus.address(), vec![])
        .await
        .expect("again");
    // Dropping without stop() also gives the name up (once the bus sees the socket close).
    drop(again);
    timeout(STEP, async {
        loop {
            match VirtualBluez::start(bus.address(), vec![]).await {
                Ok(v) => return v.stop().await.expect("stop"),
                Err(BluezError::NameTaken(_)) => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .expect("name released after drop");
}

#[test]
fn a_missing_dbus_daemon_is_a_clear_error() {
    let err = PrivateBus::start_with_daemon("/nonexistent/dbus-daemon").expect_err("missing");
    assert!(matches!(err, BluezError::DbusDaemonMissing { .. }));
    assert!(
        err.to_string().contains("install Debian's dbus package"),
        "{err}"
    );
}

#[test]
fn private_bus_is_killed_on_drop() {
    let bus = start_bus();
    assert!(bus.address().starts_with("unix:path="));
    let pid = bus.pid();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    drop(bus);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "daemon still running: {stat}"
    );
}
