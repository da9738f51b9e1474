//! Bad input at scale: arbitrary and mutated inventory files, line keys, policy folders, receipts
//! and API bodies never panic and never answer 5xx; they are refused with an error that says what
//! is wrong, and a refused API request changes nothing.
//!
//! Every property runs a CI-sized number of cases. To hunt longer, set `PROPTEST_CASES` (it sets
//! every property's count), e.g. `PROPTEST_CASES=1000000 cargo test -p simdesk --test fuzz
//! --release`, with `SIMDESK_TEST_PG=1` to run the database-backed ones on PostgreSQL.

mod support;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};
use simdesk::receipts::{self, ReceiptSigner, SignedReceipt, VerifyingKeyText};
use simdesk::services::cancellation::{self, Knowledge};
use simdesk::services::import::{check_file, import_lines, CheckedFile, ImportRequest, Progress};
use simdesk::services::jobs;
use simdesk::services::lines::{self, parse_line_key};
use simdesk::services::policies::{load_policies, read_policy_dir, PolicyBook};
use simdesk::services::ServiceContext;
use simdesk::services::{wallet, ServiceError, ServiceResult};
use simdesk::store::{LineKey, Store};
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use simdesk_domain::ids::{CarrierCode, CustomerId, Eid, Iccid, Imsi, Msisdn, RequestId};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use support::stock::{national, sell, stock};
use support::{fresh_db, policies_dir};

// ---------------------------------------------------------------------------
// Case counts and shared strategies
// ---------------------------------------------------------------------------

/// Cases of a property over a parser in memory.
const PARSER_CASES: u32 = 10_000;
/// Cases of a property that writes files or a database.
const FILE_CASES: u32 = 300;
/// Cases of a property that goes through the HTTP server.
const HTTP_CASES: u32 = 300;

/// `ProptestConfig::default()` (which reads `PROPTEST_CASES` and the other `PROPTEST_*`
/// variables) with `default_cases` unless `PROPTEST_CASES` asks for another number.
fn config(default_cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default_cases;
    }
    config.source_file = Some(file!());
    config
}

/// Errors quote at most an excerpt of what they were given, so a pasted page stays one line.
const MAX_MESSAGE_CHARS: usize = 1000;

/// What a careless or hostile user can type: any Unicode, text close to what the parsers
/// expect, control characters, and now and then something very long.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        4 => "[0-9０-９ +()\\-ー.,:;_/a-zA-Z¥円\"'\t\r\n\u{0}\u{3000}\u{FEFF}]{0,48}",
        1 => "\\PC{0,16}".prop_map(|s| s.repeat(1000)),
    ]
}

/// One edit to `text`: insert, delete, replace or duplicate a character, or swap two neighbours.
fn mutate(text: &str, edit: u8, at: prop::sample::Index, with: char) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let len = chars.len();
    match edit % 5 {
        0 => chars.insert(at.index(len + 1), with),
        1 if len > 0 => {
            chars.remove(at.index(len));
        }
        2 if len > 0 => chars[at.index(len)] = with,
        3 if len > 0 => {
            let i = at.index(len);
            chars.insert(i, chars[i]);
        }
        4 if len > 1 => {
            let i = at.index(len - 1);
            chars.swap(i, i + 1);
        }
        _ => chars.push(with),
    }
    chars.into_iter().collect()
}

type Edits = Vec<(u8, prop::sample::Index, char)>;

fn edits(max: usize) -> impl Strategy<Value = Edits> {
    let with = prop_oneof![
        3 => prop::char::range('0', '9'),
        2 => prop::sample::select(vec![
            ' ', '-', '+', '(', ')', '.', ',', '"', '\n', '\r', '=', '[', ']', '#', '０', 'ー',
            '\u{3000}', '\u{0}', 'a', 'Z',
        ]),
        1 => any::<char>(),
    ];
    prop::collection::vec((any::<u8>(), any::<prop::sample::Index>(), with), 1..=max)
}

fn edited(text: &str, edits: &Edits) -> String {
    edits
        .iter()
        .fold(text.to_string(), |text, (edit, at, with)| {
            mutate(&text, *edit, *at, *with)
        })
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// The policies of the real folder, as the service reads them from the store.
fn book() -> &'static PolicyBook {
    static BOOK: OnceLock<PolicyBook> = OnceLock::new();
    BOOK.get_or_init(|| {
        runtime().block_on(async {
            let db = fresh_db().await;
            load_policies(
                db.store.as_ref(),
                &policies_dir(),
                at("2025-01-01T00:00:00Z"),
            )
            .await
            .expect("the real policies load");
            PolicyBook::load(db.store.as_ref())
                .await
                .expect("the stored policies read back")
        })
    })
}

#[track_caller]
fn check_message(message: &str) -> Result<(), TestCaseError> {
    prop_assert!(!message.trim().is_empty(), "an empty error");
    prop_assert!(
        message.chars().count() <= MAX_MESSAGE_CHARS,
        "error of {} characters: {}…",
        message.chars().count(),
        message.chars().take(200).collect::<String>()
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// 1. The inventory file
// ---------------------------------------------------------------------------

const CARRIER: &str = "EX-SAKURA";
/// EX-SAKURA's plans and the kind of line each is for.
const PLANS: [(&str, &str); 3] = [
    ("JP10-DV", "physical"),
    ("JP15-D", "physical"),
    ("ESIM-15", "esim"),
];
const COLUMNS: [&str; 7] = [
    "iccid",
    "imsi",
    "msisdn",
    "plan",
    "kind",
    "eid",
    "activation_code",
];

/// One line of inventory, as it should be stored.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    iccid: String,
    imsi: String,
    msisdn: String,
    plan: &'static str,
    kind: &'static str,
    eid: Option<String>,
    activation_code: Option<String>,
}

/// Line `n` (below 10^8) on plan `plan` of [`PLANS`].
fn row(n: u64, plan: usize) -> Row {
    let (plan, kind) = PLANS[plan % PLANS.len()];
    let esim = kind == "esim";
    Row {
        iccid: Iccid::from_body(&format!("89811001{n:010}"))
            .unwrap()
            .to_string(),
        imsi: format!("44010{n:010}"),
        msisdn: format!("+8190{n:08}"),
        plan,
        kind,
        eid: esim.then(|| Eid::from_body(&format!("{n:030}")).unwrap().to_string()),
        activation_code: esim.then(|| format!("LPA:1$smdp.example.com$M-{n}")),
    }
}

/// `value` of `column` in one of the ways people and carriers write it.
fn written(column: &str, value: &str, form: u8) -> String {
    let spaced = |groups: &[usize], separator: &str| {
        let mut out = Vec::new();
        let mut rest = value;
        for &g in groups {
            if rest.len() <= g {
                break;
            }
            let (head, tail) = rest.split_at(g);
            out.push(head);
            rest = tail;
        }
        out.push(rest);
        out.join(separator)
    };
    match (column, form % 4) {
        ("iccid", 1) => spaced(&[4, 4, 4, 4], " "),
        ("iccid", 2) => spaced(&[4, 4, 4, 4], "-"),
        ("imsi", 1) => spaced(&[3, 2], " "),
        ("msisdn", 1) => format!("0{}", &value[3..]),
        ("msisdn", 2) => format!("0{}-{}-{}", &value[3..5], &value[5..9], &value[9..]),
        ("msisdn", 3) => format!("+81 {}-{}-{}", &value[3..5], &value[5..9], &value[9..]),
        _ => value.to_string(),
    }
}

/// How a file is laid out around its rows.
#[derive(Debug, Clone)]
struct Layout {
    /// Indexes into [`COLUMNS`], in file order.
    columns: Vec<usize>,
    crlf: bool,
    bom: bool,
    final_newline: bool,
    /// Per row: the written form of its values, whether they are quoted or padded, and what
    /// blank line (if any) comes before it.
    styles: Vec<u8>,
}

fn layout(rows: usize) -> impl Strategy<Value = Layout> {
    (
        any::<bool>(),
        any::<bool>(),
        Just((0..COLUMNS.len()).collect::<Vec<_>>()).prop_shuffle(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), rows),
    )
        .prop_map(
            |(with_kind, with_esim, order, crlf, bom, final_newline, styles)| Layout {
                columns: order
                    .into_iter()
                    .filter(|&c| c < 4 || (c == 4 && with_kind) || (c > 4 && with_esim))
                    .collect(),
                crlf,
                bom,
                final_newline,
                styles,
            },
        )
}

