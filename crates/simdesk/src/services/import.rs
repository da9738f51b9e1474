//! Importing a carrier's inventory file: every row validated first, all or nothing.

use super::policies::PolicyBook;
use super::{ServiceError, ServiceResult};
use crate::store::{ImportBatch, Lines, NewLine, StoreError};
use simdesk_domain::attribution::Attribution;
use simdesk_domain::esim::ActivationCode;
use simdesk_domain::ids::{CarrierCode, Eid, Iccid, Imsi, Msisdn};
use simdesk_domain::line::LineKind;
use std::collections::HashMap;
use std::fmt;
use std::io::Read;

const REQUIRED: [&str; 4] = ["iccid", "imsi", "msisdn", "plan"];
const OPTIONAL: [&str; 3] = ["kind", "eid", "activation_code"];

/// One problem in one row of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Line of the file, the header being line 1.
    pub line: u64,
    pub column: String,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.reason
        )
    }
}

/// Every bad row of a rejected file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub errors: Vec<RowError>,
    pub rows: u64,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.errors {
            writeln!(f, "{e}")?;
        }
        let bad: std::collections::BTreeSet<u64> = self.errors.iter().map(|e| e.line).collect();
        write!(
            f,
            "{} of {} rows are invalid; nothing was imported (fix them, or pass --skip-invalid)",
            bad.len(),
            self.rows
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutcome {
    pub imported: u64,
    /// Rows left out under `--skip-invalid`.
    pub skipped: Vec<RowError>,
}

/// A carrier's inventory file and who is importing it.
pub struct ImportRequest<'a, R> {
    pub carrier: &'a CarrierCode,
    /// The file's name, kept with the batch.
    pub source_name: &'a str,
    pub input: R,
    /// Import the good rows and report the bad instead of importing nothing.
    pub skip_invalid: bool,
    pub by: Attribution,
}

/// Progress callbacks: rows checked, then rows written.
pub struct Progress<'a> {
    pub checked: &'a (dyn Fn(u64) + Send + Sync),
    pub written: &'a (dyn Fn(u64) + Send + Sync),
}

/// Good rows, with the file line each came from (kept apart so the lines go to the store uncopied).
#[derive(Default)]
struct Rows {
    lines: Vec<NewLine>,
    file_lines: Vec<u64>,
}

/// An inventory file read and checked without the store: what [`import_lines`] would store, and
/// every problem it would report except identifiers already stored.
#[derive(Debug, Clone)]
pub struct CheckedFile {
    /// The good rows, in file order, as they would be stored.
    pub lines: Vec<NewLine>,
    /// The file line each good row came from.
    pub file_lines: Vec<u64>,
    pub errors: Vec<RowError>,
    /// Rows read, blank lines not counted.
    pub rows: u64,
}

/// Reads and checks a CSV of lines for `carrier` the way [`import_lines`] does, storing nothing.
/// A header that cannot be used fails the whole file ([`ServiceError::Import`]).
pub fn check_file<R: Read>(
    book: &PolicyBook,
    carrier: &CarrierCode,
    input: R,
) -> ServiceResult<CheckedFile> {
    book.carrier(carrier)?;
    let progress = Progress {
        checked: &|_| {},
        written: &|_| {},
    };
    let (rows, errors, total) = parse_rows(book, carrier, input, &progress)?;
    Ok(CheckedFile {
        lines: rows.lines,
        file_lines: rows.file_lines,
        errors,
        rows: total,
    })
}

