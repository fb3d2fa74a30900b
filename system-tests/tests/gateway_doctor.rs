//! `iotile-gateway doctor` against the real cloud and the virtual BLED112: each check says
//! what is wrong, and turns to ok when it is mended.

#![allow(clippy::unwrap_used)]

#[path = "../../cloud/tests/common/mod.rs"]
mod common;

use std::sync::Arc;

use firmware_tools::pod::{PodConfig, VirtualPod};
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::Peripheral;
use gateway::config::{Adapter, ByteSize, Cloud, Config, Paths};
use gateway::doctor::{self, Check, Status};

fn status(checks: &[Check], name: &str) -> Status {
    checks
        .iter()
        .find(|c| c.name.starts_with(name))
        .unwrap_or_else(|| panic!("no check {name} in {checks:?}"))
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_says_what_is_wrong() {
    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let pod = VirtualPod::new(PodConfig::with_device_id(0xB1)).unwrap();
    let peripherals: Vec<Arc<dyn Peripheral>> = vec![Arc::new(pod)];
    let dongle = VirtualBled112::start(peripherals, DongleOptions::default()).unwrap();
    let mut config = Config {
        cloud: Cloud {
            url: format!("http://{}", app.addr),
        },
        paths: Paths {
            buffer: dir.path().join("buffer.sqlite"),
            key: dir.path().join("gateway.key"),
        },
        adapters: vec![
            Adapter::Bled112 {
                port: dongle.path().to_owned(),
                max_connections: 1,
            },
            Adapter::Bled112 {
                port: dir.path().join("no-such-port"),
                max_connections: 1,
            },
        ],
        ..Config::default()
    };

    let checks = doctor::run(&config).await;
    assert_eq!(status(&checks, "key"), Status::Fail, "{checks:?}");
    assert_eq!(status(&checks, "buffer"), Status::Warn, "not made yet");
    assert_eq!(status(&checks, "disk"), Status::Ok, "{checks:?}");
    assert_eq!(status(&checks, "cloud"), Status::Ok, "{checks:?}");
    assert_eq!(status(&checks, "clock"), Status::Ok, "{checks:?}");
    let radios: Vec<&Check> = checks
        .iter()
        .filter(|c| c.name.starts_with("bled112"))
        .collect();
    assert_eq!(radios.len(), 2);
    assert_eq!(radios[0].status, Status::Ok, "{radios:?}");
    assert_eq!(radios[1].status, Status::Fail, "{radios:?}");

    // Mended: a key, a buffer; a budget larger than any disk is a warning about the disk.
    gateway::identity::load_or_create(&config.paths.key).unwrap();
    gateway::buffer::Buffer::open(
        &config.paths.buffer,
        gateway::buffer::Budget { max_bytes: 1 << 20 },
    )
    .unwrap();
    config.budget.max_bytes = ByteSize(u64::MAX / 2);
    let checks = doctor::run(&config).await;
    assert_eq!(status(&checks, "key"), Status::Ok, "{checks:?}");
    assert_eq!(status(&checks, "buffer"), Status::Ok, "{checks:?}");
    assert_eq!(status(&checks, "disk"), Status::Warn, "{checks:?}");

    // A cloud that does not answer.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    config.cloud.url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    config.adapters.clear();
    let checks = doctor::run(&config).await;
    assert_eq!(status(&checks, "cloud"), Status::Fail, "{checks:?}");
    assert!(
        checks.iter().all(|c| c.name != "clock"),
        "no clock without a cloud"
    );
}
