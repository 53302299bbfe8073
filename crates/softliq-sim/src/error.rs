//! One error type for the simulator: what was wrong, where (file and field), and why.

use std::fmt;
use std::path::{Path, PathBuf};

/// A scenario that cannot run, a data file that cannot be read, or a run whose own accounting
/// check failed. Every variant names the place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SimError {
    /// The file involved, when there is one.
    pub file: Option<PathBuf>,
    /// Dotted path of the field (`population.start_hf.median`), empty for the whole input.
    pub field: String,
    pub problem: String,
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.problem)
    }
}

impl SimError {
    /// An error at `field`, without a file.
    pub fn field(field: impl Into<String>, problem: impl ToString) -> Self {
        Self {
            file: None,
            field: field.into(),
            problem: problem.to_string(),
        }
    }

    /// An error in `file` at `field`.
    pub fn in_file(file: &Path, field: impl Into<String>, problem: impl ToString) -> Self {
        Self {
            file: Some(file.to_owned()),
            field: field.into(),
            problem: problem.to_string(),
        }
    }

    /// The same error, placed in `file` when it names none yet.
    #[must_use]
    pub fn at_file(mut self, file: &Path) -> Self {
        if self.file.is_none() {
            self.file = Some(file.to_owned());
        }
        self
    }

    /// A broken ledger invariant or accounting identity inside a run.
    pub fn accounting(problem: impl ToString) -> Self {
        Self::field("accounting", problem)
    }
}

impl From<softliq_config::policy::PolicyError> for SimError {
    fn from(e: softliq_config::policy::PolicyError) -> Self {
        Self::field(e.field, e.problem)
    }
}

impl From<softliq_config::ConfigError> for SimError {
    fn from(e: softliq_config::ConfigError) -> Self {
        Self {
            file: Some(e.file),
            field: format!("markets.{}", e.field),
            problem: e.problem,
        }
    }
}

/// Ledger math failures inside a run are accounting failures: the run stops and says where.
impl From<softliq_core::money::MathError> for SimError {
    fn from(e: softliq_core::money::MathError) -> Self {
        Self::accounting(format!("math: {e}"))
    }
}

impl From<softliq_core::pool::PoolError> for SimError {
    fn from(e: softliq_core::pool::PoolError) -> Self {
        Self::accounting(format!("pool: {e}"))
    }
}

impl From<softliq_core::liquidation::Refusal> for SimError {
    fn from(e: softliq_core::liquidation::Refusal) -> Self {
        Self::accounting(format!("liquidation: {e}"))
    }
}

impl From<softliq_core::health::HealthError> for SimError {
    fn from(e: softliq_core::health::HealthError) -> Self {
        Self::accounting(format!("health: {e}"))
    }
}

pub type Result<T, E = SimError> = std::result::Result<T, E>;
