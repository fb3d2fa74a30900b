//! Object ids and their slugs, as used by IOTile Cloud and its Python SDK.
//!
//! | Kind | Type | Canonical form |
//! |---|---|---|
//! | project | [`ProjectSlug`] | `p--0000-0077` (32 bits) |
//! | device | [`DeviceId`] | `d--0000-0000-0000-00d2` (48 bits; first group, the block, is `0000`) |
//! | data block | [`BlockSlug`] | `b--0001-0000-0000-04e7` (block 16 bits + device 48 bits) |
//! | variable | [`VariableSlug`] | `v--0000-0077--5001` (project `--` lid) |
//! | stream | [`StreamSlug`] | `s--0000-0077--0000-0000-0000-00d2--5001` (project `--` device part `--` lid) |
//! | streamer | [`StreamerSlug`] | `t--0000-0000-0000-000f--0001` (device part `--` index) |
//! | fleet | [`FleetSlug`] | `g--0000-0000-0001` (48 bits) |
//! | device script | [`ScriptSlug`] | `z--0000-0002` (32 bits) |
//! | stream alias | [`AliasSlug`] | `a--0000-0000-0000-0001` (64 bits) |
//! | stream filter | [`FilterSlug`] | `f--0000-0001----5000` (project `--` optional device part `--` lid) |
//!
//! Every type prints (`Display`, and serde) the canonical form: 4-digit lower-case hex
//! groups joined by `-`, parts joined by `--`.
//!
//! Parsing (`FromStr`, and serde) is lenient and never truncates:
//! - the input is split on `--`; a first part that is a single letter is the prefix, whose
//!   case does not matter (`D--000A`);
//! - a part's value is read by numeric value: whitespace around it, an optional `0x`, and
//!   `-`/`_` separators are ignored, the rest must be hex digits; short parts are fine
//!   (`s--77--d2--5001`); a value wider than its field is an error, never cut. Groups are
//!   not read one by one: `d--1-2` is `0x12`, as the SDK's `gid2int` reads it;
//! - single-number kinds also take a bare value without prefix (`"0005"` is `p--0000-0005`);
//!   a [`VariableSlug`] takes a bare lid (project 0), as the SDK does;
//! - a prefix of another kind, a wrong number of parts, an empty or non-hex part are errors
//!   ([`IdError`]) that say what was expected.
//!
//! A device part (64 bits: block 16 + device 48) with a non-zero first group names a data
//! block: [`DeviceRef`] keeps the two apart and applies the original server's rules
//! ([`DeviceRef::from_str`](std::str::FromStr) for `?device=` filters,
//! [`DeviceRef::parse_route`] for the device route). [`parse_any`] reads a slug of any kind.

mod compound;
mod device;
mod error;
#[cfg(test)]
mod error_tests;
mod parse;
mod simple;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use compound::{FilterSlug, RowSlugs, StreamSlug, StreamerSlug, VariableSlug};
pub use device::{BlockSlug, DeviceId, DeviceRef};
pub use error::IdError;
pub use simple::{AliasSlug, FleetSlug, ProjectSlug, ScriptSlug};

/// The kinds of slug, one per prefix letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SlugKind {
    /// `p--`
    Project,
    /// `d--`
    Device,
    /// `b--`
    Block,
    /// `v--`
    Variable,
    /// `s--`
    Stream,
    /// `t--`
    Streamer,
    /// `g--`
    Fleet,
    /// `z--`
    Script,
    /// `a--`
    Alias,
    /// `f--`
    Filter,
}

impl SlugKind {
    pub const ALL: [SlugKind; 10] = [
        SlugKind::Project,
        SlugKind::Device,
        SlugKind::Block,
        SlugKind::Variable,
        SlugKind::Stream,
        SlugKind::Streamer,
        SlugKind::Fleet,
        SlugKind::Script,
        SlugKind::Alias,
        SlugKind::Filter,
    ];

    /// The prefix letter (lower case).
    pub const fn prefix(self) -> char {
        match self {
            SlugKind::Project => 'p',
            SlugKind::Device => 'd',
            SlugKind::Block => 'b',
            SlugKind::Variable => 'v',
            SlugKind::Stream => 's',
            SlugKind::Streamer => 't',
            SlugKind::Fleet => 'g',
            SlugKind::Script => 'z',
            SlugKind::Alias => 'a',
            SlugKind::Filter => 'f',
        }
    }

    /// The kind whose prefix is `letter`, in either case.
    pub fn from_prefix(letter: char) -> Option<SlugKind> {
        let letter = letter.to_ascii_lowercase();
        SlugKind::ALL.into_iter().find(|k| k.prefix() == letter)
    }

