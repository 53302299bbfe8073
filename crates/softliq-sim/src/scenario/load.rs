//! Reading a scenario: the file, the files it `extends`, overrides (a sweep's grid point or the
//! command line), then typed deserialisation and validation with the field named on failure.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use softliq_config::Markets;

use super::{DepthModel, PriceSpec, Scenario};
use crate::error::{Result, SimError};
use crate::paths::PricePath;

/// How deep `extends` may chain (a loop is refused long before this).
const EXTENDS_DEPTH_MAX: usize = 8;

/// A scenario ready to run: its text as a TOML tree (for sweeps to override), the typed and
/// validated form, the market it describes, and where relative paths start from.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub file: PathBuf,
    pub dir: PathBuf,
    /// The file and what it extends, before its preset and overrides.
    pub raw: toml::Table,
    /// Overrides applied on top (a sweep's grid point, the command line), in order.
    pub overrides: Vec<(String, toml::Value)>,
    /// The scenario as it runs: `raw` with its preset merged in and the overrides applied.
    pub tree: toml::Table,
    pub scenario: Scenario,
    pub markets: Markets,
    /// A historical path, read once at load and shared by every seed and mechanism (synthetic
    /// paths depend on the seed and are drawn per run).
    pub history: Option<Arc<PricePath>>,
}

/// Reads `file` and everything it extends.
///
/// # Errors
/// A file that cannot be read or parsed, an `extends` loop, or a field out of bounds.
pub fn load(file: &Path) -> Result<Loaded> {
    let mut raw = read_tree(file, 0)?;
    let dir = file.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    inline_markets(&mut raw)?;
    build(file, &dir, raw, Vec::new())
}

/// The scenario `raw` describes under its preset and `overrides`. An override of `preset`
/// itself is applied first, so that it chooses the preset the others then refine: a `--set`
/// or a sweep value always wins over the preset's.
fn build(
    file: &Path,
    dir: &Path,
    raw: toml::Table,
    overrides: Vec<(String, toml::Value)>,
) -> Result<Loaded> {
    let mut tree = raw.clone();
    let (choice, rest): (Vec<_>, Vec<_>) = overrides.iter().partition(|(p, _)| p == "preset");
    for (path, value) in choice {
        apply_override(&mut tree, path, value.clone())?;
    }
    apply_preset(&mut tree).map_err(|e| e.at_file(file))?;
    for (path, value) in rest {
        apply_override(&mut tree, path, value.clone())?;
    }
    let mut loaded = parse(file, dir, tree)?;
    loaded.raw = raw;
    loaded.overrides = overrides;
    Ok(loaded)
}

/// Merges the table `presets.<preset>` over the scenario (tables key by key, anything else
/// replaced), when `preset` names one.
fn apply_preset(tree: &mut toml::Table) -> Result<()> {
    let Some(name) = tree.get("preset") else {
        return Ok(());
    };
    let name = name
        .as_str()
        .ok_or_else(|| SimError::field("preset", "must be a preset's name"))?;
    let presets = tree.get("presets").and_then(toml::Value::as_table);
    let Some(over) = presets
        .and_then(|p| p.get(name))
        .and_then(toml::Value::as_table)
    else {
        let defined: Vec<&str> = presets
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        return Err(SimError::field(
            "preset",
            format!(
                "no preset {name:?} (defined: {})",
                if defined.is_empty() {
                    "none".to_owned()
                } else {
                    defined.join(", ")
                }
            ),
        ));
    };
    let over = over.clone();
    merge(tree, over);
    Ok(())
}

/// Replaces `markets.file` by the file's `[[assets]]`, so that overrides and sweeps can reach
/// every asset parameter (`markets.assets.WETH.liquidation_penalty`).
fn inline_markets(tree: &mut toml::Table) -> Result<()> {
    let Some(toml::Value::Table(markets)) = tree.get_mut("markets") else {
        return Ok(());
    };
    let Some(name) = markets.get("file").and_then(toml::Value::as_str) else {
        return Ok(());
    };
    let file = PathBuf::from(name);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| SimError::in_file(&file, "markets.file", format!("cannot read: {e}")))?;
    let mut parsed: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        SimError::in_file(&file, "", softliq_config::toml_error(&text, &e))
    })?;
    if markets.contains_key("assets") {
        return Err(SimError::field(
            "markets",
            "give either `file` or inline `assets`, not both",
        ));
    }
    let assets = parsed
        .remove("assets")
        .ok_or_else(|| SimError::in_file(&file, "assets", "no [[assets]] tables"))?;
    markets.remove("file");
    markets.insert("assets".into(), assets);
    Ok(())
}

