//! Packed OS/app identity words, as carried by streams `0x5C08`/`0x5C09`, RPC `0x1008` and
//! the SetDeviceTag script record:
//!
//! ```text
//! 31..26 major (0..63) | 25..20 minor (0..63) | 19..0 tag
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// A tag with its major.minor version, e.g. tag 2050 v1.4 = `0x04400802`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TagVersion {
    pub tag: u32,
    pub major: u8,
    pub minor: u8,
}

/// A tag or version number out of its field's range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tag {tag} v{major}.{minor} does not fit (tag < 2^20, major and minor < 64)")]
pub struct TagVersionRangeError {
    pub tag: u32,
    pub major: u8,
    pub minor: u8,
}

impl TagVersion {
    pub const MAX_TAG: u32 = (1 << 20) - 1;

    pub fn new(tag: u32, major: u8, minor: u8) -> Result<Self, TagVersionRangeError> {
        if tag > Self::MAX_TAG || major > 63 || minor > 63 {
            return Err(TagVersionRangeError { tag, major, minor });
        }
        Ok(TagVersion { tag, major, minor })
    }

    /// Unpacks a 32-bit word; every word is valid.
    pub fn unpack(word: u32) -> Self {
        TagVersion {
            tag: word & Self::MAX_TAG,
            minor: ((word >> 20) & 0x3F) as u8,
            major: ((word >> 26) & 0x3F) as u8,
        }
    }

    pub fn pack(self) -> u32 {
        (u32::from(self.major & 0x3F) << 26)
            | (u32::from(self.minor & 0x3F) << 20)
            | (self.tag & Self::MAX_TAG)
    }

    /// `major.minor`, as coretools prints versions.
    pub fn version(self) -> String {
        format!("{}.{}", self.major, self.minor)
    }
}

impl fmt::Display for TagVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tag {} v{}.{}", self.tag, self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_as_the_pods_do() {
        let os = TagVersion::unpack(0x0400_0802);
        assert_eq!((os.tag, os.major, os.minor), (2050, 1, 0));
        let app = TagVersion::unpack(0x0440_0802);
        assert_eq!((app.tag, app.major, app.minor), (2050, 1, 4));
        assert_eq!(app.pack(), 0x0440_0802);
        assert_eq!(
            TagVersion::new(2049, 1, 0).map(TagVersion::pack),
            Ok(0x0400_0801)
        );
        assert!(TagVersion::new(1 << 20, 0, 0).is_err());
        assert!(TagVersion::new(1, 64, 0).is_err());
    }
}
