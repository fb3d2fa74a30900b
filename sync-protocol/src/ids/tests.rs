//! The examples of the cloud API spec, section 4, and the error cases.

#![allow(clippy::unwrap_used)]

use super::*;

fn dev(id: u64) -> DeviceId {
    DeviceId::new(id).unwrap()
}

fn canon<T: FromStr + fmt::Display>(input: &str) -> String
where
    T::Err: fmt::Debug,
{
    input.parse::<T>().unwrap().to_string()
}

// ---- 4.1 canonical forms -------------------------------------------------------------

#[test]
fn table_examples_round_trip() {
    let examples = [
        "p--0000-0077",
        "d--0000-0000-0000-00d2",
        "b--0001-0000-0000-04e7",
        "v--0000-0077--5001",
        "s--0000-0077--0000-0000-0000-00d2--5001",
        "s--0000-0005--0000-0000-0000-0000--5001",
        "s--0000-0000--0001-0000-0000-04e7--5001",
        "t--0000-0000-0000-000f--0001",
        "g--0000-0000-0001",
        "z--0000-0002",
        "a--0000-0000-0000-0001",
        "f--0000-0001----5000",
        "f--0000-0001--0000-0000-0000-0002--5000",
    ];
    for example in examples {
        assert_eq!(parse_any(example).unwrap().to_string(), example);
    }
    for kind in SlugKind::ALL {
        let slug = parse_any(kind.example()).unwrap();
        assert_eq!(slug.kind(), kind);
        assert_eq!(slug.to_string(), kind.example());
        assert_eq!(kind.example().split("--").count(), kind.part_count());
    }
}

#[test]
fn table_values() {
    assert_eq!("p--0000-0077".parse::<ProjectSlug>().unwrap().get(), 0x77);
    assert_eq!(
        "d--0000-0000-0000-00d2".parse::<DeviceId>().unwrap().get(),
        0xd2
    );

    let block: BlockSlug = "b--0001-0000-0000-04e7".parse().unwrap();
    assert_eq!(block.block(), 1);
    assert_eq!(block.device(), dev(0x4e7));
    assert_eq!(block.device_part(), 0x0001_0000_0000_04e7);

    let var: VariableSlug = "v--0000-0077--5001".parse().unwrap();
    assert_eq!(var, VariableSlug::new(ProjectSlug::new(0x77), 0x5001));

    let stream: StreamSlug = "s--0000-0077--0000-0000-0000-00d2--5001".parse().unwrap();
    assert_eq!(
        stream,
        StreamSlug::new(ProjectSlug::new(0x77), dev(0xd2), 0x5001)
    );
    assert_eq!(stream.project().get(), 0x77);
    assert_eq!(stream.device_id(), dev(0xd2));
    assert_eq!(stream.device_ref(), DeviceRef::Device(dev(0xd2)));
    assert_eq!(stream.block(), 0);
    assert!(!stream.is_virtual());
    assert!(!stream.is_block());
    assert_eq!(stream.lid(), 0x5001);
    assert_eq!(stream.variable().to_string(), "v--0000-0077--5001");

    let virt: StreamSlug = "s--0000-0005--0000-0000-0000-0000--5001".parse().unwrap();
    assert!(virt.is_virtual());
    assert_eq!(
        virt,
        StreamSlug::virtual_stream(ProjectSlug::new(5), 0x5001)
    );

    let block_stream: StreamSlug = "s--0000-0000--0001-0000-0000-04e7--5001".parse().unwrap();
    assert!(block_stream.is_block());
    assert_eq!(block_stream.block(), 1);
    assert_eq!(block_stream.device_id(), dev(0x4e7));
    assert_eq!(block_stream.device_ref(), DeviceRef::Block(block));
    assert_eq!(
        StreamSlug::new(ProjectSlug::NONE, block, 0x5001),
        block_stream
    );

    let streamer: StreamerSlug = "t--0000-0000-0000-000f--0001".parse().unwrap();
    assert_eq!(streamer.device_id(), dev(0xf));
    assert_eq!(streamer.index(), 1);
    assert_eq!(streamer, StreamerSlug::new(dev(0xf), 1));

    assert_eq!("g--0000-0000-0001".parse::<FleetSlug>().unwrap().get(), 1);
    assert_eq!("z--0000-0002".parse::<ScriptSlug>().unwrap().get(), 2);
    assert_eq!(
        "a--0000-0000-0000-0001".parse::<AliasSlug>().unwrap().get(),
        1
    );

    let any: FilterSlug = "f--0000-0001----5000".parse().unwrap();
    assert_eq!(any, FilterSlug::new(ProjectSlug::new(1), None, 0x5000));
    assert_eq!(any.device_ref(), None);
    let one: FilterSlug = "f--0000-0001--0000-0000-0000-0002--5000".parse().unwrap();
    assert_eq!(one.device_ref(), Some(DeviceRef::Device(dev(2))));
    assert_eq!(
        FilterSlug::for_stream(StreamSlug::new(ProjectSlug::new(1), dev(2), 0x5000)),
        one
    );
    assert_eq!(one.variable().to_string(), "v--0000-0001--5000");
}