/// Types and validates a scenario tree (its preset already merged in); relative paths in it
/// start from `dir`.
///
/// # Errors
/// As [`load`].
pub fn parse(file: &Path, dir: &Path, tree: toml::Table) -> Result<Loaded> {
    let scenario: Scenario = serde_path_to_error::deserialize(toml::Value::Table(tree.clone()))
        .map_err(|e| {
            let field = e.path().to_string();
            SimError::in_file(
                file,
                if field == "." { String::new() } else { field },
                e.inner().message(),
            )
        })?;
    let markets = markets(file, &scenario)?;
    super::validate::scenario(&scenario, &markets).map_err(|e| e.at_file(file))?;
    for name in &scenario.mechanisms {
        super::mechanism(name, &scenario, &markets).map_err(|e| e.at_file(file))?;
    }
    let mut loaded = Loaded {
        file: file.to_owned(),
        dir: dir.to_owned(),
        raw: tree.clone(),
        overrides: Vec::new(),
        tree,
        scenario,
        markets,
        history: None,
    };
    if !matches!(loaded.scenario.prices, PriceSpec::Synthetic(_)) {
        // Historical data is read now, once, so a missing file, event or series is refused
        // before any run starts.
        let path =
            crate::paths::build(&loaded, loaded.scenario.seed).map_err(|e| e.at_file(file))?;
        loaded.history = Some(Arc::new(path));
    }
    Ok(loaded)
}

impl Loaded {
    /// This scenario with `path = value` set (a sweep's grid point), re-validated.
    ///
    /// # Errors
    /// A path that does not exist or a value the scenario refuses.
    pub fn with(&self, overrides: &[(String, toml::Value)]) -> Result<Self> {
        let all = self.overrides.iter().chain(overrides).cloned().collect();
        build(&self.file, &self.dir, self.raw.clone(), all)
    }

    /// Steps of the scenario's price path, without drawing it.
    #[must_use]
    pub fn steps(&self) -> usize {
        match (&self.history, &self.scenario.prices) {
            (Some(path), _) => path.steps(),
            (None, PriceSpec::Synthetic(spec)) => spec.steps as usize,
            (None, _) => 0,
        }
    }

    /// A file named in the scenario. Paths are anchored to the directory of the file that
    /// names them when that file is read, so they are used as they stand.
    #[must_use]
    pub fn path(&self, named: &str) -> PathBuf {
        PathBuf::from(named)
    }
}

fn read_tree(file: &Path, depth: usize) -> Result<toml::Table> {
    if depth > EXTENDS_DEPTH_MAX {
        return Err(SimError::in_file(
            file,
            "extends",
            format!("more than {EXTENDS_DEPTH_MAX} levels (a loop?)"),
        ));
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| SimError::in_file(file, "", format!("cannot read: {e}")))?;
    let mut tree: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        SimError::in_file(file, "", softliq_config::toml_error(&text, &e))
    })?;
    anchor_paths(&mut tree, file.parent().unwrap_or(Path::new("")));
    let Some(base) = tree.get("extends") else {
        return Ok(tree);
    };
    let base = base
        .as_str()
        .ok_or_else(|| SimError::in_file(file, "extends", "must be a file name"))?;
    let base_file = file.parent().unwrap_or(Path::new("")).join(base);
    let mut merged = read_tree(&base_file, depth + 1)?;
    tree.remove("extends");
    merge(&mut merged, tree);
    Ok(merged)
}

/// Makes the file paths a scenario file names (`markets.file`, `prices.file`,
/// `prices.files.*`) relative to that file's directory, so a file and the files it extends may
/// live in different directories.
fn anchor_paths(tree: &mut toml::Table, dir: &Path) {
    let anchor = |v: &mut toml::Value| {
        if let toml::Value::String(p) = v
            && Path::new(p.as_str()).is_relative()
        {
            *p = dir.join(p.as_str()).display().to_string();
        }
    };
    if let Some(toml::Value::Table(m)) = tree.get_mut("markets")
        && let Some(f) = m.get_mut("file")
    {
        anchor(f);
    }
    if let Some(toml::Value::Table(p)) = tree.get_mut("prices") {
        if let Some(f) = p.get_mut("file") {
            anchor(f);
        }
        if let Some(toml::Value::Table(files)) = p.get_mut("files") {
            files.iter_mut().for_each(|(_, v)| anchor(v));
        }
    }
}

