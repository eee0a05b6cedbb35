//! Session and socket ids from a seeded, cryptographically strong generator.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytestring::ByteString;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

/// Generates unguessable ids (ChaCha20 seeded by the caller): 15 random bytes as 20 base64url
/// characters, the shape of Node's ids. The same seed gives the same ids, for tests.
#[derive(Debug, Clone)]
pub struct IdGenerator {
    rng: ChaCha20Rng,
}

impl IdGenerator {
    /// A generator seeded with `seed`. In production, take the seed from the OS.
    pub fn new(seed: [u8; 32]) -> Self {
        IdGenerator {
            rng: ChaCha20Rng::from_seed(seed),
        }
    }

    /// The next id.
    pub fn next_id(&mut self) -> ByteString {
        let mut bytes = [0u8; 15];
        self.rng.fill_bytes(&mut bytes);
        ByteString::from(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A random `u64` (for jitter and other draws).
    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_twenty_url_safe_chars_and_reproducible() {
        let mut a = IdGenerator::new([7; 32]);
        let mut b = IdGenerator::new([7; 32]);
        let ida = a.next_id();
        assert_eq!(ida.len(), 20);
        assert!(ida
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(ida, b.next_id());
        assert_ne!(a.next_id(), ida);
    }
}
