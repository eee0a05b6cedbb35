//! Telling a recovery offset from application data.
//!
//! With connection state recovery the server appends an offset to *some* events as their last
//! argument: this crate's server to every event without an ack id, Node's (socket.io 4.8,
//! `SessionAwareAdapter.broadcast`) only to those that are neither volatile nor waiting for
//! an ack. So a last string argument is not always an offset, and a client that takes it off
//! unconditionally loses application data (a volatile `["vtock","payload"]` would reach the
//! application as `["vtock"]`, and `payload` would be sent as the offset on the next
//! recovery). A last string argument counts as an offset only when it has the form of one
//! and agrees with the offsets already seen in the session (its [`Anchor`]):
//!
//! - **This crate's server**: `<prefix>.<seq>`, the prefix exactly 8 characters of
//!   `A-Za-z0-9-_` (random per server), the seq lowercase hexadecimal without leading zero,
//!   at most 16 digits. All offsets of a session share the prefix.
//! - **Node** (`yeast()`): the millisecond clock of the server in base 64 (alphabet
//!   `0-9A-Za-z-_`), 7 characters (the years 2020 to 2109 are accepted), then, for the
//!   second and later offsets of one millisecond, `.` and a counter in the same alphabet.
//!   Its timestamp must be no earlier than the last offset's minus [`YEAST_MARGIN`], and no
//!   later than the server's clock can be now plus [`YEAST_MARGIN`]: the largest
//!   `timestamp - local now` seen in the session (the least delayed event) plus the local
//!   time since then. Events replayed after a recovery are late, never early, so they pass.
//!
//! Anything else — another shape, the other server's kind, a prefix or a time that does not
//! fit — is application data: delivered untouched and not recorded as the offset. A new
//! session (not recovered) starts without an anchor.
//!
//! socket.io-client does neither check: it leaves the offset in the arguments (a JavaScript
//! handler ignores an extra one) and records any last string argument as the offset, so a
//! volatile event's string is sent back on recovery and the recovery fails. Rust handlers
//! decode their arguments by count and type, so this client takes real offsets off — the
//! application sees the same arguments with recovery on or off — and only those.
//!
//! What stays ambiguous: a volatile event from a Node server whose last argument is a string
//! of one of these forms and, when the session has an anchor, consistent with it (a random
//! 7-character word is within the window with a probability of about 10⁻⁷), or any such
//! string before the session saw its first offset. The first offset of a session has nothing
//! to agree with, so it is taken on its form alone; if that was application data, the real
//! offsets that follow look inconsistent and reach the application as data until the next
//! new session. The local clock is the caller's `now`, a monotonic clock that usually stops
//! while the machine sleeps: a suspend longer than the margin makes the next offsets of the
//! same session look too new.

use bytestring::ByteString;

use crate::timers::Millis;

/// The slack of the time checks of Node's offsets, ms: server clock steps, delivery delay of
/// the event that set the anchor, clock drift.
pub(super) const YEAST_MARGIN: u64 = 5 * 60 * 1000;

/// 2020-01-01T00:00:00Z in ms: Node's offsets (socket.io 4.6, 2023, and later) are newer.
const YEAST_EARLIEST: u64 = 1_577_836_800_000;

/// What the offsets accepted so far in a session say about the next ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Anchor {
    /// This crate's server: the prefix of its offsets.
    Own(ByteString),
    /// Node's: the timestamp of the last offset and the largest `timestamp - now` seen.
    Yeast {
        /// The last offset's timestamp, ms.
        last: u64,
        /// The largest timestamp minus the local time it arrived at, ms.
        lead: i64,
    },
}

/// If `text` (the last string argument of an event, arriving at `now`) is the next offset of
/// the session whose offsets so far gave `anchor`, the anchor after it; `None` if it is
/// application data.
pub(super) fn accept(anchor: Option<&Anchor>, text: &str, now: Millis) -> Option<Anchor> {
    if let Some(prefix) = own_prefix(text) {
        return match anchor {
            None => Some(Anchor::Own(ByteString::from(prefix))),
            Some(Anchor::Own(p)) if p == prefix => anchor.cloned(),
            Some(_) => None,
        };
    }
    let ts = yeast_time(text)?;
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    // Both below 2^43: no overflow.
    let lead = ts as i64 - now;
    match anchor {
        None => Some(Anchor::Yeast { last: ts, lead }),
        Some(Anchor::Yeast { last, lead: best }) => {
            let fits =
                ts + YEAST_MARGIN >= *last && lead <= best.saturating_add(YEAST_MARGIN as i64);
            fits.then(|| Anchor::Yeast {
                last: ts,
                lead: lead.max(*best),
            })
        }
        Some(Anchor::Own(_)) => None,
    }
}

