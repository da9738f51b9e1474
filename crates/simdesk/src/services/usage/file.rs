//! Files of usage records from the host network: every row checked first, then counted, all or nothing.
//!
//! The file is read twice, streaming both times, so memory stays flat whatever its size: the
//! first pass checks every row (a bad row means nothing is counted), the second counts them.
//! A record counted before (the same file again, or a retry after a crash) changes nothing.

use super::{check_service, count_all, line_key, Counted, NamedLines, UsageRecord};
use crate::services::import::RowError;
use crate::services::policies::PolicyBook;
use crate::services::{ServiceError, ServiceResult};
use crate::store::Store;
use jiff::Timestamp;
use simdesk_domain::attribution::Attribution;
use simdesk_domain::ids::CarrierCode;
use simdesk_domain::policy::Service;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;

pub const REQUIRED: [&str; 5] = ["record_id", "line", "service", "started_at", "volume"];
pub const OPTIONAL: [&str; 3] = ["ended_at", "network", "rating_group"];
/// Records checked or counted together: one read of their lines and, when counting, one
/// transaction. Bounded, so memory stays flat whatever the file's size.
const RECORDS_PER_BATCH: usize = 2000;
/// Bad rows named in a report; a file with more says how many it left out.
const ERRORS_SHOWN: usize = 100;

/// Why a usage file was refused: its bad rows (the first hundred) and how many rows it had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageFileReport {
    pub errors: Vec<RowError>,
    /// Bad rows beyond those listed.
    pub more: u64,
    pub rows: u64,
}

impl fmt::Display for UsageFileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.errors {
            writeln!(f, "{e}")?;
        }
        if self.more > 0 {
            writeln!(f, "… and {} more problems", self.more)?;
        }
        write!(
            f,
            "{} rows read; nothing was counted (fix the rows named above and import the file again)",
            self.rows
        )
    }
}

impl std::error::Error for UsageFileReport {}

/// What counting a file did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FileOutcome {
    pub rows: u64,
    /// Records paid from their lines' buckets.
    pub rated: u64,
    /// Of those, records no bucket covered in full.
    pub partly_unpaid: u64,
    /// Late records for lines that had ended, kept and not charged.
    pub written_off: u64,
    /// Late records for lines that had ended, charged to their holders' e-wallets.
    pub charged_to_wallet: u64,
    /// Records counted before (this file or another); nothing changed for them.
    pub already_counted: u64,
}

impl FileOutcome {
    fn add(&mut self, counted: &Counted) {
        match counted {
            Counted::Rated { unpaid, .. } => {
                self.rated += 1;
                self.partly_unpaid += u64::from(unpaid.is_some());
            }
            Counted::WrittenOff { .. } => self.written_off += 1,
            Counted::ChargedToWallet { .. } => self.charged_to_wallet += 1,
            Counted::AlreadyCounted => self.already_counted += 1,
        }
    }
}

/// Where the rows come from and who is counting them.
pub struct UsageFile<'a> {
    /// Only this carrier's lines may appear (and its policy may rename the columns).
    pub carrier: Option<&'a CarrierCode>,
    pub source_name: &'a str,
    pub by: Attribution,
}

