//! TEMPORARY: replaced by the full serde bridge.
#![allow(missing_docs)]
#[derive(Debug)]
pub struct PlaceholderError;
pub fn check_placeholders(_json: &[u8], _count: usize) -> Result<usize, PlaceholderError> {
    Ok(0)
}
