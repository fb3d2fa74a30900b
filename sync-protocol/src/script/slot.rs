//! The 8-byte tile target carried by ReflashTile, AddStreamer and SetConfig records:
//! `u8 slot`, 6 reserved bytes, `u8 match op` (1 = by slot, 2 = controller).

use std::fmt;

use super::error::{BuildError, ScriptErrorKind};

/// A tile target, kept as its raw bytes: the reference tools ignore the reserved bytes (and
/// the slot byte of a controller target), and keeping them makes re-encoding exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SlotTarget {
    bytes: [u8; 8],
}

/// Which tile a target names, as the sensor-graph tools read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tile {
    Controller,
    /// Slot 1 to 31.
    Slot(u8),
}

const MATCH_SLOT: u8 = 1;
const MATCH_CONTROLLER: u8 = 2;

impl SlotTarget {
    pub const LEN: usize = 8;

    /// The canonical controller target `00 .. 00 02`.
    pub fn controller() -> Self {
        SlotTarget {
            bytes: [0, 0, 0, 0, 0, 0, 0, MATCH_CONTROLLER],
        }
    }

    /// The canonical target of a slot (1 to 31), `nn 00 .. 00 01`.
    pub fn slot(slot: u8) -> Result<Self, BuildError> {
        if !(1..=31).contains(&slot) {
            return Err(BuildError::SlotOutOfRange { slot });
        }
        Ok(SlotTarget {
            bytes: [slot, 0, 0, 0, 0, 0, 0, MATCH_SLOT],
        })
    }

    /// The canonical target of a tile.
    pub fn for_tile(tile: Tile) -> Result<Self, BuildError> {
        match tile {
            Tile::Controller => Ok(Self::controller()),
            Tile::Slot(slot) => Self::slot(slot),
        }
    }

    /// Any 8 bytes; use [`SlotTarget::tile`] to see whether they name a tile.
    pub fn from_bytes(bytes: [u8; 8]) -> Self {
        SlotTarget { bytes }
    }

    pub fn to_bytes(self) -> [u8; 8] {
        self.bytes
    }

    pub fn slot_byte(self) -> u8 {
        self.bytes[0]
    }

    pub fn match_op(self) -> u8 {
        self.bytes[7]
    }

    /// The tile named, with the checks of the sensor-graph tools (`SlotIdentifier.FromEncoded`).
    pub fn tile(self) -> Result<Tile, ScriptErrorKind> {
        match self.match_op() {
            MATCH_CONTROLLER => Ok(Tile::Controller),
            MATCH_SLOT => match self.slot_byte() {
                slot @ 1..=31 => Ok(Tile::Slot(slot)),
                slot => Err(ScriptErrorKind::SlotOutOfRange { slot }),
            },
            match_op => Err(ScriptErrorKind::UnsupportedTargetMatch { match_op }),
        }
    }

    /// The slot a ReflashTile record flashes; coretools accepts any slot number here.
    pub fn reflash_slot(self) -> Result<u8, ScriptErrorKind> {
        match self.match_op() {
            MATCH_SLOT => Ok(self.slot_byte()),
            MATCH_CONTROLLER => Err(ScriptErrorKind::ReflashTargetsController),
            match_op => Err(ScriptErrorKind::UnsupportedTargetMatch { match_op }),
        }
    }
}

impl Tile {
    /// The bus address: 8 for the controller, `10 + slot` for a peripheral tile.
    pub fn address(self) -> u8 {
        match self {
            Tile::Controller => 8,
            Tile::Slot(slot) => slot.saturating_add(10),
        }
    }
}

impl fmt::Display for Tile {
    /// `controller` or `slot N`, as `SlotIdentifier.__str__`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tile::Controller => f.write_str("controller"),
            Tile::Slot(slot) => write!(f, "slot {slot}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_as_the_reference_does() {
        assert_eq!(SlotTarget::controller().tile(), Ok(Tile::Controller));
        assert_eq!(
            SlotTarget::from_bytes([9, 1, 0, 0, 0, 0, 0, 2]).tile(),
            Ok(Tile::Controller)
        );
        assert_eq!(
            SlotTarget::slot(1).map(|t| t.to_bytes()),
            Ok([1, 0, 0, 0, 0, 0, 0, 1])
        );
        assert_eq!(
            SlotTarget::from_bytes([0, 0, 0, 0, 0, 0, 0, 1]).tile(),
            Err(ScriptErrorKind::SlotOutOfRange { slot: 0 })
        );
        assert_eq!(
            SlotTarget::from_bytes([1, 0, 0, 0, 0, 0, 0, 3]).tile(),
            Err(ScriptErrorKind::UnsupportedTargetMatch { match_op: 3 })
        );
        assert_eq!(
            SlotTarget::from_bytes([40, 0, 0, 0, 0, 0, 0, 1]).reflash_slot(),
            Ok(40)
        );
        assert_eq!(
            SlotTarget::controller().reflash_slot(),
            Err(ScriptErrorKind::ReflashTargetsController)
        );
        assert!(SlotTarget::slot(32).is_err());
        assert_eq!(Tile::Slot(3).to_string(), "slot 3");
        assert_eq!(Tile::Slot(3).address(), 13);
    }
}
