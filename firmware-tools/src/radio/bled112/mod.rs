//! A virtual BLED112 dongle on a pty: a host opens its path with any serial library (as it
//! would open `/dev/ttyACM0`), speaks BGAPI to it, and reaches virtual PODs "in range".
//!
//! Covered (device-protocols spec §6.2–6.5): system reset and connection slots (0/0, 0/6),
//! scanning (6/1, 6/2, 6/4, 6/7 with passive or active scans: advertisements as 6/0 events,
//! v1 scan responses in active mode), connecting (6/3 → 3/0, a refused or failed link as an
//! early 3/4 with `0x023E`), disconnecting (3/0 → 3/4, and 3/4 when a POD drops the link),
//! GATT discovery (4/1 → 4/2, 4/3 → 4/4, each closed by a 4/1 of result 0 as on a BLED112;
//! 4/4 → 4/5 or a 4/1 error), acknowledged and unacknowledged writes (4/5, 4/6; CCCDs turn
//! notifications on and off; a full peripheral answers `0x0182`), and notifications as 4/5
//! type 1. Every response precedes the events it causes. Not covered: the peripheral role
//! (2/x, 6/9 are answered but do nothing), bonding and encryption (5/x answer "wrong
//! state"), and 4/2 read-by-type (no host of ours or coretools' uses it).

mod dongle;
pub mod gatt_table;
mod pty;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Peripheral;
use pty::Pty;

/// How the dongle behaves.
#[derive(Debug, Clone)]
pub struct DongleOptions {
    /// Connection slots (a real BLED112 has 3).
    pub max_connections: u8,
    /// How often each POD in range is heard while scanning.
    pub advertising_interval: Duration,
    /// Every connect stays pending until the host ends the procedure (6/4), and the link
    /// comes up just before that command is handled: the race of a host whose connect
    /// deadline passes as the POD answers, made certain.
    pub link_up_as_host_gives_up: bool,
    /// The result of the 4/1 event that ends a service or attribute discovery (4/1, 4/3).
    /// A BLED112 reports 0 (success) once the POD has no more attributes, and coretools'
    /// driver refuses any other ending of a service discovery. Hosts that must also cope
    /// with the ATT error seen on the air, "attribute not found" (`0x040A`), test with it.
    pub discovery_result: u16,
}

impl Default for DongleOptions {
    fn default() -> Self {
        DongleOptions {
            max_connections: 3,
            advertising_interval: Duration::from_millis(200),
            link_up_as_host_gives_up: false,
            discovery_result: sync_protocol::bgapi::codes::SUCCESS,
        }
    }
}

/// The PODs a dongle can hear; shared so PODs can come and go while it runs.
pub type Peripherals = Arc<Mutex<Vec<Arc<dyn Peripheral>>>>;

/// A running virtual dongle. Dropping it stops it.
pub struct VirtualBled112 {
    path: PathBuf,
    peripherals: Peripherals,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl VirtualBled112 {
    /// Opens a pty and starts answering BGAPI on it. Must run inside a tokio runtime.
    pub fn start(
        peripherals: Vec<Arc<dyn Peripheral>>,
        options: DongleOptions,
    ) -> std::io::Result<Self> {
        let pty = Pty::open()?;
        let path = pty.path().to_path_buf();
        let peripherals: Peripherals = Arc::new(Mutex::new(peripherals));
        let stop = CancellationToken::new();
        let dongle = dongle::Dongle::new(pty, peripherals.clone(), options);
        let task = tokio::spawn(dongle.run(stop.clone()));
        Ok(VirtualBled112 {
            path,
            peripherals,
            stop,
            task: Some(task),
        })
    }

    /// The serial port path a host opens (`/dev/pts/N`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Brings another POD in range.
    pub fn add(&self, peripheral: Arc<dyn Peripheral>) {
        if let Ok(mut list) = self.peripherals.lock() {
            list.push(peripheral);
        }
    }

    /// Stops answering and closes the pty.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for VirtualBled112 {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
