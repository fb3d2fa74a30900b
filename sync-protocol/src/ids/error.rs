//! The one error type of the id and slug module.

use super::{BlockSlug, DeviceId, SlugKind};

/// Why an id or slug could not be built or read.
///
/// Every message names what was expected (with an example of the canonical form) and what
/// was found, so that it can be shown to a user as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The input was empty or only whitespace.
    #[error("expected {}, found an empty string", .expected.describe())]
    Empty { expected: SlugKind },

    /// The input starts with the prefix of another kind, or with an unknown letter.
    #[error("expected {}, found {found:?}", .expected.describe())]
    WrongKind { expected: SlugKind, found: String },

    /// A prefix (`d--`, `s--`, ...) is required here but the input has none.
    #[error(
        "expected {}, found {found:?} which does not start with `{}--`",
        .expected.describe(),
        .expected.prefix()
    )]
    MissingPrefix { expected: SlugKind, found: String },

    /// [`parse_any`](super::parse_any) was given something without a known prefix.
    #[error(
        "expected a slug starting with p--, d--, b--, v--, s--, t--, g--, z--, a-- or f--, \
         found {found:?}"
    )]
    UnknownPrefix { found: String },

    /// The input has the wrong number of `--` separated parts.
    #[error(
        "expected {} ({} parts separated by `--`), found {found:?} which has {parts}",
        .expected.describe(),
        .expected.part_count()
    )]
    PartCount {
        expected: SlugKind,
        found: String,
        parts: usize,
    },

    /// A part that must hold a number is empty.
    #[error("expected {}, found {found:?} whose {field} is empty", .expected.describe())]
    EmptyPart {
        expected: SlugKind,
        field: &'static str,
        found: String,
    },

    /// A part is not a hex number.
    #[error(
        "expected {}, found {found:?} whose {field} {part:?} is not a hex number",
        .expected.describe()
    )]
    NotHex {
        expected: SlugKind,
        field: &'static str,
        part: String,
        found: String,
    },

    /// A part holds a number larger than its field allows.
    #[error(
        "expected {}, found {found:?} whose {field} is too large \
         (a {field} has at most {bits} bits, the largest is {})",
        .expected.describe(),
        super::parse::max_text(*.bits)
    )]
    TooLarge {
        expected: SlugKind,
        field: &'static str,
        bits: u32,
        found: String,
    },

    /// A number given to a constructor does not fit its field.
    #[error(
        "{field} {value:#x} is too large (a {field} has at most {bits} bits, the largest is {})",
        super::parse::max_text(*.bits)
    )]
    OutOfRange {
        field: &'static str,
        value: u64,
        bits: u32,
    },

    /// A device was expected but the `d--` slug has a non-zero block group: it names a data
    /// block.
    #[error(
        "expected a device slug like d--0000-0000-0000-00d2, found {found:?} which names \
         data block {block} (its first group is not 0000); the device is {}",
        .block.device()
    )]
    BlockNotDevice { found: String, block: BlockSlug },

    /// A data block was expected but the `d--` slug has a zero block group: it names a
    /// device.
    #[error(
        "expected a data block slug like b--0001-0000-0000-04e7, found {found:?} which names \
         device {device} (its first group is 0000)"
    )]
    DeviceNotBlock { found: String, device: DeviceId },

    /// A strict parser wants the full canonical form (4-digit groups).
    #[error(
        "expected {} written in full ({}), found {found:?}",
        .expected.describe(),
        .form
    )]
    NotFullForm {
        expected: SlugKind,
        form: &'static str,
        found: String,
    },
}

/// The input as shown in an error: at most 64 characters, so that a huge input does not
/// make a huge message.
pub(crate) fn shown(input: &str) -> String {
    const LIMIT: usize = 64;
    let mut out: String = input.chars().take(LIMIT).collect();
    if input.chars().nth(LIMIT).is_some() {
        out.push('…');
    }
    out
}
