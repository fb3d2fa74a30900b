//! SignedListReport (format 1): the persistent report a streamer builds, `44 + 16·N` bytes.
//!
//! ```text
//!  0 u8  format = 1          1 u24 total length      4 u32 device uuid
//!  8 u32 report id          12 u32 sent_timestamp   16 u8  signature flags
//! 17 u8  streamer index     18 u16 selector         20 N reading records (ciphertext if keyed)
//! then u32 lowest id, u32 highest id (ignoring 0), 16-byte signature
//! ```
//!
//! The signature covers every byte before it. A keyed report is encrypted, then signed; it is
//! only decrypted after its signature verifies.

use subtle::ConstantTimeEq;

use super::{expect_format, le_u16, le_u32, ReportError, Verification};
use crate::auth::{digest, ReportKey, RootKey, SignatureFlags};
use crate::reading::{id_range, read_area, Reading};

pub(crate) const FORMAT: u8 = 1;
const HEADER_LEN: usize = 20;
const FOOTER_LEN: usize = 24;
const SIGNATURE_LEN: usize = 16;
/// The length field has 24 bits.
const MAX_LEN: usize = (1 << 24) - 1;

/// The header fields a streamer chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignedListHeader {
    pub device_id: u32,
    /// Taken from the device's reading-id counter when the report is built, so it is higher
    /// than every reading id inside.
    pub report_id: u32,
    /// Device uptime when the report was built (RTC-flagged on some emulators).
    pub sent_timestamp: u32,
    /// The streamer that built the report.
    pub streamer: u8,
    /// The streamer's selector.
    pub selector: u16,
}

