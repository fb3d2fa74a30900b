//! The BLED112 transport drives the virtual dongle on a real pty, as it would drive
//! `/dev/ttyACM0`, and collects from virtual PODs behind it.

mod transport_common;

use std::sync::Arc;
use std::time::Duration;

use firmware_tools::pod::advertising::AdvertisementFormat;
use firmware_tools::pod::{PodConfig, VirtualPod};
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::{Peripheral, RadioEffects};
use gateway::transport::bled112::Bled112;
use gateway::transport::{Connection, Transport, TransportError};
use sync_protocol::bgapi::codes;
use sync_protocol::ble::Advertisement;
use transport_common::*;

fn pod(device_id: u64) -> VirtualPod {
    VirtualPod::new(PodConfig::with_device_id(device_id)).expect("the POD starts")
}

fn dongle(pods: &[&VirtualPod], max_connections: u8) -> VirtualBled112 {
    let options = DongleOptions {
        max_connections,
        ..DongleOptions::default()
    };
    dongle_with(pods, options)
}

fn dongle_with(pods: &[&VirtualPod], options: DongleOptions) -> VirtualBled112 {
    let peripherals = pods
        .iter()
        .map(|p| Arc::new((*p).clone()) as Arc<dyn Peripheral>)
        .collect();
    VirtualBled112::start(peripherals, options).expect("the pty opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_through_the_dongle_yields_a_verified_report_and_an_ack() {
    let pod = pod(0x0012_3456);
    let dongle = dongle(&[&pod], 3);
    let transport = Bled112::open(dongle.path())
        .await
        .expect("the dongle opens");
    assert_eq!(transport.max_connections(), 3);
    visit(&transport, 0x0012_3456).await;
    assert!(!pod.is_connected(), "the link is closed after the visit");
    // The slot is free again: a second visit works on the same transport.
    visit(&transport, 0x0012_3456).await;
    dongle.stop().await;
}

/// A BLED112 closes service and attribute discovery with result 0; a dongle that passes on
/// the POD's "attribute not found" (0x040A) ends them just as well. Any other result means
/// the table was cut short: the connect fails and the link is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_ending_in_0_or_attribute_not_found_is_accepted_other_endings_are_not() {
    for (device_id, discovery_result) in [
        (0x0012_3470, codes::SUCCESS),
        (0x0012_3471, codes::ATT_ATTRIBUTE_NOT_FOUND),
    ] {
        let pod = pod(device_id);
        let options = DongleOptions {
            discovery_result,
            ..DongleOptions::default()
        };
        let dongle = dongle_with(&[&pod], options);
        let transport = Bled112::open(dongle.path())
            .await
            .expect("the dongle opens");
        visit(&transport, device_id).await;
        dongle.stop().await;
    }

    let pod = pod(0x0012_3472);
    let options = DongleOptions {
        discovery_result: codes::ATT_INSUFFICIENT_AUTHENTICATION,
        ..DongleOptions::default()
    };
    let dongle = dongle_with(&[&pod], options);
    let transport = Bled112::open(dongle.path())
        .await
        .expect("the dongle opens");
    let mut scan = transport.scan().await.expect("scan");
    let seen = find(&mut scan, 0x0012_3472).await;
    let refused = transport.connect(seen.address).await;
    assert!(
        matches!(&refused, Err(TransportError::Protocol(m)) if m.contains("service discovery")),
        "{refused:?}"
    );
    assert!(!pod.is_connected(), "the half-discovered link is closed");
    dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_vanishing_mid_report_is_a_disconnect_never_a_half_report() {
    let pod = pod(0x0012_3457);
    let dongle = dongle(&[&pod], 3);
    let transport = Bled112::open(dongle.path())
        .await
        .expect("the dongle opens");
    let mut scan = transport.scan().await.expect("scan");
    let seen = find(&mut scan, 0x0012_3457).await;
    let connection = transport.connect(seen.address).await.expect("connects");
    cut_mid_report(connection, &pod).await;

    // Nothing was acknowledged: a clean retry gets every reading.
    let seen = find(&mut scan, 0x0012_3457).await;
    let mut connection = transport.connect(seen.address).await.expect("reconnects");
    connection.open_streaming().await.expect("streaming opens");
    let report = trigger_and_receive(&mut connection)
        .await
        .expect("a report");
    let readings = report.readings(None).expect("verifies");
    assert!(readings.iter().filter(|r| r.stream == 0x5001).count() >= 40);
    connection.disconnect().await.expect("disconnects");
    dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_dongles_slots_are_refused_as_busy() {
    let (a, b) = (pod(0x0012_3458), pod(0x0012_3459));
    let dongle = dongle(&[&a, &b], 1);
    let transport = Bled112::open(dongle.path())
        .await
        .expect("the dongle opens");
    assert_eq!(transport.max_connections(), 1);
    let mut scan = transport.scan().await.expect("scan");
    let first = find(&mut scan, 0x0012_3458).await;
    let second = find(&mut scan, 0x0012_3459).await;
    let connection = transport.connect(first.address).await.expect("connects");
    let refused = transport.connect(second.address).await;
    assert!(
        matches!(refused, Err(TransportError::Busy(1))),
        "{refused:?}"
    );
    connection.disconnect().await.expect("disconnects");
    let connection = transport
        .connect(second.address)
        .await
        .expect("now it fits");
    connection.disconnect().await.expect("disconnects");
    dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanning_decodes_v1_with_its_scan_response_and_v2_advertisements() {
    let v1 = broadcasting(0x0012_3460, AdvertisementFormat::V1);
    let v2 = broadcasting(0x0012_3461, AdvertisementFormat::V2);
    let dongle = dongle(&[&v1, &v2], 3);
    let transport = Bled112::open(dongle.path())
        .await
        .expect("the dongle opens");
    let mut scan = transport.scan().await.expect("scan");
    let seen = find(&mut scan, 0x0012_3460).await;
    assert!(matches!(seen.advertisement, Advertisement::V1(_)));
    assert_seen(&seen, &v1);
    let seen = find(&mut scan, 0x0012_3461).await;
    assert!(matches!(seen.advertisement, Advertisement::V2(_)));
    assert_seen(&seen, &v2);
    dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_that_fails_leaves_the_dongle_scanning() {
    let (away, near) = (pod(0x0012_3462), pod(0x0012_3463));
    let dongle = dongle(&[&away, &near], 3);
    let transport = Bled112::open(dongle.path())
        .await
        .expect("the dongle opens");
    let mut scan = transport.scan().await.expect("scan");
    let seen = find(&mut scan, 0x0012_3462).await;
    away.set_effects(RadioEffects {
        out_of_range: true,
        ..RadioEffects::default()
    });
    let failed = transport.connect(seen.address).await;
    assert!(
        matches!(failed, Err(TransportError::Timeout(..))),
        "{failed:?}"
    );
    // Connecting stopped the scan; the host must have started it again.
    while scan.try_recv().is_ok() {}
    let heard = tokio::time::timeout(Duration::from_secs(3), find(&mut scan, 0x0012_3463)).await;
    assert!(heard.is_ok(), "no advertisement after a failed connect");
    dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_that_comes_up_as_the_connect_gives_up_is_closed() {
    let pod = pod(0x0012_3464);
    let peripherals = vec![Arc::new(pod.clone()) as Arc<dyn Peripheral>];
    let options = DongleOptions {
        link_up_as_host_gives_up: true,
        ..DongleOptions::default()
    };
    let dongle = VirtualBled112::start(peripherals, options).expect("the pty opens");
    let transport = Bled112::open(dongle.path())
        .await
        .expect("the dongle opens");
    let mut scan = transport.scan().await.expect("scan");
    let seen = find(&mut scan, 0x0012_3464).await;
    let failed = transport.connect(seen.address).await;
    assert!(
        matches!(failed, Err(TransportError::Timeout(..))),
        "{failed:?}"
    );
    // The link the dongle made as the host gave up was closed before connect returned: the
    // POD is free for any host, and says so in its advertisements.
    assert!(!pod.is_connected(), "the late link was left open");
    while scan.try_recv().is_ok() {}
    let seen = find(&mut scan, 0x0012_3464).await;
    assert!(
        !seen.user_connected,
        "the POD still reports a user connected"
    );
    dongle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dongle_still_answering_a_killed_host_opens_cleanly() {
    use std::io::Write;
    use sync_protocol::bgapi::Command;

    let pod = pod(0x0012_3465);
    let dongle = dongle(&[&pod], 3);
    // A host killed right after sending a command: its answer waits unread on the port.
    let mut killed = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dongle.path())
        .expect("the port opens");
    let packet = Command::GapEndProcedure.encode().expect("encodes");
    killed.write_all(&packet.encode()).expect("written");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let transport = Bled112::open(dongle.path())
        .await
        .expect("the dongle opens");
    visit(&transport, 0x0012_3465).await;
    drop(killed);
    dongle.stop().await;
}
