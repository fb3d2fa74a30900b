//! Unit tests of POD configurations: defaults, TOML, validation messages.

use super::*;

#[test]
fn defaults_are_valid_and_look_like_a_real_pod() {
    let config = PodConfig::default();
    assert_eq!(config.validate(), Ok(()));
    assert_eq!(config.name_bytes(), Ok(*b"NRF52 "));
    assert_eq!(config.os_tag().map(TagVersion::pack), Ok(0x0400_0802));
    assert_eq!(config.app_tag().map(TagVersion::pack), Ok(0x0400_0801));
    let address = PodConfig::with_device_id(0x1234)
        .bd_addr()
        .expect("address");
    assert_eq!(address.to_string(), "C0:00:00:00:12:34");
    assert!(address.is_random());
}

#[test]
fn toml_with_several_pods() {
    let text = r#"
        [[pod]]
        device_id = 0x10
        user_key = "0000000000000000000000000000000000000000000000000000000000000001"
        [[pod.outputs]]
        stream = "output 2"
        period = 5
        generator = { kind = "sine", amplitude = 100, period = 60 }
        [[pod.outputs]]
        stream = 0x0E00
        period = 30
        generator = { kind = "constant", value = 7 }

        [[pod]]
        device_id = 0x11
        address = "C0:11:22:33:44:55"
        os = { tag = 2051, version = "2.3" }
    "#;
    let file = PodsFile::from_toml_str(text).expect("valid");
    assert_eq!(file.pod.len(), 2);
    assert_eq!(file.pod[0].outputs[0].stream, StreamCode(0x5002));
    assert_eq!(file.pod[0].outputs[1].stream, StreamCode(0x0E00));
    assert!(file.pod[0].root_key().expect("key").is_some());
    assert_eq!(
        file.pod[1].os_tag(),
        Ok(TagVersion {
            tag: 2051,
            major: 2,
            minor: 3
        })
    );
    let text = "[[pod]]\ndevice_id = 3\n[[pod]]\ndevice_id = 3\n";
    assert_eq!(
        PodsFile::from_toml_str(text),
        Err(ConfigError::DuplicateDeviceId(3))
    );
}

#[test]
fn bad_values_say_what_is_wrong() {
    let bad = |edit: fn(&mut PodConfig)| {
        let mut config = PodConfig::default();
        edit(&mut config);
        config.validate().expect_err("invalid")
    };
    assert_eq!(
        bad(|c| c.device_id = 1 << 48),
        ConfigError::DeviceIdTooLarge(1 << 48)
    );
    assert!(matches!(
        bad(|c| c.name = "TOOLONG".into()),
        ConfigError::BadName(_)
    ));
    assert!(matches!(
        bad(|c| c.address = Some("C0:11".into())),
        ConfigError::BadAddress(_)
    ));
    assert!(matches!(
        bad(|c| c.os.version = "1".into()),
        ConfigError::BadTag { which: "os", .. }
    ));
    assert!(matches!(
        bad(|c| c.user_key = Some("abcd".into())),
        ConfigError::BadUserKey(_)
    ));
    assert_eq!(
        bad(|c| c.outputs[0].stream = StreamCode(0x1001)),
        ConfigError::OutputNotStored { stream: 0x1001 }
    );
    assert_eq!(
        bad(|c| c.outputs[0].period = 0),
        ConfigError::OutputPeriodZero { stream: 0x5001 }
    );
    assert_eq!(
        bad(|c| c.clock_speed = 0.0),
        ConfigError::BadClockSpeed(0.0)
    );
    assert!(matches!(
        PodConfig::from_toml_str("device_id = 1\ncolour = 3"),
        Err(ConfigError::Toml(_))
    ));
}
