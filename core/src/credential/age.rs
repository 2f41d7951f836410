//! Age statements for any N without revealing the birth date: hash chains
//! (see docs/formats.md, "Age proofs").
//!
//! Days are Julian day numbers of calendar dates in China Standard Time.
//! Older chain: `top = H^(D_max − d)(seed)` with `D_max` the issuance day and
//! `d` the birth day. "Born on or before t" is shown by revealing
//! `P = H^(t − d)(seed)`; the verifier checks `H^(D_max − t)(P) = top`.
//! Going further down the chain needs a preimage of H, so a holder born after
//! `t` cannot produce `P`. Younger chain: `top = H^(d − D_min)(seed)` with
//! `D_min = D_max − 110 years`; "born on or after u" reveals `H^(d − u)(seed)`,
//! checked by `H^(u − D_min)(P) = top`.

use time::{Date, Month};

use super::merkle::{HASH_LEN, Hash16, h16};
use crate::crypto::Suite;

/// Oldest age the younger chain can speak about.
pub const YOUNGER_SPAN_YEARS: i32 = 110;
/// Holder-side checkpoint spacing: proving costs at most this many hashes.
const CHECKPOINT_EVERY: u32 = 256;

pub fn step(suite: Suite, value: &Hash16) -> Hash16 {
    h16(suite, &[&[0x02], value])
}

pub fn iterate(suite: Suite, mut value: Hash16, times: u32) -> Hash16 {
    for _ in 0..times {
        value = step(suite, &value);
    }
    value
}

/// `date` shifted back by `years` calendar years; 29 February becomes 28 February.
pub fn years_before(date: Date, years: i32) -> Option<Date> {
    let year = date.year().checked_sub(years)?;
    Date::from_calendar_date(year, date.month(), date.day())
        .or_else(|_| Date::from_calendar_date(year, Month::February, 28))
        .ok()
}

/// Completed years between `birth` and `on` (0 before the birth date).
pub fn age_on(birth: Date, on: Date) -> u32 {
    let mut years = on.year() - birth.year();
    if (on.month() as u8, on.day()) < (birth.month() as u8, birth.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

/// The last birth date of someone who is at least `n` years old on `today`.
pub fn latest_birth_for_age(today: Date, n: u32) -> Option<Date> {
    years_before(today, i32::try_from(n).ok()?)
}

/// One chain as the holder keeps it: its seed and checkpoints.
#[derive(Clone)]
pub struct Chain {
    suite: Suite,
    checkpoints: Vec<Hash16>,
    length: u32,
}

impl Chain {
    pub fn new(suite: Suite, seed: Hash16, length: u32) -> Self {
        let mut checkpoints = Vec::with_capacity((length / CHECKPOINT_EVERY + 1) as usize);
        let mut value = seed;
        checkpoints.push(value);
        for i in 1..=length {
            value = step(suite, &value);
            if i % CHECKPOINT_EVERY == 0 {
                checkpoints.push(value);
            }
        }
        Self {
            suite,
            checkpoints,
            length,
        }
    }

    /// `H^k(seed)`, `None` past the top.
    pub fn at(&self, k: u32) -> Option<Hash16> {
        if k > self.length {
            return None;
        }
        let start = *self.checkpoints.get((k / CHECKPOINT_EVERY) as usize)?;
        Some(iterate(self.suite, start, k % CHECKPOINT_EVERY))
    }

    pub fn top(&self) -> Hash16 {
        self.at(self.length).unwrap_or([0; HASH_LEN])
    }
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn leap_day_birthdays() {
        let born = date!(2008 - 02 - 29);
        assert_eq!(age_on(born, date!(2026 - 02 - 28)), 17);
        assert_eq!(age_on(born, date!(2026 - 03 - 01)), 18);
        // Consistent with latest_birth_for_age: 18 on 1 March, not on 28 February.
        assert!(born > latest_birth_for_age(date!(2026 - 02 - 28), 18).unwrap());
        assert!(born <= latest_birth_for_age(date!(2026 - 03 - 01), 18).unwrap());
        assert_eq!(
            years_before(date!(2024 - 02 - 29), 1).unwrap(),
            date!(2023 - 02 - 28)
        );
    }

    #[test]
    fn age_and_threshold_agree_on_every_day_of_a_span() {
        let today = date!(2026 - 11 - 22);
        let mut birth = date!(1995 - 01 - 01);
        while birth < date!(2012 - 12 - 31) {
            for n in [0u32, 14, 18, 22] {
                let eligible = birth <= latest_birth_for_age(today, n).unwrap();
                assert_eq!(eligible, age_on(birth, today) >= n, "{birth} {n}");
            }
            birth = birth.next_day().unwrap();
        }
    }

    #[test]
    fn chain_positions_match_plain_iteration() {
        for suite in Suite::ALL {
            let seed = [7u8; 16];
            let chain = Chain::new(suite, seed, 1000);
            for k in [0, 1, 255, 256, 257, 999, 1000] {
                assert_eq!(chain.at(k).unwrap(), iterate(suite, seed, k));
            }
            assert_eq!(chain.at(1001), None);
            assert_eq!(chain.top(), iterate(suite, seed, 1000));
        }
    }
}