/// The value of one character of the base-64 alphabet (`0-9A-Za-z-_`, yeast's order).
fn digit(b: u8) -> Option<u64> {
    match b {
        b'0'..=b'9' => Some(u64::from(b - b'0')),
        b'A'..=b'Z' => Some(u64::from(b - b'A') + 10),
        b'a'..=b'z' => Some(u64::from(b - b'a') + 36),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// The prefix of an offset of this crate's server.
fn own_prefix(text: &str) -> Option<&str> {
    let (prefix, seq) = text.split_once('.')?;
    let ok = prefix.len() == 8
        && prefix.bytes().all(|b| digit(b).is_some())
        && (1..=16).contains(&seq.len())
        && !seq.starts_with('0')
        && seq.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    ok.then_some(prefix)
}

/// The timestamp of a Node offset.
fn yeast_time(text: &str) -> Option<u64> {
    let (time, counter) = match text.split_once('.') {
        Some((t, c)) => (t, Some(c)),
        None => (text, None),
    };
    if time.len() != 7 {
        return None;
    }
    if let Some(c) = counter {
        if !(1..=6).contains(&c.len()) || !c.bytes().all(|b| digit(b).is_some()) {
            return None;
        }
    }
    let ms = time
        .bytes()
        .try_fold(0u64, |acc, b| Some(acc * 64 + digit(b)?))?;
    (ms >= YEAST_EARLIEST).then_some(ms)
}

/// What Node's `yeast()` makes of the time `ms` (its `encode`), for tests.
#[cfg(test)]
pub(super) fn yeast_encode(mut ms: u64) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
    let mut out = Vec::new();
    loop {
        out.push(ALPHABET[(ms % 64) as usize]);
        ms /= 64;
        if ms == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::yeast_encode as encode;

    /// 2026-12-01T21:00:00Z.
    const T: u64 = 1_796_158_800_000;

    #[test]
    fn forms() {
        assert_eq!(own_prefix("AbCd-_09.1f"), Some("AbCd-_09"));
        assert_eq!(own_prefix("AbCd-_09.ffffffffffffffff"), Some("AbCd-_09"));
        for bad in [
            "AbCd-_0.1",                  // 7-character prefix
            "AbCd-_09x.1",                // 9
            "AbCd+_09.1",                 // not the alphabet
            "AbCd-_09.",                  // no seq
            "AbCd-_09.01",                // leading zero
            "AbCd-_09.1F",                // upper case
            "AbCd-_09.1g",                // not hex
            "AbCd-_09.1ffffffffffffffff", // 17 digits
            "AbCd-_091",
        ] {
            assert_eq!(own_prefix(bad), None, "{bad}");
        }
        assert_eq!(yeast_time(&encode(T)), Some(T));
        assert_eq!(yeast_time(&format!("{}.0", encode(T))), Some(T));
        assert_eq!(yeast_time(&format!("{}.a_", encode(T))), Some(T));
        assert_eq!(yeast_time(&encode(YEAST_EARLIEST)), Some(YEAST_EARLIEST));
        assert_eq!(yeast_time(&encode(YEAST_EARLIEST - 1)), None, "before 2020");
        assert_eq!(
            yeast_time(&encode(64u64.pow(7) - 1)),
            Some(64u64.pow(7) - 1)
        );
        assert_eq!(yeast_time(&encode(64u64.pow(7))), None, "8 characters");
        for bad in [
            format!("{}.", encode(T)),
            format!("{}.1234567", encode(T)),
            format!("{}.+", encode(T)),
            format!("{}x", encode(T)),
            "a+bcdef".to_owned(),
            String::new(),
        ] {
            assert_eq!(yeast_time(&bad), None, "{bad}");
        }
    }

    #[test]
    fn own_offsets_share_a_prefix() {
        let a = accept(None, "AbCd-_09.1", 0).unwrap();
        assert_eq!(a, Anchor::Own(ByteString::from_static("AbCd-_09")));
        assert_eq!(accept(Some(&a), "AbCd-_09.2a", 9), Some(a.clone()));
        assert_eq!(accept(Some(&a), "Other_09.2b", 9), None, "another prefix");
        assert_eq!(accept(Some(&a), &encode(T), 9), None, "Node's kind");
        assert_eq!(accept(Some(&a), "payload", 9), None);
    }

    #[test]
    fn node_offsets_follow_the_clock() {
        let local = 50_000;
        let a = accept(None, &encode(T), local).unwrap();
        let lead = T as i64 - local as i64;
        assert_eq!(a, Anchor::Yeast { last: T, lead });
        // The next millisecond and the counter of the same one.
        let b = accept(Some(&a), &format!("{}.0", encode(T)), local).unwrap();
        assert_eq!(b, a);
        let b = accept(Some(&b), &encode(T + 20), local + 20).unwrap();
        assert_eq!(b, Anchor::Yeast { last: T + 20, lead });
        // An hour later, locally too.
        let hour = 3_600_000;
        assert!(accept(Some(&b), &encode(T + hour), local + hour).is_some());
        // Delayed (a replay after recovery): the lead stays the best one.
        let late = accept(Some(&b), &encode(T + 30), local + 90_000).unwrap();
        assert_eq!(late, Anchor::Yeast { last: T + 30, lead });
        // Within the margins, both ways.
        assert!(accept(Some(&b), &encode(T + 20 - YEAST_MARGIN), local + 20).is_some());
        assert!(accept(Some(&b), &encode(T + YEAST_MARGIN), local).is_some());
        // Beyond them.
        assert_eq!(
            accept(Some(&b), &encode(T + 19 - YEAST_MARGIN), local),
            None
        );
        assert_eq!(accept(Some(&b), &encode(T + 1 + YEAST_MARGIN), local), None);
        assert_eq!(accept(Some(&b), "AbCd-_09.1", local), None, "ours");
    }

    #[test]
    fn ambiguous_words() {
        let local = 1000;
        let a = accept(None, &encode(T), local).unwrap();
        // Seven letters of the alphabet: Node's form, but not its time.
        assert_eq!(yeast_time("payload"), Some(3_544_367_180_071));
        assert_eq!(accept(Some(&a), "payload", local + 10), None);
        assert_eq!(accept(Some(&a), "message", local + 10), None);
        // Before the first offset of the session there is nothing to compare with: the form
        // decides.
        assert!(accept(None, "payload", local).is_some());
        assert!(accept(None, "short", local).is_none());
        assert!(accept(None, "hello world", local).is_none());
        assert!(accept(None, "12345678901", local).is_none());
        // A word that happens to encode a time close to the server's is an offset.
        assert!(accept(Some(&a), &encode(T + 5), local + 10).is_some());
    }
}
