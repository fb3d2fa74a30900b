//! Property tests: reports built from any readings round-trip through bytes, and any bytes
//! decode to a report or an error, never a panic.

use proptest::prelude::*;
use sync_protocol::auth::RootKey;
use sync_protocol::report::flexible::{FlexHeader, FlexReading};
use sync_protocol::report::{
    BroadcastReport, FlexibleDictionaryReport, IndividualReport, Report, SignedListHeader,
    SignedListReport, Signer,
};
use sync_protocol::Reading;

fn reading() -> impl Strategy<Value = Reading> {
    (any::<u16>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
        |(stream, reading_id, raw_time, value)| Reading {
            stream,
            reading_id,
            raw_time,
            value,
        },
    )
}

fn header() -> impl Strategy<Value = SignedListHeader> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u8>(),
        any::<u16>(),
    )
        .prop_map(
            |(device_id, report_id, sent_timestamp, streamer, selector)| SignedListHeader {
                device_id,
                report_id,
                sent_timestamp,
                streamer,
                selector,
            },
        )
}

proptest! {
    #[test]
    fn signed_lists_round_trip(header in header(), readings in prop::collection::vec(reading(), 0..64), key in any::<[u8; 32]>(), scheme in 0u8..3) {
        let key = RootKey::new(key);
        let signer = match scheme {
            0 => Signer::Hash,
            1 => Signer::UserKey(&key),
            _ => Signer::DeviceKey(&key),
        };
        let built = SignedListReport::build(header, &readings, signer).expect("fits");
        let bytes = built.encode();
        prop_assert_eq!(bytes.len(), 44 + 16 * readings.len());
        let Ok(Report::SignedList(decoded)) = Report::decode(&bytes) else { panic!("decodes as a signed list") };
        prop_assert_eq!(&decoded, &built);
        prop_assert_eq!(decoded.encode(), bytes);
        prop_assert_eq!(decoded.readings(Some(&key)), Ok(readings));
    }

    #[test]
    fn broadcasts_and_individuals_round_trip(device in any::<u32>(), sent in any::<u32>(), readings in prop::collection::vec(reading(), 0..20)) {
        let broadcast = BroadcastReport::new(device, sent, &readings).expect("fits");
        let bytes = broadcast.encode();
        prop_assert_eq!(Report::decode(&bytes), Ok(Report::Broadcast(broadcast)));
        for r in &readings {
            let individual = IndividualReport::new(device, Reading { reading_id: 0, ..*r }, sent);
            let decoded = Report::decode(&individual.encode());
            prop_assert_eq!(decoded, Ok(Report::Individual(individual)));
        }
    }

    #[test]
    fn flexible_dictionaries_round_trip(device in any::<u64>(), readings in prop::collection::vec((any::<u16>(), any::<u32>(), any::<u32>(), any::<i64>()), 0..20)) {
        let readings: Vec<FlexReading> = readings
            .into_iter()
            .map(|(stream, raw_time, reading_id, value)| FlexReading { stream, raw_time, reading_id, timestamp: None, value })
            .collect();
        let header = FlexHeader { device_id: device, streamer: 0x100, selector: 0xFFFF, report_id: 3, sent_timestamp: 4 };
        let report = FlexibleDictionaryReport::build(header, readings, Vec::new());
        let bytes = report.encode();
        prop_assert_eq!(Report::decode(&bytes), Ok(Report::FlexibleDictionary(report)));
    }

    #[test]
    fn any_bytes_decode_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..300), first in prop::sample::select(vec![0u8, 1, 3, 0x8A, 0xDE, 0xDF, 0x42])) {
        let mut bytes = bytes;
        bytes.insert(0, first);
        if let Ok(report) = Report::decode(&bytes) {
            let _ = report.encode();
        }
    }
}