#[test]
fn reference_design_examples() {
    // s--0000-0001--0000-0000-0000-0002--5001: water volume 5001, device 2, project 1.
    let stream: StreamSlug = "s--0000-0001--0000-0000-0000-0002--5001".parse().unwrap();
    assert_eq!(stream.project(), ProjectSlug::new(1));
    assert_eq!(stream.device_id(), dev(2));
    assert_eq!(stream.lid(), 0x5001);
    // Archiving moves the stream to block 1 of the device.
    let archived = stream.with_device(BlockSlug::new(1, dev(2)));
    assert_eq!(
        archived.to_string(),
        "s--0000-0001--0001-0000-0000-0002--5001"
    );
    assert_eq!(
        archived.with_project(ProjectSlug::NONE).to_string(),
        "s--0000-0000--0001-0000-0000-0002--5001"
    );
    // The reference design writes p--00000-0001 (5 digits): still project 1.
    assert_eq!(canon::<ProjectSlug>("p--00000-0001"), "p--0000-0001");
    assert_eq!(
        canon::<BlockSlug>("b--0001-0000-0000-0001"),
        "b--0001-0000-0000-0001"
    );
}

#[test]
fn construction_and_conversion() {
    assert_eq!(
        DeviceId::from(0xd2u32).to_string(),
        "d--0000-0000-0000-00d2"
    );
    assert_eq!(DeviceId::from(u32::MAX).get(), 0xffff_ffff);
    assert_eq!(
        DeviceId::new(DeviceId::MAX).unwrap().to_string(),
        "d--0000-ffff-ffff-ffff"
    );
    assert!(DeviceId::try_from(1u64 << 48).is_err());
    assert_eq!(u64::from(dev(7)), 7);
    assert_eq!(ProjectSlug::from(0x77u32).to_string(), "p--0000-0077");
    assert_eq!(ProjectSlug::default(), ProjectSlug::NONE);
    assert!(ProjectSlug::NONE.is_none());
    assert_eq!(
        FleetSlug::new(FleetSlug::MAX).unwrap().to_string(),
        "g--ffff-ffff-ffff"
    );
    assert!(FleetSlug::new(FleetSlug::MAX + 1).is_err());
    assert_eq!(ScriptSlug::new(u32::MAX).to_string(), "z--ffff-ffff");
    assert_eq!(
        AliasSlug::new(u64::MAX).to_string(),
        "a--ffff-ffff-ffff-ffff"
    );
    assert_eq!(
        BlockSlug::from_device_part(u64::MAX).to_string(),
        "b--ffff-ffff-ffff-ffff"
    );
    assert_eq!(
        StreamSlug::from_parts(ProjectSlug::new(u32::MAX), u64::MAX, u16::MAX).to_string(),
        "s--ffff-ffff--ffff-ffff-ffff-ffff--ffff"
    );
    assert_eq!(
        StreamerSlug::from_parts(u64::MAX, u16::MAX).to_string(),
        "t--ffff-ffff-ffff-ffff--ffff"
    );
    let block = BlockSlug::new(3, dev(9));
    assert_eq!(DeviceRef::from(block).device(), dev(9));
    assert_eq!(DeviceRef::from(block).block(), Some(block));
    assert_eq!(DeviceRef::from(dev(9)).block(), None);
    assert!(DeviceRef::from(block).is_block());
    assert_eq!(
        DeviceRef::from_device_part(block.device_part()),
        DeviceRef::Block(block)
    );
    assert_eq!(DeviceRef::from_device_part(9), DeviceRef::Device(dev(9)));
}

