//! A private `dbus-daemon` for tests: nothing outside the process tree ever talks to it.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::BluezError;

/// How long `dbus-daemon` gets to print its address.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// A `dbus-daemon` on a unix socket in a fresh temporary directory, with a policy that allows
/// everything (any connection may own any name, including `org.bluez`). Killed, and its
/// directory removed, on drop.
///
/// Point BlueZ clients at it with `DBUS_SYSTEM_BUS_ADDRESS=<address>`.
pub struct PrivateBus {
    child: Child,
    address: String,
    dir: PathBuf,
    // Kept open so a late write by the daemon never meets a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl std::fmt::Debug for PrivateBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateBus")
            .field("address", &self.address)
            .field("pid", &self.child.id())
            .finish()
    }
}

fn config(socket: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <auth>ANONYMOUS</auth>
  <allow_anonymous/>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <allow user="*"/>
  </policy>
</busconfig>
"#,
        socket.display()
    )
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 6];
    if getrandom::getrandom(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        bytes[..4].copy_from_slice(&nanos.to_le_bytes());
    }
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Candidate binaries: `$IOTILE_DBUS_DAEMON`, then `dbus-daemon` on `PATH`, then `/usr/bin`.
fn candidates() -> Vec<PathBuf> {
    let mut c = Vec::new();
    if let Some(p) = std::env::var_os("IOTILE_DBUS_DAEMON") {
        c.push(PathBuf::from(p));
    }
    c.push(PathBuf::from("dbus-daemon"));
    c.push(PathBuf::from("/usr/bin/dbus-daemon"));
    c
}

impl PrivateBus {
    /// Starts the daemon (`$IOTILE_DBUS_DAEMON`, else `dbus-daemon` on `PATH`, else
    /// `/usr/bin/dbus-daemon`) and waits until it has printed its address.
    pub fn start() -> Result<PrivateBus, BluezError> {
        Self::start_candidates(candidates())
    }

    /// Starts the given `dbus-daemon` binary.
    pub fn start_with_daemon(binary: impl AsRef<Path>) -> Result<PrivateBus, BluezError> {
        Self::start_candidates(vec![binary.as_ref().to_path_buf()])
    }

    fn start_candidates(binaries: Vec<PathBuf>) -> Result<PrivateBus, BluezError> {
        let dir = std::env::temp_dir().join(format!(
            "iotile-dbus-{}-{}",
            std::process::id(),
            random_suffix()
        ));
        fs::DirBuilder::new().mode(0o700).create(&dir)?;
        match Self::start_in(&dir, binaries) {
            Ok(bus) => Ok(bus),
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    fn start_in(dir: &Path, binaries: Vec<PathBuf>) -> Result<PrivateBus, BluezError> {
        let socket = dir.join("system_bus_socket");
        let conf = dir.join("bus.conf");
        fs::write(&conf, config(&socket))?;
        let log_path = dir.join("dbus-daemon.log");

        let mut tried = Vec::new();
        let mut spawned = None;
        for bin in binaries {
            let log = File::create(&log_path)?;
            let result = Command::new(&bin)
                .arg(format!("--config-file={}", conf.display()))
                .arg("--nofork")
                .arg("--nopidfile")
                .arg("--nosyslog")
                .arg("--print-address")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::from(log))
                .spawn();
            match result {
                Ok(child) => {
                    spawned = Some(child);
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    tried.push(bin.display().to_string());
                }
                Err(e) => return Err(e.into()),
            }
        }
        let Some(mut child) = spawned else {
            return Err(BluezError::DbusDaemonMissing {
                tried: tried.join(", "),
            });
        };

        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BluezError::DbusDaemonFailed("no stdout pipe".into()));
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let res = reader.read_line(&mut line).map(|_| line);
            let _ = tx.send((res, reader));
        });

        let failure = |child: &mut Child, why: String| {
            let _ = child.kill();
            let _ = child.wait();
            let mut log = String::new();
            if let Ok(mut f) = File::open(&log_path) {
                let _ = f.read_to_string(&mut log);
            }
            BluezError::DbusDaemonFailed(format!("{why}; its log says: {}", log.trim()))
        };

        match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok((Ok(line), reader)) if !line.trim().is_empty() => Ok(PrivateBus {
                child,
                address: line.trim().to_string(),
                dir: dir.to_path_buf(),
                _stdout: reader,
            }),
            Ok((Ok(_), _)) => Err(failure(&mut child, "it exited without an address".into())),
            Ok((Err(e), _)) => Err(failure(&mut child, format!("reading its address: {e}"))),
            Err(_) => Err(failure(
                &mut child,
                format!("no address after {STARTUP_TIMEOUT:?}"),
            )),
        }
    }

    /// The bus address (`unix:path=...,guid=...`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
