//! The script container: the 24-byte integrity header and the 8-byte record headers.
//!
//! ```text
//! script: hash[16] = SHA-256(bytes[16..])[..16] | u32 magic 0x1F2E3D4C | u32 total length | records
//! record: u32 length including this header | u8 type | 3 reserved bytes (0) | payload
//! ```

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::{ScriptError, ScriptErrorKind};

pub(super) const MAGIC: u32 = 0x1F2E_3D4C;
pub(super) const SCRIPT_HEADER_LEN: usize = 24;
pub(super) const RECORD_HEADER_LEN: usize = 8;
const HASH_LEN: usize = 16;

/// One record as framed in the script, before its payload is interpreted.
#[derive(Debug, Clone, Copy)]
pub(super) struct RawRecord<'a> {
    /// Where the record header starts in the script.
    pub offset: usize,
    pub record_type: u8,
    pub payload: &'a [u8],
}

/// Checks the integrity header and returns the record area (everything after it).
pub(super) fn check_header(bytes: &[u8]) -> Result<&[u8], ScriptError> {
    let (Some(hash), Some(magic), Some(declared), Some(records)) = (
        bytes.get(..HASH_LEN),
        u32_at(bytes, 16),
        u32_at(bytes, 20),
        bytes.get(SCRIPT_HEADER_LEN..),
    ) else {
        return Err(ScriptErrorKind::TooShort { len: bytes.len() }.at(0));
    };
    if magic != MAGIC {
        return Err(ScriptErrorKind::BadMagic { found: magic }.at(16));
    }
    if usize::try_from(declared).ok() != Some(bytes.len()) {
        return Err(ScriptErrorKind::LengthMismatch {
            declared,
            actual: bytes.len(),
        }
        .at(20));
    }
    let hashed = bytes.get(HASH_LEN..).unwrap_or_default();
    let digest = Sha256::digest(hashed);
    let computed = digest.get(..HASH_LEN).unwrap_or_default();
    if !bool::from(computed.ct_eq(hash)) {
        return Err(ScriptErrorKind::HashMismatch.at(0));
    }
    Ok(records)
}

/// Splits the record area into framed records; `base` is the offset of the area in the script.
/// Refuses what the reference would misread: partial headers, lengths below 8 or past the
/// end, and (so that encoding is exact) non-zero reserved bytes.
pub(super) fn split_records(area: &[u8], base: usize) -> Result<Vec<RawRecord<'_>>, ScriptError> {
    let mut records = Vec::new();
    let mut pos = 0usize;
    while let Some(rest) = area.get(pos..).filter(|rest| !rest.is_empty()) {
        let offset = base.saturating_add(pos);
        let (Some(length), Some(&record_type), Some(reserved)) =
            (u32_at(rest, 0), rest.get(4), array_at::<3>(rest, 5))
        else {
            return Err(ScriptErrorKind::PartialRecord {
                remaining: rest.len(),
            }
            .at(offset));
        };
        let len = usize::try_from(length).unwrap_or(usize::MAX);
        if len < RECORD_HEADER_LEN {
            return Err(ScriptErrorKind::RecordLengthTooSmall { length }.at(offset));
        }
        let Some(payload) = rest.get(RECORD_HEADER_LEN..len) else {
            return Err(ScriptErrorKind::RecordPastEnd {
                length,
                remaining: rest.len(),
            }
            .at(offset));
        };
        if reserved != [0; 3] {
            return Err(ScriptErrorKind::ReservedNotZero { found: reserved }.at(offset));
        }
        records.push(RawRecord {
            offset,
            record_type,
            payload,
        });
        pos = pos.saturating_add(len);
    }
    Ok(records)
}

/// Prepends the integrity header to encoded records.
pub(super) fn seal(records: &[u8]) -> Vec<u8> {
    let total = records.len().saturating_add(SCRIPT_HEADER_LEN);
    let mut body = Vec::with_capacity(total);
    body.extend_from_slice(&MAGIC.to_le_bytes());
    body.extend_from_slice(&saturating_u32(total).to_le_bytes());
    body.extend_from_slice(records);
    let digest = Sha256::digest(&body);
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(digest.get(..HASH_LEN).unwrap_or_default());
    out.extend_from_slice(&body);
    out
}

/// Writes a record header and payload. Lengths beyond `u32` cannot be framed; builders
/// refuse such images, so saturating here only guards hand-built records.
pub(super) fn push_record(out: &mut Vec<u8>, record_type: u8, payload: &[u8]) {
    let length = saturating_u32(payload.len().saturating_add(RECORD_HEADER_LEN));
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&[record_type, 0, 0, 0]);
    out.extend_from_slice(payload);
}

pub(super) fn saturating_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

pub(super) fn array_at<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

pub(super) fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    array_at(bytes, at).map(u16::from_le_bytes)
}

pub(super) fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    array_at(bytes, at).map(u32::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_records_pass_the_header_check() {
        let mut records = Vec::new();
        push_record(&mut records, 5, &[]);
        let script = seal(&records);
        assert_eq!(script.len(), 32);
        assert_eq!(check_header(&script).map(<[u8]>::len), Ok(8));
        let split = split_records(&records, 24).expect("one record");
        assert_eq!(
            (split.len(), split[0].offset, split[0].record_type),
            (1, 24, 5)
        );
    }

    #[test]
    fn header_problems_are_told_apart() {
        let script = seal(&[]);
        assert!(
            matches!(check_header(&script[..23]), Err(e) if e.kind == ScriptErrorKind::TooShort { len: 23 })
        );
        let mut bad = script.clone();
        bad[16] ^= 1;
        assert!(
            matches!(check_header(&bad), Err(e) if matches!(e.kind, ScriptErrorKind::BadMagic { .. }))
        );
        let mut bad = script.clone();
        bad.push(0);
        assert!(
            matches!(check_header(&bad), Err(e) if matches!(e.kind, ScriptErrorKind::LengthMismatch { .. }))
        );
        let mut bad = script;
        bad[0] ^= 1;
        assert!(check_header(&bad).is_err_and(|e| e.is_hash_mismatch()));
    }

    #[test]
    fn bad_framing_is_refused() {
        let kind = |area: &[u8]| split_records(area, 24).map(|_| ()).map_err(|e| e.kind);
        assert_eq!(
            kind(&[8, 0, 0, 0, 5, 0, 0]),
            Err(ScriptErrorKind::PartialRecord { remaining: 7 })
        );
        assert_eq!(
            kind(&[7, 0, 0, 0, 5, 0, 0, 0]),
            Err(ScriptErrorKind::RecordLengthTooSmall { length: 7 })
        );
        assert_eq!(
            kind(&[9, 0, 0, 0, 5, 0, 0, 0]),
            Err(ScriptErrorKind::RecordPastEnd {
                length: 9,
                remaining: 8
            })
        );
        assert_eq!(
            kind(&[8, 0, 0, 0, 5, 0, 1, 0]),
            Err(ScriptErrorKind::ReservedNotZero { found: [0, 1, 0] })
        );
        assert!(kind(&[0xFF, 0xFF, 0xFF, 0xFF, 5, 0, 0, 0]).is_err());
    }
}