// ---- 4.2 SDK parsing rules (those that apply to our lenient parser) ------------------

#[test]
fn sdk_project_rules() {
    assert_eq!(canon::<ProjectSlug>("p--1234"), "p--0000-1234");
    assert_eq!(canon::<ProjectSlug>("0005"), "p--0000-0005");
    assert_eq!(canon::<ProjectSlug>("p--0"), "p--0000-0000");
    assert_eq!(canon::<ProjectSlug>("P--0000-0077"), "p--0000-0077");
    assert_eq!(canon::<ProjectSlug>("0x77"), "p--0000-0077");
    assert_eq!(canon::<ProjectSlug>(" p--00_77 "), "p--0000-0077");
    assert_eq!(canon::<ProjectSlug>("p--ffff-ffff"), "p--ffff-ffff");
    assert!(matches!(
        "p--1234-0000-0000-0001".parse::<ProjectSlug>(),
        Err(IdError::TooLarge {
            expected: SlugKind::Project,
            bits: 32,
            ..
        })
    ));
    assert!(matches!(
        "p--1-0000-0000".parse::<ProjectSlug>(),
        Err(IdError::TooLarge { .. })
    ));
}

#[test]
fn sdk_device_rules() {
    assert_eq!(canon::<DeviceId>("d--1234"), "d--0000-0000-0000-1234");
    assert_eq!(canon::<DeviceId>("0x1234567"), "d--0000-0000-0123-4567");
    assert_eq!(canon::<DeviceId>("d--0x1234567"), "d--0000-0000-0123-4567");
    assert_eq!(canon::<DeviceId>("d--1"), "d--0000-0000-0000-0001");
    // The brief's examples: all the same device.
    for input in [
        "D--000A",
        "d--000a",
        "d--0000-000a",
        "000a",
        "a",
        "d--0000-0000-0000-000A",
    ] {
        assert_eq!(input.parse::<DeviceId>().unwrap(), dev(0xa), "{input}");
    }
    // A 64-bit d-- slug with a block group is a data block, not a device.
    let err = "d--1234-0000-0000-0001".parse::<DeviceId>().unwrap_err();
    assert_eq!(
        err,
        IdError::BlockNotDevice {
            found: "d--1234-0000-0000-0001".into(),
            block: BlockSlug::new(0x1234, dev(1)),
        }
    );
    assert!(err.to_string().contains("d--0000-0000-0000-0001"), "{err}");
    assert_eq!(
        "d--1234-0000-0000-0001".parse::<DeviceRef>().unwrap(),
        DeviceRef::Block(BlockSlug::new(0x1234, dev(1)))
    );
    // coretools' device_id_to_slug.
    assert_eq!(dev(0xabcd_5678_ef90).to_string(), "d--0000-abcd-5678-ef90");
    let err = DeviceId::new(1 << 48).unwrap_err();
    assert!(matches!(err, IdError::OutOfRange { bits: 48, .. }));
    assert!(err.to_string().contains("ffff-ffff-ffff"), "{err}");
}