    /// The kind's name as used in messages (`device`, `data block`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            SlugKind::Project => "project",
            SlugKind::Device => "device",
            SlugKind::Block => "data block",
            SlugKind::Variable => "variable",
            SlugKind::Stream => "stream",
            SlugKind::Streamer => "streamer",
            SlugKind::Fleet => "fleet",
            SlugKind::Script => "device script",
            SlugKind::Alias => "stream alias",
            SlugKind::Filter => "stream filter",
        }
    }

    /// An example of the canonical form.
    pub const fn example(self) -> &'static str {
        match self {
            SlugKind::Project => "p--0000-0077",
            SlugKind::Device => "d--0000-0000-0000-00d2",
            SlugKind::Block => "b--0001-0000-0000-04e7",
            SlugKind::Variable => "v--0000-0077--5001",
            SlugKind::Stream => "s--0000-0077--0000-0000-0000-00d2--5001",
            SlugKind::Streamer => "t--0000-0000-0000-000f--0001",
            SlugKind::Fleet => "g--0000-0000-0001",
            SlugKind::Script => "z--0000-0002",
            SlugKind::Alias => "a--0000-0000-0000-0001",
            SlugKind::Filter => "f--0000-0001----5000",
        }
    }

    /// How many `--` separated parts the canonical form has, prefix included.
    pub const fn part_count(self) -> usize {
        match self {
            SlugKind::Variable | SlugKind::Streamer => 3,
            SlugKind::Stream | SlugKind::Filter => 4,
            _ => 2,
        }
    }

    /// `a device slug like d--0000-0000-0000-00d2`, for messages.
    pub fn describe(self) -> String {
        format!("a {} slug like {}", self.name(), self.example())
    }
}

impl fmt::Display for SlugKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A slug of any kind, as read by [`parse_any`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slug {
    Project(ProjectSlug),
    /// A `d--` slug whose first group is `0000`.
    Device(DeviceId),
    /// A `b--` slug, or a `d--` slug whose first group is not `0000`.
    Block(BlockSlug),
    Variable(VariableSlug),
    Stream(StreamSlug),
    Streamer(StreamerSlug),
    Fleet(FleetSlug),
    Script(ScriptSlug),
    Alias(AliasSlug),
    Filter(FilterSlug),
}

impl Slug {
    /// The kind of this slug.
    pub const fn kind(&self) -> SlugKind {
        match self {
            Slug::Project(_) => SlugKind::Project,
            Slug::Device(_) => SlugKind::Device,
            Slug::Block(_) => SlugKind::Block,
            Slug::Variable(_) => SlugKind::Variable,
            Slug::Stream(_) => SlugKind::Stream,
            Slug::Streamer(_) => SlugKind::Streamer,
            Slug::Fleet(_) => SlugKind::Fleet,
            Slug::Script(_) => SlugKind::Script,
            Slug::Alias(_) => SlugKind::Alias,
            Slug::Filter(_) => SlugKind::Filter,
        }
    }
}

/// Read a slug of any kind, recognised by its prefix (which is required).
///
/// A `d--` slug whose first group is not `0000` is read as the data block it names.
pub fn parse_any(input: &str) -> Result<Slug, IdError> {
    if input.trim().is_empty() {
        return Err(IdError::UnknownPrefix {
            found: error::shown(input),
        });
    }
    let pieces = parse::split(input);
    let kind = pieces
        .prefix
        .and_then(SlugKind::from_prefix)
        .ok_or_else(|| IdError::UnknownPrefix {
            found: error::shown(input),
        })?;
    Ok(match kind {
        SlugKind::Project => Slug::Project(input.parse()?),
        SlugKind::Device | SlugKind::Block => match input.parse::<DeviceRef>()? {
            DeviceRef::Device(id) => Slug::Device(id),
            DeviceRef::Block(block) => Slug::Block(block),
        },
        SlugKind::Variable => Slug::Variable(input.parse()?),
        SlugKind::Stream => Slug::Stream(input.parse()?),
        SlugKind::Streamer => Slug::Streamer(input.parse()?),
        SlugKind::Fleet => Slug::Fleet(input.parse()?),
        SlugKind::Script => Slug::Script(input.parse()?),
        SlugKind::Alias => Slug::Alias(input.parse()?),
        SlugKind::Filter => Slug::Filter(input.parse()?),
    })
}

impl FromStr for Slug {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_any(s)
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Slug::Project(x) => x.fmt(f),
            Slug::Device(x) => x.fmt(f),
            Slug::Block(x) => x.fmt(f),
            Slug::Variable(x) => x.fmt(f),
            Slug::Stream(x) => x.fmt(f),
            Slug::Streamer(x) => x.fmt(f),
            Slug::Fleet(x) => x.fmt(f),
            Slug::Script(x) => x.fmt(f),
            Slug::Alias(x) => x.fmt(f),
            Slug::Filter(x) => x.fmt(f),
        }
    }
}

/// Serialize as the canonical string (Display), deserialize from any string `FromStr`
/// accepts.
macro_rules! string_serde {
    ($($ty:ty => $what:expr),* $(,)?) => {$(
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visit;
                impl serde::de::Visitor<'_> for Visit {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(Visit)
            }
        }
    )*};
}

string_serde! {
    ProjectSlug => "a project slug like p--0000-0077",
    DeviceId => "a device slug like d--0000-0000-0000-00d2",
    BlockSlug => "a data block slug like b--0001-0000-0000-04e7",
    DeviceRef => "a device or data block slug like d--0000-0000-0000-00d2",
    VariableSlug => "a variable slug like v--0000-0077--5001",
    StreamSlug => "a stream slug like s--0000-0077--0000-0000-0000-00d2--5001",
    StreamerSlug => "a streamer slug like t--0000-0000-0000-000f--0001",
    FleetSlug => "a fleet slug like g--0000-0000-0001",
    ScriptSlug => "a device script slug like z--0000-0002",
    AliasSlug => "a stream alias slug like a--0000-0000-0000-0001",
    FilterSlug => "a stream filter slug like f--0000-0001----5000",
    Slug => "a slug like p--0000-0077 or d--0000-0000-0000-00d2",
}