/// Line breaks as editors and the csv reader count them: `\n`, `\r\n` and a lone `\r`.
fn line_breaks(bytes: &[u8]) -> u64 {
    let lone_cr = bytes
        .windows(2)
        .filter(|w| w[0] == b'\r' && w[1] != b'\n')
        .count()
        + usize::from(bytes.last() == Some(&b'\r'));
    (bytes.iter().filter(|b| **b == b'\n').count() + lone_cr) as u64
}

/// A field as CSV: quoted (quotes doubled) when asked or when it must be.
fn field(value: &str, quote: bool) -> String {
    if quote || value.contains(['"', ',', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// A file of `rows` laid out as `layout` says, with `replace` (row, column, raw value) put in
/// place of one value; returns the file and the file line each row starts on.
fn write_file(
    rows: &[Row],
    layout: &Layout,
    replace: Option<(usize, usize, &str)>,
) -> (String, Vec<u64>) {
    let newline = if layout.crlf { "\r\n" } else { "\n" };
    let mut text = String::new();
    if layout.bom {
        text.push('\u{feff}');
    }
    let header: Vec<&str> = layout.columns.iter().map(|&c| COLUMNS[c]).collect();
    text.push_str(&header.join(","));
    let mut starts = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let style = layout.styles[i];
        text.push_str(newline);
        match style >> 6 {
            1 => text.push_str(newline),
            2 => {
                text.push_str("   ");
                text.push_str(newline);
            }
            3 => {
                text.push_str(&",".repeat(layout.columns.len() - 1));
                text.push_str(newline);
            }
            _ => {}
        }
        starts.push(line_breaks(text.as_bytes()) + 1);
        let values: Vec<String> = layout
            .columns
            .iter()
            .map(|&c| {
                if let Some((row, column, raw)) = replace {
                    if row == i && column == c {
                        return field(raw, true);
                    }
                }
                let value = match c {
                    0 => written("iccid", &r.iccid, style),
                    1 => written("imsi", &r.imsi, style >> 2),
                    2 => written("msisdn", &r.msisdn, style >> 4),
                    3 => r.plan.to_string(),
                    4 => r.kind.to_string(),
                    5 => r.eid.clone().unwrap_or_default(),
                    _ => r.activation_code.clone().unwrap_or_default(),
                };
                match style & 0b11 {
                    1 => field(&value, true),
                    2 if !value.is_empty() => format!("  {value} "),
                    _ => field(&value, false),
                }
            })
            .collect();
        text.push_str(&values.join(","));
    }
    if layout.final_newline {
        text.push_str(newline);
    }
    (text, starts)
}

/// Rows numbered from `base`, on random plans.
fn rows(base: u64, plans: &[usize]) -> Vec<Row> {
    plans
        .iter()
        .enumerate()
        .map(|(i, plan)| row(base + i as u64, *plan))
        .collect()
}

fn stored(line: &simdesk::store::NewLine) -> Row {
    let (plan, kind) = PLANS
        .iter()
        .copied()
        .find(|(p, _)| *p == line.plan)
        .unwrap_or(("?", "?"));
    Row {
        iccid: line.iccid.clone(),
        imsi: line.imsi.clone(),
        msisdn: line.msisdn.clone(),
        plan,
        kind: if line.kind == kind { kind } else { "?" },
        eid: line.eid.clone(),
        activation_code: line.activation_code.clone(),
    }
}

/// What any input must give: good rows that are valid lines, each problem on a line of the file
/// in a known column with a reason, or a refused header.
fn check_outcome(bytes: &[u8], result: ServiceResult<CheckedFile>) -> Result<(), TestCaseError> {
    // One past the last line: "no lines after the header" points there in a header-only file.
    let lines_in_file = line_breaks(bytes) + 2;
    match result {
        Ok(checked) => {
            prop_assert_eq!(checked.lines.len(), checked.file_lines.len());
            prop_assert!(checked.file_lines.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(checked.rows >= checked.lines.len() as u64);
            if checked.rows == 0 {
                prop_assert!(!checked.errors.is_empty(), "an empty file must be refused");
            }
            let mut bad = HashSet::new();
            for e in &checked.errors {
                prop_assert!((2..=lines_in_file).contains(&e.line), "line of {e}");
                prop_assert!(
                    e.column == "(row)" || COLUMNS.contains(&e.column.as_str()),
                    "column of {e}"
                );
                check_message(&e.reason)?;
                bad.insert(e.line);
            }
            for (line, at) in checked.lines.iter().zip(&checked.file_lines) {
                prop_assert!(!bad.contains(at), "line {at} is both good and bad");
                prop_assert!((2..=lines_in_file).contains(at));
                prop_assert_eq!(
                    line.iccid.parse::<Iccid>().map(|v| v.to_string()).ok(),
                    Some(line.iccid.clone())
                );
                prop_assert_eq!(
                    line.imsi.parse::<Imsi>().map(|v| v.to_string()).ok(),
                    Some(line.imsi.clone())
                );
                prop_assert_eq!(
                    line.msisdn.parse::<Msisdn>().map(|v| v.to_string()).ok(),
                    Some(line.msisdn.clone())
                );
                prop_assert_eq!(line.carrier.as_str(), CARRIER);
                let row = stored(line);
                prop_assert!(row.plan != "?" && row.kind != "?", "{line:?}");
                if row.kind == "esim" {
                    // Without a code the profile is ordered from the SM-DP+ when the line is sold.
                    if let Some(code) = line.activation_code.as_deref() {
                        prop_assert!(code.starts_with("LPA:1$"), "{line:?}");
                    }
                } else {
                    prop_assert!(line.eid.is_none() && line.activation_code.is_none());
                }
                if let Some(eid) = &line.eid {
                    prop_assert_eq!(
                        eid.parse::<Eid>().map(|v| v.to_string()).ok(),
                        Some(eid.clone())
                    );
                }
            }
        }
        Err(ServiceError::Import(report)) => {
            prop_assert!(!report.errors.is_empty());
            for e in &report.errors {
                prop_assert_eq!(e.line, 1);
                prop_assert_eq!(e.column.as_str(), "(header)");
                check_message(&e.reason)?;
            }
        }
        Err(other) => prop_assert!(false, "neither rows nor a report: {other:?}"),
    }
    Ok(())
}

fn check_bytes(bytes: &[u8]) -> Result<(), TestCaseError> {
    check_outcome(bytes, check_file(book(), &CarrierCode::new(CARRIER), bytes)).map_err(|e| {
        let input: String = String::from_utf8_lossy(bytes).chars().take(2000).collect();
        TestCaseError::fail(format!("{e}\ninput: {input:?}"))
    })
}

/// Pieces of CSV: real headers and values, separators, quotes, line breaks and junk.
fn csv_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            ",", ",", ",", "\n", "\r\n", "\r", "\"", "\"\"", " ", ";", "\t", "\u{feff}",
            "iccid,imsi,msisdn,plan", "kind", "eid", "activation_code", "JP10-DV", "ESIM-15",
            "physical", "esim", "LPA:1$smdp.example.com$X", "8981100100000000018",
            "44010000000001", "090-0000-0001", "+81 90 0000 0001",
            "89049032123451234512345678901235",
        ])
        .prop_map(str::to_string),
        1 => text(),
    ]
}

fn csv_text() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "",
            "iccid,imsi,msisdn,plan\n",
            "iccid,imsi,msisdn,plan,kind,eid,activation_code\n",
            "plan,msisdn,imsi,iccid\r\n",
        ]),
        prop::collection::vec(csv_piece(), 0..40),
    )
        .prop_map(|(header, pieces)| format!("{header}{}", pieces.concat()))
}

