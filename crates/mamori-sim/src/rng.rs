//! Deterministic randomness. Every random choice of a simulation comes from a generator derived
//! from the seed and *where* it is used (the organisation, one person on one day, one incident on
//! one day), never from the order in which things were generated: the same seed gives the same
//! people, rows and ids whatever the output format, and a day can be generated without the days
//! before it.

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The generator used everywhere (xoshiro256++: fast, reproducible across platforms).
pub type SimRng = Xoshiro256PlusPlus;

/// What a derived generator is for; part of its seed so that streams never collide.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub enum Stream {
    Organisation = 1,
    Plan = 2,
    PersonDay = 3,
    IncidentDay = 4,
    Careless = 5,
    /// Words appended to content (`Config::content_words`).
    Filler = 6,
    /// A leaver's account used after the last day ([`crate::scenario::AfterExit`]).
    AfterExit = 7,
    /// The directory's account inventory and its seeded hygiene cases ([`crate::inventory`]).
    Accounts = 8,
    /// A day's sessions of a shared desk account ([`crate::org::SharedAccount`]).
    SharedDesk = 9,
}

/// SplitMix64's finaliser: a bijective mix of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A generator for `stream` at coordinates `(a, b)` (e.g. person index and day index).
pub fn derive(seed: u64, stream: Stream, a: u64, b: u64) -> SimRng {
    let key = mix(mix(mix(seed) ^ stream as u64) ^ a) ^ b.rotate_left(32);
    SimRng::seed_from_u64(mix(key))
}

/// A Poisson-distributed count with mean `lambda` (Knuth's method below 30, a rounded normal
/// approximation above).
pub fn poisson(rng: &mut SimRng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda > 30.0 {
        let value = lambda + lambda.sqrt() * normal(rng);
        return value.round().max(0.0) as u32;
    }
    let limit = (-lambda).exp();
    let mut product: f64 = rng.random();
    let mut count = 0;
    while product > limit {
        product *= rng.random::<f64>();
        count += 1;
    }
    count
}

/// A standard normal sample (Box–Muller).
pub fn normal(rng: &mut SimRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// One element of a non-empty slice, uniformly.
pub fn pick<'a, T>(rng: &mut SimRng, items: &'a [T]) -> &'a T {
    debug_assert!(!items.is_empty(), "pick from an empty slice");
    &items[rng.random_range(0..items.len())]
}

/// An index drawn with probability proportional to `weights` (which must not all be zero).
pub fn weighted(rng: &mut SimRng, weights: &[f32]) -> usize {
    let total: f32 = weights.iter().sum();
    let mut target = rng.random::<f32>() * total;
    for (index, weight) in weights.iter().enumerate() {
        if target < *weight {
            return index;
        }
        target -= weight;
    }
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_generators_depend_on_seed_stream_and_coordinates() {
        let first: u64 = derive(1, Stream::PersonDay, 2, 3).random();
        assert_eq!(first, derive(1, Stream::PersonDay, 2, 3).random::<u64>());
        assert_ne!(first, derive(2, Stream::PersonDay, 2, 3).random::<u64>());
        assert_ne!(first, derive(1, Stream::IncidentDay, 2, 3).random::<u64>());
        assert_ne!(first, derive(1, Stream::PersonDay, 3, 2).random::<u64>());
    }

    #[test]
    fn poisson_mean_is_close_to_lambda() {
        let mut rng = derive(7, Stream::Plan, 0, 0);
        for lambda in [0.5, 4.0, 50.0] {
            let total: u64 = (0..20_000)
                .map(|_| u64::from(poisson(&mut rng, lambda)))
                .sum();
            let mean = total as f64 / 20_000.0;
            assert!(
                (mean - lambda).abs() < lambda * 0.05 + 0.05,
                "{lambda}: {mean}"
            );
        }
    }

    #[test]
    fn weighted_never_picks_a_zero_weight() {
        let mut rng = derive(7, Stream::Plan, 0, 1);
        for _ in 0..1000 {
            assert_ne!(weighted(&mut rng, &[1.0, 0.0, 2.0]), 1);
        }
    }
}
