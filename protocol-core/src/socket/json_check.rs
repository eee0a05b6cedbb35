//! A quick check of the JSON data of an incoming packet, for the common case.
//!
//! Every EVENT and ACK that comes in has its JSON checked (Node's decoder parses it, and a
//! packet it cannot parse closes the connection). serde_json does that check in
//! [`super::packet`], through its visitors; for the small arrays most packets carry that
//! costs several times what a plain scan of the bytes does. This module is that scan. It
//! only ever answers "valid" for text that serde_json accepts too: anything it is not sure of
//! (an escape in an event's name, a first element that is not a string, nesting deeper than
//! [`MAX_DEPTH`], or any error) is left to serde_json, which then decides and names the error.

/// Deeper nesting is left to serde_json.
const MAX_DEPTH: u32 = 64;

/// The name of an event whose JSON array `json` certainly is (its first element a string
/// with no escape, as every client writes it), or `None` when serde_json must decide.
pub(crate) fn event_name(json: &str) -> Option<&str> {
    let b = json.as_bytes();
    let i = ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let start = ws(b, i + 1);
    if b.get(start) != Some(&b'"') {
        return None;
    }
    let end = plain_string_end(b, start + 1)?;
    let after = rest_of_array(b, end + 1, MAX_DEPTH - 1)?;
    (ws(b, after) == b.len()).then(|| &json[start + 1..end])
}

/// Whether `json` is certainly a JSON array (`false`: serde_json must decide).
pub(crate) fn is_array(json: &str) -> bool {
    let b = json.as_bytes();
    let i = ws(b, 0);
    b.get(i) == Some(&b'[') && array(b, i + 1, MAX_DEPTH).is_some_and(|end| ws(b, end) == b.len())
}

/// The index after JSON whitespace from `i`.
fn ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\t' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The bytes that end a plain run of a string: `"`, `\\` and the control characters.
const STOP: [bool; 256] = {
    let mut stop = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        stop[c] = true;
        c += 1;
    }
    stop[b'"' as usize] = true;
    stop[b'\\' as usize] = true;
    stop
};

/// The index of the first [`STOP`] byte from `i`.
fn stop(b: &[u8], mut i: usize) -> Option<usize> {
    while !STOP[*b.get(i)? as usize] {
        i += 1;
    }
    Some(i)
}

/// Where the string starting at `i` (after its opening quote) ends (its closing quote), if it
/// has no escape and no control character.
pub(crate) fn plain_string_end(b: &[u8], i: usize) -> Option<usize> {
    let end = stop(b, i)?;
    (b[end] == b'"').then_some(end)
}

/// One value from `i`; the index after it.
fn value(b: &[u8], i: usize, depth: u32) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string(b, i + 1),
        b'[' => array(b, i + 1, depth),
        b'{' => object(b, i + 1, depth),
        b't' => literal(b, i, b"true"),
        b'f' => literal(b, i, b"false"),
        b'n' => literal(b, i, b"null"),
        b'-' | b'0'..=b'9' => number(b, i),
        _ => None,
    }
}

/// The rest of a string from `i` (after its opening quote); the index after its closing quote.
fn string(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i = stop(b, i)?;
        match b[i] {
            b'"' => return Some(i + 1),
            b'\\' => match *b.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' if b.get(i + 2..i + 6)?.iter().all(u8::is_ascii_hexdigit) => i += 6,
                _ => return None,
            },
            _ => return None,
        }
    }
}

/// An array from `i` (after its `[`); the index after its `]`.
fn array(b: &[u8], i: usize, depth: u32) -> Option<usize> {
    let depth = depth.checked_sub(1)?;
    let i = ws(b, i);
    if *b.get(i)? == b']' {
        return Some(i + 1);
    }
    rest_of_array(b, value(b, i, depth)?, depth)
}

/// The rest of an array from `i`, after one of its elements; the index after its `]`.
fn rest_of_array(b: &[u8], mut i: usize, depth: u32) -> Option<usize> {
    loop {
        i = ws(b, i);
        match *b.get(i)? {
            b',' => i = value(b, ws(b, i + 1), depth)?,
            b']' => return Some(i + 1),
            _ => return None,
        }
    }
}