/// Rows of a valid file on random plans, with a random layout.
fn valid_file() -> impl Strategy<Value = (Vec<Row>, Layout)> {
    (
        0u64..90_000_000,
        prop::collection::vec(0..PLANS.len(), 1..12),
    )
        .prop_flat_map(|(base, plans)| {
            let rows = rows(base, &plans);
            let n = rows.len();
            (Just(rows), layout(n))
        })
        .prop_map(|(rows, mut layout)| {
            // eSIM rows need the eSIM columns.
            if rows.iter().any(|r| r.kind == "esim") {
                for c in [5, 6] {
                    if !layout.columns.contains(&c) {
                        layout.columns.push(c);
                    }
                }
            }
            (rows, layout)
        })
}

/// What a value may be replaced with: junk, near misses, other rows' values, nothing.
fn replacement() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => text(),
        1 => edits(3).prop_map(|e| edited("8981100100000000018", &e)),
        1 => edits(3).prop_map(|e| edited("+8190000000001", &e)),
        1 => prop::sample::select(vec![
            "", " ", "JP10-DV", "ESIM-15", "KOI-PLAN", "physical", "esim", "ESIM",
            "LPA:1$x$y", "LPA:2$x$y", "89049032123451234512345678901235",
            "89049032123451234512345678901234", "8981100100000000018", "44010",
            "440100000000000000", "310260000000001", "0312345678", "+1 415 555 0100",
        ])
        .prop_map(str::to_string),
    ]
}