/// How to sign a report being built.
#[derive(Debug, Clone, Copy)]
pub enum Signer<'a> {
    /// SHA-256 only.
    Hash,
    /// HMAC with the device's user key; readings encrypted.
    UserKey(&'a RootKey),
    /// HMAC with the device key; readings encrypted.
    DeviceKey(&'a RootKey),
}

impl Signer<'_> {
    fn flags(&self) -> SignatureFlags {
        match self {
            Signer::Hash => SignatureFlags::Hash,
            Signer::UserKey(_) => SignatureFlags::UserKey,
            Signer::DeviceKey(_) => SignatureFlags::DeviceKey,
        }
    }

    fn key(&self) -> Option<&RootKey> {
        match self {
            Signer::Hash => None,
            Signer::UserKey(key) | Signer::DeviceKey(key) => Some(key),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SignedListReport {
    pub header: SignedListHeader,
    pub flags: SignatureFlags,
    /// Footer: lowest reading id, ignoring 0 (0 if none).
    pub lowest_id: u32,
    /// Footer: highest reading id, ignoring 0 (0 if none).
    pub highest_id: u32,
    /// The reading records as transmitted (ciphertext when keyed).
    area: Vec<u8>,
    signature: [u8; SIGNATURE_LEN],
}

impl SignedListReport {
    /// The length of a report with no readings.
    pub const MIN_LEN: usize = HEADER_LEN + FOOTER_LEN;

    /// Builds and signs a report of `readings` (encrypting them when signed with a key).
    pub fn build(
        header: SignedListHeader,
        readings: &[Reading],
        signer: Signer<'_>,
    ) -> Result<Self, ReportError> {
        let total = readings
            .len()
            .checked_mul(Reading::RECORD_LEN)
            .and_then(|area| area.checked_add(Self::MIN_LEN))
            .filter(|total| *total <= MAX_LEN)
            .ok_or_else(|| {
                ReportError::malformed(
                    1,
                    format!(
                        "{} readings exceed the 24-bit report length",
                        readings.len()
                    ),
                )
            })?;
        let mut area = Vec::with_capacity(total - Self::MIN_LEN);
        for reading in readings {
            reading.write_record(&mut area);
        }
        let report_key = signer
            .key()
            .map(|key| key.report_key(header.report_id, header.sent_timestamp));
        if let Some(report_key) = &report_key {
            report_key.apply_keystream(&mut area);
        }
        let (lowest_id, highest_id) = id_range(readings);
        let mut report = SignedListReport {
            header,
            flags: signer.flags(),
            lowest_id,
            highest_id,
            area,
            signature: [0; SIGNATURE_LEN],
        };
        let full = report.expected_signature(report_key.as_ref());
        report.signature.copy_from_slice(&full[..SIGNATURE_LEN]);
        Ok(report)
    }

    /// The total length of the report whose first 20 bytes are `header`.
    pub(crate) fn length_from_header(header: &[u8]) -> usize {
        (le_u32(header, 0) >> 8) as usize
    }

    /// Decodes the structure. This checks the layout, not the signature: see [`Self::verify`].
    pub fn decode(bytes: &[u8]) -> Result<Self, ReportError> {
        expect_format(bytes, FORMAT)?;
        if bytes.len() < HEADER_LEN {
            return Err(ReportError::Truncated {
                what: "signed list report header",
                need: HEADER_LEN,
                have: bytes.len(),
            });
        }
        let declared = Self::length_from_header(bytes);
        if declared < Self::MIN_LEN || (declared - Self::MIN_LEN) % Reading::RECORD_LEN != 0 {
            return Err(ReportError::malformed(
                1,
                format!("declared length {declared} is not 44 + 16·N bytes"),
            ));
        }
        if bytes.len() < declared {
            return Err(ReportError::Truncated {
                what: "signed list report",
                need: declared,
                have: bytes.len(),
            });
        }
        if bytes.len() > declared {
            return Err(ReportError::LengthMismatch {
                offset: 1,
                declared,
                actual: bytes.len(),
            });
        }
        let flags = SignatureFlags::from_byte(bytes[16]).ok_or_else(|| {
            ReportError::malformed(
                16,
                format!(
                    "signature flags {} are not defined (0 hash, 1 user key, 2 device key)",
                    bytes[16]
                ),
            )
        })?;
        let footer = declared - FOOTER_LEN;
        let mut signature = [0u8; SIGNATURE_LEN];
        signature.copy_from_slice(&bytes[declared - SIGNATURE_LEN..]);
        Ok(SignedListReport {
            header: SignedListHeader {
                device_id: le_u32(bytes, 4),
                report_id: le_u32(bytes, 8),
                sent_timestamp: le_u32(bytes, 12),
                streamer: bytes[17],
                selector: le_u16(bytes, 18),
            },
            flags,
            lowest_id: le_u32(bytes, footer),
            highest_id: le_u32(bytes, footer + 4),
            area: bytes[HEADER_LEN..footer].to_vec(),
            signature,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.write_signed_bytes(&mut out);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        Self::MIN_LEN + self.area.len()
    }

    /// Whether the report carries no readings.
    pub fn is_empty(&self) -> bool {
        self.area.is_empty()
    }

    /// Number of reading records.
    pub fn reading_count(&self) -> usize {
        self.area.len() / Reading::RECORD_LEN
    }

    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        &self.signature
    }

    /// The reading records as transmitted (ciphertext when keyed).
    pub fn reading_area(&self) -> &[u8] {
        &self.area
    }

    /// Checks the signature. A keyed report needs the device's key of the matching kind.
    pub fn verify(&self, key: Option<&RootKey>) -> Verification {
        match self.report_key(key) {
            Ok(report_key) => self.check(report_key.as_ref()),
            Err(outcome) => outcome,
        }
    }

    /// The readings, decrypted, only if the signature verifies; otherwise the outcome.
    pub fn readings(&self, key: Option<&RootKey>) -> Result<Vec<Reading>, Verification> {
        let report_key = self.report_key(key)?;
        match self.check(report_key.as_ref()) {
            Verification::Verified => {}
            other => return Err(other),
        }
        match report_key {
            None => Ok(read_area(&self.area).collect()),
            Some(report_key) => {
                let mut readings = Vec::with_capacity(self.reading_count());
                report_key.decrypt_chunks(&self.area, |plain| readings.extend(read_area(plain)));
                Ok(readings)
            }
        }
    }

    /// The key this report was signed with, derived from `key`; `None` for hash-only reports.
    fn report_key(&self, key: Option<&RootKey>) -> Result<Option<ReportKey>, Verification> {
        match self.flags {
            SignatureFlags::Hash => Ok(None),
            SignatureFlags::UserKey | SignatureFlags::DeviceKey => {
                let key = key.ok_or(Verification::NoKey)?;
                Ok(Some(key.report_key(
                    self.header.report_id,
                    self.header.sent_timestamp,
                )))
            }
        }
    }

    fn check(&self, report_key: Option<&ReportKey>) -> Verification {
        let expected = self.expected_signature(report_key);
        if bool::from(expected[..SIGNATURE_LEN].ct_eq(&self.signature)) {
            Verification::Verified
        } else {
            Verification::Failed
        }
    }

    /// The full 32-byte signature: SHA-256 of the signed bytes, or its HMAC under the key.
    fn expected_signature(&self, report_key: Option<&ReportKey>) -> [u8; 32] {
        let mut head = [0u8; HEADER_LEN];
        self.write_header(&mut head);
        let mut ids = [0u8; 8];
        ids[..4].copy_from_slice(&self.lowest_id.to_le_bytes());
        ids[4..].copy_from_slice(&self.highest_id.to_le_bytes());
        let hash = digest(&[&head, &self.area, &ids]);
        match report_key {
            None => hash,
            Some(key) => key.sign_digest(&hash),
        }
    }

    fn write_header(&self, out: &mut [u8; HEADER_LEN]) {
        // Decoding and building keep the length within 24 bits.
        let word0 = ((self.len() as u32) << 8) | u32::from(FORMAT);
        out[0..4].copy_from_slice(&word0.to_le_bytes());
        out[4..8].copy_from_slice(&self.header.device_id.to_le_bytes());
        out[8..12].copy_from_slice(&self.header.report_id.to_le_bytes());
        out[12..16].copy_from_slice(&self.header.sent_timestamp.to_le_bytes());
        out[16] = self.flags.byte();
        out[17] = self.header.streamer;
        out[18..20].copy_from_slice(&self.header.selector.to_le_bytes());
    }

    fn write_signed_bytes(&self, out: &mut Vec<u8>) {
        let mut head = [0u8; HEADER_LEN];
        self.write_header(&mut head);
        out.extend_from_slice(&head);
        out.extend_from_slice(&self.area);
        out.extend_from_slice(&self.lowest_id.to_le_bytes());
        out.extend_from_slice(&self.highest_id.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readings() -> Vec<Reading> {
        (1..=5)
            .map(|i| Reading {
                stream: 0x5001,
                reading_id: i * 2,
                raw_time: 100 + i,
                value: i * 1000,
            })
            .collect()
    }

    fn header() -> SignedListHeader {
        SignedListHeader {
            device_id: 0x42,
            report_id: 11,
            sent_timestamp: 200,
            streamer: 0,
            selector: 0xD7FF,
        }
    }

    #[test]
    fn hash_signed_report_round_trips_and_verifies() {
        let report = SignedListReport::build(header(), &readings(), Signer::Hash).expect("fits");
        let bytes = report.encode();
        assert_eq!(bytes.len(), 44 + 5 * 16);
        let decoded = SignedListReport::decode(&bytes).expect("decodes");
        assert_eq!(decoded, report);
        assert_eq!((decoded.lowest_id, decoded.highest_id), (2, 10));
        assert_eq!(decoded.readings(None), Ok(readings()));
    }

    #[test]
    fn keyed_report_needs_the_right_key() {
        let key = RootKey::new([9; 32]);
        let report =
            SignedListReport::build(header(), &readings(), Signer::UserKey(&key)).expect("fits");
        let decoded = SignedListReport::decode(&report.encode()).expect("decodes");
        assert_ne!(&decoded.reading_area()[..16], {
            let mut plain = Vec::new();
            readings()[0].write_record(&mut plain);
            plain
        });
        assert_eq!(decoded.verify(None), Verification::NoKey);
        assert_eq!(decoded.readings(None), Err(Verification::NoKey));
        assert_eq!(
            decoded.verify(Some(&RootKey::new([8; 32]))),
            Verification::Failed
        );
        assert_eq!(decoded.readings(Some(&key)), Ok(readings()));
    }

    #[test]
    fn any_flipped_bit_fails_verification() {
        let bytes = SignedListReport::build(header(), &readings(), Signer::Hash)
            .expect("fits")
            .encode();
        for at in 0..bytes.len() {
            let mut tampered = bytes.clone();
            tampered[at] ^= 0x10;
            if let Ok(report) = SignedListReport::decode(&tampered) {
                assert_eq!(
                    report.readings(None),
                    Err(Verification::Failed),
                    "byte {at}"
                );
            }
        }
    }

    #[test]
    fn bad_layouts_are_refused() {
        let bytes = SignedListReport::build(header(), &readings(), Signer::Hash)
            .expect("fits")
            .encode();
        assert!(matches!(
            SignedListReport::decode(&bytes[..30]),
            Err(ReportError::Truncated { .. })
        ));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            SignedListReport::decode(&longer),
            Err(ReportError::LengthMismatch { .. })
        ));
        let mut flags = bytes.clone();
        flags[16] = 7;
        assert_eq!(
            SignedListReport::decode(&flags).map_err(|e| e.offset()),
            Err(16)
        );
    }
}
