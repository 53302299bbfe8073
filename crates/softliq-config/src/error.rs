//! One error type for every file softliq reads: the file, the field, the problem.

use std::fmt;
use std::path::{Path, PathBuf};

/// A file that could not be used, and exactly where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    /// Dotted path of the field (`assets[2].liquidation_threshold`), empty for the whole file.
    pub field: String,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.problem)
        } else {
            write!(
                f,
                "{}: {}: {}",
                self.file.display(),
                self.field,
                self.problem
            )
        }
    }
}

impl ConfigError {
    pub(crate) fn new(file: &Path, field: impl Into<String>, problem: impl ToString) -> Self {
        Self {
            file: file.to_owned(),
            field: field.into(),
            problem: problem.to_string(),
        }
    }

    /// A number that did not parse, at the field it names.
    pub(crate) fn parse(file: &Path, e: &softliq_core::money::ParseError) -> Self {
        Self::new(
            file,
            e.field.clone(),
            format!("{} (got {:?})", e.problem, e.text),
        )
    }

    /// Reads a whole file, naming it when it cannot be read.
    pub(crate) fn read(file: &Path) -> Result<String, Self> {
        std::fs::read_to_string(file).map_err(|e| Self::new(file, "", format!("cannot read: {e}")))
    }
}

/// A TOML error's message with where it is: `line L, column C: message` (1-based, columns in
/// characters), or the message alone when the parser gave no place.
#[must_use]
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return e.message().to_owned();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}: {}", e.message())
}

/// Deserialises TOML, reporting the path of the field that failed.
pub(crate) fn from_toml<T: serde::de::DeserializeOwned>(
    file: &Path,
    text: &str,
) -> Result<T, ConfigError> {
    let de = toml::Deserializer::parse(text)
        .map_err(|e| ConfigError::new(file, "", toml_error(text, &e)))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        ConfigError::new(
            file,
            if field == "." { String::new() } else { field },
            toml_error(text, &e.into_inner()),
        )
    })
}

/// Deserialises JSON, reporting the path of the field that failed and the line.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    file: &Path,
    text: &str,
) -> Result<T, ConfigError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        ConfigError::new(
            file,
            if field == "." { String::new() } else { field },
            e.into_inner(),
        )
    })
}