proptest! {
    #![proptest_config(config(PARSER_CASES))]

    #[test]
    fn any_bytes_give_lines_or_row_errors(
        header in prop::sample::select(vec![&b""[..], b"iccid,imsi,msisdn,plan\n", b"iccid,imsi,msisdn,plan,kind,eid,activation_code\r\n"]),
        bytes in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        check_bytes(&[header, &bytes[..]].concat())?;
    }

    #[test]
    fn any_csv_gives_lines_or_row_errors(text in csv_text()) {
        check_bytes(text.as_bytes())?;
    }

    #[test]
    fn a_valid_file_reads_back_as_its_lines((rows, layout) in valid_file()) {
        let (text, starts) = write_file(&rows, &layout, None);
        let checked = check_file(book(), &CarrierCode::new(CARRIER), text.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert!(checked.errors.is_empty(), "{:?}\n{text}", checked.errors);
        prop_assert_eq!(checked.rows, rows.len() as u64);
        let read: Vec<Row> = checked.lines.iter().map(stored).collect();
        prop_assert_eq!(&read, &rows, "{}", text);
        prop_assert_eq!(&checked.file_lines, &starts, "{}", text);
    }

    #[test]
    fn a_bad_value_is_reported_on_its_own_line(
        (rows, layout) in valid_file(),
        pick in any::<prop::sample::Index>(),
        column in any::<prop::sample::Index>(),
        value in replacement(),
    ) {
        let row = pick.index(rows.len());
        let column = layout.columns[column.index(layout.columns.len())];
        let (text, starts) = write_file(&rows, &layout, Some((row, column, &value)));
        check_bytes(text.as_bytes())?;
        let checked = check_file(book(), &CarrierCode::new(CARRIER), text.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let line = starts[row];
        for e in &checked.errors {
            // A value made equal to another row's is reported on the later of the two.
            let duplicate_of_it = e.reason.contains(&format!("also appears on line {line} "));
            prop_assert!(e.line == line || duplicate_of_it, "{e} (the bad value is on line {line})\n{text}");
        }
        let flagged: HashSet<u64> = checked.errors.iter().map(|e| e.line).collect();
        for (i, r) in rows.iter().enumerate() {
            if i != row && !flagged.contains(&starts[i]) {
                let found = checked.file_lines.iter().position(|l| *l == starts[i]);
                let found = found.map(|at| stored(&checked.lines[at]));
                prop_assert_eq!(found.as_ref(), Some(r), "row {} is lost\n{}", i, text);
            }
        }
    }

    #[test]
    fn an_edited_file_gives_lines_or_row_errors(
        (rows, layout) in valid_file(),
        edits in edits(4),
    ) {
        let (text, _) = write_file(&rows, &layout, None);
        check_bytes(edited(&text, &edits).as_bytes())?;
    }

    #[test]
    fn a_file_with_bytes_flipped_gives_lines_or_row_errors(
        (rows, layout) in valid_file(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let (text, _) = write_file(&rows, &layout, None);
        let mut bytes = text.into_bytes();
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        check_bytes(&bytes)?;
    }
}

/// Numbers no other import in this run has used.
fn fresh_base(rows: usize) -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(rows as u64, Ordering::Relaxed)
}

fn inventory(why: &str) -> Attribution {
    Attribution::new(
        Actor::operator("inventory"),
        Channel::Operator,
        at("2025-01-01T00:00:00Z"),
        why,
    )
}

fn quiet() -> Progress<'static> {
    static NOTHING: fn(u64) = |_| {};
    Progress {
        checked: &NOTHING,
        written: &NOTHING,
    }
}

#[test]
fn a_valid_file_imports_as_its_lines_and_only_once() {
    let rt = runtime();
    let db = rt.block_on(fresh_db());
    let store = db.store.as_ref();
    rt.block_on(load_policies(
        store,
        &policies_dir(),
        at("2025-01-01T00:00:00Z"),
    ))
    .unwrap();
    let book = rt.block_on(PolicyBook::load(store)).unwrap();
    let mut runner = TestRunner::new(config(FILE_CASES));
    let strategy = valid_file().prop_map(|(rows, layout)| {
        let base = fresh_base(rows.len());
        let plans: Vec<usize> = rows
            .iter()
            .map(|r| PLANS.iter().position(|(p, _)| *p == r.plan).unwrap())
            .collect();
        (self::rows(base, &plans), layout)
    });
    let result = runner.run(&strategy, |(rows, layout)| {
        let (text, _) = write_file(&rows, &layout, None);
        let import = |why: &str| {
            rt.block_on(import_lines(
                store,
                &book,
                ImportRequest {
                    carrier: &CarrierCode::new(CARRIER),
                    source_name: "fuzz.csv",
                    input: text.as_bytes(),
                    skip_invalid: false,
                    by: inventory(why),
                },
                quiet(),
            ))
        };
        let outcome =
            import("delivery").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(outcome.imported, rows.len() as u64);
        for r in &rows {
            let key = LineKey::Iccid(r.iccid.parse().unwrap());
            let line = rt
                .block_on(lines::find_line(store, &key))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(line.imsi.as_str(), r.imsi.as_str());
            prop_assert_eq!(line.msisdn.as_str(), r.msisdn.as_str());
            prop_assert_eq!(line.plan.as_str(), r.plan);
            prop_assert_eq!(line.kind.as_str(), r.kind);
            prop_assert_eq!(line.eid.as_ref().map(|e| e.to_string()), r.eid.clone());
            // The code is sealed into the line's eSIM profile, never kept readable on the line.
            let code = rt
                .block_on(store.activation_code(line.id))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(code.map(|c| c.lpa_uri()), r.activation_code.clone());
        }
        match import("delivered twice") {
            Err(ServiceError::Import(report)) => {
                // Each identifier of each row is already stored.
                prop_assert_eq!(report.errors.len(), rows.len() * 3, "{}", report);
                prop_assert!(report
                    .errors
                    .iter()
                    .all(|e| e.reason.ends_with("is already stored")));
            }
            other => prop_assert!(false, "a second import of the same file: {other:?}"),
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------
// 2. Line keys (CLI, console search, API paths) and language headers
// ---------------------------------------------------------------------------

/// An ICCID or MSISDN written with the separators, widths and prefixes the identifier parsers
/// accept.
fn line_key_text() -> impl Strategy<Value = (String, LineKey)> {
    (
        0u64..100_000_000,
        any::<bool>(),
        prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                prop::sample::select(vec![" ", "-", "　", "－", "ー", "‐"]),
            ),
            0..4,
        ),
        any::<bool>(),
        0u8..4,
    )
        .prop_map(|(n, is_iccid, separators, full_width, prefix)| {
            let (digits, head, key) = if is_iccid {
                let iccid = Iccid::from_body(&format!("89811001{n:010}")).unwrap();
                (iccid.to_string(), "", LineKey::Iccid(iccid))
            } else {
                let msisdn: Msisdn = format!("090{n:08}").parse().unwrap();
                let head = ["", "+81", "0081", "81"][usize::from(prefix)];
                let digits = if head.is_empty() {
                    format!("090{n:08}")
                } else {
                    format!("90{n:08}")
                };
                (digits, head, LineKey::Msisdn(msisdn))
            };
            let mut chars: Vec<String> = digits
                .chars()
                .map(|c| match (full_width, c.to_digit(10)) {
                    (true, Some(d)) => char::from_u32(u32::from('０') + d).unwrap().to_string(),
                    _ => c.to_string(),
                })
                .collect();
            for (at, separator) in separators {
                chars.insert(at.index(chars.len() + 1), separator.to_string());
            }
            (format!("{head}{}", chars.concat()), key)
        })
}

fn check_line_key(text: &str) -> Result<(), TestCaseError> {
    match parse_line_key(text) {
        Ok(LineKey::Iccid(iccid)) => {
            prop_assert_eq!(
                parse_line_key(iccid.as_str()).ok(),
                Some(LineKey::Iccid(iccid))
            )
        }
        Ok(LineKey::Msisdn(msisdn)) => {
            prop_assert_eq!(
                parse_line_key(&msisdn.national()).ok(),
                Some(LineKey::Msisdn(msisdn.clone()))
            );
            prop_assert_eq!(
                parse_line_key(msisdn.as_str()).ok(),
                Some(LineKey::Msisdn(msisdn))
            )
        }
        Ok(other) => prop_assert!(false, "{text:?} read as {other:?}"),
        Err(e @ (ServiceError::Invalid(_) | ServiceError::Id(_))) => check_message(&e.to_string())?,
        Err(other) => prop_assert!(false, "{text:?}: unexpected error {other:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(PARSER_CASES))]

    #[test]
    fn any_text_is_a_line_key_or_a_clear_error(text in text()) {
        check_line_key(&text)?;
    }

    #[test]
    fn any_accept_language_header_picks_a_language_or_none(
        header in prop_oneof![
            text(),
            prop::collection::vec(
                (
                    prop::sample::select(vec!["ja", "en-GB", "zh-TW", "zh", "ko-KR", "fr", "*", ""]),
                    prop_oneof![
                        Just(String::new()),
                        text().prop_map(|q| format!(";q={q}")),
                        prop::sample::select(vec![";q=0", ";q=1", ";q=0.5", ";q=nan", ";q=inf", ";q=-1", ";q=1e40"])
                            .prop_map(str::to_string),
                    ],
                ),
                0..5,
            )
            .prop_map(|parts| parts
                .iter()
                .map(|(tag, q)| format!("{tag}{q}"))
                .collect::<Vec<_>>()
                .join(", ")),
        ],
    ) {
        let _ = simdesk::web::pages::i18n::from_accept_language(&header);
    }

    #[test]
    fn every_written_form_of_a_line_is_its_key((text, key) in line_key_text()) {
        prop_assert_eq!(parse_line_key(&text).ok(), Some(key), "{:?}", text);
    }

    #[test]
    fn an_edited_line_key_is_a_key_or_a_clear_error(
        (text, _) in line_key_text(),
        edits in edits(3),
    ) {
        check_line_key(&edited(&text, &edits))?;
    }
}

// ---------------------------------------------------------------------------
// 3. Policy folders
// ---------------------------------------------------------------------------

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every policy file of the real folder, relative to it.
fn policy_files() -> &'static Vec<PathBuf> {
    static FILES: OnceLock<Vec<PathBuf>> = OnceLock::new();
    FILES.get_or_init(|| {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else if path.extension().is_some_and(|x| x == "toml") {
                    out.push(path.strip_prefix(root).unwrap().to_path_buf());
                }
            }
        }
        let mut out = Vec::new();
        walk(&policies_dir(), &policies_dir(), &mut out);
        out.sort();
        out
    })
}

/// What happens to one file of the folder.
#[derive(Debug, Clone)]
enum FileChange {
    Edit(Edits),
    /// A key's line dropped, or its value replaced.
    Line(prop::sample::Index, Option<String>),
    Replace(String),
    Bytes(Vec<u8>),
    Remove,
    /// A copy beside it under another name.
    Copy,
}

fn file_change() -> impl Strategy<Value = FileChange> {
    prop_oneof![
        4 => edits(4).prop_map(FileChange::Edit),
        4 => (
            any::<prop::sample::Index>(),
            prop::option::weighted(0.8, prop_oneof![
                prop::sample::select(vec![
                    "-1", "0", "4294967296", "9223372036854775807", "-9223372036854775808",
                    "99999999999999999999", "1.5", "nan", "inf", "true", "\"\"", "\"-1 JPY\"",
                    "\"9223372036854775808 JPY\"", "\"USD\"", "[]", "{}", "[1, \"a\"]",
                    "1979-05-27", "\"\\u0000\"", "\"12-31..02-30\"", "\"25:00\"",
                ])
                .prop_map(str::to_string),
                text().prop_map(|t| format!("{t:?}")),
            ]),
        )
            .prop_map(|(at, value)| FileChange::Line(at, value)),
        1 => text().prop_map(FileChange::Replace),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(FileChange::Bytes),
        1 => Just(FileChange::Remove),
        1 => Just(FileChange::Copy),
    ]
}

fn change_file(path: &Path, change: &FileChange) {
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    match change {
        FileChange::Edit(edits) => std::fs::write(path, edited(&text, edits)).unwrap(),
        FileChange::Line(at, value) => {
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            let keyed: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].contains(" = "))
                .collect();
            if let Some(&i) = keyed.get(at.index(keyed.len().max(1))) {
                match value {
                    Some(value) => {
                        let key = lines[i].split(" = ").next().unwrap().to_string();
                        lines[i] = format!("{key} = {value}");
                    }
                    None => {
                        lines.remove(i);
                    }
                }
            }
            std::fs::write(path, lines.join("\n")).unwrap();
        }
        FileChange::Replace(text) => std::fs::write(path, text).unwrap(),
        FileChange::Bytes(bytes) => std::fs::write(path, bytes).unwrap(),
        FileChange::Remove => std::fs::remove_file(path).unwrap(),
        FileChange::Copy => std::fs::copy(path, path.with_file_name("COPY.toml"))
            .map(drop)
            .unwrap(),
    }
}

