//! The whole protocol state the engine owns, and nothing derived: what the canonical hash
//! covers and a snapshot stores. Indexes that can be rebuilt from it (the detection index, the
//! cached risk snapshots) live beside it in the engine.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use softliq_core::account::{Account, AccountId};
use softliq_core::asset::{Asset, AssetId};
use softliq_core::liquidation::Policy;
use softliq_core::liquidation::auction::{AuctionBook, AuctionId, Step};
use softliq_core::money::Amount;
use softliq_core::pool::Pool;

use crate::command::PriceSource;
use crate::flags::Flags;
use crate::oracle::Oracle;
pub use crate::receipts::{Receipt, Receipts};
use softliq_core::perp::Exchange;

/// The treasury: receives the protocol's part of each penalty (docs/liquidation.md).
pub const TREASURY: AccountId = AccountId(0);
/// The insurance fund: receives its share of the protocol's part and covers bad debt first.
pub const INSURANCE: AccountId = AccountId(1);
/// Accounts `0..FIRST_USER_ACCOUNT` are the protocol's own.
pub const FIRST_USER_ACCOUNT: u64 = 2;
/// How long a client id is remembered, in seconds of command time (Stripe keeps idempotency
/// keys for 24 hours); older ids may be reused.
pub const IDEMPOTENCY_WINDOW_S: u64 = 86_400;
/// At most this many receipts are kept (the most recent, 2²²), so memory is bounded at any
/// rate: below about 48 accepted commands/s sustained the 24 hours bind first; above, a client
/// id is remembered for the last 4,194,304 commands (42 s at 100,000 commands/s). See
/// docs/engine.md, "Idempotency".
pub const IDEMPOTENCY_RECEIPTS_MAX: usize = 1 << 22;
/// The first bytes of every snapshot.
pub const SNAPSHOT_MAGIC: &[u8; 4] = b"SLQS";
/// The snapshot format: bumped whenever `State`'s encoding changes shape.
pub const SNAPSHOT_FORMAT: u16 = 3;
/// Most assets one market lists.
pub const ASSETS_MAX: usize = 256;

/// One account and its owner (the principal an API token maps to).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountEntry {
    pub owner: String,
    pub account: Account,
}

/// Tokens of one asset that came into the protocol from outside and went out: the
/// conservation check `cash = tokens_in − tokens_out` (docs/engine.md, Invariants).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flows {
    /// Deposits, repayments, liquidators' payments and insurance funding.
    pub tokens_in: Amount,
    /// Withdrawals and borrows.
    pub tokens_out: Amount,
    /// Debt written off against suppliers (docs/liquidation.md, Bad debt), in total.
    pub socialised: Amount,
}

/// The market's liquidation settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Market {
    pub policy: Policy,
    pub liquidation_price: PriceSource,
}

/// The market's Dutch auctions (docs/liquidation.md, Dutch auctions): the running ones with the
/// caps' totals (the core's book), and every auction's steps in order, so that a history is one
/// lookup.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Auctions {
    pub book: AuctionBook,
    pub history: BTreeMap<AuctionId, Vec<Step>>,
}

impl Auctions {
    /// The borrower whose position auction `id` sells (running or ended).
    #[must_use]
    pub fn borrower(&self, id: AuctionId) -> Option<AccountId> {
        if let Some(a) = self.book.get(id) {
            return Some(a.borrower);
        }
        match self.history.get(&id)?.first()? {
            Step::Started { borrower, .. } => Some(*borrower),
            _ => None,
        }
    }

    /// Appends `step` to auction `id`'s history.
    pub(crate) fn record(&mut self, id: AuctionId, step: Step) {
        self.history.entry(id).or_default().push(step);
    }
}

