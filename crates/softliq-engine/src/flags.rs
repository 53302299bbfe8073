//! The set of flagged accounts (reported liquidatable, not yet recovered), one bit per account.
//!
//! Detection asks "was this account flagged?" for every candidate of a price update. As a
//! `BTreeSet` that was a walk of three or four nodes per question, cold after anything that
//! touched the whole market: about a third of a millisecond for the ~1,500 candidates of a
//! 0.25% move at a million accounts. A bit per account is one read, and the whole set for a
//! million accounts is 125 KB.
//!
//! The set encodes exactly as the `BTreeSet<AccountId>` it replaced: a sequence of ids,
//! ascending. Snapshots, logs and state hashes written before read the same, and decoding
//! refuses a sequence that is not strictly ascending, so each set has one encoding.

use std::fmt;

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use softliq_core::account::AccountId;

const WORD_BITS: u64 = u64::BITS as u64;

/// A set of account ids as a bitmap; the words past the highest member are not kept, so equal
/// sets have equal words.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    words: Vec<u64>,
    len: usize,
}

/// The word holding `id` and the bit within it; `None` past what `usize` can index.
fn place(id: AccountId) -> Option<(usize, u64)> {
    let word = usize::try_from(id.0 / WORD_BITS).ok()?;
    Some((word, 1 << (id.0 % WORD_BITS)))
}

impl Flags {
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[must_use]
    pub fn contains(&self, id: &AccountId) -> bool {
        place(*id).is_some_and(|(w, bit)| self.words.get(w).is_some_and(|x| x & bit != 0))
    }

    /// Adds `id`; `false` when it was there already.
    ///
    /// # Panics
    /// When `id` is past what memory can index (no account of a running engine is).
    pub fn insert(&mut self, id: AccountId) -> bool {
        let (w, bit) = place(id).expect("account id indexes memory");
        if self.words.len() <= w {
            self.words.resize(w + 1, 0);
        }
        let fresh = self.words[w] & bit == 0;
        self.words[w] |= bit;
        self.len += usize::from(fresh);
        fresh
    }

    /// Removes `id`; `false` when it was not there.
    pub fn remove(&mut self, id: &AccountId) -> bool {
        let Some((w, bit)) = place(*id).filter(|&(w, _)| w < self.words.len()) else {
            return false;
        };
        let was = self.words[w] & bit != 0;
        self.words[w] &= !bit;
        self.len -= usize::from(was);
        while self.words.last() == Some(&0) {
            self.words.pop();
        }
        was
    }

    /// The members, ascending.
    pub fn iter(&self) -> impl Iterator<Item = AccountId> + '_ {
        self.from(AccountId(0))
    }

    /// The members at or after `start`, ascending.
    pub fn from(&self, start: AccountId) -> impl Iterator<Item = AccountId> + '_ {
        let (first, bit) = place(start).unwrap_or((usize::MAX, 1));
        // Bits below `start` in its own word are masked off.
        let below = bit - 1;
        self.words
            .iter()
            .enumerate()
            .skip(first)
            .flat_map(move |(w, &word)| {
                let mut rest = if w == first { word & !below } else { word };
                std::iter::from_fn(move || {
                    (rest != 0).then(|| {
                        let b = u64::from(rest.trailing_zeros());
                        rest &= rest - 1;
                        AccountId(w as u64 * WORD_BITS + b)
                    })
                })
            })
    }
}

impl Serialize for Flags {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        for id in self.iter() {
            seq.serialize_element(&id)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Flags {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Ascending;
        impl<'de> Visitor<'de> for Ascending {
            type Value = Flags;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a strictly ascending sequence of account ids")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Flags, A::Error> {
                let mut flags = Flags::default();
                let mut last: Option<AccountId> = None;
                while let Some(id) = seq.next_element::<AccountId>()? {
                    if last.is_some_and(|l| l >= id) || place(id).is_none() {
                        return Err(A::Error::custom(format!(
                            "flagged accounts: {} out of order or too large",
                            id.0
                        )));
                    }
                    flags.insert(id);
                    last = Some(id);
                }
                Ok(flags)
            }
        }
        deserializer.deserialize_seq(Ascending)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use softliq_core::account::AccountId;

    use super::Flags;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u64),
        Remove(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Ids cluster in a few words so that inserts and removes meet.
        let id = prop_oneof![0u64..200, 0u64..5_000];
        prop_oneof![id.clone().prop_map(Op::Insert), id.prop_map(Op::Remove)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Every answer equals a `BTreeSet`'s, and so does the encoding, in postcard (the
        /// canonical state) and in JSON.
        #[test]
        fn behaves_and_encodes_like_a_btreeset(
            ops in prop::collection::vec(op(), 0..300),
            probes in prop::collection::vec(0u64..5_100, 1..20),
        ) {
            let (mut flags, mut model) = (Flags::default(), BTreeSet::new());
            for op in ops {
                match op {
                    Op::Insert(i) => prop_assert_eq!(flags.insert(AccountId(i)), model.insert(AccountId(i))),
                    Op::Remove(i) => prop_assert_eq!(flags.remove(&AccountId(i)), model.remove(&AccountId(i))),
                }
                prop_assert_eq!(flags.len(), model.len());
            }
            for p in probes {
                let p = AccountId(p);
                prop_assert_eq!(flags.contains(&p), model.contains(&p));
                prop_assert_eq!(flags.from(p).next(), model.range(p..).next().copied());
            }
            prop_assert_eq!(flags.iter().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
            let bytes = postcard::to_stdvec(&flags).unwrap();
            prop_assert_eq!(&bytes, &postcard::to_stdvec(&model).unwrap());
            prop_assert_eq!(&postcard::from_bytes::<Flags>(&bytes).unwrap(), &flags);
            prop_assert_eq!(serde_json::to_string(&flags).unwrap(), serde_json::to_string(&model).unwrap());
        }
    }

    /// Sets built in different orders, or emptied differently, are equal: no trailing words.
    #[test]
    fn equal_sets_are_equal() {
        let mut a = Flags::default();
        a.insert(AccountId(3));
        a.insert(AccountId(700));
        a.remove(&AccountId(700));
        let mut b = Flags::default();
        b.insert(AccountId(3));
        assert_eq!(a, b);
        b.remove(&AccountId(3));
        assert_eq!(b, Flags::default());
    }

    /// A sequence that is not strictly ascending has no place in a canonical state.
    #[test]
    fn decoding_refuses_disorder() {
        for ids in [vec![5u64, 3], vec![4, 4]] {
            let bytes = postcard::to_stdvec(&ids).unwrap();
            let err = postcard::from_bytes::<Flags>(&bytes).unwrap_err();
            assert!(matches!(err, postcard::Error::SerdeDeCustom), "{err:?}");
        }
        let json = serde_json::from_str::<Flags>("[1, 9, 2]").unwrap_err();
        assert!(json.to_string().contains("2 out of order"), "{json}");
    }
}
