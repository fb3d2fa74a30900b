//! `iotile-fw pod run`: virtual PODs on the air, on a virtual BlueZ (for btleplug hosts)
//! and/or a virtual BLED112 (for serial hosts), until interrupted.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use firmware_tools::pod::{PodConfig, PodsFile, VirtualPod};
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::bluez::{PrivateBus, VirtualBluez};
use firmware_tools::radio::Peripheral;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// A TOML file of `[[pod]]` tables; without it, one default POD per device id.
    pub config: Option<PathBuf>,
    pub devices: Vec<u64>,
    /// Device seconds per real second, for every POD that does not set its own.
    pub speed: Option<f64>,
    /// Keep each POD's state in `<dir>/<device id>.json`, so restarts continue.
    pub state_dir: Option<PathBuf>,
    pub bluez: bool,
    /// Serve BlueZ on this existing bus instead of starting a private one.
    pub bus: Option<String>,
    pub bled112: bool,
    /// Also make this symlink to the dongle's pty (a stable path for hosts).
    pub link: Option<PathBuf>,
}

/// The PODs' configurations, from the file or the device ids.
pub fn configs(options: &RunOptions) -> Result<Vec<PodConfig>> {
    let mut configs = match &options.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            PodsFile::from_toml_str(&text)
                .with_context(|| format!("{}", path.display()))?
                .pod
        }
        None if options.devices.is_empty() => vec![PodConfig::default()],
        None => options
            .devices
            .iter()
            .map(|id| PodConfig::with_device_id(*id))
            .collect(),
    };
    anyhow::ensure!(
        !configs.is_empty(),
        "no PODs to run: the configuration has no [[pod]] table"
    );
    if let Some(dir) = &options.state_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    for config in &mut configs {
        if let Some(speed) = options.speed {
            config.clock_speed = speed;
        }
        if let (Some(dir), None) = (&options.state_dir, &config.state_file) {
            config.state_file = Some(dir.join(format!("{:012x}.json", config.device_id)));
        }
    }
    Ok(configs)
}

/// Runs until `shutdown` resolves, printing what it exposes and where.
pub async fn run(
    options: RunOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    anyhow::ensure!(
        options.bluez || options.bled112,
        "choose a radio: --bluez, --bled112 or both"
    );
    let pods = configs(&options)?
        .into_iter()
        .map(|config| {
            let id = config.device_id;
            VirtualPod::new(config).with_context(|| format!("POD {id:#x} cannot start"))
        })
        .collect::<Result<Vec<_>>>()?;
    let peripherals: Vec<Arc<dyn Peripheral>> = pods
        .iter()
        .map(|p| Arc::new(p.clone()) as Arc<dyn Peripheral>)
        .collect();
    for pod in &pods {
        println!(
            "POD {}  address {}",
            sync_protocol::ids::DeviceId::new(pod.device_id())
                .map(|d| d.to_string())
                .unwrap_or_default(),
            pod.address()
        );
    }

    let mut _bus = None;
    let mut bluez = None;
    if options.bluez {
        let address = match &options.bus {
            Some(address) => address.clone(),
            None => {
                let bus = PrivateBus::start().context("cannot start a private D-Bus daemon")?;
                let address = bus.address().to_string();
                _bus = Some(bus);
                address
            }
        };
        bluez = Some(
            VirtualBluez::start(&address, peripherals.clone())
                .await
                .context("cannot serve org.bluez")?,
        );
        println!("virtual BlueZ (org.bluez, adapter hci0) on the bus:\n  export DBUS_SYSTEM_BUS_ADDRESS={address}");
    }
    let mut dongle = None;
    if options.bled112 {
        let started = VirtualBled112::start(peripherals, DongleOptions::default())
            .context("cannot open a pty")?;
        println!(
            "virtual BLED112 on the serial port:\n  {}",
            started.path().display()
        );
        if let Some(link) = &options.link {
            make_link(started.path(), link)?;
            println!("  (also {})", link.display());
        }
        dongle = Some(started);
    }
    println!("running; Ctrl-C stops and saves the PODs");
    shutdown.await;

    if let Some(dongle) = dongle {
        dongle.stop().await;
    }
    if let Some(bluez) = bluez {
        if let Err(error) = bluez.stop().await {
            eprintln!("warning: the virtual BlueZ did not stop cleanly: {error}");
        }
    }
    if let Some(link) = &options.link {
        let _ = std::fs::remove_file(link);
    }
    for pod in &pods {
        pod.stop()
            .with_context(|| format!("POD {:#x}: cannot save its state", pod.device_id()))?;
    }
    Ok(())
}

fn make_link(target: &Path, link: &Path) -> Result<()> {
    if link.symlink_metadata().is_ok() {
        std::fs::remove_file(link).with_context(|| format!("cannot replace {}", link.display()))?;
    }
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("cannot create {}", link.display()))
}
