//! Property tests of ids and slugs: canonical printing round-trips, lenient forms give the
//! same value, no input panics, serde uses the canonical strings.

#![allow(clippy::unwrap_used)]

use std::fmt::{Debug, Display};
use std::str::FromStr;

use proptest::prelude::*;
use sync_protocol::ids::{
    parse_any, AliasSlug, BlockSlug, DeviceId, DeviceRef, FilterSlug, FleetSlug, IdError,
    ProjectSlug, ScriptSlug, Slug, SlugKind, StreamSlug, StreamerSlug, VariableSlug,
};

/// How to write a number leniently: leading zeros, case, `-`/`_` between digits, `0x`,
/// whitespace around.
#[derive(Debug, Clone)]
struct Style {
    zeros: usize,
    upper: bool,
    separators: u64,
    underscores: u64,
    hex_prefix: u8,
    spaces: bool,
}

fn style() -> impl Strategy<Value = Style> {
    (
        0usize..6,
        any::<bool>(),
        any::<u64>(),
        any::<u64>(),
        0u8..3,
        any::<bool>(),
    )
        .prop_map(
            |(zeros, upper, separators, underscores, hex_prefix, spaces)| Style {
                zeros,
                upper,
                separators,
                underscores,
                hex_prefix,
                spaces,
            },
        )
}

/// `value` written in `style`; never contains `--`.
fn form(value: u64, style: &Style) -> String {
    let digits = format!("{}{value:x}", "0".repeat(style.zeros));
    let digits = if style.upper {
        digits.to_uppercase()
    } else {
        digits
    };
    let count = digits.chars().count();
    let mut out = String::new();
    out.push_str(match style.hex_prefix {
        1 => "0x",
        2 => "0X",
        _ => "",
    });
    for (i, c) in digits.chars().enumerate() {
        out.push(c);
        let bit = 1u64 << (i % 64);
        if i + 1 < count && style.separators & bit != 0 {
            out.push(if style.underscores & bit != 0 {
                '_'
            } else {
                '-'
            });
        }
    }
    if style.spaces {
        format!(" {out} ")
    } else {
        out
    }
}

fn prefix(kind: SlugKind, upper: bool) -> char {
    if upper {
        kind.prefix().to_ascii_uppercase()
    } else {
        kind.prefix()
    }
}

/// Canonical text: the kind's prefix, then parts made of 4-digit lower-case hex groups.
fn assert_canonical(text: &str, kind: SlugKind) -> Result<(), TestCaseError> {
    let parts: Vec<&str> = text.split("--").collect();
    prop_assert_eq!(parts.len(), kind.part_count(), "{}", text);
    prop_assert_eq!(parts[0], kind.prefix().to_string());
    for part in &parts[1..] {
        if part.is_empty() && kind == SlugKind::Filter {
            continue;
        }
        for group in part.split('-') {
            prop_assert_eq!(group.len(), 4, "{}", text);
            prop_assert!(
                group
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{}",
                text
            );
        }
    }
    Ok(())
}

/// The common checks: canonical shape, round trip, upper case, parse_any, serde.
fn check<T>(value: T, kind: SlugKind) -> Result<String, TestCaseError>
where
    T: FromStr<Err = IdError> + Display + PartialEq + Debug + Copy + serde::Serialize,
    T: serde::de::DeserializeOwned,
{
    let text = value.to_string();
    assert_canonical(&text, kind)?;
    prop_assert_eq!(text.parse::<T>(), Ok(value));
    prop_assert_eq!(text.to_uppercase().parse::<T>(), Ok(value));
    prop_assert_eq!(format!("  {text}\t").parse::<T>(), Ok(value));
    let json = serde_json::to_string(&value).unwrap();
    prop_assert_eq!(&json, &format!("\"{text}\""));
    prop_assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value);
    prop_assert_eq!(parse_any(&text).map(|s| s.to_string()), Ok(text.clone()));
    Ok(text)
}

