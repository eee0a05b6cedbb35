//! Reconnection delays: socket.io-client's exponential backoff with jitter (its `Backo2`).
//!
//! The `n`-th delay (counting from 0) is `min · factorⁿ`, moved by a random deviation of up to
//! `jitter` of itself (down or up, one draw deciding both the amount and the direction), then
//! capped at `max`. With socket.io-client's defaults (1000 ms, ×2, ±50 %, 5000 ms cap) the
//! delays lie in [500, 1500], [1000, 3000], [2000, 5000], [4000, 5000], [5000, 5000] ...

use crate::id::IdGenerator;
use crate::timers::Millis;

/// The largest base delay computed before jitter, to keep the arithmetic finite.
const BASE_CAP: f64 = 1e15;

/// Exponential backoff with jitter. The randomness comes from the caller's seeded generator.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    min: Millis,
    max: Millis,
    factor: f64,
    jitter: f64,
    attempts: u32,
}

impl Backoff {
    /// A backoff starting at `min` ms, multiplied by `factor` each attempt, capped at `max`
    /// ms, with a relative `jitter`. As in socket.io-client, a jitter outside `(0, 1]` means
    /// none; a `factor` below 1 (or not a number) is taken as 1.
    pub fn new(min: Millis, max: Millis, factor: f64, jitter: f64) -> Self {
        Backoff {
            min,
            max,
            factor: if factor >= 1.0 { factor } else { 1.0 },
            jitter: if jitter > 0.0 && jitter <= 1.0 {
                jitter
            } else {
                0.0
            },
            attempts: 0,
        }
    }

    /// How many delays were drawn since the last [`reset`](Self::reset).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Start over from the first delay.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// The next delay, in ms; counts one attempt.
    pub fn duration(&mut self, rng: &mut IdGenerator) -> Millis {
        let base = self.base(self.attempts);
        self.attempts = self.attempts.saturating_add(1);
        let ms = if self.jitter > 0.0 {
            // 53 random bits: a uniform draw in [0, 1), as Math.random() gives.
            let rand = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let deviation = (rand * self.jitter * base).floor();
            if ((rand * 10.0).floor() as u64) & 1 == 0 {
                base - deviation
            } else {
                base + deviation
            }
        } else {
            base
        };
        self.cap(ms)
    }

    /// The smallest and largest delay the `attempt`-th draw (counting from 0) can give.
    pub fn bounds(&self, attempt: u32) -> (Millis, Millis) {
        let base = self.base(attempt);
        let spread = (self.jitter * base).floor();
        (self.cap(base - spread), self.cap(base + spread))
    }

    fn base(&self, attempt: u32) -> f64 {
        let exp = i32::try_from(attempt).unwrap_or(i32::MAX);
        let base = self.min as f64 * self.factor.powi(exp);
        if base.is_nan() {
            BASE_CAP
        } else {
            base.min(BASE_CAP)
        }
    }

    fn cap(&self, ms: f64) -> Millis {
        let ms = ms.min(self.max as f64).max(0.0).floor();
        // In range by construction: 0 <= ms <= max.
        ms as Millis
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_bounds_match_socket_io_client() {
        let b = Backoff::new(1000, 5000, 2.0, 0.5);
        assert_eq!(b.bounds(0), (500, 1500));
        assert_eq!(b.bounds(1), (1000, 3000));
        assert_eq!(b.bounds(2), (2000, 5000));
        assert_eq!(b.bounds(3), (4000, 5000));
        assert_eq!(b.bounds(4), (5000, 5000));
        assert_eq!(b.bounds(u32::MAX), (5000, 5000));
    }

    #[test]
    fn draws_stay_in_bounds_and_vary() {
        let mut rng = IdGenerator::new([3; 32]);
        let mut b = Backoff::new(1000, 5000, 2.0, 0.5);
        let mut seen = std::collections::BTreeSet::new();
        for round in 0..200 {
            b.reset();
            for attempt in 0..8 {
                let (lo, hi) = b.bounds(attempt);
                let d = b.duration(&mut rng);
                assert!(lo <= d && d <= hi, "round {round} attempt {attempt}: {d}");
                if attempt == 0 {
                    seen.insert(d);
                }
            }
            assert_eq!(b.attempts(), 8);
        }
        assert!(seen.len() > 100, "jitter spreads the first delay");
        assert!(seen.iter().any(|&d| d < 1000) && seen.iter().any(|&d| d > 1000));
    }

    #[test]
    fn no_jitter_and_odd_parameters() {
        let mut rng = IdGenerator::new([0; 32]);
        let mut b = Backoff::new(100, 1000, 2.0, 0.0);
        let d: Vec<Millis> = (0..6).map(|_| b.duration(&mut rng)).collect();
        assert_eq!(d, vec![100, 200, 400, 800, 1000, 1000]);
        // Out-of-range jitter is none, as in socket.io-client.
        let mut b = Backoff::new(100, 1000, 2.0, 1.5);
        assert_eq!(b.duration(&mut rng), 100);
        // Huge attempt counts stay finite and capped.
        let mut b = Backoff::new(1000, 5000, 10.0, 1.0);
        for _ in 0..2000 {
            assert!(b.duration(&mut rng) <= 5000);
        }
        let mut b = Backoff::new(1000, 5000, f64::NAN, 0.5);
        assert!(b.duration(&mut rng) <= 1500);
    }
}
