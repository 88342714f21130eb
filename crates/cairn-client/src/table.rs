//! W&B tables in artifacts: [`Table`] (`<name>.table.json`) and partitioned tables
//! (`<name>.partitioned-table.json`, a directory of table parts).
//!
//! The files have the shape the W&B SDK writes when a `wandb.Table` is added to an artifact: a
//! JSON object with `_type: "table"`, `columns`, `data` (the rows), `ncols`, `nrows`,
//! `column_types` and `log_mode`, printed with sorted keys and `json.dump`'s separators and
//! escaping. So the SDK reads tables logged by Cairn, and Cairn reads tables logged by the SDK.
//!
//! Column types are inferred as the SDK does for scalar columns (every column is optional:
//! `number`, `string`, `boolean`, or `unknown` when it holds only nulls). Columns of lists,
//! objects or mixed kinds are typed `any`, which every reader accepts; the SDK would describe
//! nested values in more detail, so those bytes differ from the SDK's while meaning the same.

use std::collections::BTreeSet;

use cairn_api::routes;
use cairn_manifest::LogicalPath;
use serde_json::{Map, Value, json};

use crate::{Artifact, ArtifactEntry, Error, LoggedArtifact, Result};

/// The file name suffix of a table.
pub const TABLE_SUFFIX: &str = ".table.json";
/// The file name suffix of a partitioned table.
pub const PARTITIONED_TABLE_SUFFIX: &str = ".partitioned-table.json";
/// The most rows a table in an artifact may have (the SDK's `Table.MAX_ARTIFACT_ROWS`; the SDK
/// silently cuts larger tables, Cairn refuses them). Split larger data into the parts of a
/// partitioned table.
pub const MAX_ARTIFACT_ROWS: usize = 200_000;