proptest! {
    #![proptest_config(config(FILE_CASES))]

    #[test]
    fn a_changed_policy_folder_loads_or_names_each_problem(
        changes in prop::collection::vec((any::<prop::sample::Index>(), file_change()), 1..3),
    ) {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&policies_dir(), dir.path());
        for (pick, change) in &changes {
            let files = policy_files();
            let path = dir.path().join(&files[pick.index(files.len())]);
            if path.exists() {
                change_file(&path, change);
            }
        }
        match read_policy_dir(dir.path()) {
            Ok(folders) => prop_assert!(!folders.is_empty()),
            Err(ServiceError::Policy(errors)) => {
                prop_assert!(!errors.is_empty());
                for e in &errors {
                    prop_assert!(Path::new(&e.file).starts_with(dir.path()), "file of {e}");
                    prop_assert!(!e.key.trim().is_empty(), "key of {e}");
                    prop_assert!(!e.problem.trim().is_empty(), "problem of {e}");
                }
            }
            Err(other) => prop_assert!(false, "neither policies nor policy errors: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// 4. Receipts
// ---------------------------------------------------------------------------

struct Issued {
    signer: ReceiptSigner,
    content: receipts::ReceiptContent,
    document: String,
}

/// A receipt as a cancellation issues it, signed.
fn issued() -> &'static Issued {
    static ISSUED: OnceLock<Issued> = OnceLock::new();
    ISSUED.get_or_init(|| {
        let content: receipts::ReceiptContent = serde_json::from_value(json!({
            "number": "EX-SAKURA-2026-000042",
            "carrier": "EX-SAKURA",
            "issued_at": "2026-03-02T01:15:30Z",
            "effective_date": "2026-03-03",
            "request_id": 4711,
            "channel": "web",
            "line": {
                "iccid": "8981100100000000018",
                "msisdn": "+819000000001",
                "plan": "JP10-DV",
                "plan_name": "Japan 10-day card, data + voice"
            },
            "customer": "C-3f9a1c07",
            "unbound_addons": [{ "code": "ROAMING", "name": "International roaming" }],
            "refund": {
                "rule": "full",
                "items": [
                    { "label": "remaining balance", "amount": { "value": 1000, "unit": "JPY" } },
                    { "label": "fee", "amount": { "value": -300, "unit": "JPY" } }
                ],
                "total": { "value": 700, "unit": "JPY" },
                "credited_to": "e-wallet"
            },
            "policy_version": 3,
            "language": "ja"
        }))
        .expect("a receipt's content");
        let signer = ReceiptSigner::generate();
        let document = signer.sign(&content).to_json();
        Issued {
            signer,
            content,
            document,
        }
    })
}

/// A document either fails to verify, saying why, or says exactly what was signed; whatever it
/// claims can be shown without panicking. The signature covers the canonical form, so the same
/// values written otherwise verify as the same receipt: whitespace between tokens, `t` and `z` in
/// the timestamp, the currency code's case, `\/` for `/` in the signature.
fn check_receipt(document: &str) -> Result<(), TestCaseError> {
    let issued = issued();
    let key = issued.signer.verifying_key();
    match receipts::verify(document, &key) {
        Ok(content) => prop_assert_eq!(&content, &issued.content, "{}", document),
        Err(e) => prop_assert!(!e.to_string().trim().is_empty()),
    }
    if let Ok(claimed) = SignedReceipt::parse_unverified(document) {
        let _ = receipts::render_html(&claimed);
        let _ = receipts::render_text(&claimed);
    }
    Ok(())
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop::sample::select(vec![i64::MIN, -1, 0, 1, 3, 700, 1000, 4711, i64::MAX])
            .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::String),
        prop::sample::select(vec![
            "",
            "\u{0}",
            "JPY",
            "USD",
            "2026-03-02T01:15:30Z",
            "2026-03-02T10:15:30+09:00",
            "2026-03-03",
            "9999-12-31",
            "EX-SAKURA",
            "EX-KOI",
            "delete",
            "line",
            "email",
            "123456",
            "TK0000001",
            "Traveller Example",
        ])
        .prop_map(Value::from),
    ]
}

/// Keys of the documents and bodies simdesk reads, so that generated objects look close.
const JSON_KEYS: [&str; 24] = [
    "receipt",
    "key_id",
    "signature",
    "number",
    "carrier",
    "issued_at",
    "effective_date",
    "request_id",
    "channel",
    "line",
    "refund",
    "total",
    "value",
    "unit",
    "amount",
    "destination",
    "reason",
    "approve",
    "code",
    "to",
    "name",
    "passport",
    "productOrderItem",
    "productOrder",
];

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        3 => prop::sample::select(JSON_KEYS.to_vec()).prop_map(str::to_string),
                        1 => text(),
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// One change to a JSON document at a path picked by its index.
#[derive(Debug, Clone)]
enum JsonChange {
    Replace(Value),
    Drop,
    Add(String, Value),
}

fn json_change() -> impl Strategy<Value = (prop::sample::Index, JsonChange)> {
    (
        any::<prop::sample::Index>(),
        prop_oneof![
            3 => json_value().prop_map(JsonChange::Replace),
            1 => Just(JsonChange::Drop),
            1 => (
                prop_oneof![prop::sample::select(JSON_KEYS.to_vec()).prop_map(str::to_string), text()],
                json_value(),
            )
                .prop_map(|(k, v)| JsonChange::Add(k, v)),
        ],
    )
}

