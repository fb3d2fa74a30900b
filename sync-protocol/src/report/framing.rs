//! Finding report boundaries in a continuous byte stream, as reports arrive over BLE in
//! 20-byte notifications: read the format byte, wait for that format's header, compute the
//! total length, wait for the whole report, emit it, repeat.
//!
//! Only the binary formats (0, 1, 3) can be framed; a flexible dictionary report has no
//! format byte and travels as a whole file.

use super::{
    broadcast, individual, signed_list, BroadcastReport, IndividualReport, ReportError,
    SignedListReport,
};

/// The total length of the report that starts `buf`, `Ok(None)` while its header is incomplete.
pub fn frame_length(buf: &[u8]) -> Result<Option<usize>, ReportError> {
    let Some(&format) = buf.first() else {
        return Ok(None);
    };
    match format {
        individual::FORMAT => Ok(Some(IndividualReport::LEN)),
        signed_list::FORMAT if buf.len() < 20 => Ok(None),
        signed_list::FORMAT => {
            let total = SignedListReport::length_from_header(buf);
            if total < SignedListReport::MIN_LEN {
                return Err(ReportError::malformed(
                    1,
                    format!("declared length {total} is shorter than 44 bytes"),
                ));
            }
            Ok(Some(total))
        }
        broadcast::FORMAT if buf.len() < 16 => Ok(None),
        broadcast::FORMAT => BroadcastReport::length_from_header(buf).map(Some),
        other => Err(ReportError::UnknownFormat(other)),
    }
}

/// Splits a byte stream into whole reports. After an error the framer stays failed, as the
/// stream can no longer be trusted to be aligned (the connection must be reopened).
#[derive(Debug, Default)]
pub struct ReportFramer {
    buf: Vec<u8>,
    failed: Option<ReportError>,
    /// Bytes consumed before `buf[0]`, for error offsets.
    consumed: usize,
}

impl ReportFramer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// The next whole report, if one is complete. Errors carry offsets within the stream.
    pub fn next_report(&mut self) -> Option<Result<Vec<u8>, ReportError>> {
        if let Some(error) = &self.failed {
            return Some(Err(error.clone()));
        }
        match frame_length(&self.buf) {
            Ok(Some(total)) if self.buf.len() >= total => {
                let rest = self.buf.split_off(total);
                let report = std::mem::replace(&mut self.buf, rest);
                self.consumed += total;
                Some(Ok(report))
            }
            Ok(_) => None,
            Err(error) => {
                let error = match error {
                    ReportError::Malformed { offset, reason } => ReportError::Malformed {
                        offset: offset + self.consumed,
                        reason,
                    },
                    ReportError::UnknownFormat(byte) => ReportError::malformed(
                        self.consumed,
                        format!("unknown report format {byte:#04x} in the stream"),
                    ),
                    other => other,
                };
                self.failed = Some(error.clone());
                self.buf.clear();
                Some(Err(error))
            }
        }
    }

    /// Bytes received but not yet part of a whole report.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{SignedListHeader, Signer};
    use crate::Reading;

    fn signed(count: u32) -> Vec<u8> {
        let readings: Vec<Reading> = (1..=count)
            .map(|i| Reading {
                stream: 0x5001,
                reading_id: i,
                raw_time: i,
                value: i,
            })
            .collect();
        let header = SignedListHeader {
            device_id: 1,
            report_id: count + 1,
            sent_timestamp: 5,
            streamer: 0,
            selector: 0xD7FF,
        };
        SignedListReport::build(header, &readings, Signer::Hash)
            .expect("fits")
            .encode()
    }

    #[test]
    fn splits_back_to_back_reports_at_any_chunking() {
        let individual = IndividualReport::new(
            7,
            Reading {
                stream: 0x1000,
                reading_id: 0,
                raw_time: 1,
                value: 2,
            },
            0,
        );
        let mut stream = signed(3);
        stream.extend_from_slice(&individual.encode());
        stream.extend(signed(40));
        for chunk in [1, 7, 20, 64] {
            let mut framer = ReportFramer::new();
            let mut found = Vec::new();
            for piece in stream.chunks(chunk) {
                framer.push(piece);
                while let Some(report) = framer.next_report() {
                    found.push(report.expect("valid stream"));
                }
            }
            assert_eq!(found.concat(), stream);
            assert_eq!(
                found.iter().map(Vec::len).collect::<Vec<_>>(),
                vec![92, 20, 684]
            );
            assert_eq!(framer.pending(), 0);
        }
    }

    #[test]
    fn frames_a_large_report() {
        let big = signed(22_000);
        assert!(big.len() > 350_000);
        let mut framer = ReportFramer::new();
        for piece in big.chunks(20) {
            framer.push(piece);
        }
        assert_eq!(framer.next_report(), Some(Ok(big)));
    }

    #[test]
    fn unknown_format_stops_the_stream() {
        let mut framer = ReportFramer::new();
        framer.push(&signed(1));
        framer.push(&[0x07, 1, 2, 3]);
        assert!(matches!(framer.next_report(), Some(Ok(_))));
        let error = framer
            .next_report()
            .expect("an outcome")
            .expect_err("unknown format");
        assert_eq!(error.offset(), 60);
        framer.push(&signed(1));
        assert!(matches!(framer.next_report(), Some(Err(_))));
    }
}