/// Validates and imports a CSV of lines for `carrier`.
pub async fn import_lines<R: Read>(
    store: &dyn Lines,
    book: &PolicyBook,
    request: ImportRequest<'_, R>,
    progress: Progress<'_>,
) -> ServiceResult<ImportOutcome> {
    let ImportRequest {
        carrier,
        source_name,
        input,
        skip_invalid,
        by,
    } = request;
    book.carrier(carrier)?;
    let (rows, mut errors, total) = parse_rows(book, carrier, input, &progress)?;
    // A clean file goes straight in: the unique indexes refuse any identifier already stored,
    // and only then are the stored ones looked up, to name them.
    let mut stored = Vec::new();
    if !errors.is_empty() {
        stored = existing(store, &rows).await?;
    }
    if errors.is_empty() {
        let batch = ImportBatch {
            carrier: carrier.clone(),
            source_name: source_name.to_string(),
            skipped_rows: 0,
            by: by.clone(),
        };
        match insert(store, &batch, &rows, &progress).await {
            Ok(n) => {
                return Ok(ImportOutcome {
                    imported: n,
                    skipped: vec![],
                })
            }
            // Someone stored one of these identifiers after we looked: look again and name it.
            Err(ServiceError::Store(StoreError::Duplicate(_))) | Err(ServiceError::Invalid(_)) => {
                stored = existing(store, &rows).await?;
            }
            Err(e) => return Err(e),
        }
    }
    for (line, column, value) in stored {
        errors.push(RowError {
            line,
            column: column.into(),
            reason: format!("{value} is already stored"),
        });
    }
    errors.sort_by(|a, b| (a.line, &a.column).cmp(&(b.line, &b.column)));
    if !skip_invalid {
        return Err(ServiceError::Import(ImportReport {
            errors,
            rows: total,
        }));
    }
    let bad: std::collections::HashSet<u64> = errors.iter().map(|e| e.line).collect();
    let mut good = Rows::default();
    for (line, file_line) in rows.lines.into_iter().zip(rows.file_lines) {
        if !bad.contains(&file_line) {
            good.lines.push(line);
            good.file_lines.push(file_line);
        }
    }
    let bad_rows = bad.len() as u64;
    let batch = ImportBatch {
        carrier: carrier.clone(),
        source_name: source_name.to_string(),
        skipped_rows: bad_rows,
        by,
    };
    let imported = insert(store, &batch, &good, &progress).await?;
    Ok(ImportOutcome {
        imported,
        skipped: errors,
    })
}

async fn insert(
    store: &dyn Lines,
    batch: &ImportBatch,
    rows: &Rows,
    progress: &Progress<'_>,
) -> ServiceResult<u64> {
    Ok(store
        .insert_lines(batch, &rows.lines, progress.written)
        .await?)
}

/// The (file line, column, value) of every identifier already in the store.
async fn existing(
    store: &dyn Lines,
    rows: &Rows,
) -> ServiceResult<Vec<(u64, &'static str, String)>> {
    let iccids: Vec<&str> = rows.lines.iter().map(|r| r.iccid.as_str()).collect();
    let imsis: Vec<&str> = rows.lines.iter().map(|r| r.imsi.as_str()).collect();
    let msisdns: Vec<&str> = rows.lines.iter().map(|r| r.msisdn.as_str()).collect();
    let found: std::collections::HashSet<String> = store
        .existing_identifiers(&iccids, &imsis, &msisdns)
        .await?
        .into_iter()
        .collect();
    if found.is_empty() {
        return Ok(vec![]);
    }
    let mut hits = Vec::new();
    for (r, line) in rows.lines.iter().zip(&rows.file_lines) {
        for (column, value) in [
            ("iccid", &r.iccid),
            ("imsi", &r.imsi),
            ("msisdn", &r.msisdn),
        ] {
            if found.contains(value) {
                hits.push((*line, column, value.clone()));
            }
        }
    }
    Ok(hits)
}

/// File line numbers from byte offsets. The csv reader's own line numbers are off after blank
/// lines and in CRLF files, and people fix their files by the line numbers we report.
struct LineIndex {
    bytes: Vec<u8>,
    /// Where each line break ends: `\n`, `\r\n` or a lone `\r`, as the csv reader and editors
    /// count them (old spreadsheet exports end lines with `\r` alone).
    newlines: Vec<usize>,
}