/// An object from `i` (after its `{`); the index after its `}`.
fn object(b: &[u8], i: usize, depth: u32) -> Option<usize> {
    let depth = depth.checked_sub(1)?;
    let mut i = ws(b, i);
    if *b.get(i)? == b'}' {
        return Some(i + 1);
    }
    loop {
        if *b.get(i)? != b'"' {
            return None;
        }
        i = ws(b, string(b, i + 1)?);
        if *b.get(i)? != b':' {
            return None;
        }
        i = ws(b, value(b, ws(b, i + 1), depth)?);
        match *b.get(i)? {
            b',' => i = ws(b, i + 1),
            b'}' => return Some(i + 1),
            _ => return None,
        }
    }
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    b[i..].starts_with(word).then_some(i + word.len())
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` from `i`; the index after it.
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    if b[i] == b'-' {
        i += 1;
    }
    match *b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(b, i + 1),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let end = digits(b, i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let end = digits(b, i);
        if end == i {
            return None;
        }
        i = end;
    }
    Some(i)
}

fn digits(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::packet::{event_name_of, validate_data_serde};
    use crate::socket::PacketType;
    use proptest::prelude::*;

    /// serde_json's check of an event's data (what the decoder falls back to), and the name it
    /// finds.
    fn serde_event(json: &str) -> Option<String> {
        validate_data_serde(PacketType::Event, json).ok()?;
        event_name_of(json).map(|n| n.into_owned())
    }

    fn serde_array(json: &str) -> bool {
        validate_data_serde(PacketType::Ack, json).is_ok()
    }

    #[test]
    fn what_clients_send_is_valid() {
        assert_eq!(
            event_name(r#"["echo",{"msg":"hello world","n":42}]"#),
            Some("echo")
        );
        assert_eq!(
            event_name(r#" [ "a" , 1 , -2.5e+3 , [ ] , { } ] "#),
            Some("a")
        );
        assert_eq!(event_name(r#"["a"]"#), Some("a"));
        assert_eq!(
            event_name(r#"["a","\"\\\/\b\f\n\r\t\u00e9",true,false,null,0,{"k\u0041":[1]}]"#),
            Some("a")
        );
        assert_eq!(event_name("[\"é\",\"ü\"]"), Some("é"));
        assert!(is_array(r#"[1,{"a":[null]}]"#));
        assert!(is_array("[]"));
    }

    #[test]
    fn anything_else_is_left_to_serde_json() {
        for json in [
            r#"["a\"b",1]"#, // an escape in the name
            r#"[1,"a"]"#,    // a number first
            "[]",
            r#"{"a":1}"#,
            r#"["a",]"#,
            r#"["a",1,]"#,
            r#"["a" 1]"#,
            r#"["a",{"b":1,}]"#,
            r#"["a",{"b" 1}]"#,
            r#"["a",{1:1}]"#,
            r#"["a",01]"#,
            r#"["a",1.]"#,
            r#"["a",.5]"#,
            r#"["a",1e]"#,
            r#"["a",-]"#,
            r#"["a",tru]"#,
            r#"["a","\x"]"#,
            r#"["a","\u12G4"]"#,
            "[\"a\",\"\u{1}\"]",
            "[\"a\u{1f}\"]",
            r#"["a"] x"#,
            r#"["a""#,
            r#"["a",[1]"#,
            "",
        ] {
            assert_eq!(event_name(json), None, "{json}");
        }
        let deep = format!("[\"a\",{}{}]", "[".repeat(70), "]".repeat(70));
        assert_eq!(event_name(&deep), None);
        assert!(serde_array(&deep));
        assert!(!is_array("[1,]"));
        assert!(!is_array(r#"{"a":1}"#));
    }

    /// JSON-like text: valid values, and valid values with one byte changed, cut or added.
    fn jsonish() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| serde_json::to_string(&f).unwrap_or_default()),
            "[-+0-9.eE]{1,6}",
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
            r#""[a-z\\"/bfnrtu0-9A-F\u{1}é]{0,8}""#,
        ];
        let value = leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec(("[a-z\\\\\"]{0,3}", inner), 0..4).prop_map(|v| {
                    let fields: Vec<String> = v
                        .into_iter()
                        .map(|(k, v)| format!("\"{k}\" : {v}"))
                        .collect();
                    format!("{{ {} }}", fields.join(" ,"))
                }),
            ]
        });
        let event =
            (r#""[a-z\\]{0,5}""#, prop::collection::vec(value, 0..4)).prop_map(|(name, rest)| {
                let mut all = vec![name];
                all.extend(rest);
                format!("[{}]", all.join(","))
            });
        (event, any::<prop::sample::Index>(), any::<u8>(), 0..4u8).prop_map(
            |(text, at, byte, how)| {
                let mut bytes = text.into_bytes();
                let i = at.index(bytes.len() + 1);
                match how {
                    0 => {}
                    1 if i < bytes.len() => bytes[i] = byte,
                    2 => bytes.truncate(i),
                    _ => bytes.insert(i, byte),
                }
                String::from_utf8_lossy(&bytes).into_owned()
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        #[test]
        fn prop_only_what_serde_json_accepts_is_valid(json in jsonish()) {
            if let Some(name) = event_name(&json) {
                let by_serde = serde_event(&json);
                prop_assert_eq!(by_serde.as_deref(), Some(name), "{}", json);
            }
            if is_array(&json) {
                prop_assert!(serde_array(&json), "{}", json);
            }
        }
    }
}