fn device_part() -> impl Strategy<Value = u64> {
    prop_oneof![any::<u64>(), 0..=DeviceId::MAX, 0u64..0x1_0000, Just(0u64),]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn project(v in any::<u32>(), st in style(), up in any::<bool>()) {
        let p = ProjectSlug::new(v);
        check(p, SlugKind::Project)?;
        prop_assert_eq!(p.get(), v);
        let short = format!("{}--{}", prefix(SlugKind::Project, up), form(v.into(), &st));
        prop_assert_eq!(short.parse::<ProjectSlug>(), Ok(p), "{}", short);
        prop_assert_eq!(form(v.into(), &st).parse::<ProjectSlug>(), Ok(p));
        prop_assert_eq!(parse_any(&short), Ok(Slug::Project(p)));
    }

    #[test]
    fn project_too_large(v in (1u64 << 32)..=u64::MAX) {
        let text = format!("p--{v:x}");
        let is_too_large = matches!(
            text.parse::<ProjectSlug>(),
            Err(IdError::TooLarge { expected: SlugKind::Project, bits: 32, .. })
        );
        prop_assert!(is_too_large);
    }

    #[test]
    fn device(v in 0..=DeviceId::MAX, st in style(), up in any::<bool>()) {
        let d = DeviceId::new(v).unwrap();
        check(d, SlugKind::Device)?;
        prop_assert_eq!(d.get(), v);
        let short = format!("{}--{}", prefix(SlugKind::Device, up), form(v, &st));
        prop_assert_eq!(short.parse::<DeviceId>(), Ok(d), "{}", short);
        prop_assert_eq!(form(v, &st).parse::<DeviceId>(), Ok(d));
        prop_assert_eq!(short.parse::<DeviceRef>(), Ok(DeviceRef::Device(d)));
        prop_assert_eq!(DeviceRef::parse_route(&short), Ok(DeviceRef::Device(d)));
        prop_assert_eq!(DeviceId::from_route(&short), Ok(d));
        prop_assert_eq!(DeviceId::parse_full_form(&d.to_string()), Ok(d));
        prop_assert!(DeviceRef::parse_route(&form(v, &st)).is_err());
        check(DeviceRef::Device(d), SlugKind::Device)?;
    }

    #[test]
    fn device_from_u32(v in any::<u32>()) {
        prop_assert_eq!(DeviceId::from(v).get(), u64::from(v));
    }

    #[test]
    fn device_too_large(v in (1u64 << 48)..=u64::MAX) {
        prop_assert!(DeviceId::new(v).is_err());
        let text = format!("d--{v:x}");
        let is_block = matches!(text.parse::<DeviceId>(), Err(IdError::BlockNotDevice { .. }));
        prop_assert!(is_block);
        let block = BlockSlug::from_device_part(v);
        prop_assert_eq!(text.parse::<DeviceRef>(), Ok(DeviceRef::Block(block)));
        prop_assert_eq!(DeviceId::from_route(&text), Ok(block.device()));
    }

    #[test]
    fn block(b in any::<u16>(), v in 0..=DeviceId::MAX, st in style(), up in any::<bool>()) {
        let d = DeviceId::new(v).unwrap();
        let block = BlockSlug::new(b, d);
        check(block, SlugKind::Block)?;
        check(DeviceRef::Block(block), SlugKind::Block)?;
        prop_assert_eq!((block.block(), block.device()), (b, d));
        prop_assert_eq!(BlockSlug::from_device_part(block.device_part()), block);
        let part = block.device_part();
        let short = format!("{}--{}", prefix(SlugKind::Block, up), form(part, &st));
        prop_assert_eq!(short.parse::<BlockSlug>(), Ok(block), "{}", short);
        prop_assert_eq!(short.parse::<DeviceRef>(), Ok(DeviceRef::Block(block)));
        // On the device route a data block resolves to its device.
        prop_assert_eq!(DeviceId::from_route(&short), Ok(d));
        let as_d = format!("{}--{}", prefix(SlugKind::Device, up), form(part, &st));
        let expected_ref = if b == 0 { DeviceRef::Device(d) } else { DeviceRef::Block(block) };
        prop_assert_eq!(as_d.parse::<DeviceRef>(), Ok(expected_ref));
        prop_assert_eq!(DeviceId::from_route(&as_d), Ok(d));
        if b != 0 {
            prop_assert_eq!(as_d.parse::<BlockSlug>(), Ok(block));
            prop_assert_eq!(parse_any(&as_d), Ok(Slug::Block(block)));
        }
    }

    #[test]
    fn variable(p in any::<u32>(), lid in any::<u16>(), st in style(), st2 in style(), up in any::<bool>()) {
        let var = VariableSlug::new(ProjectSlug::new(p), lid);
        check(var, SlugKind::Variable)?;
        prop_assert_eq!((var.project().get(), var.lid()), (p, lid));
        let short = format!(
            "{}--{}--{}",
            prefix(SlugKind::Variable, up),
            form(p.into(), &st),
            form(lid.into(), &st2)
        );
        prop_assert_eq!(short.parse::<VariableSlug>(), Ok(var), "{}", short);
        prop_assert_eq!(
            form(lid.into(), &st2).parse::<VariableSlug>(),
            Ok(VariableSlug::new(ProjectSlug::NONE, lid))
        );
    }

    #[test]
    fn variable_lid_too_large(lid in 0x1_0000u64..=u64::MAX) {
        let text = format!("v--1--{lid:x}");
        let is_too_large = matches!(
            text.parse::<VariableSlug>(),
            Err(IdError::TooLarge { bits: 16, .. })
        );
        prop_assert!(is_too_large);
    }

    #[test]
    fn stream(
        p in any::<u32>(),
        dp in device_part(),
        lid in any::<u16>(),
        st in style(),
        st2 in style(),
        st3 in style(),
        up in any::<bool>(),
    ) {
        let project = ProjectSlug::new(p);
        let s = StreamSlug::from_parts(project, dp, lid);
        check(s, SlugKind::Stream)?;
        prop_assert_eq!(s.project(), project);
        prop_assert_eq!(s.device_part(), dp);
        prop_assert_eq!(s.lid(), lid);
        prop_assert_eq!(s.block(), (dp >> 48) as u16);
        prop_assert_eq!(s.device_id().get(), dp & DeviceId::MAX);
        prop_assert_eq!(s.is_virtual(), dp == 0);
        prop_assert_eq!(s.is_block(), dp >> 48 != 0);
        prop_assert_eq!(s.device_ref(), DeviceRef::from_device_part(dp));
        prop_assert_eq!(StreamSlug::new(project, s.device_ref(), lid), s);
        prop_assert_eq!(s.variable(), VariableSlug::new(project, lid));
        let row = s.row_slugs();
        prop_assert_eq!(row.project.is_none(), s.is_block());
        prop_assert_eq!(row.device.device_part(), dp);
        prop_assert_eq!(row.variable, s.variable());
        let short = format!(
            "{}--{}--{}--{}",
            prefix(SlugKind::Stream, up),
            form(p.into(), &st),
            form(dp, &st2),
            form(lid.into(), &st3)
        );
        prop_assert_eq!(short.parse::<StreamSlug>(), Ok(s), "{}", short);
    }

    #[test]
    fn streamer(dp in device_part(), index in any::<u16>(), st in style(), st2 in style(), up in any::<bool>()) {
        let t = StreamerSlug::from_parts(dp, index);
        check(t, SlugKind::Streamer)?;
        prop_assert_eq!((t.device_part(), t.index()), (dp, index));
        prop_assert_eq!(StreamerSlug::new(t.device_ref(), index), t);
        prop_assert_eq!(t.device_id().get(), dp & DeviceId::MAX);
        let short = format!(
            "{}--{}--{}",
            prefix(SlugKind::Streamer, up),
            form(dp, &st),
            form(index.into(), &st2)
        );
        prop_assert_eq!(short.parse::<StreamerSlug>(), Ok(t), "{}", short);
    }

    #[test]
    fn fleet(v in 0..=FleetSlug::MAX, st in style(), up in any::<bool>()) {
        let g = FleetSlug::new(v).unwrap();
        check(g, SlugKind::Fleet)?;
        prop_assert_eq!(g.get(), v);
        let short = format!("{}--{}", prefix(SlugKind::Fleet, up), form(v, &st));
        prop_assert_eq!(short.parse::<FleetSlug>(), Ok(g), "{}", short);
        prop_assert_eq!(form(v, &st).parse::<FleetSlug>(), Ok(g));
    }

    #[test]
    fn fleet_too_large(v in (1u64 << 48)..=u64::MAX) {
        prop_assert!(FleetSlug::new(v).is_err());
        let is_too_large = matches!(
            format!("g--{v:x}").parse::<FleetSlug>(),
            Err(IdError::TooLarge { bits: 48, .. })
        );
        prop_assert!(is_too_large);
    }

    #[test]
    fn script(v in any::<u32>(), st in style(), up in any::<bool>()) {
        let z = ScriptSlug::new(v);
        check(z, SlugKind::Script)?;
        prop_assert_eq!(z.get(), v);
        let short = format!("{}--{}", prefix(SlugKind::Script, up), form(v.into(), &st));
        prop_assert_eq!(short.parse::<ScriptSlug>(), Ok(z), "{}", short);
        prop_assert_eq!(form(v.into(), &st).parse::<ScriptSlug>(), Ok(z));
    }

    #[test]
    fn alias(v in any::<u64>(), st in style(), up in any::<bool>()) {
        let a = AliasSlug::new(v);
        check(a, SlugKind::Alias)?;
        prop_assert_eq!(a.get(), v);
        let short = format!("{}--{}", prefix(SlugKind::Alias, up), form(v, &st));
        prop_assert_eq!(short.parse::<AliasSlug>(), Ok(a), "{}", short);
        prop_assert_eq!(form(v, &st).parse::<AliasSlug>(), Ok(a));
    }

    #[test]
    fn filter(
        p in any::<u32>(),
        dp in proptest::option::of(device_part()),
        lid in any::<u16>(),
        st in style(),
        st2 in style(),
        st3 in style(),
        up in any::<bool>(),
    ) {
        let f = FilterSlug::from_parts(ProjectSlug::new(p), dp, lid);
        check(f, SlugKind::Filter)?;
        prop_assert_eq!(f.project().get(), p);
        prop_assert_eq!(f.device_part(), dp);
        prop_assert_eq!(f.lid(), lid);
        prop_assert_eq!(FilterSlug::new(f.project(), f.device_ref(), lid), f);
        let device = dp.map(|d| form(d, &st2)).unwrap_or_default();
        let short = format!(
            "{}--{}--{}--{}",
            prefix(SlugKind::Filter, up),
            form(p.into(), &st),
            device,
            form(lid.into(), &st3)
        );
        prop_assert_eq!(short.parse::<FilterSlug>(), Ok(f), "{}", short);
    }

    /// A slug of one kind is refused by the parsers of the others (a device and its
    /// data blocks excepted, by the server's rules).
    #[test]
    fn kinds_do_not_mix(p in any::<u32>(), dp in device_part(), n in any::<u16>()) {
        let slugs = [
            Slug::Project(ProjectSlug::new(p)),
            Slug::Variable(VariableSlug::new(ProjectSlug::new(p), n)),
            Slug::Stream(StreamSlug::from_parts(ProjectSlug::new(p), dp, n)),
            Slug::Streamer(StreamerSlug::from_parts(dp, n)),
            Slug::Script(ScriptSlug::new(p)),
            Slug::Alias(AliasSlug::new(dp)),
            Slug::Filter(FilterSlug::from_parts(ProjectSlug::new(p), Some(dp), n)),
            Slug::Fleet(FleetSlug::new(dp & FleetSlug::MAX).unwrap()),
            match DeviceRef::from_device_part(dp) {
                DeviceRef::Device(d) => Slug::Device(d),
                DeviceRef::Block(b) => Slug::Block(b),
            },
        ];
        for slug in slugs {
            let text = slug.to_string();
            let kind = slug.kind();
            prop_assert_eq!(parse_any(&text), Ok(slug));
            prop_assert_eq!(text.parse::<Slug>(), Ok(slug));
            let device_like = matches!(kind, SlugKind::Device | SlugKind::Block);
            prop_assert_eq!(text.parse::<ProjectSlug>().is_ok(), kind == SlugKind::Project);
            prop_assert_eq!(text.parse::<DeviceId>().is_ok(), kind == SlugKind::Device);
            prop_assert_eq!(text.parse::<BlockSlug>().is_ok(), kind == SlugKind::Block);
            prop_assert_eq!(text.parse::<DeviceRef>().is_ok(), device_like);
            prop_assert_eq!(DeviceRef::parse_route(&text).is_ok(), device_like);
            prop_assert_eq!(text.parse::<VariableSlug>().is_ok(), kind == SlugKind::Variable);
            prop_assert_eq!(text.parse::<StreamSlug>().is_ok(), kind == SlugKind::Stream);
            prop_assert_eq!(text.parse::<StreamerSlug>().is_ok(), kind == SlugKind::Streamer);
            prop_assert_eq!(text.parse::<FleetSlug>().is_ok(), kind == SlugKind::Fleet);
            prop_assert_eq!(text.parse::<ScriptSlug>().is_ok(), kind == SlugKind::Script);
            prop_assert_eq!(text.parse::<AliasSlug>().is_ok(), kind == SlugKind::Alias);
            prop_assert_eq!(text.parse::<FilterSlug>().is_ok(), kind == SlugKind::Filter);
            let wrong = match kind {
                SlugKind::Project => text.parse::<StreamSlug>().err(),
                _ => text.parse::<ProjectSlug>().err(),
            };
            let is_wrong_kind = matches!(wrong, Some(IdError::WrongKind { .. }));
            prop_assert!(is_wrong_kind, "{}: {:?}", text, wrong);
        }
    }
}

