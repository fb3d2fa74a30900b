//! The virtual BlueZ on a real private D-Bus bus, through a plain zbus client: the
//! BlueZ-specific details btleplug hides, cached GATT objects, `org.bluez` name ownership
//! and the private bus itself.
//!
//! These tests need `dbus-daemon` (Debian package `dbus`) and fail without it.

mod bluez_common;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bluez_common::*;
use firmware_tools::radio::bluez::{
    device_path, gatt, BluezError, BluezOptions, GattCache, PrivateBus, VirtualBluez, ADAPTER_PATH,
};
use tokio::time::timeout;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

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