impl LineIndex {
    fn new(bytes: Vec<u8>) -> Self {
        let newlines = bytes
            .iter()
            .enumerate()
            .filter(|(i, b)| match b {
                b'\n' => true,
                b'\r' => bytes.get(i + 1) != Some(&b'\n'),
                _ => false,
            })
            .map(|(i, _)| i)
            .collect();
        LineIndex { bytes, newlines }
    }

    /// The line of the first character at or after `offset` that is not a line break.
    fn line_at(&self, offset: u64) -> u64 {
        let mut at = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        while at < self.bytes.len() && matches!(self.bytes[at], b'\r' | b'\n') {
            at += 1;
        }
        self.newlines.partition_point(|n| *n < at) as u64 + 1
    }
}

fn parse_rows<R: Read>(
    book: &PolicyBook,
    carrier: &CarrierCode,
    mut input: R,
    progress: &Progress<'_>,
) -> ServiceResult<(Rows, Vec<RowError>, u64)> {
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| ServiceError::Invalid(format!("the file cannot be read: {e}")))?;
    let lines = LineIndex::new(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(lines.bytes.as_slice());
    let header_error = |reason: String| {
        ServiceError::Import(ImportReport {
            errors: vec![RowError {
                line: 1,
                column: "(header)".into(),
                reason,
            }],
            rows: 0,
        })
    };
    let headers = reader
        .headers()
        .map_err(|e| header_error(format!("the header cannot be read: {e}")))?
        .clone();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let name = h.trim_start_matches('\u{feff}');
        let known = REQUIRED.iter().chain(OPTIONAL.iter()).find(|c| **c == name);
        match known {
            Some(c) if index.contains_key(c) => return Err(header_error(format!("column {c} appears twice"))),
            Some(c) => {
                index.insert(c, i);
            }
            None => {
                return Err(header_error(format!(
                    "unknown column {:?}; the header is iccid,imsi,msisdn,plan and optionally kind,eid,activation_code",
                    super::excerpt(name, 64)
                )))
            }
        }
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| !index.contains_key(c))
        .collect();
    if !missing.is_empty() {
        return Err(header_error(format!(
            "missing column(s) {}; the header is iccid,imsi,msisdn,plan",
            missing.join(", ")
        )));
    }
    let plan_kinds: HashMap<String, LineKind> = book
        .plans_of(carrier)
        .map(|p| (p.code.clone(), p.kind))
        .collect();
    let mut rows = Rows::default();
    let mut errors = Vec::new();
    let mut seen: HashMap<(&'static str, String), u64> = HashMap::new();
    let mut total = 0u64;
    let mut record = csv::StringRecord::new();
    loop {
        let before = reader.position().byte();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                total += 1;
                let at = e.position().map(|p| p.byte()).unwrap_or(before);
                errors.push(RowError {
                    line: lines.line_at(at),
                    column: "(row)".into(),
                    reason: format!("unreadable: {e}"),
                });
                continue;
            }
        }
        // A line of nothing but spaces or commas is a blank line, not a row.
        if record.iter().all(str::is_empty) {
            continue;
        }
        let line = lines.line_at(record.position().map(|p| p.byte()).unwrap_or(before));
        total += 1;
        if total.is_multiple_of(10_000) {
            (progress.checked)(total);
        }
        let get = |c: &str| {
            index
                .get(c)
                .and_then(|i| record.get(*i))
                .filter(|v| !v.is_empty())
        };
        let before = errors.len();
        let mut err = |column: &str, reason: String| {
            errors.push(RowError {
                line,
                column: column.into(),
                reason,
            })
        };
        let iccid = match get("iccid").map(str::parse::<Iccid>) {
            Some(Ok(v)) => Some(v.to_string()),
            Some(Err(e)) => {
                err("iccid", e.to_string());
                None
            }
            None => {
                err("iccid", "missing".into());
                None
            }
        };
        let imsi = match get("imsi").map(str::parse::<Imsi>) {
            Some(Ok(v)) => Some(v.to_string()),
            Some(Err(e)) => {
                err("imsi", e.to_string());
                None
            }
            None => {
                err("imsi", "missing".into());
                None
            }
        };
        let msisdn = match get("msisdn").map(str::parse::<Msisdn>) {
            Some(Ok(v)) => Some(v.to_string()),
            Some(Err(e)) => {
                err("msisdn", e.to_string());
                None
            }
            None => {
                err("msisdn", "missing".into());
                None
            }
        };
        let plan = get("plan").map(str::to_string);
        let plan_kind = match &plan {
            Some(p) => match plan_kinds.get(p) {
                Some(k) => Some(*k),
                None => {
                    let mut known: Vec<&str> = plan_kinds.keys().map(String::as_str).collect();
                    known.sort();
                    err(
                        "plan",
                        format!(
                            "{} is not a plan of {carrier} (plans: {})",
                            super::excerpt(p, 64),
                            known.join(", ")
                        ),
                    );
                    None
                }
            },
            None => {
                err("plan", "missing".into());
                None
            }
        };
        let kind = match get("kind") {
            Some(k) => match k.parse::<LineKind>() {
                Ok(k) => Some(k),
                Err(e) => {
                    err("kind", e.to_string());
                    None
                }
            },
            None => plan_kind,
        };
        if let (Some(k), Some(pk)) = (kind, plan_kind) {
            if k != pk {
                err(
                    "kind",
                    format!(
                        "the line is {} but plan {} is for {} lines",
                        k.as_str(),
                        plan.as_deref().unwrap_or(""),
                        pk.as_str()
                    ),
                );
            }
        }
        let eid = match get("eid").map(str::parse::<Eid>) {
            Some(Ok(v)) => Some(v.to_string()),
            Some(Err(e)) => {
                err("eid", e.to_string());
                None
            }
            None => None,
        };
        let mut activation_code = get("activation_code").map(str::to_string);
        match kind {
            Some(LineKind::Esim) => {
                match activation_code.as_deref().map(str::parse::<ActivationCode>) {
                    // Kept as a QR code carries it; sealed into the line's profile by the store.
                    Some(Ok(code)) => activation_code = Some(code.lpa_uri()),
                    Some(Err(e)) => err(
                        "activation_code",
                        format!(
                        "{e}; an eSIM activation code looks like LPA:1$smdp.example.com$MATCHING-ID"
                    ),
                    ),
                    // A profile only reserved on the SM-DP+: simdesk orders it when the line is sold.
                    None => {}
                }
            }
            Some(LineKind::Physical) => {
                if eid.is_some() {
                    err(
                        "eid",
                        "a physical SIM has no EID; leave it empty or set kind to esim".into(),
                    );
                }
                if activation_code.is_some() {
                    err(
                        "activation_code",
                        "a physical SIM has no activation code; leave it empty or set kind to esim"
                            .into(),
                    );
                }
            }
            None => {}
        }
        for (column, value) in [("iccid", &iccid), ("imsi", &imsi), ("msisdn", &msisdn)] {
            if let Some(v) = value {
                if let Some(first) = seen.insert((column, v.clone()), line) {
                    // Keep pointing at the first occurrence.
                    seen.insert((column, v.clone()), first);
                    err(
                        column,
                        format!("{v} also appears on line {first} of this file"),
                    );
                }
            }
        }
        if errors.len() == before {
            if let (Some(iccid), Some(imsi), Some(msisdn), Some(plan), Some(kind)) =
                (iccid, imsi, msisdn, plan, kind)
            {
                rows.file_lines.push(line);
                rows.lines.push(NewLine {
                    iccid,
                    imsi,
                    msisdn,
                    carrier: carrier.clone(),
                    plan,
                    kind: kind.as_str().into(),
                    eid,
                    activation_code,
                });
            }
        }
    }
    (progress.checked)(total);
    if total == 0 {
        errors.push(RowError {
            line: 2,
            column: "(row)".into(),
            reason: "the file has no lines after the header".into(),
        });
    }
    Ok((rows, errors, total))
}