/// Checks then counts a file. `open` is called once per pass and must give the same bytes.
pub async fn import<R, F>(
    store: &dyn Store,
    book: &PolicyBook,
    file: UsageFile<'_>,
    mut open: F,
    progress: &(dyn Fn(Pass, u64) + Send + Sync),
) -> ServiceResult<FileOutcome>
where
    R: Read,
    F: FnMut() -> std::io::Result<R>,
{
    let columns = match file.carrier {
        Some(c) => book.carrier(c)?.usage.columns.clone(),
        None => BTreeMap::new(),
    };
    let unreadable =
        |e: std::io::Error| ServiceError::Invalid(format!("the file cannot be read: {e}"));
    // First pass: every row checked against the lines and plans it names; nothing is written.
    let mut report = UsageFileReport {
        errors: Vec::new(),
        more: 0,
        rows: 0,
    };
    let mut rows = Rows::new(open().map_err(unreadable)?, &columns)?;
    let mut chunk: Vec<(u64, UsageRecord)> = Vec::with_capacity(RECORDS_PER_BATCH);
    let mut finished = false;
    while !finished {
        chunk.clear();
        let mut problems = Vec::new();
        while chunk.len() < RECORDS_PER_BATCH {
            let Some(row) = rows.next_row() else {
                finished = true;
                break;
            };
            report.rows += 1;
            match row {
                Ok(numbered) => chunk.push(numbered),
                Err(e) => problems.push(e),
            }
        }
        let records: Vec<UsageRecord> = chunk.iter().map(|(_, r)| r.clone()).collect();
        let named = NamedLines::find(store, &records).await?;
        for (line_no, record) in &chunk {
            problems.extend(check(book, file.carrier, *line_no, record, &named));
        }
        problems.sort_by_key(|p| p.line);
        for p in problems {
            if report.errors.len() < ERRORS_SHOWN {
                report.errors.push(p);
            } else {
                report.more += 1;
            }
        }
        progress(Pass::Checking, report.rows);
    }
    if !report.errors.is_empty() {
        return Err(ServiceError::UsageFile(report));
    }
    // Second pass: the same rows, counted a batch at a time, each record once.
    let mut outcome = FileOutcome::default();
    let mut rows = Rows::new(open().map_err(unreadable)?, &columns)?;
    let mut batch: Vec<UsageRecord> = Vec::with_capacity(RECORDS_PER_BATCH);
    let mut finished = false;
    let mut batches = 0u64;
    while !finished {
        batch.clear();
        let mut first_line = 0;
        while batch.len() < RECORDS_PER_BATCH {
            let Some(row) = rows.next_row() else {
                finished = true;
                break;
            };
            let (line_no, record) = row.map_err(|e| {
                ServiceError::Invalid(format!("the file changed while it was imported: {e}"))
            })?;
            if batch.is_empty() {
                first_line = line_no;
            }
            batch.push(record);
        }
        if batch.is_empty() {
            break;
        }
        let counted = count_all(store, book, &batch, file.source_name, &file.by)
            .await
            .map_err(|e| match e {
                ServiceError::Invalid(why) => {
                    ServiceError::Invalid(format!("rows from line {first_line}: {why}"))
                }
                other => other,
            })?;
        for c in &counted {
            outcome.rows += 1;
            outcome.add(c);
        }
        batches += 1;
        // Each time the records this file added double, so a big file is planned for as
        // it grows, at a handful of refreshes however long it is.
        if batches.is_power_of_two() {
            store.usage_records_grew().await?;
        }
        progress(Pass::Counting, outcome.rows);
    }
    progress(Pass::Counting, outcome.rows);
    Ok(outcome)
}

/// Checks records posted over the API, then counts them, all or nothing like a file.
pub async fn import_records(
    store: &dyn Store,
    book: &PolicyBook,
    carrier: Option<&CarrierCode>,
    records: &[UsageRecord],
    by: &Attribution,
) -> ServiceResult<(FileOutcome, Vec<Counted>)> {
    let mut report = UsageFileReport {
        errors: Vec::new(),
        more: 0,
        rows: records.len() as u64,
    };
    let named = NamedLines::find(store, records).await?;
    for (i, record) in records.iter().enumerate() {
        // Records are numbered from 1 as the API's client sent them.
        report
            .errors
            .extend(check(book, carrier, i as u64 + 1, record, &named));
    }
    if !report.errors.is_empty() {
        return Err(ServiceError::UsageFile(report));
    }
    let each = count_all(store, book, records, "api", by).await?;
    let mut outcome = FileOutcome::default();
    for counted in &each {
        outcome.rows += 1;
        outcome.add(counted);
    }
    Ok((outcome, each))
}

/// Which pass a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    Checking,
    Counting,
}