/// A table: named columns and rows of JSON values, one value per column.
///
/// ```
/// use cairn_client::Table;
/// use serde_json::json;
///
/// let mut table = Table::new(["id", "score"])?;
/// table.add_row(vec![json!(1), json!(0.5)])?;
/// table.add_row(vec![json!(2), json!(null)])?;
/// let text = table.to_json()?;
/// assert!(text.starts_with(r#"{"_type": "table", "column_types": "#));
/// assert_eq!(Table::from_json(&text)?, table);
/// # Ok::<(), cairn_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl Table {
    /// An empty table with these columns (names must be distinct).
    pub fn new<I, S>(columns: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let columns: Vec<String> = columns.into_iter().map(Into::into).collect();
        let mut seen = BTreeSet::new();
        for column in &columns {
            if !seen.insert(column.as_str()) {
                return Err(invalid(
                    "a new table",
                    format!("column `{column}` appears twice; column names must be distinct"),
                ));
            }
        }
        Ok(Self {
            columns,
            rows: Vec::new(),
        })
    }

    /// A table with these columns and rows.
    pub fn with_rows<I, S>(columns: I, rows: Vec<Vec<Value>>) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut table = Self::new(columns)?;
        for row in rows {
            table.add_row(row)?;
        }
        Ok(table)
    }

    /// Appends a row; it must have one value per column.
    pub fn add_row(&mut self, row: Vec<Value>) -> Result<()> {
        if row.len() != self.columns.len() {
            return Err(invalid(
                "a new row",
                format!(
                    "it has {} values but the table has {} columns ({})",
                    row.len(),
                    self.columns.len(),
                    self.columns.join(", ")
                ),
            ));
        }
        self.rows.push(row);
        Ok(())
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The rows, in order.
    pub fn rows(&self) -> &[Vec<Value>] {
        &self.rows
    }

    /// Consumes the table and returns its rows.
    pub fn into_rows(self) -> Vec<Vec<Value>> {
        self.rows
    }

    /// The values of one column, or `None` when there is no such column.
    pub fn column(&self, name: &str) -> Option<Vec<&Value>> {
        let index = self.columns.iter().position(|column| column == name)?;
        Some(self.rows.iter().filter_map(|row| row.get(index)).collect())
    }

    /// The table as the SDK writes it into an artifact (`<name>.table.json`): keys sorted,
    /// Python's `json.dump` separators and escaping. Refuses more than [`MAX_ARTIFACT_ROWS`]
    /// rows.
    pub fn to_json(&self) -> Result<String> {
        if self.rows.len() > MAX_ARTIFACT_ROWS {
            return Err(invalid(
                "a table",
                format!(
                    "it has {} rows, more than the {MAX_ARTIFACT_ROWS} a table in an artifact may have; split it into parts under one directory and add a partitioned table",
                    self.rows.len()
                ),
            ));
        }
        let mut type_map = Map::new();
        for (index, column) in self.columns.iter().enumerate() {
            let kinds = self.rows.iter().filter_map(|row| row.get(index));
            type_map.insert(column.clone(), column_type(kinds));
        }
        let value = json!({
            "_type": "table",
            "column_types": {"params": {"type_map": type_map}, "wb_type": "typedDict"},
            "columns": self.columns,
            "data": self.rows,
            "log_mode": "IMMUTABLE",
            "ncols": self.columns.len(),
            "nrows": self.rows.len(),
        });
        Ok(cairn_manifest::python_json_dumps(&sorted_keys(value)))
    }

    /// Parses a table file written by the SDK or by [`to_json`](Self::to_json). Only
    /// `_type`, `columns` and `data` are read; column names that are numbers become their
    /// decimal text.
    pub fn from_json(text: &str) -> Result<Self> {
        let what = "a table file";
        let value: Value = serde_json::from_str(text)
            .map_err(|error| invalid(what, format!("it is not JSON: {error}")))?;
        let Value::Object(object) = value else {
            return Err(invalid(what, "it is not a JSON object"));
        };
        match object.get("_type").and_then(Value::as_str) {
            Some("table") => {}
            Some(other) => {
                return Err(invalid(
                    what,
                    format!("its `_type` is `{other}`, not `table`"),
                ));
            }
            None => return Err(invalid(what, "it has no `_type` string")),
        }
        let Some(Value::Array(columns)) = object.get("columns") else {
            return Err(invalid(what, "it has no `columns` list"));
        };
        let columns = columns
            .iter()
            .map(|column| match column {
                Value::String(name) => Ok(name.clone()),
                Value::Number(number) => Ok(number.to_string()),
                other => Err(invalid(
                    what,
                    format!("column name {other} is neither a string nor a number"),
                )),
            })
            .collect::<Result<Vec<String>>>()?;
        let mut table = Self::new(columns)?;
        let rows = match object.get("data") {
            Some(Value::Array(rows)) => rows,
            Some(Value::Null) | None => return Ok(table),
            Some(_) => return Err(invalid(what, "its `data` is not a list of rows")),
        };
        table.rows.reserve(rows.len());
        for (index, row) in rows.iter().enumerate() {
            let Value::Array(values) = row else {
                return Err(invalid(what, format!("row {index} is not a list")));
            };
            table
                .add_row(values.clone())
                .map_err(|error| invalid(what, format!("row {index}: {error}")))?;
        }
        Ok(table)
    }

    /// Appends the rows of `part`, which must have the same columns (in the same order).
    pub(crate) fn append(&mut self, part: Self, name: &str) -> Result<()> {
        if part.columns != self.columns {
            return Err(invalid(
                name,
                format!(
                    "the table parts have different columns: [{}] and [{}]",
                    self.columns.join(", "),
                    part.columns.join(", ")
                ),
            ));
        }
        self.rows.extend(part.rows);
        Ok(())
    }
}

/// A partitioned table: a pointer to a directory of the artifact whose `*.table.json` files are
/// the parts, read in path order and concatenated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionedTable {
    /// The directory holding the parts, relative to the artifact's root.
    pub parts_path: String,
}

impl PartitionedTable {
    /// A partitioned table over the parts under `parts_path`.
    pub fn new(parts_path: impl Into<String>) -> Self {
        Self {
            parts_path: parts_path.into(),
        }
    }

    /// The file as the SDK writes it (`<name>.partitioned-table.json`).
    pub fn to_json(&self) -> String {
        cairn_manifest::python_json_dumps(&json!({
            "_type": "partitioned-table",
            "parts_path": self.parts_path,
        }))
    }

    /// Parses a partitioned-table file.
    pub fn from_json(text: &str) -> Result<Self> {
        let what = "a partitioned-table file";
        let value: Value = serde_json::from_str(text)
            .map_err(|error| invalid(what, format!("it is not JSON: {error}")))?;
        match value.get("_type").and_then(Value::as_str) {
            Some("partitioned-table") => {}
            other => {
                return Err(invalid(
                    what,
                    format!(
                        "its `_type` is {}, not `partitioned-table`",
                        other.map_or_else(|| "missing".to_owned(), |kind| format!("`{kind}`"))
                    ),
                ));
            }
        }
        let parts_path = value
            .get("parts_path")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(what, "it has no `parts_path` string"))?;
        Ok(Self::new(parts_path))
    }
}

