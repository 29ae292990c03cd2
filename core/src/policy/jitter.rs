//! Deterministic jitter: an offset in `0..=max` derived from a seed and a
//! generation number, so a policy using it stays a pure function.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// A fresh seed, different for every call, from the standard library's
/// randomly keyed hasher.
pub(crate) fn random_seed() -> u64 {
    RandomState::new().hash_one("bulkhead::policy::jitter")
}

/// The offset in `0..=max` for `generation` under `seed`.
pub(super) fn offset(seed: u64, generation: u64, max: u64) -> u64 {
    if max == 0 {
        return 0;
    }
    let mixed = mix(seed ^ mix(generation));
    match max.checked_add(1) {
        Some(span) => mixed % span,
        None => mixed,
    }
}

/// The SplitMix64 finaliser: a cheap, well-spread bijection on `u64`.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn offsets_spread_across_generations_within_bounds() {
        let seen: BTreeSet<u64> = (1..=200).map(|g| offset(7, g, 10)).collect();
        assert!(seen.iter().all(|o| *o <= 10), "{seen:?}");
        assert!(seen.len() >= 8, "poorly spread: {seen:?}");
    }

    #[test]
    fn zero_max_gives_zero_offsets() {
        assert!((1..=200).all(|g| offset(random_seed(), g, 0) == 0));
    }

    #[test]
    fn the_full_range_does_not_overflow() {
        assert_ne!(offset(3, 1, u64::MAX), offset(3, 2, u64::MAX));
    }

    #[test]
    fn seeds_differ_between_calls() {
        assert_ne!(random_seed(), random_seed());
    }
}