#[test]
fn sdk_fleet_block_variable_stream_rules() {
    assert_eq!(canon::<FleetSlug>("g--1234"), "g--0000-0000-1234");
    assert_eq!(
        FleetSlug::new(0x10).unwrap().to_string(),
        "g--0000-0000-0010"
    );
    assert!("g--0001-0000-0000-0000".parse::<FleetSlug>().is_err());

    // d--bbbb-x-x-x as a block takes the block from the first group.
    let block: BlockSlug = "d--0002-0000-0000-04e7".parse().unwrap();
    assert_eq!((block.block(), block.device()), (2, dev(0x4e7)));
    assert_eq!(block.to_string(), "b--0002-0000-0000-04e7");
    assert!(matches!(
        "d--0000-0000-0000-04e7".parse::<BlockSlug>(),
        Err(IdError::DeviceNotBlock { .. })
    ));
    assert_eq!(
        canon::<BlockSlug>("B--1-0000-0000-04E7"),
        "b--0001-0000-0000-04e7"
    );
    // Values are read by numeric value once `-` is stripped, so a short group in the
    // middle does not stand for a whole group.
    assert_eq!(canon::<DeviceId>("d--1-2"), "d--0000-0000-0000-0012");
    assert_eq!(
        canon::<BlockSlug>("b--0000-0000-0000-0001"),
        "b--0000-0000-0000-0001"
    );

    // A bare lid is a variable of project 0; a full v-- slug is kept.
    assert_eq!(canon::<VariableSlug>("5001"), "v--0000-0000--5001");
    assert_eq!(
        canon::<VariableSlug>("v--0000-0077--5001"),
        "v--0000-0077--5001"
    );
    assert_eq!(canon::<VariableSlug>("v--0077--5001"), "v--0000-0077--5001");
    assert!(matches!(
        "v--5001".parse::<VariableSlug>(),
        Err(IdError::PartCount { parts: 2, .. })
    ));

    // An empty project part is project 0; an empty device part is device 0.
    assert_eq!(
        canon::<StreamSlug>("s----0000-0000-0000-0001--5001"),
        "s--0000-0000--0000-0000-0000-0001--5001"
    );
    assert_eq!(
        canon::<StreamSlug>("s--0123----5001"),
        "s--0000-0123--0000-0000-0000-0000--5001"
    );
    assert!("s--0000-0001--0000-0000-0000-0001"
        .parse::<StreamSlug>()
        .is_err());
    assert!("s--0000-0001--0002--".parse::<StreamSlug>().is_err());

    // The streamer of a device, from its id.
    assert_eq!(
        StreamerSlug::new(dev(0xf), 1).to_string(),
        "t--0000-0000-0000-000f--0001"
    );
    assert_eq!(
        canon::<StreamerSlug>("T--f--1"),
        "t--0000-0000-0000-000f--0001"
    );
}

// ---- 4.3 how the server resolves slugs -----------------------------------------------

#[test]
fn device_route() {
    // A data block slug on the device route gives the original device.
    let r = DeviceRef::parse_route("b--0001-0000-0000-04e7").unwrap();
    assert_eq!(r, DeviceRef::Block(BlockSlug::new(1, dev(0x4e7))));
    assert_eq!(r.device(), dev(0x4e7));
    assert_eq!(
        DeviceId::from_route("b--0001-0000-0000-04e7").unwrap(),
        dev(0x4e7)
    );
    assert_eq!(
        DeviceId::from_route("d--0001-0000-0000-04e7").unwrap(),
        dev(0x4e7)
    );
    assert_eq!(
        DeviceId::from_route("d--0000-0000-0000-04e7").unwrap(),
        dev(0x4e7)
    );
    assert_eq!(DeviceId::from_route("D--4E7").unwrap(), dev(0x4e7));
    // Without a prefix the route refuses (the original answers 404).
    for bare in ["0001", "000a", "0000-0000-0000-000a"] {
        assert!(matches!(
            DeviceRef::parse_route(bare),
            Err(IdError::MissingPrefix {
                expected: SlugKind::Device,
                ..
            })
        ));
        assert!(DeviceId::from_route(bare).is_err());
    }
    assert!(DeviceRef::parse_route("p--0001").is_err());
}