impl Artifact {
    /// Writes `table` as `<name>.table.json` (the SDK's `artifact.add(table, name)`) and adds
    /// it, replacing an earlier file of that name. `name` may already end with `.table.json`.
    ///
    /// ```
    /// use cairn_client::{Artifact, Table};
    /// use serde_json::json;
    ///
    /// let mut artifact = Artifact::new("results", "dataset")?;
    /// let table = Table::with_rows(["id", "label"], vec![vec![json!(1), json!("cat")]])?;
    /// let entry = artifact.add_table("eval/results", &table)?;
    /// assert_eq!(entry.path.as_str(), "eval/results.table.json");
    /// # Ok::<(), cairn_client::Error>(())
    /// ```
    pub fn add_table(&mut self, name: &str, table: &Table) -> Result<ArtifactEntry> {
        self.ensure_draft("add_table")?;
        let text = table.to_json()?;
        self.new_file(&with_suffix(name, TABLE_SUFFIX), text.as_bytes(), false)
    }

    /// Writes `table` as `<name>.partitioned-table.json` and adds it: readers concatenate the
    /// `*.table.json` files under its `parts_path` (which other writers of a distributed
    /// version may provide).
    pub fn add_partitioned_table(
        &mut self,
        name: &str,
        table: &PartitionedTable,
    ) -> Result<ArtifactEntry> {
        self.ensure_draft("add_partitioned_table")?;
        LogicalPath::new(&table.parts_path)?;
        let path = with_suffix(name, PARTITIONED_TABLE_SUFFIX);
        self.new_file(&path, table.to_json().as_bytes(), false)
    }
}

impl LoggedArtifact {
    /// The bytes of the file entry at `path`, fetched from the server and checked against the
    /// entry's MD5 and size. They are held in memory: meant for small files such as tables.
    pub async fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        let found = self.get_entry(path).await?;
        let (path, entry) = (found.path, found.entry);
        if entry.is_reference() {
            return Err(Error::NotSupported {
                what: format!("reading the reference entry `{path}` into memory"),
                hint: "download the artifact and read the file",
            });
        }
        let md5 = crate::download::entry_md5(&path, &entry)?;
        let bytes = self
            .client
            .get_bytes(&routes::blob(&self.version().id, &md5.to_hex()))
            .await?;
        let actual = cairn_hash::md5(&bytes);
        if actual != md5 || entry.size.is_some_and(|size| size != bytes.len() as u64) {
            return Err(Error::DigestMismatch {
                path: path.to_string(),
                expected: format!(
                    "MD5 `{md5}`, {} bytes",
                    entry
                        .size
                        .map_or_else(|| "?".to_owned(), |size| size.to_string())
                ),
                actual: format!("MD5 `{actual}`, {} bytes", bytes.len()),
            });
        }
        Ok(bytes.to_vec())
    }

    /// The table `name` (the SDK's `artifact.get(name)` for tables): `<name>.table.json`, or,
    /// when the artifact has `<name>.partitioned-table.json` instead, every part under its
    /// `parts_path` concatenated in path order (their columns must agree). `name` may carry
    /// either suffix.
    ///
    /// ```no_run
    /// use cairn_client::{Api, Client};
    ///
    /// # async fn example() -> cairn_client::Result<()> {
    /// let api = Api::new(Client::from_env()?);
    /// let artifact = api.artifact("vision/predictions:latest").await?;
    /// let table = artifact.get_table("table").await?;
    /// println!("{:?}: {} rows", table.columns(), table.rows().len());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_table(&self, name: &str) -> Result<Table> {
        let manifest = self.manifest().await?;
        let base = name
            .strip_suffix(PARTITIONED_TABLE_SUFFIX)
            .filter(|_| !name.ends_with(TABLE_SUFFIX))
            .map(|base| (base, true))
            .unwrap_or((name, false));
        let (base, partitioned) = base;
        let plain = with_suffix(base, TABLE_SUFFIX);
        if !partitioned && manifest.get(&plain).is_some() {
            return self.read_table(&plain).await;
        }
        let pointer = with_suffix(base, PARTITIONED_TABLE_SUFFIX);
        if manifest.get(&pointer).is_none() {
            return Err(Error::EntryNotFound { path: plain });
        }
        let parts = self.get_table_parts(&pointer).await?;
        let mut joined: Option<Table> = None;
        for (_, part) in parts {
            match &mut joined {
                None => joined = Some(part),
                Some(table) => table.append(part, &pointer)?,
            }
        }
        Ok(joined.unwrap_or_default())
    }

    /// The parts of the partitioned table `name` (`<name>.partitioned-table.json`): every
    /// `*.table.json` under its `parts_path`, with its path, in path order.
    pub async fn get_table_parts(&self, name: &str) -> Result<Vec<(LogicalPath, Table)>> {
        let pointer = with_suffix(name, PARTITIONED_TABLE_SUFFIX);
        let text = self.read_file(&pointer).await?;
        let text = String::from_utf8(text).map_err(|error| Error::InvalidTable {
            what: pointer.clone(),
            reason: format!("it is not UTF-8: {error}"),
        })?;
        let pointed =
            PartitionedTable::from_json(&text).map_err(|error| rename(error, &pointer))?;
        let prefix = format!("{}/", pointed.parts_path.trim_end_matches('/'));
        let paths: Vec<LogicalPath> = self
            .manifest()
            .await?
            .entries()
            .map(|(path, _)| path)
            .filter(|path| {
                path.as_str().starts_with(&prefix) && path.as_str().ends_with(TABLE_SUFFIX)
            })
            .cloned()
            .collect();
        let mut parts = Vec::with_capacity(paths.len());
        for path in paths {
            let table = self.read_table(path.as_str()).await?;
            parts.push((path, table));
        }
        Ok(parts)
    }

    async fn read_table(&self, path: &str) -> Result<Table> {
        let bytes = self.read_file(path).await?;
        let text = std::str::from_utf8(&bytes).map_err(|error| Error::InvalidTable {
            what: path.to_owned(),
            reason: format!("it is not UTF-8: {error}"),
        })?;
        Table::from_json(text).map_err(|error| rename(error, path))
    }
}

