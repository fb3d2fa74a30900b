//! `iotile-fw keys gen --release`, `script sign` and `script verify`, run as an admin would:
//! a signature verifies for its script and target only, and the script stays unchanged.

use std::path::Path;
use std::process::{Command, Output};

fn iotile_fw(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iotile-fw"))
        .args(args)
        .output()
        .expect("iotile-fw runs")
}

fn text(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_signed_script_verifies_for_its_target_and_nothing_else() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("release.key");
    let key_id = ok(&iotile_fw(&[
        "keys",
        "gen",
        "--release",
        "--out",
        text(&key),
    ]));
    assert!(key_id.trim().starts_with("rk--"), "{key_id}");
    let pub_file = dir.path().join("release.key.pub");
    assert_eq!(
        std::fs::read_to_string(&pub_file).unwrap().trim(),
        key_id.trim()
    );

    let description = dir.path().join("app.toml");
    std::fs::write(
        &description,
        "[[record]]\ntype = \"set_device_tag\"\napp = \"2051 1.1\"\n",
    )
    .unwrap();
    let script = dir.path().join("app.trub");
    ok(&iotile_fw(&[
        "script",
        "build",
        text(&description),
        "--out",
        text(&script),
    ]));
    let before = std::fs::read(&script).unwrap();

    ok(&iotile_fw(&[
        "script",
        "sign",
        text(&script),
        "--key",
        text(&key),
        "--org",
        "arch-systems",
        "--name",
        "water app",
        "--version",
        "1.1",
    ]));
    assert_eq!(
        std::fs::read(&script).unwrap(),
        before,
        "the script is not changed"
    );
    let said = ok(&iotile_fw(&[
        "script",
        "verify",
        text(&script),
        "--key",
        text(&pub_file),
    ]));
    assert!(
        said.contains("verified: ") && said.contains("v1.1.0"),
        "{said}"
    );

    // Another version, another name, another org: the signature is not theirs.
    for (flag, value) in [
        ("--version", "1.2"),
        ("--name", "gas app"),
        ("--org", "other"),
    ] {
        let out = iotile_fw(&[
            "script",
            "verify",
            text(&script),
            "--key",
            key_id.trim(),
            flag,
            value,
        ]);
        assert_eq!(out.status.code(), Some(1), "{flag} {value}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("not for"));
    }

    // A key nobody trusts.
    let stranger = dir.path().join("stranger.key");
    let stranger_id = ok(&iotile_fw(&[
        "keys",
        "gen",
        "--release",
        "--out",
        text(&stranger),
    ]));
    let out = iotile_fw(&[
        "script",
        "verify",
        text(&script),
        "--key",
        stranger_id.trim(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not a current release key"));

    // One byte changed after signing.
    let mut tampered = before.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    std::fs::write(&script, &tampered).unwrap();
    let out = iotile_fw(&["script", "verify", text(&script), "--key", key_id.trim()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not the ones that were signed"));

    // Signing refuses a file that is not a script, and a key others can read.
    let out = iotile_fw(&[
        "script",
        "sign",
        text(&description),
        "--key",
        text(&key),
        "--org",
        "a",
        "--name",
        "b",
        "--version",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&script, &before).unwrap();
    let out = iotile_fw(&[
        "script",
        "sign",
        text(&script),
        "--key",
        text(&key),
        "--org",
        "a",
        "--name",
        "b",
        "--version",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
}