/// Everything the engine's outcome depends on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The timestamp of the last accepted command.
    pub now_s: u64,
    /// Accepted commands so far; the last one's sequence number.
    pub seq: u64,
    pub assets: Vec<Asset>,
    /// Indexed like `assets`.
    pub pools: Vec<Pool>,
    pub oracles: Vec<Oracle>,
    pub flows: Vec<Flows>,
    pub market: Market,
    /// Indexed by account id; the first two are [`TREASURY`] and [`INSURANCE`].
    pub accounts: Vec<AccountEntry>,
    /// Accounts the engine has reported liquidatable and not yet recovered.
    pub flagged: Flags,
    /// When each flagged account was flagged (command time, seconds): the age a time-ramped
    /// incentive prices a call at (docs/liquidation.md). Its keys are exactly the flagged set.
    pub flagged_since_s: BTreeMap<AccountId, u64>,
    pub auctions: Auctions,
    pub receipts: Receipts,
    /// Set when an invariant broke: the engine takes no more commands.
    pub halted: Option<String>,
    /// Perpetual markets and the accounts' perp wallets (`softliq_core::perp::Exchange`).
    pub perps: Exchange,
    /// Perp wallets the engine has reported liquidatable (`Exchange::liquidatable`) and not yet
    /// recovered.
    pub perp_flagged: BTreeSet<AccountId>,
}

impl Default for State {
    fn default() -> Self {
        let protocol = |owner: &str| AccountEntry {
            owner: owner.to_owned(),
            account: Account::new(),
        };
        Self {
            now_s: 0,
            seq: 0,
            assets: Vec::new(),
            pools: Vec::new(),
            oracles: Vec::new(),
            flows: Vec::new(),
            market: Market {
                policy: Policy::soft(),
                liquidation_price: PriceSource::Spot,
            },
            accounts: vec![protocol("treasury"), protocol("insurance")],
            flagged: Flags::default(),
            flagged_since_s: BTreeMap::new(),
            auctions: Auctions::default(),
            receipts: Receipts::default(),
            halted: None,
            perps: Exchange::new(),
            perp_flagged: BTreeSet::new(),
        }
    }
}

impl State {
    /// How long `id` has been flagged liquidatable at command time `now_s`; 0 when it is not.
    #[must_use]
    pub fn liquidatable_for_s(&self, id: AccountId, now_s: u64) -> u64 {
        self.flagged_since_s
            .get(&id)
            .map_or(0, |since| now_s.saturating_sub(*since))
    }

    /// The canonical encoding: postcard of the state, whose containers are all ordered.
    ///
    /// # Panics
    /// Never in practice: encoding into a `Vec` cannot fail for these types.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("state encodes")
    }

    /// # Errors
    /// A snapshot that does not decode.
    pub fn decode(bytes: &[u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(bytes)
    }

    /// A snapshot: [`SNAPSHOT_MAGIC`], the format version, then the canonical encoding. The
    /// prefix lets a build whose `State` has another shape tell an older snapshot from a
    /// corrupt one, and recovery then replays the log (which is authoritative) instead.
    #[must_use]
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.extend_from_slice(&SNAPSHOT_FORMAT.to_le_bytes());
        out.extend_from_slice(&self.encode());
        out
    }

    /// Reads a snapshot written by [`State::encode_snapshot`] of this format.
    ///
    /// # Errors
    /// Why it cannot be used: no prefix (written before snapshots were versioned), another
    /// format version, or bytes that do not decode.
    pub fn decode_snapshot(bytes: &[u8]) -> Result<Self, String> {
        let Some(rest) = bytes.strip_prefix(SNAPSHOT_MAGIC.as_slice()) else {
            return Err("the snapshot predates versioned snapshots".to_owned());
        };
        let (version, body) = rest
            .split_at_checked(2)
            .ok_or("the snapshot is truncated")?;
        let version = u16::from_le_bytes([version[0], version[1]]);
        if version != SNAPSHOT_FORMAT {
            return Err(format!(
                "the snapshot has format {version}, this build reads {SNAPSHOT_FORMAT}"
            ));
        }
        Self::decode(body).map_err(|e| format!("the snapshot does not decode: {e}"))
    }

    /// BLAKE3 of the canonical encoding: equal states, equal hashes, whatever path led there.
    #[must_use]
    pub fn hash(&self) -> blake3::Hash {
        blake3::hash(&self.encode())
    }

    #[must_use]
    pub fn account(&self, id: AccountId) -> Option<&AccountEntry> {
        self.accounts.get(usize::try_from(id.0).ok()?)
    }

    #[must_use]
    pub fn asset(&self, id: AssetId) -> Option<&Asset> {
        self.assets.get(id.index())
    }
}