/// What is wrong with a well-formed record: its line, its carrier or its service.
fn check(
    book: &PolicyBook,
    carrier: Option<&CarrierCode>,
    line_no: u64,
    record: &UsageRecord,
    named: &NamedLines,
) -> Option<RowError> {
    let problem = |column: &str, reason: String| RowError {
        line: line_no,
        column: column.into(),
        reason,
    };
    let Some(line) = named.get(&record.line) else {
        return Some(problem("line", "no line has this identifier".into()));
    };
    if let Some(c) = carrier {
        if line.carrier != *c {
            // Another carrier's line is not named: to this caller it does not exist.
            return Some(problem(
                "line",
                format!("no line of {c} has this identifier"),
            ));
        }
    }
    check_service(book, line, record.service)
        .err()
        .map(|why| problem("service", why))
}

/// The rows of a usage file, parsed one at a time.
struct Rows<R: Read> {
    reader: csv::Reader<R>,
    index: HashMap<&'static str, usize>,
    record: csv::StringRecord,
}

impl<R: Read> Rows<R> {
    fn new(input: R, renamed: &BTreeMap<String, String>) -> ServiceResult<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(input);
        let header_error = |reason: String| {
            ServiceError::UsageFile(UsageFileReport {
                errors: vec![RowError {
                    line: 1,
                    column: "(header)".into(),
                    reason,
                }],
                more: 0,
                rows: 0,
            })
        };
        let headers = reader
            .headers()
            .map_err(|e| header_error(format!("the header cannot be read: {e}")))?
            .clone();
        let mut index: HashMap<&'static str, usize> = HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            let written = h.trim_start_matches('\u{feff}');
            let name = renamed.get(written).map_or(written, String::as_str);
            let Some(known) = REQUIRED.iter().chain(OPTIONAL.iter()).find(|c| **c == name) else {
                return Err(header_error(format!(
                    "unknown column {:?}; the header is {} and optionally {} (a carrier's [usage.columns] may rename them)",
                    crate::services::excerpt(written, 64),
                    REQUIRED.join(","),
                    OPTIONAL.join(",")
                )));
            };
            if index.insert(known, i).is_some() {
                return Err(header_error(format!("column {known} appears twice")));
            }
        }
        let missing: Vec<&str> = REQUIRED
            .iter()
            .copied()
            .filter(|c| !index.contains_key(c))
            .collect();
        if !missing.is_empty() {
            return Err(header_error(format!(
                "missing column(s) {}",
                missing.join(", ")
            )));
        }
        Ok(Rows {
            reader,
            index,
            record: csv::StringRecord::new(),
        })
    }

    /// The next row with its line in the file, or what is wrong with it.
    fn next_row(&mut self) -> Option<Result<(u64, UsageRecord), RowError>> {
        match self.reader.read_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| p.line());
                Some(self.parse(line).map(|r| (line, r)))
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                Some(Err(RowError {
                    line,
                    column: "(row)".into(),
                    reason: format!("the row cannot be read: {e}"),
                }))
            }
        }
    }

    fn field(&self, column: &str) -> &str {
        self.index
            .get(column)
            .and_then(|i| self.record.get(*i))
            .unwrap_or("")
    }

    fn parse(&self, line: u64) -> Result<UsageRecord, RowError> {
        let problem = |column: &str, reason: String| RowError {
            line,
            column: column.into(),
            reason,
        };
        let record_id = self.field("record_id");
        if record_id.is_empty() || record_id.len() > 128 || record_id.chars().any(char::is_control)
        {
            return Err(problem(
                "record_id",
                "a record id is 1 to 128 printable characters".into(),
            ));
        }
        let key = line_key(self.field("line")).map_err(|e| problem("line", e))?;
        let service: Service = self.field("service").parse().map_err(
            |e: simdesk_domain::attribution::UnknownName| problem("service", e.to_string()),
        )?;
        let started_at = instant(self.field("started_at")).map_err(|e| problem("started_at", e))?;
        let ended_at = match self.field("ended_at") {
            "" => None,
            text => {
                let at = instant(text).map_err(|e| problem("ended_at", e))?;
                if at < started_at {
                    return Err(problem("ended_at", "ends before it starts".into()));
                }
                Some(at)
            }
        };
        let volume: u64 = self.field("volume").parse().map_err(|_| {
            problem(
                "volume",
                format!(
                    "{:?} is not a whole number of {}",
                    crate::services::excerpt(self.field("volume"), 32),
                    match service {
                        Service::Data => "bytes",
                        Service::Voice => "seconds",
                        Service::Sms => "messages",
                    }
                ),
            )
        })?;
        let network = match self.field("network") {
            "" => None,
            text if (5..=6).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) => {
                Some(text.to_string())
            }
            text => {
                return Err(problem(
                    "network",
                    format!(
                        "{:?} is not an MCC-MNC (5 or 6 digits, e.g. 44010)",
                        crate::services::excerpt(text, 32)
                    ),
                ))
            }
        };
        let rating_group =
            match self.field("rating_group") {
                "" => None,
                text => Some(text.parse::<u32>().map_err(|_| {
                    problem("rating_group", "a rating group is a whole number".into())
                })?),
            };
        Ok(UsageRecord {
            record_id: record_id.to_string(),
            line: key,
            service,
            started_at,
            ended_at,
            volume,
            network,
            rating_group,
        })
    }
}