/// A table error about "a table file" made to name the entry.
fn rename(error: Error, path: &str) -> Error {
    match error {
        Error::InvalidTable { reason, .. } => Error::InvalidTable {
            what: format!("`{path}`"),
            reason,
        },
        other => other,
    }
}

/// `name` with `suffix` appended unless it already ends with it (the SDK's `with_suffix`).
pub(crate) fn with_suffix(name: &str, suffix: &str) -> String {
    if name.ends_with(suffix) {
        name.to_owned()
    } else {
        format!("{name}{suffix}")
    }
}

/// The SDK's type of an optional column holding `values`: a union of `none` and what the
/// non-null values are.
fn column_type<'a>(values: impl Iterator<Item = &'a Value>) -> Value {
    let mut kinds = BTreeSet::new();
    for value in values {
        let kind = match value {
            Value::Null => continue,
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) | Value::Object(_) => "any",
        };
        kinds.insert(kind);
    }
    let kind = match kinds.len() {
        0 => "unknown",
        1 => kinds.first().copied().unwrap_or("any"),
        _ => "any",
    };
    let mut allowed = [kind, "none"];
    allowed.sort_unstable();
    json!({
        "params": {"allowed_types": allowed.map(|kind| json!({"wb_type": kind}))},
        "wb_type": "union",
    })
}

/// `value` with every object's keys in sorted order (Python's `sort_keys=True`).
fn sorted_keys(value: Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<(String, Value)> = object.into_iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.cmp(b));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, item)| (key, sorted_keys(item)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_keys).collect()),
        other => other,
    }
}

