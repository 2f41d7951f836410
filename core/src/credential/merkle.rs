//! The salted-claim tree the issuer signs (see docs/formats.md, "Claim tree").
//!
//! 16 leaves, fixed slots; leaf = H16(0x00 ‖ slot ‖ salt ‖ value), node =
//! H16(0x01 ‖ left ‖ right), unused slot = H16(0x03 ‖ slot), where H16 is the
//! suite's hash truncated to 16 bytes. A presentation carries the disclosed
//! leaves' preimages and the sibling hashes needed to recompute the root (a
//! multiproof), listed bottom-up, left to right.

use std::collections::BTreeMap;

use crate::crypto::Suite;

pub const LEAVES: usize = 16;
pub const HASH_LEN: usize = 16;
pub type Hash16 = [u8; HASH_LEN];

pub fn h16(suite: Suite, parts: &[&[u8]]) -> Hash16 {
    let digest = suite.hash(&parts.concat());
    let mut out = [0u8; HASH_LEN];
    out.copy_from_slice(&digest[..HASH_LEN]);
    out
}

pub fn leaf(suite: Suite, slot: u8, salt: &[u8], value: &[u8]) -> Hash16 {
    h16(suite, &[&[0x00, slot], salt, value])
}

pub fn unused_leaf(suite: Suite, slot: u8) -> Hash16 {
    h16(suite, &[&[0x03, slot]])
}

fn node(suite: Suite, left: &Hash16, right: &Hash16) -> Hash16 {
    h16(suite, &[&[0x01], left, right])
}

/// The root of a full tree.
pub fn root(suite: Suite, leaves: &[Hash16; LEAVES]) -> Hash16 {
    let mut level: Vec<Hash16> = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| node(suite, &pair[0], &pair[1]))
            .collect();
    }
    level[0]
}

/// The sibling hashes a verifier needs to recompute the root from the leaves
/// at `known` (sorted, distinct, < 16).
pub fn multiproof(suite: Suite, leaves: &[Hash16; LEAVES], known: &[usize]) -> Vec<Hash16> {
    let mut proof = Vec::new();
    let mut level: Vec<Hash16> = leaves.to_vec();
    let mut known: Vec<usize> = known.to_vec();
    while level.len() > 1 {
        for &i in &known {
            let sibling = i ^ 1;
            if !known.contains(&sibling) {
                proof.push(level[sibling]);
            }
        }
        known = dedup_parents(&known);
        level = level
            .chunks(2)
            .map(|pair| node(suite, &pair[0], &pair[1]))
            .collect();
    }
    proof
}

/// Recomputes the root from known leaves and a multiproof; `None` when the
/// proof has too few or too many hashes.
pub fn root_from_proof(
    suite: Suite,
    known: &BTreeMap<usize, Hash16>,
    proof: &[Hash16],
) -> Option<Hash16> {
    if known.is_empty() || known.keys().any(|&i| i >= LEAVES) {
        return None;
    }
    let mut proof = proof.iter();
    let mut level: BTreeMap<usize, Hash16> = known.clone();
    let mut width = LEAVES;
    while width > 1 {
        let mut next = BTreeMap::new();
        for (&i, hash) in &level {
            let sibling = match level.get(&(i ^ 1)) {
                Some(h) => *h,
                None => *proof.next()?,
            };
            let (left, right) = if i % 2 == 0 {
                (hash, &sibling)
            } else {
                (&sibling, hash)
            };
            next.insert(i / 2, node(suite, left, right));
        }
        level = next;
        width /= 2;
    }
    if proof.next().is_some() {
        return None;
    }
    level.remove(&0)
}

fn dedup_parents(known: &[usize]) -> Vec<usize> {
    let mut parents: Vec<usize> = known.iter().map(|i| i / 2).collect();
    parents.dedup();
    parents
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tree(suite: Suite) -> [Hash16; LEAVES] {
        std::array::from_fn(|i| leaf(suite, i as u8, b"salt", &[i as u8]))
    }

    #[test]
    fn every_subset_proves_the_root() {
        for suite in Suite::ALL {
            let leaves = tree(suite);
            let expected = root(suite, &leaves);
            for mask in [1u32, 0b111, 0b1010_0000_0000_0001, 0xffff, 0x8000, 0b0110] {
                let known: Vec<usize> = (0..LEAVES).filter(|i| mask & (1 << i) != 0).collect();
                let proof = multiproof(suite, &leaves, &known);
                let map: BTreeMap<usize, Hash16> = known.iter().map(|&i| (i, leaves[i])).collect();
                assert_eq!(
                    root_from_proof(suite, &map, &proof),
                    Some(expected),
                    "{mask:b}"
                );
                // Too short, too long, or a changed leaf: no match.
                if !proof.is_empty() {
                    assert_eq!(root_from_proof(suite, &map, &proof[1..]), None);
                }
                let mut longer = proof.clone();
                longer.push([0; 16]);
                assert_eq!(root_from_proof(suite, &map, &longer), None);
                let mut changed = map.clone();
                changed.insert(known[0], [9; 16]);
                assert_ne!(root_from_proof(suite, &changed, &proof), Some(expected));
            }
        }
    }

    #[test]
    fn window_set_needs_three_hashes() {
        let leaves = tree(Suite::Gm);
        assert_eq!(multiproof(Suite::Gm, &leaves, &[0, 1, 2]).len(), 3);
    }
}
