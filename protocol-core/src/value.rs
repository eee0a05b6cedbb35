//! TEMPORARY: replaced by the full serde bridge.
#![allow(missing_docs)]
#[derive(Debug)]
pub struct PlaceholderError;
pub fn check_placeholders(_json: &[u8], _count: usize) -> Result<usize, PlaceholderError> {
    Ok(0)
}
#[derive(Debug)]
pub struct ValueError;
pub fn write_args<T: ?Sized + serde::Serialize>(
    out: &mut Vec<u8>,
    event: Option<&str>,
    args: &T,
    _attachments: &mut Vec<bytes::Bytes>,
) -> Result<(), ValueError> {
    let v = serde_json::to_value(args).map_err(|_| ValueError)?;
    let mut arr = vec![];
    if let Some(e) = event {
        arr.push(serde_json::Value::from(e));
    }
    arr.push(v);
    out.extend(serde_json::to_vec(&arr).unwrap());
    Ok(())
}
pub fn read_args<'de, T: serde::Deserialize<'de>>(
    json: &'de [u8],
    skip: usize,
    _attachments: &[bytes::Bytes],
) -> Result<T, ValueError> {
    let v: Vec<&serde_json::value::RawValue> =
        serde_json::from_slice(json).map_err(|_| ValueError)?;
    serde_json::from_str(v[skip].get()).map_err(|_| ValueError)
}
