//! Helpers shared by the golden-vector test files.

pub fn bytes(text: &str) -> Vec<u8> {
    hex::decode(text).expect("hex literal")
}
