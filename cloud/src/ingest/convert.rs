//! A reading's stored value from its raw integer (spec 5.5 step 4): the stream's raw value
//! format, a clamp to ±0x7FFFFFFF, the stream's m/d/o, then its input unit's m/d/o.

/// What processing needs to know about a stream record.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSettings {
    /// `false`: readings of the stream are dropped (their ids still count).
    pub enabled: bool,
    /// `<L` (unsigned, the default) or `<l` (signed 32 bits).
    pub raw_value_format: String,
    /// The stream's (or, with `mdo_type` V, its variable's) multiply, divide and offset.
    pub mdo: Option<Mdo>,
    /// The input unit's m/d/o, when the stream or its variable has an input unit.
    pub input_unit_mdo: Option<Mdo>,
    /// The variable type is encoded: rows get `P-0`, `P-1` or `P-E`.
    pub encoded: bool,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            enabled: true,
            raw_value_format: "<L".into(),
            mdo: None,
            input_unit_mdo: None,
            encoded: false,
        }
    }
}

/// Multiply, divide and offset: `x · m / d + o`.
pub type Mdo = (f64, f64, Option<f64>);

/// The largest magnitude a value keeps.
const CLAMP: i64 = 0x7FFF_FFFF;

/// Applies an m/d/o. A divisor of 0 is ignored rather than giving infinity.
pub fn apply_mdo(x: f64, (m, d, o): Mdo) -> f64 {
    let scaled = if d == 0.0 { x * m } else { x * m / d };
    match o {
        Some(o) => scaled + o,
        None => scaled,
    }
}

/// `value` and `type` of a row whose raw integer is `raw`, under its stream record if any.
pub fn convert(raw: i64, stream: Option<&StreamSettings>) -> (f64, &'static str) {
    let Some(s) = stream else {
        return (raw as f64, "Num");
    };
    let signed = matches!(s.raw_value_format.as_str(), "<l" | "<i");
    let x = match u32::try_from(raw) {
        Ok(word) if signed => i64::from(word as i32),
        _ => raw,
    };
    let mut value = x.clamp(-CLAMP, CLAMP) as f64;
    if let Some(mdo) = s.mdo {
        value = apply_mdo(value, mdo);
    }
    let mut kind = "Num";
    if let Some(unit) = s.input_unit_mdo {
        value = apply_mdo(value, unit);
        kind = "ITR";
    }
    if s.encoded {
        kind = match raw {
            0xFFFF_FFFF => "P-0",
            0xFFFF_FFFE => "P-1",
            _ => "P-E",
        };
    }
    (value, kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed() -> StreamSettings {
        StreamSettings {
            raw_value_format: "<l".into(),
            ..StreamSettings::default()
        }
    }

    #[test]
    fn without_a_stream_record_the_raw_value_is_kept() {
        assert_eq!(convert(0xFFFF_FFFF, None), (4_294_967_295.0, "Num"));
    }

    #[test]
    fn unsigned_values_are_clamped() {
        let s = StreamSettings::default();
        assert_eq!(convert(0xFFFF_FFFF, Some(&s)), (2_147_483_647.0, "Num"));
        assert_eq!(convert(12, Some(&s)), (12.0, "Num"));
    }

    #[test]
    fn signed_format_reinterprets_the_word() {
        assert_eq!(convert(0xFFFF_FFFE, Some(&signed())), (-2.0, "Num"));
        assert_eq!(
            convert(0x8000_0000, Some(&signed())),
            (-2_147_483_647.0, "Num")
        );
        assert_eq!(convert(-5, Some(&signed())), (-5.0, "Num"));
    }

    #[test]
    fn stream_then_unit_mdo() {
        let s = StreamSettings {
            mdo: Some((10.0, 4.0, Some(1.0))),
            ..StreamSettings::default()
        };
        assert_eq!(convert(2, Some(&s)), (6.0, "Num"));
        let s = StreamSettings {
            input_unit_mdo: Some((2.0, 1.0, None)),
            ..s
        };
        assert_eq!(convert(2, Some(&s)), (12.0, "ITR"));
        assert_eq!(apply_mdo(3.0, (2.0, 0.0, None)), 6.0);
    }

    #[test]
    fn encoded_streams_mark_packets() {
        let s = StreamSettings {
            encoded: true,
            ..StreamSettings::default()
        };
        assert_eq!(convert(0xFFFF_FFFF, Some(&s)).1, "P-0");
        assert_eq!(convert(0xFFFF_FFFE, Some(&s)).1, "P-1");
        assert_eq!(convert(7, Some(&s)).1, "P-E");
    }
}