fn invalid(what: &str, reason: impl Into<String>) -> Error {
    Error::InvalidTable {
        what: what.to_owned(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What the W&B SDK (0.2x) writes for
    /// `art.add(wandb.Table(columns=["writer", "value", "name", "score"], data=[[3, 30, "aé", 0.5], [3, 31, None, 1e-05]]), "parts/3")`.
    const SDK_TABLE: &str = r#"{"_type": "table", "column_types": {"params": {"type_map": {"name": {"params": {"allowed_types": [{"wb_type": "none"}, {"wb_type": "string"}]}, "wb_type": "union"}, "score": {"params": {"allowed_types": [{"wb_type": "none"}, {"wb_type": "number"}]}, "wb_type": "union"}, "value": {"params": {"allowed_types": [{"wb_type": "none"}, {"wb_type": "number"}]}, "wb_type": "union"}, "writer": {"params": {"allowed_types": [{"wb_type": "none"}, {"wb_type": "number"}]}, "wb_type": "union"}}}, "wb_type": "typedDict"}, "columns": ["writer", "value", "name", "score"], "data": [[3, 30, "a\u00e9", 0.5], [3, 31, null, 1e-05]], "log_mode": "IMMUTABLE", "ncols": 4, "nrows": 2}"#;

    /// The SDK's file for an empty one-column table.
    const SDK_EMPTY: &str = r#"{"_type": "table", "column_types": {"params": {"type_map": {"n": {"params": {"allowed_types": [{"wb_type": "none"}, {"wb_type": "unknown"}]}, "wb_type": "union"}}}, "wb_type": "typedDict"}, "columns": ["n"], "data": [], "log_mode": "IMMUTABLE", "ncols": 1, "nrows": 0}"#;

    /// The SDK's file for a table with mixed types allowed (nested values).
    const SDK_MIXED: &str = r#"{"_type": "table", "column_types": {"params": {"type_map": {"a": {"params": {"allowed_types": [{"wb_type": "any"}, {"wb_type": "none"}]}, "wb_type": "union"}, "b": {"params": {"allowed_types": [{"wb_type": "any"}, {"wb_type": "none"}]}, "wb_type": "union"}}}, "wb_type": "typedDict"}, "columns": ["a", "b"], "data": [[1, [1, 2]], [true, {"k": 1}]], "log_mode": "IMMUTABLE", "ncols": 2, "nrows": 2}"#;

    fn sdk_table() -> Table {
        Table::with_rows(
            ["writer", "value", "name", "score"],
            vec![
                vec![json!(3), json!(30), json!("aé"), json!(0.5)],
                vec![json!(3), json!(31), Value::Null, json!(1e-05)],
            ],
        )
        .unwrap()
    }

    #[test]
    fn reads_what_the_sdk_writes() {
        assert_eq!(Table::from_json(SDK_TABLE).unwrap(), sdk_table());
        let empty = Table::from_json(SDK_EMPTY).unwrap();
        assert_eq!(empty.columns(), ["n"]);
        assert!(empty.rows().is_empty());
        let mixed = Table::from_json(SDK_MIXED).unwrap();
        assert_eq!(mixed.rows()[1], vec![json!(true), json!({"k": 1})]);
        assert_eq!(
            mixed.column("b").unwrap(),
            vec![&json!([1, 2]), &json!({"k": 1})]
        );
    }

    #[test]
    fn writes_the_sdks_bytes_for_scalar_and_mixed_columns() {
        assert_eq!(sdk_table().to_json().unwrap(), SDK_TABLE);
        assert_eq!(Table::new(["n"]).unwrap().to_json().unwrap(), SDK_EMPTY);
        let mixed = Table::from_json(SDK_MIXED).unwrap();
        assert_eq!(mixed.to_json().unwrap(), SDK_MIXED);
    }

    #[test]
    fn partitioned_tables_round_trip_the_sdks_bytes() {
        let sdk = r#"{"_type": "partitioned-table", "parts_path": "parts"}"#;
        let table = PartitionedTable::from_json(sdk).unwrap();
        assert_eq!(table, PartitionedTable::new("parts"));
        assert_eq!(table.to_json(), sdk);
        assert!(PartitionedTable::from_json(SDK_TABLE).is_err());
    }

    #[test]
    fn bad_tables_are_refused_in_words() {
        let error = Table::new(["a", "a"]).unwrap_err();
        assert!(error.to_string().contains("`a` appears twice"), "{error}");
        let mut table = Table::new(["a", "b"]).unwrap();
        let error = table.add_row(vec![json!(1)]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("1 values but the table has 2 columns"),
            "{error}"
        );
        for (text, expected) in [
            ("[]", "not a JSON object"),
            (r#"{"_type": "partitioned-table"}"#, "not `table`"),
            (r#"{"_type": "table", "data": []}"#, "no `columns`"),
            (
                r#"{"_type": "table", "columns": ["a"], "data": [[1, 2]]}"#,
                "row 0",
            ),
            (
                r#"{"_type": "table", "columns": ["a"], "data": [3]}"#,
                "row 0 is not a list",
            ),
            ("{", "not JSON"),
        ] {
            let error = Table::from_json(text).unwrap_err();
            assert!(error.to_string().contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn suffixes_are_added_once() {
        assert_eq!(with_suffix("parts/3", TABLE_SUFFIX), "parts/3.table.json");
        assert_eq!(with_suffix("t.table.json", TABLE_SUFFIX), "t.table.json");
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            (-1e300f64..1e300).prop_map(|n| json!(n)),
            "\\PC{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,3}", inner, 0..3)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn tables_round_trip(
            columns in prop::collection::btree_set("\\PC{1,6}", 1..4),
            seed in prop::collection::vec(prop::collection::vec(json_value(), 4), 0..6),
        ) {
            let columns: Vec<String> = columns.into_iter().collect();
            let rows: Vec<Vec<Value>> = seed
                .into_iter()
                .map(|row| row.into_iter().take(columns.len()).collect())
                .collect();
            let table = Table::with_rows(columns, rows).unwrap();
            let text = table.to_json().unwrap();
            prop_assert_eq!(Table::from_json(&text).unwrap(), table);
            // Plain ASCII, as Python's `ensure_ascii` prints it.
            prop_assert!(text.is_ascii());
        }
    }
}
