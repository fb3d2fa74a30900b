//! Devices, data blocks, and references to either.
//!
//! A device part is 64 bits: the block (16 bits, the first group) and the device id
//! (48 bits). Block 0 is the device itself; any other block is an archive of its data.

use std::fmt;
use std::str::FromStr;

use super::error::shown;
use super::parse::{self, Groups};
use super::{IdError, SlugKind};

/// A device id, which is also the device's serial number (48 bits): `d--0000-0000-0000-00d2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct DeviceId(u64);

impl DeviceId {
    /// The largest device id (48 bits).
    pub const MAX: u64 = (1 << 48) - 1;

    /// A device id; ids of 2^48 and above are refused.
    pub fn new(id: u64) -> Result<Self, IdError> {
        if id > Self::MAX {
            return Err(IdError::OutOfRange {
                field: "device id",
                value: id,
                bits: 48,
            });
        }
        Ok(DeviceId(id))
    }

    /// A device id from a 32-bit uuid, as carried by report headers.
    pub const fn from_u32(id: u32) -> Self {
        DeviceId(id as u64)
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    /// Resolve a slug the way the device route does: a `d--` or `b--` prefix is required
    /// (a bare `000a` is refused), and a data block slug (`b--0001-0000-0000-04e7`, or
    /// `d--0001-0000-0000-04e7`) resolves to its device (`d--0000-0000-0000-04e7`).
    pub fn from_route(input: &str) -> Result<Self, IdError> {
        DeviceRef::parse_route(input).map(DeviceRef::device)
    }

    /// Read only the full form `d--0000-hhhh-hhhh-hhhh` (the prefix and the hex digits may be
    /// upper case), as the OTA device-info route does.
    pub fn parse_full_form(input: &str) -> Result<Self, IdError> {
        const FORM: &str = "d--0000-hhhh-hhhh-hhhh";
        let bad = || IdError::NotFullForm {
            expected: SlugKind::Device,
            form: FORM,
            found: shown(input),
        };
        let rest = input
            .strip_prefix("d--0000-")
            .or_else(|| input.strip_prefix("D--0000-"))
            .ok_or_else(bad)?;
        let mut groups = rest.split('-');
        let mut value: u64 = 0;
        for _ in 0..3 {
            let group = groups.next().ok_or_else(bad)?;
            if group.len() != 4 || !group.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            let number = u64::from_str_radix(group, 16).map_err(|_| bad())?;
            value = (value << 16) | number;
        }
        if groups.next().is_some() {
            return Err(bad());
        }
        DeviceId::new(value)
    }
}

impl From<u32> for DeviceId {
    fn from(id: u32) -> Self {
        DeviceId::from_u32(id)
    }
}

impl TryFrom<u64> for DeviceId {
    type Error = IdError;

    fn try_from(id: u64) -> Result<Self, Self::Error> {
        DeviceId::new(id)
    }
}

impl From<DeviceId> for u64 {
    fn from(d: DeviceId) -> Self {
        d.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "d--{}", Groups::new(self.0, 4))
    }
}

/// Read a `d--` or `b--` slug or a bare value as a 64-bit device part; returns the kind of
/// the prefix (Device for a bare value).
fn device_part(
    input: &str,
    expected: SlugKind,
    accepted: &[SlugKind],
    bare: bool,
) -> Result<(SlugKind, u64), IdError> {
    let (kind, parts) = parse::checked(input, expected, accepted, bare)?;
    let part = parts.first().copied().unwrap_or("");
    let field = if kind == SlugKind::Block {
        "block and device id"
    } else {
        "device id"
    };
    let value = parse::field(expected, field, part, 64, input)?;
    Ok((kind, value))
}

/// Lenient: `d--…` with any number of short groups, upper case, `0x`, or a bare value. A
/// `d--` slug whose first group is not `0000` names a data block and is refused (read it as
/// a [`DeviceRef`] or [`BlockSlug`]).
impl FromStr for DeviceId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (_, value) = device_part(s, SlugKind::Device, &[SlugKind::Device], true)?;
        match DeviceRef::from_device_part(value) {
            DeviceRef::Device(id) => Ok(id),
            DeviceRef::Block(block) => Err(IdError::BlockNotDevice {
                found: shown(s),
                block,
            }),
        }
    }
}

/// A data block: an archive of a device's data (block 16 bits + device 48 bits):
/// `b--0001-0000-0000-04e7`.
///
/// Block 0 is allowed (the SDK formats `b--0000-…` too), but as a device part it is the same
/// as the device itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockSlug {
    block: u16,
    device: DeviceId,
}

