//! The kinds made of several `--` separated parts: variable, stream, streamer, filter.

use std::fmt;
use std::str::FromStr;

use super::parse::{self, Groups};
use super::{DeviceId, DeviceRef, IdError, ProjectSlug, SlugKind};

const PROJECT: &str = "project id";
const DEVICE: &str = "device part";
const LID: &str = "variable id";
const INDEX: &str = "streamer index";

/// Narrow a value already range-checked to 32 bits.
fn narrow32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Narrow a value already range-checked to 16 bits.
fn narrow16(value: u64) -> u16 {
    u16::try_from(value).unwrap_or(u16::MAX)
}

fn part<'a>(parts: &[&'a str], i: usize) -> &'a str {
    parts.get(i).copied().unwrap_or("")
}

/// A variable: a 16-bit stream id (lid) within a project: `v--0000-0077--5001`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VariableSlug {
    project: ProjectSlug,
    lid: u16,
}

impl VariableSlug {
    pub const fn new(project: ProjectSlug, lid: u16) -> Self {
        VariableSlug { project, lid }
    }

    pub const fn project(self) -> ProjectSlug {
        self.project
    }

    /// The 16-bit stream code (`0x5001`).
    pub const fn lid(self) -> u16 {
        self.lid
    }
}

impl fmt::Display for VariableSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "v--{}--{}",
            Groups::new(u64::from(self.project.get()), 2),
            Groups::new(u64::from(self.lid), 1)
        )
    }
}

/// `v--<project>--<lid>` (short parts fine), or a bare lid (`5001`), which means project 0
/// as in the SDK.
impl FromStr for VariableSlug {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const KIND: SlugKind = SlugKind::Variable;
        let pieces = parse::split(s);
        if pieces.prefix.is_none() && pieces.parts.len() == 1 && !s.trim().is_empty() {
            let lid = parse::field(KIND, LID, part(&pieces.parts, 0), 16, s)?;
            return Ok(VariableSlug::new(ProjectSlug::NONE, narrow16(lid)));
        }
        let (_, parts) = parse::checked(s, KIND, &[KIND], false)?;
        let project = parse::field(KIND, PROJECT, part(&parts, 0), 32, s)?;
        let lid = parse::field(KIND, LID, part(&parts, 1), 16, s)?;
        Ok(VariableSlug::new(
            ProjectSlug::new(narrow32(project)),
            narrow16(lid),
        ))
    }
}

/// The slugs stored with each data or event row, derived from its stream slug (see
/// [`StreamSlug::row_slugs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RowSlugs {
    /// `None` for a data-block row (the original stores `""`).
    pub project: Option<ProjectSlug>,
    /// `d--<device part>`, or `b--<device part>` for a data-block row.
    pub device: DeviceRef,
    /// `v--<project part>--<lid>`.
    pub variable: VariableSlug,
}

/// A stream: project (32 bits), device part (64 bits: block 16 + device 48) and lid (16
/// bits): `s--0000-0077--0000-0000-0000-00d2--5001`.
///
/// A device part of 0 is a project (virtual) stream; a non-zero first group of the device
/// part is a data block's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamSlug {
    project: ProjectSlug,
    device: u64,
    lid: u16,
}

impl StreamSlug {
    /// The stream of `lid` on a device or data block under `project`. For a reading this is
    /// the device's current project at processing time.
    pub fn new(project: ProjectSlug, device: impl Into<DeviceRef>, lid: u16) -> Self {
        StreamSlug {
            project,
            device: device.into().device_part(),
            lid,
        }
    }

    /// From a raw 64-bit device part.
    pub const fn from_parts(project: ProjectSlug, device_part: u64, lid: u16) -> Self {
        StreamSlug {
            project,
            device: device_part,
            lid,
        }
    }

    /// A project (virtual) stream: device part 0.
    pub const fn virtual_stream(project: ProjectSlug, lid: u16) -> Self {
        StreamSlug::from_parts(project, 0, lid)
    }

    pub const fn project(self) -> ProjectSlug {
        self.project
    }

    /// The 64-bit device part.
    pub const fn device_part(self) -> u64 {
        self.device
    }

    /// The device or data block, by the device part's first group.
    pub const fn device_ref(self) -> DeviceRef {
        DeviceRef::from_device_part(self.device)
    }

    /// The device id (the low 48 bits of the device part).
    pub const fn device_id(self) -> DeviceId {
        self.device_ref().device()
    }

    /// The block (the first group of the device part; 0 unless a data block).
    pub const fn block(self) -> u16 {
        (self.device >> 48) as u16
    }

    /// Whether this is a project (virtual) stream: device part 0.
    pub const fn is_virtual(self) -> bool {
        self.device == 0
    }

    /// Whether this is a data block's stream: the first group of the device part is not 0.
    pub const fn is_block(self) -> bool {
        self.block() != 0
    }

    /// The 16-bit stream code.
    pub const fn lid(self) -> u16 {
        self.lid
    }

    /// `v--<project>--<lid>`.
    pub const fn variable(self) -> VariableSlug {
        VariableSlug::new(self.project, self.lid)
    }

    /// The same stream under another project.
    pub const fn with_project(self, project: ProjectSlug) -> Self {
        StreamSlug { project, ..self }
    }

    /// The same stream moved to another device or data block (e.g. when archiving).
    pub fn with_device(self, device: impl Into<DeviceRef>) -> Self {
        StreamSlug {
            device: device.into().device_part(),
            ..self
        }
    }