#[test]
fn device_filter() {
    // In ?device=, d--bbbb-... with a non-zero block group means that data block.
    let r: DeviceRef = "d--0001-0000-0000-04e7".parse().unwrap();
    assert_eq!(r, DeviceRef::Block(BlockSlug::new(1, dev(0x4e7))));
    assert_eq!(r.to_string(), "b--0001-0000-0000-04e7");
    let r: DeviceRef = "b--0001-0000-0000-04e7".parse().unwrap();
    assert_eq!(r, DeviceRef::Block(BlockSlug::new(1, dev(0x4e7))));
    let r: DeviceRef = "d--4e7".parse().unwrap();
    assert_eq!(r, DeviceRef::Device(dev(0x4e7)));
    let r: DeviceRef = "4e7".parse().unwrap();
    assert_eq!(r, DeviceRef::Device(dev(0x4e7)));
    // b-- with block 0 stays a block slug.
    let r: DeviceRef = "b--0000-0000-0000-04e7".parse().unwrap();
    assert_eq!(r, DeviceRef::Block(BlockSlug::new(0, dev(0x4e7))));
}

#[test]
fn short_forms_normalise() {
    assert_eq!(
        canon::<StreamSlug>("s--77--d2--5001"),
        "s--0000-0077--0000-0000-0000-00d2--5001"
    );
    assert_eq!(
        canon::<StreamSlug>("S--0000-0077--0000-0000-0000-00D2--5001"),
        "s--0000-0077--0000-0000-0000-00d2--5001"
    );
    assert_eq!(canon::<VariableSlug>("v--77--5001"), "v--0000-0077--5001");
    assert_eq!(canon::<FilterSlug>("F--1----5000"), "f--0000-0001----5000");
    assert_eq!(
        canon::<FilterSlug>("f--1--2--5000"),
        "f--0000-0001--0000-0000-0000-0002--5000"
    );
    assert_eq!(canon::<ScriptSlug>("Z--2"), "z--0000-0002");
    assert_eq!(canon::<AliasSlug>("1"), "a--0000-0000-0000-0001");
    assert_eq!(canon::<FleetSlug>("0x1"), "g--0000-0000-0001");
}

#[test]
fn ota_full_form() {
    assert_eq!(
        DeviceId::parse_full_form("d--0000-0000-0000-00d2").unwrap(),
        dev(0xd2)
    );
    assert_eq!(
        DeviceId::parse_full_form("D--0000-0000-0000-00D2").unwrap(),
        dev(0xd2)
    );
    for bad in [
        "d--00d2",
        "d--0001-0000-0000-00d2",
        "d--0000-0000-0000-00d2-0000",
        "d--0000-0000-0000-0d2",
        "d--0000-0000-0000-+0d2",
        " d--0000-0000-0000-00d2",
        "b--0000-0000-0000-00d2",
        "",
    ] {
        assert!(
            matches!(
                DeviceId::parse_full_form(bad),
                Err(IdError::NotFullForm { .. })
            ),
            "{bad}"
        );
    }
}

// ---- 4.4 derived slugs ---------------------------------------------------------------

#[test]
fn row_slugs() {
    let s: StreamSlug = "s--0000-0077--0000-0000-0000-00d2--5001".parse().unwrap();
    let row = s.row_slugs();
    assert_eq!(
        row.project.map(|p| p.to_string()).as_deref(),
        Some("p--0000-0077")
    );
    assert_eq!(row.device.to_string(), "d--0000-0000-0000-00d2");
    assert_eq!(row.variable.to_string(), "v--0000-0077--5001");

    let s: StreamSlug = "s--0000-0001--0001-0000-0000-04e7--5001".parse().unwrap();
    let row = s.row_slugs();
    assert_eq!(row.project, None);
    assert_eq!(row.device.to_string(), "b--0001-0000-0000-04e7");
    assert_eq!(row.variable.to_string(), "v--0000-0001--5001");

    let s = StreamSlug::virtual_stream(ProjectSlug::new(5), 0x5001);
    let row = s.row_slugs();
    assert_eq!(row.project, Some(ProjectSlug::new(5)));
    assert_eq!(row.device.to_string(), "d--0000-0000-0000-0000");

    // The stream of a reading: project gid, 48-bit device, stream id.
    assert_eq!(
        StreamSlug::new(ProjectSlug::new(0x77), DeviceId::from(0xd2u32), 0x5001).to_string(),
        "s--0000-0077--0000-0000-0000-00d2--5001"
    );
}
