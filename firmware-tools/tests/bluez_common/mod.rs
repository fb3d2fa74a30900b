//! Shared by the virtual BlueZ tests (`bluez_*.rs`): a small simulated IOTile peripheral,
//! the private bus and option helpers, and a plain zbus client for BlueZ details.
//!
//! These tests need `dbus-daemon` (Debian package `dbus`) and fail without it.

#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use firmware_tools::radio::bluez::{device_path, gatt, BluezOptions, PrivateBus};
use firmware_tools::radio::{
    Advertising, AttError, BdAddr, ConnectError, Connection, GattLink, LinkEvent, Peripheral,
};
use tokio::sync::mpsc;
use tokio::time::timeout;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

pub const STEP: Duration = Duration::from_secs(10);

// ------------------------------------------------------------------------------------------
// A small simulated device: answers an RPC header write on 0x2003 with notifications on
// 0x2001/0x2002, and streams its blobs on 0x2005 once that CCCD is enabled.

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum AdFormat {
    V1,
    V2,
}

#[derive(Default)]
pub struct LinkState {
    pub tx: Option<mpsc::Sender<LinkEvent>>,
    pub epoch: u64,
    pub notifying: BTreeSet<u16>,
    pub payload: Vec<u8>,
    pub resp_header: Vec<u8>,
    pub resp_payload: Vec<u8>,
    pub writes: Vec<(u16, Vec<u8>, bool)>,
}

pub struct SimPod {
    pub address: BdAddr,
    pub name: String,
    pub format: AdFormat,
    pub device_uuid: u32,
    pub rssi: AtomicI16,
    pub in_range: AtomicBool,
    pub connects: AtomicUsize,
    pub blobs: Vec<Vec<u8>>,
    pub link: Arc<Mutex<LinkState>>,
}

pub fn blobs() -> Vec<Vec<u8>> {
    (0..3u8)
        .map(|n| {
            (0..(70 + 45 * usize::from(n)))
                .map(|i| (i as u8).wrapping_mul(7).wrapping_add(n))
                .collect()
        })
        .collect()
}

impl SimPod {
    pub fn new(address: [u8; 6], format: AdFormat, device_uuid: u32, rssi: i16) -> Arc<SimPod> {
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

    pub fn state(&self) -> std::sync::MutexGuard<'_, LinkState> {
        self.link.lock().expect("pod state")
    }

    /// The peripheral drops the link (as if it reset or went out of range).
    pub fn drop_link(&self) {
        let mut st = self.state();
        st.epoch += 1;
        st.notifying.clear();
        if let Some(tx) = st.tx.take() {
            let _ = tx.try_send(LinkEvent::Disconnected);
        }
    }

    pub fn is_linked(&self) -> bool {
        self.state().tx.is_some()
    }

    pub fn v1_advertisement(&self) -> Vec<u8> {
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

    pub fn v1_scan_response_data(&self) -> Vec<u8> {
        let mut d = vec![0x00, 0x03, 0xFF, 0xFF];
        d.extend([0u8; 8]);
        d.extend(1234u32.to_le_bytes());
        d
    }

    pub fn v1_scan_response(&self) -> Vec<u8> {
        let mut s = vec![0x13, 0xFF, 0xC0, 0x03];
        s.extend(self.v1_scan_response_data());
        s.extend([0x07, 0x09]);
        s.extend(b"IOTile");
        s.extend([0, 0, 0]);
        assert_eq!(s.len(), 31);
        s
    }

    pub fn v2_service_data(&self) -> Vec<u8> {
        let mut d = self.device_uuid.to_le_bytes().to_vec();
        d.extend([5, 0, 0, 0x01]);
        d.extend(1234u32.to_le_bytes());
        d.extend([0xFF, 0x00, 0xFF, 0xFF]);
        d.extend([0u8; 8]);
        assert_eq!(d.len(), 24);
        d
    }

    pub fn v2_advertisement(&self) -> Vec<u8> {
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

pub struct SimLink {
    pub state: Arc<Mutex<LinkState>>,
    pub epoch: u64,
    pub blobs: Vec<Vec<u8>>,
}

impl SimLink {
    pub fn live(&self) -> Result<std::sync::MutexGuard<'_, LinkState>, AttError> {
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

pub const POD1: [u8; 6] = [0x00, 0x1B, 0xDC, 0x00, 0x00, 0x01];
pub const POD2: [u8; 6] = [0xD0, 0x5A, 0x00, 0x00, 0x00, 0x02];

pub fn start_bus() -> PrivateBus {
    match PrivateBus::start() {
        Ok(bus) => bus,
        Err(e) => panic!("these tests need dbus-daemon: {e}"),
    }
}

pub fn fast_options() -> BluezOptions {
    BluezOptions {
        advertising_interval: Duration::from_millis(50),
        ..BluezOptions::default()
    }
}

// ------------------------------------------------------------------------------------------
// BlueZ details btleplug does not show, through a plain zbus client.

pub struct Client {
    pub conn: zbus::Connection,
}

pub type Props = HashMap<String, OwnedValue>;

impl Client {
    pub async fn new(address: &str) -> Client {
        let conn = zbus::connection::Builder::address(address)
            .expect("address")
            .build()
            .await
            .expect("client connection");
        Client { conn }
    }

    pub async fn call<B>(
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

    pub async fn get_all(&self, path: &str, iface: &str) -> Props {
        let m = self
            .call(path, "org.freedesktop.DBus.Properties", "GetAll", &(iface,))
            .await
            .unwrap_or_else(|e| panic!("GetAll {iface} on {path}: {e:?}"));
        m.body().deserialize::<Props>().expect("a{sv}")
    }

    pub async fn managed_objects(&self) -> HashMap<OwnedObjectPath, HashMap<String, Props>> {
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

    pub async fn has_object(&self, path: &str, iface: &str) -> bool {
        self.managed_objects()
            .await
            .iter()
            .any(|(p, ifaces)| p.as_str() == path && ifaces.contains_key(iface))
    }

    pub async fn wait_object(&self, path: &str, iface: &str, present: bool) {
        timeout(STEP, async {
            while self.has_object(path, iface).await != present {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{path} {iface} present={present} never happened"));
    }
}

pub fn no_options() -> HashMap<String, Value<'static>> {
    HashMap::new()
}

pub fn char_path(address: BdAddr, short: u16) -> String {
    let def = gatt::TILEBUS_CHARACTERISTICS
        .iter()
        .find(|c| c.uuid16 == short)
        .expect("def");
    gatt::char_path(&device_path(address), def)
}

pub fn err_name(r: Result<zbus::Message, (String, String)>) -> (String, String) {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}
