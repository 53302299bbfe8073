//! Cursor paging for every list the API returns. A page carries `next`: the cursor to pass as
//! `after` for the following page, `null` on the last one.
//!
//! Cursors are keyset cursors wherever the order has a key: the next page starts strictly after
//! the last row's key, so a row that moves while a client pages is seen at most once more or
//! once less, never shifts the whole remainder the way an offset would. Lists ordered by health
//! use the key (health factor, account) written `"<hf WAD integer>-<account>"`, or
//! `"none-<account>"` for accounts that cannot be valued (they sort last). Auctions and events
//! page by id and sequence number. Cursors are opaque to clients: pass back what `next` said.

use crate::error::ApiError;

/// Most rows in one page of any list.
pub use crate::hub::PAGE_MAX;

/// A page size from the query: `default` when absent, else 1 to [`PAGE_MAX`].
///
/// # Errors
/// 422 naming `limit`.
pub fn limit(limit: Option<usize>, default: usize) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(default);
    if (1..=PAGE_MAX).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::unprocessable(
            "invalid_query",
            "limit",
            format!("between 1 and {PAGE_MAX}, got {limit}"),
        ))
    }
}

/// The order key of a row ranked by health: unvalued rows last, then by health factor (WAD),
/// ties by account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HealthKey {
    unvalued: bool,
    hf_raw: u128,
    account: u64,
}

impl HealthKey {
    #[must_use]
    pub fn new(hf: Option<softliq_core::money::Ratio>, account: u64) -> Self {
        Self {
            unvalued: hf.is_none(),
            hf_raw: hf.map_or(0, softliq_core::money::Ratio::raw),
            account,
        }
    }

    /// The cursor text of this key.
    #[must_use]
    pub fn cursor(&self) -> String {
        if self.unvalued {
            format!("none-{}", self.account)
        } else {
            format!("{}-{}", self.hf_raw, self.account)
        }
    }

    /// Reads a cursor written by [`HealthKey::cursor`].
    ///
    /// # Errors
    /// 422 naming `after`.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let bad = || {
            ApiError::unprocessable(
                "invalid_query",
                "after",
                format!("{text:?} is not a cursor of this list (pass back a page's `next`)"),
            )
        };
        let (hf, account) = text.split_once('-').ok_or_else(bad)?;
        let account = account.parse().map_err(|_| bad())?;
        if hf == "none" {
            return Ok(Self {
                unvalued: true,
                hf_raw: 0,
                account,
            });
        }
        Ok(Self {
            unvalued: false,
            hf_raw: hf.parse().map_err(|_| bad())?,
            account,
        })
    }
}

/// One page of `rows` (sorted by `key`, ascending): those after `after`, at most `limit`, and
/// the cursor of the next page when rows remain.
pub fn page<T, K: Ord + Copy>(
    rows: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
    after: Option<K>,
    limit: usize,
) -> (Vec<T>, Option<K>) {
    let mut rows = rows
        .into_iter()
        .filter(|r| after.is_none_or(|a| key(r) > a));
    let taken: Vec<T> = rows.by_ref().take(limit).collect();
    let next = if rows.next().is_some() {
        taken.last().map(&key)
    } else {
        None
    };
    (taken, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use softliq_core::money::Ratio;

    #[test]
    fn pages_cover_every_row_once_in_order() {
        let rows: Vec<u64> = (0..25).collect();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let (page, next) = page(rows.iter().copied(), |r| *r, after, 10);
            seen.extend(page);
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, rows);
        // An exact multiple of the page size ends without an empty page.
        let (first, next) = page(0..10u64, |r| *r, None, 10);
        assert_eq!((first.len(), next), (10, None));
    }

    #[test]
    fn health_cursors_read_back_and_sort_unvalued_last() {
        let k = HealthKey::new(Some(Ratio::from_raw(95 * 10u128.pow(16))), 42);
        assert_eq!(k.cursor(), "950000000000000000-42");
        assert_eq!(HealthKey::parse(&k.cursor()).unwrap(), k);
        let none = HealthKey::new(None, 7);
        assert_eq!(HealthKey::parse(&none.cursor()).unwrap(), none);
        assert!(k < none);
        for bad in ["", "12", "x-1", "1-", "none-x"] {
            let e = HealthKey::parse(bad).unwrap_err();
            assert_eq!(e.field, "after", "{bad}");
        }
    }
}
