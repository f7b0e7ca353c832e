//! The protocol's own random numbers, seeded by the caller.
//!
//! The state machine never reads a global RNG: the host gives each node a seed when it starts, and
//! every random choice (the seed member to contact, the cluster id, the init attempt id) comes from
//! this generator. The algorithm is SplitMix64, written here so that its output can never change
//! with a dependency upgrade.

/// A small, fast, seeded pseudo-random generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose whole output is decided by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The next 128 random bits.
    pub fn next_u128(&mut self) -> u128 {
        (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64())
    }

    /// A number in `0..bound`. `bound` must be positive.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "Rng::below needs a positive bound");
        // Multiply-shift: unbiased enough for choosing among a handful of peers.
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// A random element of `items`, or `None` when it is empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        let index = self.below(items.len() as u64) as usize;
        items.get(index)
    }

    /// A random non-zero 64-bit id.
    pub fn nonzero_u64(&mut self) -> u64 {
        // Bounded: a zero draw has probability 2^-64; two in a row are treated as impossible.
        let first = self.next_u64();
        if first != 0 {
            return first;
        }
        self.next_u64().max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_different_seeds_differ() {
        let a: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::new(8);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn below_stays_in_range_and_pick_covers_all() {
        let mut r = Rng::new(1);
        let items = [1, 2, 3];
        let mut seen = [false; 3];
        for _ in 0..200 {
            assert!(r.below(3) < 3);
            let picked = *r.pick(&items).unwrap();
            seen[picked - 1] = true;
        }
        assert_eq!(seen, [true; 3]);
        assert!(r.pick::<u8>(&[]).is_none());
    }
}