/// Deep merge: tables merge key by key, anything else (arrays included) is replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Reads an override written `PATH=VALUE` (as `--set` takes it): the value as TOML, else as a
/// plain string (`population.borrowers=1000`, `depth.model=book`).
///
/// # Errors
/// Text without `=`.
pub fn parse_set(text: &str) -> Result<(String, toml::Value)> {
    let (path, value) = text
        .split_once('=')
        .ok_or_else(|| SimError::field("set", format!("expected PATH=VALUE, got {text:?}")))?;
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    Ok((path.trim().to_owned(), parsed))
}

/// Sets `path` (dot-separated) to `value`. A segment into an array is an index, `*` for every
/// element, or a symbol that selects the element whose `symbol` field matches
/// (`markets.assets.WETH.liquidation_penalty`).
///
/// # Errors
/// A path through something that is not a table or array, or an unknown array element.
pub fn apply_override(tree: &mut toml::Table, path: &str, value: toml::Value) -> Result<()> {
    let segments: Vec<&str> = path.split('.').collect();
    let mut root = toml::Value::Table(std::mem::take(tree));
    let result = set(&mut root, &segments, &value, path);
    if let toml::Value::Table(t) = root {
        *tree = t;
    }
    result
}

fn set(node: &mut toml::Value, segments: &[&str], value: &toml::Value, path: &str) -> Result<()> {
    let Some((first, rest)) = segments.split_first() else {
        *node = value.clone();
        return Ok(());
    };
    match node {
        toml::Value::Table(t) => {
            if rest.is_empty() {
                t.insert((*first).to_owned(), value.clone());
                return Ok(());
            }
            let child = t
                .entry((*first).to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            set(child, rest, value, path)
        }
        toml::Value::Array(items) => {
            let picked: Vec<usize> = if *first == "*" {
                (0..items.len()).collect()
            } else if let Ok(i) = first.parse::<usize>() {
                vec![i].into_iter().filter(|&i| i < items.len()).collect()
            } else {
                items
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.get("symbol").and_then(toml::Value::as_str) == Some(first))
                    .map(|(i, _)| i)
                    .collect()
            };
            if picked.is_empty() {
                return Err(SimError::field(
                    path,
                    format!("no element {first:?} in the array"),
                ));
            }
            for i in picked {
                set(&mut items[i], rest, value, path)?;
            }
            Ok(())
        }
        _ => Err(SimError::field(
            path,
            format!("cannot descend into {first:?}: not a table or array"),
        )),
    }
}

fn markets(file: &Path, scenario: &Scenario) -> Result<Markets> {
    let spec = &scenario.markets;
    match (&spec.file, spec.assets.is_empty()) {
        (Some(_), false) => Err(SimError::in_file(
            file,
            "markets",
            "give either `file` or inline `assets`, not both",
        )),
        (Some(name), true) => Ok(Markets::load(Path::new(name))?),
        (None, false) => {
            let mut table = toml::Table::new();
            let assets = spec.assets.iter().cloned().map(toml::Value::Table);
            table.insert("assets".into(), toml::Value::Array(assets.collect()));
            let text = toml::to_string(&table)
                .map_err(|e| SimError::in_file(file, "markets.assets", e))?;
            Ok(Markets::parse(file, &text)?)
        }
        (None, true) => Err(SimError::in_file(
            file,
            "markets",
            "give a markets `file` or inline `[[markets.assets]]`",
        )),
    }
}

/// Whether a price spec needs depth figures for `symbol`.
pub(crate) fn needs_depth(model: DepthModel) -> bool {
    model != DepthModel::Infinite
}

/// The assets a price spec moves.
pub(crate) fn path_assets(spec: &PriceSpec) -> Vec<String> {
    match spec {
        PriceSpec::Window { series, .. } => series.keys().cloned().collect(),
        PriceSpec::Closes { files, .. } => files.keys().cloned().collect(),
        PriceSpec::Synthetic(s) => s.assets.clone(),
    }
}
