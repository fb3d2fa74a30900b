//! The demo's virtual PODs and the virtual radios they are heard through: two behind a
//! virtual BlueZ on a private D-Bus, one behind a virtual BLED112 on a pty; all three behind
//! the BLED112 when no D-Bus daemon can start.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use firmware_tools::pod::{Generator, OutputConfig, PodConfig, StreamCode, VirtualPod};
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::bluez::{PrivateBus, VirtualBluez};
use firmware_tools::radio::Peripheral;
use gateway::config::Adapter;

use super::site::STREAM;

/// Seconds between two readings of a POD's output.
pub const PERIOD: u32 = 5;
/// Readings each POD holds at start, so the first visit brings data at once.
pub const WAITING: u32 = 24;

/// How the gateway hears a POD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Radio {
    Bluez,
    Bled112,
}

impl std::fmt::Display for Radio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Radio::Bluez => "bluez",
            Radio::Bled112 => "bled112",
        })
    }
}

/// The running PODs and radios.
pub struct Pods {
    pub pods: Vec<(VirtualPod, Radio)>,
    /// Why the BlueZ radio is not used, when it is not.
    pub fallback: Option<String>,
    bus: Option<PrivateBus>,
    bluez: Option<VirtualBluez>,
    dongle: VirtualBled112,
    /// A second dongle hearing every POD, for the technicians' desktop app.
    pub field: VirtualBled112,
}

/// POD `n`'s output: one reading every [`PERIOD`] seconds, each POD its own shape.
fn generator(n: usize) -> Generator {
    match n {
        0 => Generator::Counter {
            start: WAITING,
            step: 1,
        },
        1 => Generator::Sine {
            center: 2000,
            amplitude: 500,
            period: 120,
        },
        _ => Generator::Random { min: 10, max: 90 },
    }
}

/// The `i`th reading waiting at start, in the shape of `generator`: the counter leads up to
/// its start, the others stay in their range.
fn waiting_value(generator: &Generator, i: u32) -> u32 {
    match *generator {
        Generator::Counter { .. } => i,
        Generator::Sine {
            center,
            amplitude,
            period,
        } => {
            let phase = f64::from(i * PERIOD) / f64::from(period.max(1));
            let value = center as f64 + amplitude as f64 * (phase * std::f64::consts::TAU).sin();
            value.round() as i64 as u32
        }
        Generator::Random { min, max } => min + (i * 37) % (max - min).saturating_add(1),
        Generator::Constant { value } => value,
    }
}

fn config(n: usize, id: u64, state_dir: &Path) -> PodConfig {
    PodConfig {
        outputs: vec![OutputConfig {
            stream: StreamCode(STREAM),
            period: PERIOD,
            generator: generator(n),
        }],
        // Kept with the rest of the data directory, so a kept one continues its ids.
        state_file: Some(state_dir.join(format!("{id:012x}.json"))),
        ..PodConfig::with_device_id(id)
    }
}

/// A private D-Bus with the virtual BlueZ serving `pods` on it, or why not.
async fn start_bluez(pods: &[VirtualPod]) -> Result<(PrivateBus, VirtualBluez), String> {
    let bus = PrivateBus::start().map_err(|e| e.to_string())?;
    let peripherals: Vec<Arc<dyn Peripheral>> = pods
        .iter()
        .map(|p| Arc::new(p.clone()) as Arc<dyn Peripheral>)
        .collect();
    let bluez = VirtualBluez::start(bus.address(), peripherals)
        .await
        .map_err(|e| format!("the virtual BlueZ: {e}"))?;
    Ok((bus, bluez))
}

impl Pods {
    /// Starts the PODs `ids` and their radios; with `bluez` false, every POD is behind the
    /// BLED112. Must run inside a tokio runtime.
    pub async fn start(ids: &[u64], state_dir: &Path, bluez: bool) -> anyhow::Result<Pods> {
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("creating {}", state_dir.display()))?;
        let mut started = Vec::new();
        for (n, id) in ids.iter().enumerate() {
            let fresh = !state_dir.join(format!("{id:012x}.json")).exists();
            let pod = VirtualPod::new(config(n, *id, state_dir))
                .with_context(|| format!("POD {id:#x} cannot start"))?;
            if fresh {
                let shape = generator(n);
                pod.with_model(|model| {
                    for i in 0..WAITING {
                        // A full streaming area only refuses more: nothing to report.
                        let _ = model.push_reading(STREAM, waiting_value(&shape, i));
                    }
                });
            }
            started.push(pod);
        }
        // The first POD stays on the BLED112; the others go to BlueZ when it can run.
        let (bus, bluez, fallback) = if bluez {
            match start_bluez(started.get(1..).unwrap_or_default()).await {
                Ok((bus, bluez)) => (Some(bus), Some(bluez), None),
                Err(why) => (None, None, Some(why)),
            }
        } else {
            (None, None, None)
        };
        let mut pods = Vec::new();
        let mut on_dongle: Vec<Arc<dyn Peripheral>> = Vec::new();
        let everyone: Vec<Arc<dyn Peripheral>> = started
            .iter()
            .map(|pod| Arc::new(pod.clone()) as Arc<dyn Peripheral>)
            .collect();
        for (n, pod) in started.into_iter().enumerate() {
            let radio = if n > 0 && bluez.is_some() {
                Radio::Bluez
            } else {
                on_dongle.push(Arc::new(pod.clone()));
                Radio::Bled112
            };
            pods.push((pod, radio));
        }
        let dongle = VirtualBled112::start(on_dongle, DongleOptions::default())
            .context("opening a pty for the virtual BLED112")?;
        let field = VirtualBled112::start(everyone, DongleOptions::default())
            .context("opening a pty for the desktop app's virtual BLED112")?;
        Ok(Pods {
            pods,
            fallback,
            bus,
            bluez,
            dongle,
            field,
        })
    }

    /// The gateway's adapters for these radios. Points btleplug at the private bus: call it
    /// before the gateway opens its BlueZ adapter.
    pub fn adapters(&self) -> Vec<Adapter> {
        let mut adapters = vec![Adapter::Bled112 {
            port: self.dongle.path().to_owned(),
            max_connections: 3,
        }];
        if let Some(bus) = &self.bus {
            // btleplug finds "the system bus" only through this variable.
            std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", bus.address());
            adapters.push(Adapter::Bluez {
                name: "hci0".to_owned(),
                max_connections: 2,
            });
        }
        adapters
    }

    /// Stops the PODs (saving their state), then the dongle, BlueZ and the bus.
    pub async fn stop(self) -> anyhow::Result<Remains> {
        let mut saved = Ok(());
        for (pod, _) in &self.pods {
            if let Err(e) = pod.stop() {
                saved = Err(e).with_context(|| format!("POD {:#x}: saving", pod.device_id()));
            }
        }
        self.dongle.stop().await;
        self.field.stop().await;
        if let Some(bluez) = self.bluez {
            bluez.stop().await.context("stopping the virtual BlueZ")?;
        }
        saved.map(|()| Remains { _bus: self.bus })
    }
}

/// The private bus, kept until the demo's runtime is gone: the BlueZ client (bluez-async)
/// leaves the clean-up of each D-Bus stream it drops to a spawned task that unwraps the
/// bus's answer, so a bus stopped before those tasks would make them panic. Tasks left in
/// a runtime that shuts down are dropped without running.
pub struct Remains {
    _bus: Option<PrivateBus>,
}
