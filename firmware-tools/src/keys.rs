//! Device root keys: making them, and keeping them in files only their owner can read.

use std::io::Write;
use std::path::Path;

use sync_protocol::auth::RootKey;

/// A fresh random 32-byte root key (a device's user key) from the operating system.
pub fn generate() -> Result<RootKey, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)?;
    Ok(RootKey::new(bytes))
}

/// The key as coretools reads it: 64 lower-case hex digits.
pub fn to_hex(key: &RootKey) -> String {
    hex::encode(key.as_bytes())
}

/// Writes the key as hex to a new file with mode 0600; refuses to overwrite a file.
pub fn write_new(path: &Path, key: &RootKey) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{}", to_hex(key))?;
    file.sync_all()
}

/// Reads a key file written by [`write_new`] (or any file holding 64 hex digits).
pub fn read(path: &Path) -> Result<RootKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    RootKey::from_hex(text.trim()).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_private_and_read_back() {
        let first = generate().expect("os randomness");
        assert_ne!(first, generate().expect("os randomness"));
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("device.key");
        write_new(&path, &first).expect("written");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(read(&path), Ok(first.clone()));
        assert!(write_new(&path, &first).is_err(), "never overwrites a key");
    }
}
