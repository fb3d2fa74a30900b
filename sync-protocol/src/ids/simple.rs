//! The single-number kinds that are not devices: project, fleet, device script, stream alias.

use std::fmt;
use std::str::FromStr;

use super::parse::{self, Groups};
use super::{IdError, SlugKind};

/// Display and lenient FromStr (prefix or bare value) for a single-number slug.
macro_rules! single_number {
    ($ty:ident, $kind:expr, $bits:expr, $field:expr, $int:ty) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "{}--{}",
                    $kind.prefix(),
                    Groups::new(u64::from(self.0), $bits / 16)
                )
            }
        }

        impl FromStr for $ty {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let (_, parts) = parse::checked(s, $kind, &[$kind], true)?;
                let part = parts.first().copied().unwrap_or("");
                let value = parse::field($kind, $field, part, $bits, s)?;
                let value = <$int>::try_from(value).map_err(|_| IdError::TooLarge {
                    expected: $kind,
                    field: $field,
                    bits: $bits,
                    found: super::error::shown(s),
                })?;
                Ok($ty(value))
            }
        }
    };
}

/// A project id (`Project.gid`, 32 bits): `p--0000-0077`. Id 0 means "no project".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ProjectSlug(u32);

impl ProjectSlug {
    /// Project 0: no project (virtual and data-block streams use it).
    pub const NONE: ProjectSlug = ProjectSlug(0);

    pub const fn new(id: u32) -> Self {
        ProjectSlug(id)
    }

    pub const fn get(self) -> u32 {
        self.0
    }

    /// Whether this is project 0 ("no project").
    pub const fn is_none(self) -> bool {
        self.0 == 0
    }
}

impl From<u32> for ProjectSlug {
    fn from(id: u32) -> Self {
        ProjectSlug(id)
    }
}

impl From<ProjectSlug> for u32 {
    fn from(p: ProjectSlug) -> Self {
        p.0
    }
}

single_number!(ProjectSlug, SlugKind::Project, 32, "project id", u32);

/// A fleet id (`Fleet.id`, 48 bits): `g--0000-0000-0001`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FleetSlug(u64);

impl FleetSlug {
    /// The largest fleet id (48 bits).
    pub const MAX: u64 = (1 << 48) - 1;

    /// A fleet id; ids of 2^48 and above are refused.
    pub fn new(id: u64) -> Result<Self, IdError> {
        if id > Self::MAX {
            return Err(IdError::OutOfRange {
                field: "fleet id",
                value: id,
                bits: 48,
            });
        }
        Ok(FleetSlug(id))
    }

    pub const fn get(self) -> u64 {
        self.0
    }
}

impl From<u32> for FleetSlug {
    fn from(id: u32) -> Self {
        FleetSlug(u64::from(id))
    }
}

impl TryFrom<u64> for FleetSlug {
    type Error = IdError;

    fn try_from(id: u64) -> Result<Self, Self::Error> {
        FleetSlug::new(id)
    }
}

impl From<FleetSlug> for u64 {
    fn from(g: FleetSlug) -> Self {
        g.0
    }
}

single_number!(FleetSlug, SlugKind::Fleet, 48, "fleet id", u64);

/// A device script id (`DeviceScript.gid`, 32 bits): `z--0000-0002`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScriptSlug(u32);

impl ScriptSlug {
    pub const fn new(id: u32) -> Self {
        ScriptSlug(id)
    }

    pub const fn get(self) -> u32 {
        self.0
    }
}

impl From<u32> for ScriptSlug {
    fn from(id: u32) -> Self {
        ScriptSlug(id)
    }
}

impl From<ScriptSlug> for u32 {
    fn from(z: ScriptSlug) -> Self {
        z.0
    }
}

single_number!(ScriptSlug, SlugKind::Script, 32, "device script id", u32);

/// A stream alias id (64 bits): `a--0000-0000-0000-0001`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AliasSlug(u64);

impl AliasSlug {
    pub const fn new(id: u64) -> Self {
        AliasSlug(id)
    }

    pub const fn get(self) -> u64 {
        self.0
    }
}

impl From<u64> for AliasSlug {
    fn from(id: u64) -> Self {
        AliasSlug(id)
    }
}

impl From<AliasSlug> for u64 {
    fn from(a: AliasSlug) -> Self {
        a.0
    }
}

single_number!(AliasSlug, SlugKind::Alias, 64, "stream alias id", u64);