fn instant(text: &str) -> Result<Timestamp, String> {
    text.parse::<Timestamp>().map_err(|_| {
        format!(
            "{:?} is not an RFC 3339 instant (e.g. 2026-12-01T09:30:00+09:00)",
            crate::services::excerpt(text, 40)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(csv: &str) -> Vec<Result<(u64, UsageRecord), RowError>> {
        let mut rows = Rows::new(csv.as_bytes(), &BTreeMap::new()).unwrap();
        std::iter::from_fn(|| rows.next_row()).collect()
    }

    #[test]
    fn a_good_row_reads_into_a_record() {
        let got = rows("record_id,line,service,started_at,volume,network\nR1,09012345678,data,2026-12-01T09:30:00+09:00,2048,44010\n");
        let (line, r) = got[0].clone().unwrap();
        assert_eq!(line, 2);
        assert_eq!(r.volume, 2048);
        assert_eq!(r.network.as_deref(), Some("44010"));
        assert_eq!(r.started_at.to_string(), "2026-12-01T00:30:00Z");
    }

    #[test]
    fn a_bad_row_is_named_by_line_and_column() {
        let got = rows("record_id,line,service,started_at,volume\nR1,09012345678,data,2026-12-01T09:30:00Z,2048\nR2,09012345678,fax,2026-12-01T09:30:00Z,1\nR3,09012345678,data,yesterday,1\n");
        assert!(got[0].is_ok());
        let e = got[1].clone().unwrap_err();
        assert_eq!((e.line, e.column.as_str()), (3, "service"));
        let e = got[2].clone().unwrap_err();
        assert_eq!((e.line, e.column.as_str()), (4, "started_at"));
        assert!(e.reason.contains("RFC 3339"), "{}", e.reason);
    }

    #[test]
    fn a_carrier_may_rename_the_columns() {
        let renamed = BTreeMap::from([
            ("CDR_ID".to_string(), "record_id".to_string()),
            ("MSISDN".to_string(), "line".to_string()),
        ]);
        let mut rows = Rows::new(
            "CDR_ID,MSISDN,service,started_at,volume\nX9,09012345678,sms,2026-12-01T00:00:00Z,1\n"
                .as_bytes(),
            &renamed,
        )
        .unwrap();
        assert_eq!(rows.next_row().unwrap().unwrap().1.record_id, "X9");
    }

    #[test]
    fn an_unknown_or_missing_column_refuses_the_header() {
        for header in [
            "record_id,line,service,started_at",
            "record_id,line,service,started_at,volume,colour",
        ] {
            let Err(ServiceError::UsageFile(report)) =
                Rows::new(header.as_bytes(), &BTreeMap::new())
            else {
                panic!("{header} was accepted");
            };
            assert_eq!(report.errors[0].line, 1);
        }
    }
}
