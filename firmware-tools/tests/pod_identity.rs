//! The virtual POD model's identity (device-protocols §8 item 9): identity RPCs and tags,
//! including after a script changed them.

use sync_protocol::rpc::RpcOutcome;
use sync_protocol::script::Record;

mod pod_common;
use pod_common::*;

// ----- §8.9 identity ----------------------------------------------------------------------

#[test]
fn identity_rpcs_and_tags_after_a_script() {
    let mut pod = quiet(0x1_0000_0109);
    let info = call(&mut pod, 0x1008, &[]);
    assert_eq!(info.len(), 20);
    assert_eq!(word(&info, 0), 0x0000_0109, "the low 32 bits of the id");
    assert_eq!(word(&info, 12), 0x0400_0802);
    assert_eq!(word(&info, 16), 0x0400_0801);
    let status = call(&mut pod, 0x0004, &[]);
    assert_eq!(status.len(), 12);
    assert_eq!(&status[2..8], b"NRF52 ");

    let records =
        vec![Record::set_device_tag(Some(tag(2060, 2, 1)), Some(tag(2070, 3, 4))).expect("record")];
    assert_eq!(run_script(&mut pod, &script(records), Channel::Rpc2101), 0);
    let info = call(&mut pod, 0x1008, &[]);
    assert_eq!(word(&info, 12), tag(2060, 2, 1).pack());
    assert_eq!(word(&info, 16), tag(2070, 3, 4).pack());
    // The version streams change at the next reset.
    assert_eq!(
        pod.stream_readings(0x5C08).last().map(|r| r.value),
        Some(0x0400_0802)
    );
    assert_eq!(pod.rpc(8, 0x0001, &[]).outcome(), RpcOutcome::TileNotFound);
    assert_eq!(
        pod.stream_readings(0x5C08).last().map(|r| r.value),
        Some(tag(2060, 2, 1).pack())
    );
    assert_eq!(
        pod.stream_readings(0x5C09).last().map(|r| r.value),
        Some(tag(2070, 3, 4).pack())
    );
}
