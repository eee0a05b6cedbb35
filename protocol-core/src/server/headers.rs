//! [`Headers`]: the request headers a connection keeps for its life (Node's
//! `socket.handshake.headers`), in two allocations however many there are.

use std::fmt;

/// Request headers, in the order given: names as given (the runtimes give them in lower
/// case), values as text.
///
/// Every connection keeps its handshake's headers, so they are stored compactly: the names
/// and values one after the other in one string, with where each ends.
///
/// ```
/// use sio_core::server::Headers;
///
/// let mut h: Headers = [("user-agent", "node"), ("cookie", "a=1")].into_iter().collect();
/// h.push("x-extra", "2");
/// assert_eq!(h.get("cookie"), Some("a=1"));
/// assert_eq!(h.iter().map(|(n, _)| n).collect::<Vec<_>>(), ["user-agent", "cookie", "x-extra"]);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    text: String,
    /// For each header, where its name and its value end in `text`.
    ends: Vec<(u32, u32)>,
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers::default()
    }

    /// No headers, with room for `headers` headers of `text` bytes of names and values in
    /// all (no allocation while they fit).
    pub fn with_capacity(text: usize, headers: usize) -> Self {
        Headers {
            text: String::with_capacity(text),
            ends: Vec::with_capacity(headers),
        }
    }

    /// Give back the room not used (a connection keeps its headers for its life).
    pub fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }

    /// Add a header at the end (a name given twice is kept twice, as the request had it).
    /// Headers past 4 GiB of text in all are not kept.
    pub fn push(&mut self, name: &str, value: &str) {
        let name_end = self.text.len() + name.len();
        let value_end = name_end + value.len();
        let (Ok(name_end), Ok(value_end)) = (u32::try_from(name_end), u32::try_from(value_end))
        else {
            return;
        };
        self.text.push_str(name);
        self.text.push_str(value);
        self.ends.push((name_end, value_end));
    }

    /// The value of the first header named `name` (compared ignoring ASCII case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The headers, in order, as `(name, value)`.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            headers: self,
            at: 0,
        }
    }

    /// How many headers there are.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn entry(&self, i: usize) -> (&str, &str) {
        let start = if i == 0 {
            0
        } else {
            self.ends[i - 1].1 as usize
        };
        let (name_end, value_end) = self.ends[i];
        (
            &self.text[start..name_end as usize],
            &self.text[name_end as usize..value_end as usize],
        )
    }
}

/// The headers of a [`Headers`], in order ([`Headers::iter`]).
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    headers: &'a Headers,
    at: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.headers.ends.len() {
            return None;
        }
        self.at += 1;
        Some(self.headers.entry(self.at - 1))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.headers.ends.len() - self.at;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut h = Headers::new();
        h.extend(iter);
        h.shrink_to_fit();
        h
    }
}

impl<N: AsRef<str>, V: AsRef<str>> Extend<(N, V)> for Headers {
    fn extend<I: IntoIterator<Item = (N, V)>>(&mut self, iter: I) {
        for (n, v) in iter {
            self.push(n.as_ref(), v.as_ref());
        }
    }
}

impl From<Vec<(String, String)>> for Headers {
    fn from(v: Vec<(String, String)>) -> Self {
        v.into_iter().collect()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn keeps_every_header_in_order(pairs in proptest::collection::vec((".{0,12}", ".{0,24}"), 0..12)) {
            let h: Headers = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            prop_assert_eq!(h.len(), pairs.len());
            let back: Vec<(String, String)> =
                h.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
            prop_assert_eq!(back, pairs.clone());
            // Collected headers keep no spare room; room given beforehand changes nothing else.
            prop_assert_eq!(h.text.capacity(), h.text.len());
            prop_assert_eq!(h.ends.capacity(), h.ends.len());
            let text: usize = pairs.iter().map(|(n, v)| n.len() + v.len()).sum();
            let mut sized = Headers::with_capacity(text, pairs.len());
            sized.extend(pairs.iter().map(|(n, v)| (n, v)));
            prop_assert_eq!(&sized, &h);
            prop_assert_eq!(Headers::from(pairs), h);
        }
    }

    #[test]
    fn lookup_ignores_case_and_takes_the_first() {
        let h: Headers = [("accept", "a"), ("Accept", "b"), ("", "empty name")]
            .into_iter()
            .collect();
        assert_eq!(h.get("ACCEPT"), Some("a"));
        assert_eq!(h.get(""), Some("empty name"));
        assert_eq!(h.get("missing"), None);
        assert!(!h.is_empty());
        assert!(Headers::new().is_empty());
        assert_eq!(
            format!("{h:?}"),
            r#"{"accept": "a", "Accept": "b", "": "empty name"}"#
        );
    }
}