    /// The project, device and variable slugs stored with a row of this stream (spec 4.4):
    /// first group `0000` gives `d--<device part>` and `p--<project>`; otherwise the row is a
    /// data-block row, `b--<device part>` and no project; the variable is always
    /// `v--<project>--<lid>`.
    pub const fn row_slugs(self) -> RowSlugs {
        let device = self.device_ref();
        RowSlugs {
            project: if self.is_block() {
                None
            } else {
                Some(self.project)
            },
            device,
            variable: self.variable(),
        }
    }
}

impl fmt::Display for StreamSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "s--{}--{}--{}",
            Groups::new(u64::from(self.project.get()), 2),
            Groups::new(self.device, 4),
            Groups::new(u64::from(self.lid), 1)
        )
    }
}

/// `s--<project>--<device part>--<lid>`; short parts are fine (`s--77--d2--5001`); an empty
/// project or device part is 0 (`s----0000-…--5001`), as in the SDK.
impl FromStr for StreamSlug {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const KIND: SlugKind = SlugKind::Stream;
        let (_, parts) = parse::checked(s, KIND, &[KIND], false)?;
        let project = parse::optional_field(KIND, PROJECT, part(&parts, 0), 32, s)?;
        let device = parse::optional_field(KIND, DEVICE, part(&parts, 1), 64, s)?;
        let lid = parse::field(KIND, LID, part(&parts, 2), 16, s)?;
        Ok(StreamSlug::from_parts(
            ProjectSlug::new(narrow32(project.unwrap_or(0))),
            device.unwrap_or(0),
            narrow16(lid),
        ))
    }
}

/// A streamer of a device: device part (64 bits) and index (16 bits):
/// `t--0000-0000-0000-000f--0001`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamerSlug {
    device: u64,
    index: u16,
}

impl StreamerSlug {
    pub fn new(device: impl Into<DeviceRef>, index: u16) -> Self {
        StreamerSlug {
            device: device.into().device_part(),
            index,
        }
    }

    pub const fn from_parts(device_part: u64, index: u16) -> Self {
        StreamerSlug {
            device: device_part,
            index,
        }
    }

    pub const fn device_part(self) -> u64 {
        self.device
    }

    pub const fn device_ref(self) -> DeviceRef {
        DeviceRef::from_device_part(self.device)
    }

    /// The device id (the low 48 bits of the device part).
    pub const fn device_id(self) -> DeviceId {
        self.device_ref().device()
    }

    pub const fn index(self) -> u16 {
        self.index
    }
}

impl fmt::Display for StreamerSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "t--{}--{}",
            Groups::new(self.device, 4),
            Groups::new(u64::from(self.index), 1)
        )
    }
}

/// `t--<device part>--<index>`, short parts fine.
impl FromStr for StreamerSlug {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const KIND: SlugKind = SlugKind::Streamer;
        let (_, parts) = parse::checked(s, KIND, &[KIND], false)?;
        let device = parse::field(KIND, DEVICE, part(&parts, 0), 64, s)?;
        let index = parse::field(KIND, INDEX, part(&parts, 1), 16, s)?;
        Ok(StreamerSlug::from_parts(device, narrow16(index)))
    }
}

/// A stream filter: project, optional device part, lid: `f--0000-0001----5000` (any device)
/// or `f--0000-0001--0000-0000-0000-0002--5000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FilterSlug {
    project: ProjectSlug,
    device: Option<u64>,
    lid: u16,
}

impl FilterSlug {
    pub fn new(project: ProjectSlug, device: Option<DeviceRef>, lid: u16) -> Self {
        FilterSlug {
            project,
            device: device.map(DeviceRef::device_part),
            lid,
        }
    }

    pub const fn from_parts(project: ProjectSlug, device_part: Option<u64>, lid: u16) -> Self {
        FilterSlug {
            project,
            device: device_part,
            lid,
        }
    }

    /// The filter for one stream.
    pub const fn for_stream(stream: StreamSlug) -> Self {
        FilterSlug::from_parts(stream.project, Some(stream.device), stream.lid)
    }

    pub const fn project(self) -> ProjectSlug {
        self.project
    }

    pub const fn device_part(self) -> Option<u64> {
        self.device
    }

    /// The device or data block, or `None` for a filter over the whole project.
    pub fn device_ref(self) -> Option<DeviceRef> {
        self.device.map(DeviceRef::from_device_part)
    }

    pub const fn lid(self) -> u16 {
        self.lid
    }

    pub const fn variable(self) -> VariableSlug {
        VariableSlug::new(self.project, self.lid)
    }
}

impl fmt::Display for FilterSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "f--{}--", Groups::new(u64::from(self.project.get()), 2))?;
        if let Some(device) = self.device {
            write!(f, "{}", Groups::new(device, 4))?;
        }
        write!(f, "--{}", Groups::new(u64::from(self.lid), 1))
    }
}

/// `f--<project>--<device part or empty>--<lid>`, short parts fine.
impl FromStr for FilterSlug {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const KIND: SlugKind = SlugKind::Filter;
        let (_, parts) = parse::checked(s, KIND, &[KIND], false)?;
        let project = parse::field(KIND, PROJECT, part(&parts, 0), 32, s)?;
        let device = parse::optional_field(KIND, DEVICE, part(&parts, 1), 64, s)?;
        let lid = parse::field(KIND, LID, part(&parts, 2), 16, s)?;
        Ok(FilterSlug::from_parts(
            ProjectSlug::new(narrow32(project)),
            device,
            narrow16(lid),
        ))
    }
}