/// Run every parser on `input`; none may panic, and every error has a message.
fn parse_everything(input: &str) {
    fn one<T: FromStr<Err = IdError>>(input: &str) {
        if let Err(e) = input.parse::<T>() {
            assert!(!e.to_string().is_empty());
        }
    }
    one::<ProjectSlug>(input);
    one::<DeviceId>(input);
    one::<BlockSlug>(input);
    one::<DeviceRef>(input);
    one::<VariableSlug>(input);
    one::<StreamSlug>(input);
    one::<StreamerSlug>(input);
    one::<FleetSlug>(input);
    one::<ScriptSlug>(input);
    one::<AliasSlug>(input);
    one::<FilterSlug>(input);
    one::<Slug>(input);
    let _ = DeviceRef::parse_route(input);
    let _ = DeviceId::from_route(input);
    let _ = DeviceId::parse_full_form(input);
    let _ = serde_json::from_str::<StreamSlug>(&serde_json::to_string(input).unwrap());
    // Whatever parses prints canonically and reads back the same.
    if let Ok(slug) = parse_any(input) {
        assert_eq!(parse_any(&slug.to_string()), Ok(slug));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn any_string_never_panics(s in ".{0,80}") {
        parse_everything(&s);
    }

    #[test]
    fn slug_like_strings_never_panic(s in "[pdbvstgzafPDBSX0-9a-fA-FxX_ \\-]{0,60}") {
        parse_everything(&s);
    }

    #[test]
    fn long_hex_never_panics(prefix in "[pdbvstgzaf]?(--)?", s in "[0-9a-f\\-]{0,200}") {
        parse_everything(&format!("{prefix}{s}"));
    }
}
