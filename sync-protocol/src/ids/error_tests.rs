//! Error cases, `parse_any`, serde and ordering of the id types.

#![allow(clippy::unwrap_used)]

use super::*;

fn dev(id: u64) -> DeviceId {
    DeviceId::new(id).unwrap()
}

// ---- errors --------------------------------------------------------------------------

#[test]
fn wrong_kind_messages() {
    let err = "p--0001".parse::<DeviceId>().unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"expected a device slug like d--0000-0000-0000-00d2, found "p--0001""#
    );
    assert!(matches!(
        "b--0001-0000-0000-04e7".parse::<DeviceId>(),
        Err(IdError::WrongKind {
            expected: SlugKind::Device,
            ..
        })
    ));
    assert!(matches!(
        "d--0001".parse::<ProjectSlug>(),
        Err(IdError::WrongKind {
            expected: SlugKind::Project,
            ..
        })
    ));
    assert!(matches!(
        "x--0001".parse::<ProjectSlug>(),
        Err(IdError::WrongKind { .. })
    ));
    assert!(matches!(
        "v--0000-0077--5001".parse::<StreamSlug>(),
        Err(IdError::WrongKind {
            expected: SlugKind::Stream,
            ..
        })
    ));
    assert!(matches!(
        "0077--d2--5001".parse::<StreamSlug>(),
        Err(IdError::MissingPrefix { .. })
    ));
    assert!(matches!(
        "0000--0077".parse::<ProjectSlug>(),
        Err(IdError::MissingPrefix { .. })
    ));
}

#[test]
fn too_large_messages() {
    let err = "d--1-0000-0000-0000-0000".parse::<DeviceId>().unwrap_err();
    assert!(matches!(err, IdError::TooLarge { bits: 64, .. }));
    let err = "p--1-0000-0000".parse::<ProjectSlug>().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("project"), "{text}");
    assert!(text.contains("32 bits"), "{text}");
    assert!(text.contains("ffff-ffff"), "{text}");
    let err = "v--0001--1-0000".parse::<VariableSlug>().unwrap_err();
    assert!(
        matches!(
            err,
            IdError::TooLarge {
                field: "variable id",
                bits: 16,
                ..
            }
        ),
        "{err}"
    );
    let err = "s--1-0000-0000--0--5001".parse::<StreamSlug>().unwrap_err();
    assert!(
        matches!(
            err,
            IdError::TooLarge {
                field: "project id",
                ..
            }
        ),
        "{err}"
    );
    let huge = format!("p--{}", "f".repeat(1000));
    let err = huge.parse::<ProjectSlug>().unwrap_err();
    assert!(matches!(err, IdError::TooLarge { .. }));
    assert!(err.to_string().len() < 300, "{err}");
}

#[test]
fn garbage() {
    for input in ["", "   "] {
        assert_eq!(
            input.parse::<DeviceId>(),
            Err(IdError::Empty {
                expected: SlugKind::Device
            })
        );
    }
    for input in [
        "d--",
        "d--  ",
        "--",
        "d----",
        "d--xyz",
        "d--0000-00g0",
        "d--0x",
        "d---",
        "d--12 34",
        "p--0001--0002",
        "d--0000-0000-0000-00d2--5001",
        "0x",
        "-",
        "_",
        "d--+1",
        "dd--0001",
        "d--é",
        "é--1",
        "d--\u{0}",
    ] {
        assert!(input.parse::<DeviceId>().is_err(), "{input:?}");
        assert!(input.parse::<ProjectSlug>().is_err(), "{input:?}");
    }
    assert!(matches!(
        "d--xyz".parse::<DeviceId>(),
        Err(IdError::NotHex { ref part, .. }) if part == "xyz"
    ));
    assert!(matches!(
        "d--".parse::<DeviceId>(),
        Err(IdError::EmptyPart { .. })
    ));
    for input in [
        "s--1--2",
        "s--1--2--3--4",
        "s--1--2--",
        "s--1--2--zz",
        "t--1",
        "t----1",
        "f--1",
        "f----1--5000",
    ] {
        assert!(parse_any(input).is_err(), "{input:?}");
    }
}

#[test]
fn parse_any_kinds() {
    assert_eq!(
        parse_any("P--77").unwrap(),
        Slug::Project(ProjectSlug::new(0x77))
    );
    assert_eq!(parse_any("d--d2").unwrap(), Slug::Device(dev(0xd2)));
    assert_eq!(
        parse_any("d--0001-0000-0000-04e7").unwrap(),
        Slug::Block(BlockSlug::new(1, dev(0x4e7)))
    );
    assert_eq!(
        "b--0001-0000-0000-04e7".parse::<Slug>().unwrap().kind(),
        SlugKind::Block
    );
    for input in ["0001", "", "x--0001", "org-slug", "^org", "@user"] {
        assert!(
            matches!(parse_any(input), Err(IdError::UnknownPrefix { .. })),
            "{input:?}"
        );
    }
    assert!(matches!(
        parse_any("s--1--2"),
        Err(IdError::PartCount { .. })
    ));
}

#[test]
fn long_inputs_are_cut_in_messages() {
    let long = format!("q--{}", "0".repeat(10_000));
    let err = long.parse::<DeviceId>().unwrap_err();
    assert!(err.to_string().len() < 200, "{err}");
    assert!(err.to_string().contains('…'));
}

#[test]
fn serde_strings() {
    let s: StreamSlug = "s--77--d2--5001".parse().unwrap();
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(json, r#""s--0000-0077--0000-0000-0000-00d2--5001""#);
    assert_eq!(serde_json::from_str::<StreamSlug>(&json).unwrap(), s);
    assert_eq!(
        serde_json::from_str::<DeviceId>(r#""D--A""#).unwrap(),
        dev(0xa)
    );
    let err = serde_json::from_str::<DeviceId>(r#""p--1""#).unwrap_err();
    assert!(err.to_string().contains("expected a device slug"), "{err}");
    assert!(serde_json::from_str::<DeviceId>("10").is_err());
    assert_eq!(
        serde_json::to_string(&Slug::Fleet(FleetSlug::from(1u32))).unwrap(),
        r#""g--0000-0000-0001""#
    );
}

#[test]
fn ordering_follows_canonical_text() {
    let mut slugs: Vec<StreamSlug> = [
        "s--2--1--1",
        "s--1--ffff-0000-0000-0000--0",
        "s--1--1--2",
        "s--1--1--1",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    slugs.sort();
    let texts: Vec<String> = slugs.iter().map(ToString::to_string).collect();
    let mut sorted = texts.clone();
    sorted.sort();
    assert_eq!(texts, sorted);
}
