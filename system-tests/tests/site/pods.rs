//! Virtual PODs for the system tests: PODs whose only readings are the ones a producer
//! thread pushes, a record of every reading made, and the check that the cloud holds each
//! exactly once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use firmware_tools::pod::{PodConfig, VirtualPod};
use firmware_tools::radio::Peripheral;

pub const STREAM: u16 = 0x5001;

/// A POD with no generated outputs, that streams only when asked.
pub fn quiet_pod(id: u32) -> VirtualPod {
    let config = PodConfig {
        outputs: Vec::new(),
        trigger_on_connect: false,
        ..PodConfig::with_device_id(u64::from(id))
    };
    VirtualPod::new(config).unwrap()
}

/// The PODs as a radio's peripherals.
pub fn peripherals(pods: &[(u32, VirtualPod)]) -> Vec<Arc<dyn Peripheral>> {
    pods.iter()
        .map(|(_, pod)| Arc::new(pod.clone()) as Arc<dyn Peripheral>)
        .collect()
}

/// Streamer 0's acknowledged reading id, as the POD keeps it.
pub fn pod_ack(pod: &VirtualPod) -> u32 {
    pod.with_model(|model| {
        let status = model.rpc(8, 0x200A, &0u16.to_le_bytes());
        u32::from_le_bytes(status.payload()[12..16].try_into().unwrap())
    })
}

/// Per device, the `(reading id, value)` pairs made, in order.
pub type Made = BTreeMap<u32, Vec<(u32, u32)>>;

/// A thread pushing `per_tick` readings into each POD every `every`.
pub struct Producer {
    made: Arc<Mutex<Made>>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Producer {
    pub fn start(pods: &[(u32, VirtualPod)], per_tick: u32, every: Duration) -> Producer {
        let made: Arc<Mutex<Made>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (pods, made, stop) = (pods.to_vec(), made.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut value = 1_000u32;
                while !stop.load(Ordering::Relaxed) {
                    for (id, pod) in &pods {
                        for _ in 0..per_tick {
                            value += 1;
                            let stored = pod.with_model(|m| m.push_reading(STREAM, value));
                            let reading = stored.unwrap().expect("a stored stream");
                            made.lock()
                                .unwrap()
                                .entry(*id)
                                .or_default()
                                .push((reading.reading_id, value));
                        }
                    }
                    std::thread::sleep(every);
                }
            })
        };
        Producer { made, stop, thread }
    }

    /// Readings made so far.
    pub fn count(&self) -> usize {
        self.made.lock().unwrap().values().map(Vec::len).sum()
    }

    /// Stops producing; returns everything made.
    pub fn stop(self) -> Made {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        let made = self.made.lock().unwrap().clone();
        made
    }
}

/// Panics, with a short account, unless `arrived` holds exactly the readings `made`.
pub fn assert_exactly_once(made: &Made, arrived: &Made, context: &str) {
    for (id, want) in made {
        let got = arrived.get(id).cloned().unwrap_or_default();
        if &got == want {
            continue;
        }
        let missing: Vec<_> = want.iter().filter(|r| !got.contains(r)).take(10).collect();
        let mut extra = got.clone();
        for r in want {
            if let Some(at) = extra.iter().position(|x| x == r) {
                extra.remove(at);
            }
        }
        panic!(
            "POD {id:#x}: {} readings in the cloud, {} made; missing {missing:?}…, extra {:?}…\n{context}",
            got.len(),
            want.len(),
            &extra[..extra.len().min(10)],
        );
    }
}