/// The JSON pointer of every value in `value`, the root included.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let child = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                pointers(inner, child, out);
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                pointers(inner, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

fn change_json(value: &mut Value, changes: &[(prop::sample::Index, JsonChange)]) {
    for (pick, change) in changes {
        let mut all = Vec::new();
        pointers(value, String::new(), &mut all);
        let pointer = all[pick.index(all.len())].clone();
        match change {
            JsonChange::Replace(new) => {
                if let Some(slot) = value.pointer_mut(&pointer) {
                    *slot = new.clone();
                }
            }
            JsonChange::Drop => {
                let Some(split) = pointer.rfind('/') else {
                    *value = Value::Null;
                    continue;
                };
                let (parent, last) = (&pointer[..split], &pointer[split + 1..]);
                let last = last.replace("~1", "/").replace("~0", "~");
                match value.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&last);
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(i) = last.parse::<usize>() {
                            if i < items.len() {
                                items.remove(i);
                            }
                        }
                    }
                    _ => {}
                }
            }
            JsonChange::Add(key, new) => {
                if let Some(Value::Object(map)) = value.pointer_mut(&pointer) {
                    map.insert(key.clone(), new.clone());
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(config(PARSER_CASES))]

    #[test]
    fn any_text_is_not_a_receipt(text in text()) {
        check_receipt(&text)?;
        let _ = VerifyingKeyText::parse(&text);
        prop_assert!(receipts::verify_with_key_text(&issued().document, &text).is_err());
    }

    #[test]
    fn any_json_is_not_a_receipt(value in json_value()) {
        check_receipt(&value.to_string())?;
    }

    #[test]
    fn a_receipt_with_a_byte_changed_never_verifies_as_another(
        changes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..3),
    ) {
        let mut bytes = issued().document.clone().into_bytes();
        for (at, byte, how) in changes {
            let i = at.index(bytes.len());
            match how {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => {
                    bytes.remove(i);
                }
            }
        }
        check_receipt(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn a_receipt_with_a_field_changed_never_verifies_as_another(
        changes in prop::collection::vec(json_change(), 1..3),
    ) {
        let mut value: Value = serde_json::from_str(&issued().document).unwrap();
        change_json(&mut value, &changes);
        check_receipt(&value.to_string())?;
    }
}

#[test]
fn the_untouched_receipt_verifies() {
    let issued = issued();
    let key = issued.signer.verifying_key();
    assert_eq!(
        receipts::verify(&issued.document, &key).unwrap(),
        issued.content
    );
    let key_text = issued.signer.public_key().to_string();
    assert_eq!(
        receipts::verify_with_key_text(&issued.document, &key_text).unwrap(),
        issued.content
    );
}

// ---------------------------------------------------------------------------
// 5. API bodies
// ---------------------------------------------------------------------------

/// Every POST, PUT and PATCH of the API, as the router lists them.
fn writing_routes() -> Vec<(String, String)> {
    simdesk::web::routes()
        .into_iter()
        .filter(|(method, path)| {
            matches!(method.as_str(), "POST" | "PUT" | "PATCH")
                && (path.starts_with("/api/") || path.starts_with("/tmf-api/"))
        })
        .map(|(method, path)| (method.to_string(), path))
        .collect()
}

const PASSPORT_PREFIX: &str = "TK";

/// EX-SAKURA's lines sold to travellers, one of them cancelled and refunded, and the API serving
/// them to an operator's token.
struct ApiWorld {
    app: support::TestApp,
    ctx: ServiceContext,
    base: String,
    agent: ureq::Agent,
    token: String,
    /// Line numbers, all sold; the first was cancelled and refunded.
    lines: Vec<u64>,
    customer: CustomerId,
    receipt: String,
    /// Index into `lines` of the line whose open request the bodies are about.
    current: usize,
    /// How many answers of each status the cases got.
    statuses: std::collections::BTreeMap<u16, u64>,
}

/// Lines the body properties work through (each withdrawn or rejected request uses one up).
const LINES: u64 = 40;

fn by(kind: ActorKind, who: &str, channel: Channel, when: Timestamp) -> Attribution {
    Attribution::new(
        Actor {
            kind,
            id: who.into(),
        },
        channel,
        when,
        "fuzz world",
    )
}

impl ApiWorld {
    async fn new(count: u64) -> ApiWorld {
        let db = fresh_db().await;
        let store = db.store.clone();
        let s = store.as_ref();
        load_policies(s, &policies_dir(), at("2025-01-01T00:00:00Z"))
            .await
            .unwrap();
        let book = PolicyBook::load(s).await.unwrap();
        let lines: Vec<u64> = (1..=count).collect();
        stock(s, &book, &lines).await;
        let now = Timestamp::now();
        for n in &lines {
            sell(s, &book, *n, "en", now - SignedDuration::from_hours(2)).await;
        }
        // Abuse limits have their own tests; here they must not hide what a body does.
        let app = support::spawn_app_on(db, support::AppOptions::new().wide_limits()).await;
        let ctx = app.ctx.clone();
        // Line 1: cancelled by the hotline and completed, so its holder has a refund in the
        // e-wallet and a receipt.
        let submitted = cancellation::submit(
            &ctx,
            &key(1),
            Channel::Hotline,
            Some(Knowledge {
                name: "Traveller Example".into(),
                passport: format!("{PASSPORT_PREFIX}{:07}", 1),
            }),
            by(ActorKind::Agent, "agent-3", Channel::Hotline, now),
        )
        .await
        .unwrap();
        let effective_at = submitted.request.request.effective_at.unwrap();
        jobs::run_due(&ctx, &app.peers, effective_at).await.unwrap();
        let done = cancellation::load(&ctx, submitted.request.request.id)
            .await
            .unwrap();
        let receipt_number = done.receipt_number.expect("a receipt");
        let receipt = s.receipt(&receipt_number).await.unwrap().unwrap();
        let customer = lines::find_line(s, &key(1)).await.unwrap().holder.unwrap();

        let base = app.base.clone();
        let token = simdesk::web::api::new_token();
        s.insert_api_token(
            &CarrierCode::new(CARRIER),
            "fuzz",
            &simdesk::web::api::hash_token(&token),
            "test",
            Timestamp::now(),
        )
        .await
        .unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .build()
            .into();
        ApiWorld {
            app,
            ctx,
            base,
            agent,
            token,
            lines,
            customer,
            receipt,
            current: 1,
            statuses: Default::default(),
        }
    }

    fn s(&self) -> &dyn Store {
        self.app.store.as_ref()
    }

    /// The open request the bodies are about, opened on the next line when the last one ended.
    async fn open_request(&mut self) -> RequestId {
        loop {
            let n = self.lines[self.current];
            let line = lines::find_line(self.s(), &key(n)).await.unwrap();
            if !line.state.is_final() {
                let submitted = cancellation::submit(
                    &self.ctx,
                    &key(n),
                    Channel::Web,
                    None,
                    by(
                        ActorKind::Customer,
                        "traveller",
                        Channel::Web,
                        Timestamp::now(),
                    ),
                )
                .await
                .unwrap();
                if submitted.request.request.state.is_open() {
                    return submitted.request.request.id;
                }
            }
            self.current += 1;
            assert!(
                self.current < self.lines.len(),
                "the world ran out of lines"
            );
        }
    }

    /// Everything a refused request must leave alone: the lines the bodies are about (state,
    /// history, requests and their steps and documents) and the customer's e-wallet.
    async fn snapshot(&self) -> String {
        let s = self.s();
        let mut out = String::new();
        let around = [
            1,
            self.lines[self.current],
            self.lines[(self.current + 1).min(self.lines.len() - 1)],
        ];
        for n in around {
            let line = lines::find_line(s, &key(n)).await.unwrap();
            let events = s.events(line.id).await.unwrap();
            out.push_str(&format!("{line:?}\n{} events\n", events.len()));
            for r in s.requests_for_line(line.id).await.unwrap() {
                let steps = s.request_events(r.request.id).await.unwrap();
                let documents = s.documents(r.request.id).await.unwrap();
                out.push_str(&format!(
                    "{r:?}\n{} steps, {} documents\n",
                    steps.len(),
                    documents.len()
                ));
            }
        }
        let view = wallet::show(s, self.customer).await.unwrap();
        out.push_str(&serde_json::to_string(&view).unwrap());
        out
    }

    /// A body the route accepts, about the world's open request.
    fn valid_body(&self, path: &str, request: RequestId) -> Payload {
        let next_line =
            support::stock::iccid(self.lines[(self.current + 1).min(self.lines.len() - 1)]);
        let n = self.lines[self.current];
        let json = |v: Value| Payload::Json(v);
        match path {
            "/tmf-api/productOrdering/v4/productOrder" => json(json!({
                "productOrderItem": [{ "id": "1", "action": "delete", "product": { "id": next_line } }],
                "description": "fuzz"
            })),
            "/tmf-api/productOrdering/v4/cancelProductOrder" => json(json!({
                "productOrder": { "id": request.to_string() },
                "cancellationReason": "fuzz"
            })),
            "/api/v1/cancellations/{id}/code" => json(json!({ "to": "line" })),
            "/api/v1/cancellations/{id}/code/check" => json(json!({ "code": "000000" })),
            "/api/v1/cancellations/{id}/knowledge" => json(json!({
                "name": "Traveller Example",
                "passport": format!("{PASSPORT_PREFIX}{n:07}")
            })),
            "/api/v1/cancellations/{id}/documents" => {
                let mut jpeg = vec![0u8; 256];
                jpeg[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
                Payload::Bytes(jpeg, Some("image/jpeg"))
            }
            "/api/v1/cancellations/{id}/documents/review" => {
                json(json!({ "approve": false, "reason": "the photo is blurred" }))
            }
            "/api/v1/cancellations/{id}/reject" => json(json!({ "reason": "fuzz" })),
            "/api/v1/customers/{id}/payouts" => json(json!({
                "amount": { "value": 1, "unit": "JPY" },
                "destination": "card ending 4242"
            })),
            "/api/v1/receipts/verify" => {
                Payload::Bytes(self.receipt.clone().into_bytes(), Some("application/json"))
            }
            "/api/v1/lines/{line}/esim/order" => json(json!({})),
            "/api/v1/usage" => json(json!({ "records": [{
                "record_id": "fuzz-1",
                "line": support::stock::iccid(n),
                "service": "sms",
                "started_at": "2026-12-01T00:00:00Z",
                "volume": 1
            }] })),
            _ => Payload::None,
        }
    }
}

fn key(n: u64) -> LineKey {
    parse_line_key(&national(n)).unwrap()
}

/// What is sent as a body.
#[derive(Debug, Clone)]
enum Payload {
    None,
    Json(Value),
    Bytes(Vec<u8>, Option<&'static str>),
}

/// How a case builds its body.
#[derive(Debug, Clone)]
enum BodyPlan {
    Any(Payload),
    /// The route's valid body with changes.
    Changed(Vec<(prop::sample::Index, JsonChange)>),
    /// The route's valid body with bytes changed.
    Flipped(Vec<(prop::sample::Index, u8)>),
}

#[derive(Debug, Clone)]
struct ApiCase {
    route: prop::sample::Index,
    body: BodyPlan,
    idempotency_key: bool,
    /// A path parameter to use instead of the world's.
    id: Option<String>,
}

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop::sample::select(vec![
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("application/octet-stream"),
        Some("text/plain"),
        Some("image/jpeg"),
        Some("multipart/form-data; boundary=x"),
        None,
    ])
}

fn api_case() -> impl Strategy<Value = ApiCase> {
    let body = prop_oneof![
        3 => json_value().prop_map(|v| BodyPlan::Any(Payload::Json(v))),
        1 => (prop::collection::vec(any::<u8>(), 0..300), content_type())
            .prop_map(|(b, t)| BodyPlan::Any(Payload::Bytes(b, t))),
        1 => (text(), content_type())
            .prop_map(|(s, t)| BodyPlan::Any(Payload::Bytes(s.into_bytes(), t))),
        1 => Just(BodyPlan::Any(Payload::None)),
        4 => prop::collection::vec(json_change(), 1..3).prop_map(BodyPlan::Changed),
        1 => prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..3)
            .prop_map(BodyPlan::Flipped),
    ];
    (
        any::<prop::sample::Index>(),
        body,
        any::<bool>(),
        prop::option::weighted(0.1, text()),
    )
        .prop_map(|(route, body, idempotency_key, id)| ApiCase {
            route,
            body,
            idempotency_key,
            id,
        })
}

/// A path segment with every byte outside the unreserved set percent-encoded.
fn encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One answer: status, content type and body.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

fn send(w: &ApiWorld, method: &str, path: &str, payload: &Payload, key: Option<&str>) -> Answer {
    let mut builder = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", w.base))
        .header("Authorization", format!("Bearer {}", w.token));
    if let Some(k) = key {
        builder = builder.header("Idempotency-Key", k);
    }
    let result = match payload {
        Payload::None => w.agent.run(builder.body(()).unwrap()),
        Payload::Json(v) => w.agent.run(
            builder
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(v).unwrap())
                .unwrap(),
        ),
        Payload::Bytes(bytes, content_type) => {
            if let Some(t) = content_type {
                builder = builder.header("Content-Type", *t);
            }
            w.agent.run(builder.body(bytes.clone()).unwrap())
        }
    };
    let mut response = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .unwrap_or_else(|e| panic!("{method} {path}: reading the body: {e}"));
    Answer {
        status: response.status().as_u16(),
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Never 5xx; a refusal in the one error shape.
fn check_answer(what: &str, answer: &Answer) -> Result<(), TestCaseError> {
    prop_assert!(
        answer.status < 500,
        "{what}: {} {}",
        answer.status,
        answer.body
    );
    if answer.status >= 400 {
        prop_assert!(
            answer.content_type.starts_with("application/json"),
            "{what}: an error as {:?}: {}",
            answer.content_type,
            answer.body
        );
        let error: Value = serde_json::from_str(&answer.body)
            .map_err(|e| TestCaseError::fail(format!("{what}: not JSON ({e}): {}", answer.body)))?;
        for field in ["code", "reason", "message"] {
            let text = error[field].as_str().unwrap_or_default();
            prop_assert!(
                !text.trim().is_empty(),
                "{what}: no {field}: {}",
                answer.body
            );
        }
        check_message(error["message"].as_str().unwrap_or_default())?;
    }
    Ok(())
}

static CASE: AtomicU64 = AtomicU64::new(0);

/// Sends one case and checks the answer and, when it is a refusal, that nothing changed.
fn run_api_case(
    rt: &tokio::runtime::Runtime,
    w: &mut ApiWorld,
    routes: &[(String, String)],
    case: &ApiCase,
) -> Result<(), TestCaseError> {
    let (method, template) = &routes[case.route.index(routes.len())];
    let request = rt.block_on(w.open_request());
    let id = match &case.id {
        // Long enough to be hostile, short enough for the client to send (64 KiB URIs).
        Some(id) => encode_segment(&id.chars().take(2000).collect::<String>()),
        None if template.contains("/customers/") => w.customer.to_string(),
        None => request.to_string(),
    };
    let path = template.replace("{id}", &id);
    let payload = match &case.body {
        BodyPlan::Any(payload) => payload.clone(),
        BodyPlan::Changed(changes) => match w.valid_body(template, request) {
            Payload::Json(mut value) => {
                change_json(&mut value, changes);
                Payload::Json(value)
            }
            other => other,
        },
        BodyPlan::Flipped(flips) => {
            let (mut bytes, content_type) = match w.valid_body(template, request) {
                Payload::Json(value) => (
                    serde_json::to_vec(&value).unwrap(),
                    Some("application/json"),
                ),
                Payload::Bytes(bytes, content_type) => (bytes, content_type),
                Payload::None => (Vec::new(), None),
            };
            for (at, byte) in flips {
                if !bytes.is_empty() {
                    let i = at.index(bytes.len());
                    bytes[i] = *byte;
                }
            }
            Payload::Bytes(bytes, content_type)
        }
    };
    let key = case
        .idempotency_key
        .then(|| format!("fuzz-{}", CASE.fetch_add(1, Ordering::Relaxed)));
    let before = rt.block_on(w.snapshot());
    let answer = send(w, method, &path, &payload, key.as_deref());
    let what = format!("{method} {path} with {payload:?}");
    *w.statuses.entry(answer.status).or_default() += 1;
    check_answer(&what, &answer)?;
    if answer.status >= 400 {
        let after = rt.block_on(w.snapshot());
        prop_assert_eq!(
            before,
            after,
            "{} was refused ({}) but changed something",
            what,
            answer.body
        );
    }
    Ok(())
}

#[test]
fn api_bodies_are_answered_never_5xx_and_refusals_change_nothing() {
    let rt = runtime();
    let w = std::cell::RefCell::new(rt.block_on(ApiWorld::new(LINES)));
    let routes = writing_routes();
    assert!(routes.len() >= 10, "{routes:?}");
    // Every route the bodies are built for is still served.
    for (_, path) in &routes {
        assert!(
            !matches!(
                w.borrow().valid_body(path, RequestId::new(1)),
                Payload::None
            ) || path.ends_with("/withdraw"),
            "no valid body for {path}"
        );
    }
    let mut runner = TestRunner::new(config(HTTP_CASES));
    let result = runner.run(&api_case(), |case| {
        run_api_case(&rt, &mut w.borrow_mut(), &routes, &case)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // Both accepted and refused bodies were tried: the world was one the routes could act on.
    let statuses = &w.borrow().statuses;
    eprintln!("answers by status: {statuses:?}");
    if runner.config().cases >= 100 {
        assert!(
            statuses.keys().any(|s| (200..300).contains(s)),
            "{statuses:?}"
        );
        assert!(
            statuses.keys().any(|s| (400..500).contains(s)),
            "{statuses:?}"
        );
    }
}

/// Every API route, as the router lists them.
fn api_routes() -> Vec<(String, String)> {
    simdesk::web::routes()
        .into_iter()
        .filter(|(_, path)| path.starts_with("/api/") || path.starts_with("/tmf-api/"))
        .map(|(method, path)| (method.to_string(), path))
        .collect()
}

#[derive(Debug, Clone)]
struct PathCase {
    route: prop::sample::Index,
    segment: String,
    query: Vec<(&'static str, String)>,
}

fn path_case() -> impl Strategy<Value = PathCase> {
    (
        any::<prop::sample::Index>(),
        prop_oneof![
            3 => text(),
            1 => prop::sample::select(vec![
                "0", "-1", "9223372036854775808", "1e3", "..", ".", "%", "EX-SAKURA-2026-000001",
                "8981100100000000018", "+819000000001", "090-0000-0001",
            ])
            .prop_map(str::to_string),
        ],
        prop::collection::vec(
            (
                prop::sample::select(vec!["status", "limit", "cursor", "product.id", "x"]),
                prop_oneof![text(), Just("active".to_string()), Just("500".to_string())],
            ),
            0..3,
        ),
    )
        .prop_map(|(route, segment, query)| PathCase {
            route,
            segment,
            query,
        })
}

fn run_path_case(
    rt: &tokio::runtime::Runtime,
    w: &mut ApiWorld,
    routes: &[(String, String)],
    case: &PathCase,
) -> Result<(), TestCaseError> {
    let (method, template) = &routes[case.route.index(routes.len())];
    let request = rt.block_on(w.open_request());
    let segment = encode_segment(&case.segment.chars().take(2000).collect::<String>());
    let mut path = String::new();
    let mut rest = template.as_str();
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        path.push_str(&rest[..open]);
        path.push_str(&segment);
        rest = &rest[close..];
    }
    path.push_str(rest);
    if !case.query.is_empty() {
        let query: Vec<String> = case
            .query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    encode_segment(&v.chars().take(500).collect::<String>())
                )
            })
            .collect();
        path = format!("{path}?{}", query.join("&"));
    }
    let payload = w.valid_body(template, request);
    let before = rt.block_on(w.snapshot());
    let answer = send(w, method, &path, &payload, None);
    let what = format!("{method} {path}");
    *w.statuses.entry(answer.status).or_default() += 1;
    check_answer(&what, &answer)?;
    if answer.status >= 400 {
        let after = rt.block_on(w.snapshot());
        prop_assert_eq!(
            before,
            after,
            "{} was refused ({}) but changed something",
            what,
            answer.body
        );
    }
    Ok(())
}

#[test]
fn api_paths_and_queries_are_answered_never_5xx() {
    let rt = runtime();
    let w = std::cell::RefCell::new(rt.block_on(ApiWorld::new(LINES)));
    let routes = api_routes();
    let mut runner = TestRunner::new(config(HTTP_CASES));
    let result = runner.run(&path_case(), |case| {
        run_path_case(&rt, &mut w.borrow_mut(), &routes, &case)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------
// Regressions: inputs the properties above once failed on
// ---------------------------------------------------------------------------

/// (line, column) of every problem `text` has as an inventory file.
fn problems(text: &str) -> (Vec<u64>, Vec<(u64, String)>) {
    let checked = check_file(book(), &CarrierCode::new(CARRIER), text.as_bytes()).unwrap();
    let problems = checked
        .errors
        .iter()
        .map(|e| (e.line, e.column.clone()))
        .collect();
    (checked.file_lines, problems)
}

#[test]
fn a_file_whose_lines_end_in_a_lone_cr_reports_each_row_on_its_own_line() {
    // Every row used to be reported on line 1, the header's.
    let text = "iccid,imsi,msisdn,plan\r\
                8981100100000000000,440100000000000,09000000000,JP15-D\r\
                8981100100000000018,440100000000001,090-0000-0001@,JP10-DV\r";
    let (good, bad) = problems(text);
    assert_eq!(good, vec![2]);
    assert_eq!(bad, vec![(3, "msisdn".to_string())]);
}

#[test]
fn a_lone_cr_inside_a_line_starts_a_new_line() {
    // A row after a stray CR was reported on the line of the row before it.
    let text = "iccid,imsi,msisdn,plan\r\n\
                8981100100000000034,440100000000003,09000000003,JP15-D\r\
                8981100100000000042,440100000000004,090-0000-X004,JP15-D\r\n\
                8981100100000000059,440100000000005,+819000000005,JP10-DV\r\n";
    let (good, bad) = problems(text);
    assert_eq!(good, vec![2, 4]);
    assert_eq!(bad, vec![(3, "msisdn".to_string())]);
}

#[test]
fn a_pasted_page_as_a_plan_gets_a_one_line_error() {
    let text = format!("plan,msisdn,imsi,iccid\r\n{}", "𐊀".repeat(1000));
    let checked = check_file(book(), &CarrierCode::new(CARRIER), text.as_bytes()).unwrap();
    let plan = checked.errors.iter().find(|e| e.column == "plan").unwrap();
    assert!(plan.reason.starts_with("𐊀𐊀"), "{plan}");
    assert!(plan.reason.chars().count() < 200, "{plan}");
}

#[test]
fn a_pasted_page_as_a_column_name_gets_a_one_line_error() {
    let text = format!("iccid,imsi,msisdn,plan,{}\n", "x".repeat(5000));
    match check_file(book(), &CarrierCode::new(CARRIER), text.as_bytes()) {
        Err(ServiceError::Import(report)) => {
            assert!(report.errors[0].reason.chars().count() < 300, "{report}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_full_width_iccid_is_a_line_key() {
    // The ICCID parser reads full-width digits (Japanese input methods type them); line lookup
    // in the CLI, the console and the API refused them.
    assert_eq!(
        parse_line_key("８９８１１００１０００００００００００").unwrap(),
        LineKey::Iccid("8981100100000000000".parse().unwrap())
    );
    assert_eq!(
        parse_line_key("8981ー1001ー0000ー0000ー000").unwrap(),
        LineKey::Iccid("8981100100000000000".parse().unwrap())
    );
    // A mistyped check digit is still explained as one.
    assert!(matches!(
        parse_line_key("8981100100000000001"),
        Err(ServiceError::Id(
            simdesk_domain::ids::IdError::IccidCheckDigit { .. }
        ))
    ));
}

#[test]
fn a_pasted_page_as_a_line_key_gets_a_one_line_error() {
    let message = parse_line_key(&"𑚀".repeat(1000)).unwrap_err().to_string();
    assert!(message.chars().count() < 400, "{message}");
}

/// A small world for one request.
fn small_world() -> (tokio::runtime::Runtime, ApiWorld, RequestId) {
    let rt = runtime();
    let mut w = rt.block_on(ApiWorld::new(3));
    let request = rt.block_on(w.open_request());
    (rt, w, request)
}

#[test]
fn a_nul_in_a_json_body_is_refused_not_a_server_error() {
    // On PostgreSQL, a rejection reason holding NUL failed its write with a 503.
    let (rt, w, request) = small_world();
    let path = format!("/api/v1/cancellations/{request}/reject");
    for body in [json!(["\u{0}"]), json!({ "reason": "fuzz\u{0}" })] {
        let before = rt.block_on(w.snapshot());
        let answer = send(&w, "POST", &path, &Payload::Json(body.clone()), None);
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        assert!(answer.body.contains("NUL"), "{}", answer.body);
        assert_eq!(rt.block_on(w.snapshot()), before);
    }
    let order = "/tmf-api/productOrdering/v4/productOrder";
    let body = json!({
        "productOrderItem": [{ "id": "1", "action": "delete", "product": { "id": support::stock::iccid(3) } }],
        "description": "\u{0}"
    });
    let answer = send(&w, "POST", order, &Payload::Json(body), None);
    assert_eq!(answer.status, 400, "{}", answer.body);
}

#[test]
fn a_nul_receipt_number_is_not_found_not_a_server_error() {
    let (_rt, w, _) = small_world();
    let answer = send(&w, "GET", "/api/v1/receipts/%00", &Payload::None, None);
    assert_eq!(answer.status, 404, "{}", answer.body);
}

#[test]
fn a_pasted_page_in_an_api_body_gets_a_one_line_error() {
    let (_rt, w, request) = small_world();
    let long = " ".repeat(1000);
    let cases = [
        (
            format!("/api/v1/cancellations/{request}/documents/review"),
            json!({ "approve": long }),
        ),
        (
            "/tmf-api/productOrdering/v4/cancelProductOrder".to_string(),
            json!({ "productOrder": { "id": "‐".repeat(1000) } }),
        ),
        (
            format!("/api/v1/cancellations/{request}/code"),
            json!({ "to": long }),
        ),
    ];
    for (path, body) in cases {
        let answer = send(&w, "POST", &path, &Payload::Json(body), None);
        assert!(
            (400..500).contains(&answer.status),
            "{path}: {}",
            answer.body
        );
        let error: Value = serde_json::from_str(&answer.body).unwrap();
        let message = error["message"].as_str().unwrap();
        assert!(message.chars().count() < 400, "{path}: {message}");
    }
}

#[test]
fn a_pasted_page_as_a_status_filter_gets_a_one_line_error() {
    let (_rt, w, _) = small_world();
    let status = encode_segment(&"\u{10a0c}".repeat(500));
    let path = format!("/tmf-api/productInventory/v4/product?status={status}");
    let answer = send(&w, "GET", &path, &Payload::None, None);
    assert_eq!(answer.status, 400, "{}", answer.body);
    let error: Value = serde_json::from_str(&answer.body).unwrap();
    let message = error["message"].as_str().unwrap();
    assert!(message.chars().count() < 1000, "{message}");
}