impl BlockSlug {
    pub const fn new(block: u16, device: DeviceId) -> Self {
        BlockSlug { block, device }
    }

    /// Split a 64-bit device part: the first 16 bits are the block, the rest the device.
    pub const fn from_device_part(part: u64) -> Self {
        BlockSlug {
            block: (part >> 48) as u16,
            device: DeviceId(part & DeviceId::MAX),
        }
    }

    pub const fn block(self) -> u16 {
        self.block
    }

    /// The device whose data this block archives.
    pub const fn device(self) -> DeviceId {
        self.device
    }

    /// The 64-bit device part: block in the first 16 bits, device id in the other 48.
    pub const fn device_part(self) -> u64 {
        ((self.block as u64) << 48) | self.device.0
    }
}

impl fmt::Display for BlockSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b--{}", Groups::new(self.device_part(), 4))
    }
}

/// Lenient: `b--…` (any block, 0 included) or a bare value, and also `d--bbbb-…` with a
/// non-zero first group (a `d--` slug with first group `0000` is a device and is refused).
impl FromStr for BlockSlug {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, value) = device_part(
            s,
            SlugKind::Block,
            &[SlugKind::Block, SlugKind::Device],
            true,
        )?;
        let block = BlockSlug::from_device_part(value);
        if kind == SlugKind::Device && block.block == 0 {
            return Err(IdError::DeviceNotBlock {
                found: shown(s),
                device: block.device,
            });
        }
        Ok(block)
    }
}

/// A device or one of its data blocks, as found in a `d--`/`b--` slug or a device part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceRef {
    Device(DeviceId),
    Block(BlockSlug),
}

impl DeviceRef {
    /// The original server's rule for a 64-bit device part: first group `0000` is the
    /// device, anything else is a data block.
    pub const fn from_device_part(part: u64) -> Self {
        if part >> 48 == 0 {
            DeviceRef::Device(DeviceId(part))
        } else {
            DeviceRef::Block(BlockSlug::from_device_part(part))
        }
    }

    /// The 64-bit device part (block in the first group, 0 for a device).
    pub const fn device_part(self) -> u64 {
        match self {
            DeviceRef::Device(id) => id.0,
            DeviceRef::Block(block) => block.device_part(),
        }
    }

    /// The device this refers to: itself, or the device a data block archives. This is
    /// what the device route resolves a `b--` slug to.
    pub const fn device(self) -> DeviceId {
        match self {
            DeviceRef::Device(id) => id,
            DeviceRef::Block(block) => block.device,
        }
    }

    /// The data block, if this is one.
    pub const fn block(self) -> Option<BlockSlug> {
        match self {
            DeviceRef::Device(_) => None,
            DeviceRef::Block(block) => Some(block),
        }
    }

    pub const fn is_block(self) -> bool {
        matches!(self, DeviceRef::Block(_))
    }

    /// Strict variant for the device route: a `d--` or `b--` prefix (either case) is
    /// required, so a bare `000a` is refused (the original server answers 404). Otherwise as
    /// [`FromStr`]; use [`DeviceRef::device`] to get the device the route shows.
    pub fn parse_route(input: &str) -> Result<Self, IdError> {
        parse_ref(input, false)
    }
}

fn parse_ref(input: &str, bare: bool) -> Result<DeviceRef, IdError> {
    let (kind, value) = device_part(
        input,
        SlugKind::Device,
        &[SlugKind::Device, SlugKind::Block],
        bare,
    )?;
    Ok(if kind == SlugKind::Block {
        DeviceRef::Block(BlockSlug::from_device_part(value))
    } else {
        DeviceRef::from_device_part(value)
    })
}

impl From<DeviceId> for DeviceRef {
    fn from(id: DeviceId) -> Self {
        DeviceRef::Device(id)
    }
}

impl From<BlockSlug> for DeviceRef {
    fn from(block: BlockSlug) -> Self {
        DeviceRef::Block(block)
    }
}

impl fmt::Display for DeviceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceRef::Device(id) => id.fmt(f),
            DeviceRef::Block(block) => block.fmt(f),
        }
    }
}

/// Lenient, with the server's `?device=` rules: `b--…` is a data block; `d--…` (or a bare
/// value) is the device when its first group is `0000` and that data block otherwise.
impl FromStr for DeviceRef {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_ref(s, true)
    }
}
