//! End-to-end tests of the `simdesk` command line, run as a user would run it.
//!
//! Every test works in its own temporary folder with its own database given with `--db`:
//! a SQLite file by default, or, when `SIMDESK_TEST_PG` holds a PostgreSQL URL (for example
//! `postgres://postgres@127.0.0.1:5432/test`), a fresh database created on that server for the
//! test (with the `psql` client) and dropped afterwards.

mod support;

use assert_cmd::Command;
use serde_json::Value;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// Japanese national holidays 2025–2027 (Cabinet Office list): date,name_ja,name_en.
const HOLIDAYS: &str = include_str!("../../domain/data/jp-holidays-2025-2027.csv");

// ---------------------------------------------------------------------------------------------
// Test environment: a temp folder, a database, and a way to run the binary against both.
// ---------------------------------------------------------------------------------------------

/// A database created on the PostgreSQL server for one test; dropped when the test passes.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("keeping PostgreSQL database {} for inspection", self.name);
            return;
        }
        let _ = psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
        );
    }
}

fn psql(url: &str, sql: &str) -> Output {
    std::process::Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .expect("running psql (needed when SIMDESK_TEST_PG is set)")
}

/// `url` with its database name replaced by `name`, keeping user, host, port and parameters.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!(
        "{}_{}_{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        h.finish() as u32
    )
}

/// One test's world: its own folder and its own database.
struct TestEnv {
    dir: tempfile::TempDir,
    db: String,
    _pg: Option<PgDatabase>,
}

impl TestEnv {
    /// A fresh database: SQLite in the temp folder, or a new PostgreSQL database when
    /// `SIMDESK_TEST_PG` is set.
    fn new() -> TestEnv {
        let dir = tempfile::tempdir().expect("creating a temp dir");
        match support::pg_server() {
            Some(admin_url) if !admin_url.trim().is_empty() => {
                let admin_url = admin_url.trim().to_string();
                let name = format!("simdesk_t_{}", unique_suffix());
                let out = psql(&admin_url, &format!("CREATE DATABASE \"{name}\""));
                assert!(
                    out.status.success(),
                    "cannot create database {name} with psql: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let db = with_database(&admin_url, &name);
                TestEnv {
                    dir,
                    db,
                    _pg: Some(PgDatabase { admin_url, name }),
                }
            }
            _ => {
                let db = format!("sqlite://{}", dir.path().join("t.db").display());
                TestEnv { dir, db, _pg: None }
            }
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `simdesk --db <this test's database> ARGS…`, run in the temp folder, untouched by the
    /// caller's SIMDESK_* settings.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = bare_cmd(self.dir.path());
        c.arg("--db").arg(&self.db).args(args);
        c
    }

    /// Runs and expects success; returns stdout.
    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        expect_ok(self.cmd(args), args)
    }

    /// Runs and expects a clean failure (non-zero exit, no panic); returns stderr.
    #[track_caller]
    fn fail(&self, args: &[&str]) -> String {
        expect_failure(self.cmd(args), args)
    }

    fn load_example_policies(&self) -> String {
        self.ok(&[
            "policies",
            "load",
            &example_policies().display().to_string(),
        ])
    }
}

/// `simdesk ARGS…` with no database flag, for commands that need none.
fn bare_cmd(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("simdesk").expect("the simdesk binary");
    c.current_dir(dir)
        .env_remove("SIMDESK_DB")
        .env_remove("SIMDESK_DATA_DIR")
        .env_remove("SIMDESK_CONFIG")
        .env_remove("SIMDESK_LISTEN")
        .env_remove("SIMDESK_LOG")
        .timeout(Duration::from_secs(180));
    c
}

#[track_caller]
fn expect_ok(mut c: Command, args: &[&str]) -> String {
    let out = c.output().expect("running simdesk");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "simdesk {args:?} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
}

#[track_caller]
fn expect_failure(mut c: Command, args: &[&str]) -> String {
    let out = c.output().expect("running simdesk");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "simdesk {args:?} should have failed:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        out.status.code().is_some(),
        "simdesk {args:?} was killed by a signal instead of exiting: {}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        !stderr.contains("panicked"),
        "simdesk {args:?} panicked:\n{stderr}"
    );
    assert!(
        stderr.trim().len() > 10,
        "simdesk {args:?} failed without saying why:\n{stderr}"
    );
    stderr
}

fn example_policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating a folder");
    for entry in std::fs::read_dir(from).expect("reading a folder") {
        let entry = entry.expect("reading a folder entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copying a file");
        }
    }
}

/// Replaces exactly one occurrence of `from` in the file.
#[track_caller]
fn edit_file(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("reading a policy file");
    assert_eq!(
        text.matches(from).count(),
        1,
        "{from:?} should appear once in {}",
        path.display()
    );
    std::fs::write(path, text.replace(from, to)).expect("writing a policy file");
}

// ---------------------------------------------------------------------------------------------
// Inventory helpers.
// ---------------------------------------------------------------------------------------------

/// The Luhn check digit for `body` (the digit to append).
fn luhn_digit(body: &str) -> char {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

/// A valid 19-digit ICCID.
fn iccid(n: u64) -> String {
    let body = format!("898110{n:012}");
    format!("{body}{}", luhn_digit(&body))
}

/// The same ICCID with a wrong check digit.
fn iccid_bad_check(n: u64) -> String {
    let good = iccid(n);
    let (body, check) = good.split_at(good.len() - 1);
    let wrong = (check.parse::<u8>().expect("digit") + 1) % 10;
    format!("{body}{wrong}")
}

fn imsi(n: u64) -> String {
    format!("44010{n:010}")
}

/// A national 090 mobile number.
fn msisdn(n: u64) -> String {
    format!("090{:08}", 10_000_000 + n)
}

/// The same number in international form.
fn msisdn_intl(n: u64) -> String {
    format!("+81{}", &msisdn(n)[1..])
}

fn good_row(n: u64) -> String {
    format!("{},{},{},JP10-DV", iccid(n), imsi(n), msisdn(n))
}

const HEADER: &str = "iccid,imsi,msisdn,plan";

fn write_csv(env: &TestEnv, name: &str, lines: &[String]) -> String {
    let path = env.path(name);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&path, text).expect("writing a CSV");
    path.display().to_string()
}

#[track_caller]
fn show_json(env: &TestEnv, line: &str, now: &str) -> Value {
    let out = env.ok(&["lines", "show", line, "--json", "--now", now]);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("lines show --json is not JSON ({e}):\n{out}"))
}

/// The `line N, column C: …` lines of an import report.
fn row_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .map(|l| {
            l.trim_start_matches("error: ")
                .trim_start_matches("skipped: ")
        })
        .filter(|l| l.starts_with("line "))
        .collect()
}

/// Asserts the report names exactly these (line, column, part of the reason), in this order.
#[track_caller]
fn assert_row_errors(stderr: &str, expected: &[(u64, &str, &str)]) {
    let got = row_errors(stderr);
    assert_eq!(
        got.len(),
        expected.len(),
        "expected one report line per problem {expected:?}, got:\n{stderr}"
    );
    for (line, (n, column, reason)) in got.iter().zip(expected) {
        let prefix = format!("line {n}, column {column}: ");
        assert!(
            line.starts_with(&prefix) && line[prefix.len()..].contains(reason),
            "expected {prefix}…{reason}…, got {line:?}; full report:\n{stderr}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 1–2. The calendar.
// ---------------------------------------------------------------------------------------------

fn reference_holidays(year: &str, english: bool) -> String {
    let mut out = String::new();
    for row in HOLIDAYS.lines().skip(1).filter(|r| r.starts_with(year)) {
        let fields: Vec<&str> = row.split(',').collect();
        assert_eq!(fields.len(), 3, "bad reference row {row:?}");
        let name = if english { fields[2] } else { fields[1] };
        out.push_str(&format!("{}\t{name}\n", fields[0]));
    }
    assert!(!out.is_empty(), "no reference holidays for {year}");
    out
}

#[test]
fn calendar_holidays_match_the_reference_list_in_japanese() {
    let dir = tempfile::tempdir().expect("temp dir");
    for year in ["2025", "2026", "2027"] {
        let args = ["calendar", "holidays", year];
        let mut c = bare_cmd(dir.path());
        c.args(args);
        let out = expect_ok(c, &args);
        assert_eq!(
            out,
            reference_holidays(year, false),
            "holidays of {year} differ from the reference list"
        );
    }
}

#[test]
fn calendar_holidays_english_prints_english_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    for year in ["2025", "2026", "2027"] {
        let args = ["calendar", "holidays", year, "--english"];
        let mut c = bare_cmd(dir.path());
        c.args(args);
        let out = expect_ok(c, &args);
        assert_eq!(
            out,
            reference_holidays(year, true),
            "English holidays of {year} differ from the reference list"
        );
    }
}

#[test]
fn calendar_holidays_refuses_years_it_cannot_compute() {
    let dir = tempfile::tempdir().expect("temp dir");
    for year in ["1979", "2100"] {
        let args = ["calendar", "holidays", year];
        let mut c = bare_cmd(dir.path());
        c.args(args);
        let err = expect_failure(c, &args);
        assert!(
            err.contains(year) && err.contains("1980") && err.contains("2099"),
            "the message should name the year and the supported range:\n{err}"
        );
    }
}

#[test]
fn calendar_add_business_days_skips_weekends_and_golden_week() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        // Friday before Golden Week: 2–6 May are weekend and holidays.
        ("2026-05-01", "1", "2026-05-07"),
        ("2026-05-01", "2", "2026-05-08"),
        // Saturday: the next business day is Monday.
        ("2026-05-09", "1", "2026-05-11"),
    ];
    for (date, days, expected) in cases {
        let args = ["calendar", "add-business-days", date, days];
        let mut c = bare_cmd(dir.path());
        c.args(args);
        assert_eq!(
            expect_ok(c, &args),
            format!("{expected}\n"),
            "{date} + {days}"
        );
    }
}

#[test]
fn calendar_add_business_days_rejects_bad_dates_and_years_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases: [(&str, &[&str]); 4] = [
        // Not a day of the calendar.
        ("2026-02-30", &["2026-02-30", "day"]),
        // Not a date at all.
        ("tomorrow", &["tomorrow", "DATE"]),
        // A year no date can have.
        ("10000-01-01", &["10000-01-01"]),
        // A year whose holidays are unknown: answering would be a guess.
        ("1800-01-01", &["1800", "1980..=2099"]),
    ];
    for (date, mentions) in cases {
        let args = ["calendar", "add-business-days", date, "1"];
        let mut c = bare_cmd(dir.path());
        c.args(args);
        let err = expect_failure(c, &args);
        for m in mentions {
            assert!(
                err.contains(m),
                "the message for {date} should mention {m:?}:\n{err}"
            );
        }
    }
}

#[test]
fn calendar_add_business_days_refuses_to_walk_past_2099() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = ["calendar", "add-business-days", "2099-12-31", "1"];
    let mut c = bare_cmd(dir.path());
    c.args(args);
    let err = expect_failure(c, &args);
    assert!(err.contains("2100") && err.contains("1980..=2099"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// 3. Policies and carriers.
// ---------------------------------------------------------------------------------------------

const EXAMPLE_DOCUMENTS: [&str; 10] = [
    "EX-FUJI carrier",
    "EX-FUJI plan ESIM-7",
    "EX-FUJI plan JP10-DV",
    "EX-KOI carrier",
    "EX-KOI plan JP15-D",
    "EX-KOI plan JP31-DV",
    "EX-SAKURA carrier",
    "EX-SAKURA plan ESIM-15",
    "EX-SAKURA plan JP10-DV",
    "EX-SAKURA plan JP15-D",
];

/// The load report as (document, version, "new" or "unchanged"), sorted by document.
fn load_report(out: &str) -> Vec<(String, u32, String)> {
    let mut rows: Vec<(String, u32, String)> = out
        .lines()
        .map(|l| {
            let (what, rest) = l
                .split_once(": version ")
                .unwrap_or_else(|| panic!("unexpected load line {l:?}"));
            let (version, status) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("unexpected load line {l:?}"));
            (
                what.to_string(),
                version
                    .parse()
                    .unwrap_or_else(|_| panic!("bad version in {l:?}")),
                status.trim_matches(|c| c == '(' || c == ')').to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn expected_report(changes: &[(&str, u32, &str)]) -> Vec<(String, u32, String)> {
    EXAMPLE_DOCUMENTS
        .iter()
        .map(|d| match changes.iter().find(|(c, _, _)| c == d) {
            Some((_, v, s)) => (d.to_string(), *v, s.to_string()),
            None => (d.to_string(), 1, "unchanged".to_string()),
        })
        .collect()
}

fn carrier_codes(env: &TestEnv) -> Vec<String> {
    env.ok(&["carriers", "list"])
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn policies_load_version_and_reject_broken_folders() {
    let env = TestEnv::new();

    // First load: everything is new.
    let first = env.load_example_policies();
    let all_new: Vec<(&str, u32, &str)> =
        EXAMPLE_DOCUMENTS.iter().map(|d| (*d, 1, "new")).collect();
    assert_eq!(
        load_report(&first),
        expected_report(&all_new),
        "first load:\n{first}"
    );
    assert_eq!(carrier_codes(&env), ["EX-FUJI", "EX-KOI", "EX-SAKURA"]);

    // Same folder again: nothing changes.
    let again = env.load_example_policies();
    assert_eq!(
        load_report(&again),
        expected_report(&[]),
        "second load:\n{again}"
    );

    // One plan changed: a new version of that plan only.
    let changed = env.path("changed");
    copy_dir(&example_policies(), &changed);
    edit_file(
        &changed.join("EX-SAKURA/plans/JP10-DV.toml"),
        "price = \"3980 JPY\"",
        "price = \"4200 JPY\"",
    );
    let changed_arg = changed.display().to_string();
    let out = env.ok(&["policies", "load", &changed_arg]);
    assert_eq!(
        load_report(&out),
        expected_report(&[("EX-SAKURA plan JP10-DV", 2, "new")]),
        "load after changing one plan:\n{out}"
    );

    // A broken folder: a valid change in one carrier, a broken key in another. It fails, names
    // the file and the key, and stores nothing, not even the valid change.
    let broken = env.path("broken");
    copy_dir(&changed, &broken);
    edit_file(
        &broken.join("EX-FUJI/plans/ESIM-7.toml"),
        "validity_days = 7",
        "validity_days = 8",
    );
    edit_file(
        &broken.join("EX-SAKURA/carrier.toml"),
        "grace_days = 3",
        "grace_days = \"three\"",
    );
    let broken_arg = broken.display().to_string();
    let err = env.fail(&["policies", "load", &broken_arg]);
    let broken_file = broken.join("EX-SAKURA").join("carrier.toml");
    assert!(
        err.contains(&broken_file.display().to_string()) && err.contains("grace_days"),
        "the error should name {} and the key grace_days:\n{err}",
        broken_file.display()
    );
    assert_eq!(carrier_codes(&env), ["EX-FUJI", "EX-KOI", "EX-SAKURA"]);
    let after = env.ok(&["policies", "load", &changed_arg]);
    assert_eq!(
        load_report(&after),
        expected_report(&[("EX-SAKURA plan JP10-DV", 2, "unchanged")]),
        "the rejected folder must not have changed what was stored:\n{after}"
    );

    // The carrier's closures count in its business calendar; the national one has none.
    assert_eq!(
        env.ok(&[
            "calendar",
            "add-business-days",
            "2026-12-28",
            "1",
            "--carrier",
            "EX-SAKURA"
        ]),
        "2027-01-04\n"
    );
    assert_eq!(
        env.ok(&["calendar", "add-business-days", "2026-12-28", "1"]),
        "2026-12-29\n"
    );
    let err = env.fail(&[
        "calendar",
        "add-business-days",
        "2026-12-28",
        "1",
        "--carrier",
        "EX-NOPE",
    ]);
    assert!(
        err.contains("EX-NOPE"),
        "unknown carrier should be named:\n{err}"
    );
}

#[test]
fn carrier_calendar_needs_the_policy_loaded() {
    let env = TestEnv::new();
    let err = env.fail(&[
        "calendar",
        "add-business-days",
        "2026-12-28",
        "1",
        "--carrier",
        "EX-SAKURA",
    ]);
    assert!(
        err.contains("EX-SAKURA") && err.contains("policies load"),
        "the message should say to load the carrier's policy:\n{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Importing inventory.
// ---------------------------------------------------------------------------------------------

/// Good rows and one row for every kind of problem, the header being line 1.
fn mixed_lines() -> Vec<String> {
    vec![
        HEADER.to_string(),                                                  // 1
        good_row(1),                                                         // 2
        format!("{},{},{},JP10-DV", iccid_bad_check(2), imsi(2), msisdn(2)), // 3: bad Luhn
        good_row(3),                                                         // 4
        format!("{},31010{:010},{},JP10-DV", iccid(4), 4, msisdn(4)),        // 5: MCC 310
        format!("{},{},0312345678,JP10-DV", iccid(5), imsi(5)),              // 6: landline
        format!("{},{},{},JP99-X", iccid(6), imsi(6), msisdn(6)),            // 7: unknown plan
        format!("{},{},{},JP10-DV", iccid(1), imsi(7), msisdn(7)),           // 8: ICCID of line 2
        good_row(8),                                                         // 9
    ]
}

fn mixed_file(env: &TestEnv) -> String {
    write_csv(env, "mixed.csv", &mixed_lines())
}

const MIXED_PROBLEMS: [(u64, &str, &str); 5] = [
    (3, "iccid", "check digit"),
    (5, "imsi", "310"),
    (6, "msisdn", "0312345678"),
    (7, "plan", "JP99-X"),
    (8, "iccid", "line 2"),
];

#[test]
fn import_reports_every_bad_row_and_imports_nothing() {
    let env = TestEnv::new();
    env.load_example_policies();
    let file = mixed_file(&env);

    let err = env.fail(&["import", "lines", &file, "--carrier", "EX-SAKURA"]);
    assert_row_errors(&err, &MIXED_PROBLEMS);
    assert!(err.contains("nothing was imported"), "{err}");

    // Not even the good rows went in.
    for key in [iccid(1), iccid(3), msisdn(8)] {
        let err = env.fail(&["lines", "show", &key]);
        assert!(
            err.contains("not found"),
            "{key} should not be stored:\n{err}"
        );
    }
}

#[test]
fn import_skip_invalid_imports_the_good_rows() {
    let env = TestEnv::new();
    env.load_example_policies();
    let file = mixed_file(&env);

    let out = env
        .cmd(&[
            "import",
            "lines",
            &file,
            "--carrier",
            "EX-SAKURA",
            "--skip-invalid",
        ])
        .output()
        .expect("running simdesk");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "--skip-invalid failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.starts_with("imported 3 lines for EX-SAKURA"),
        "{stdout}"
    );
    assert!(stdout.contains("5 rows skipped"), "{stdout}");
    assert_row_errors(&stderr, &MIXED_PROBLEMS);

    for n in [1, 3, 8] {
        let report = show_json(&env, &iccid(n), "2026-11-25T00:00:00Z");
        assert_eq!(report["state"], "in_stock", "line {n}: {report}");
        assert_eq!(report["msisdn"], msisdn_intl(n), "line {n}: {report}");
    }
    // Bad rows stayed out, including the second use of an ICCID.
    for key in [iccid(2), iccid(4), iccid(5), iccid(6), msisdn(7)] {
        let err = env.fail(&["lines", "show", &key]);
        assert!(
            err.contains("not found"),
            "{key} should not be stored:\n{err}"
        );
    }
}

#[test]
fn import_good_file_then_reimport_is_refused_row_by_row() {
    let env = TestEnv::new();
    env.load_example_policies();
    let rows: Vec<String> = std::iter::once(HEADER.to_string())
        .chain((11..=13).map(good_row))
        .collect();
    let file = write_csv(&env, "good.csv", &rows);

    let out = env.ok(&["import", "lines", &file, "--carrier", "EX-SAKURA"]);
    assert!(out.starts_with("imported 3 lines for EX-SAKURA"), "{out}");

    for n in 11..=13 {
        for key in [iccid(n), msisdn(n), msisdn_intl(n)] {
            let report = show_json(&env, &key, "2026-11-25T00:00:00Z");
            assert_eq!(report["iccid"], iccid(n), "looked up by {key}: {report}");
            assert_eq!(report["imsi"], imsi(n), "looked up by {key}: {report}");
            assert_eq!(
                report["msisdn"],
                msisdn_intl(n),
                "looked up by {key}: {report}"
            );
            assert_eq!(report["carrier"], "EX-SAKURA", "{report}");
            assert_eq!(report["plan"], "JP10-DV", "{report}");
            assert_eq!(report["state"], "in_stock", "looked up by {key}: {report}");
        }
        let text = env.ok(&["lines", "show", &msisdn(n), "--now", "2026-11-25T00:00:00Z"]);
        assert!(
            text.contains("in_stock") && text.contains(&iccid(n)),
            "{text}"
        );
    }

    let err = env.fail(&["import", "lines", &file, "--carrier", "EX-SAKURA"]);
    let mut expected = Vec::new();
    for line in 2..=4 {
        for column in ["iccid", "imsi", "msisdn"] {
            expected.push((line, column, "already stored"));
        }
    }
    assert_row_errors(&err, &expected);
    assert!(err.contains("nothing was imported"), "{err}");
}

#[test]
fn import_line_numbers_count_blank_lines() {
    let env = TestEnv::new();
    env.load_example_policies();
    let lines = [
        HEADER.to_string(),                                                  // 1
        good_row(1),                                                         // 2
        String::new(),                                                       // 3
        format!("{},{},{},JP10-DV", iccid_bad_check(2), imsi(2), msisdn(2)), // 4
        String::new(),                                                       // 5
        String::new(),                                                       // 6
        format!("{},31010{:010},{},JP10-DV", iccid(4), 4, msisdn(4)),        // 7
    ];
    let file = write_csv(&env, "blank.csv", &lines);
    let err = env.fail(&["import", "lines", &file, "--carrier", "EX-SAKURA"]);
    assert_row_errors(&err, &[(4, "iccid", "check digit"), (7, "imsi", "310")]);
}

#[test]
fn import_line_numbers_in_crlf_files() {
    let env = TestEnv::new();
    env.load_example_policies();
    let path = env.path("windows.csv");
    std::fs::write(&path, mixed_lines().join("\r\n") + "\r\n").expect("writing a CSV");
    let file = path.display().to_string();
    let err = env.fail(&["import", "lines", &file, "--carrier", "EX-SAKURA"]);
    assert_row_errors(&err, &MIXED_PROBLEMS);
}

// ---------------------------------------------------------------------------------------------
// 5. A line's life through the command line.
// ---------------------------------------------------------------------------------------------

fn register_args<'a>(line: &'a str, passport: &'a str, now: &'a str) -> Vec<&'a str> {
    vec![
        "lines",
        "register",
        line,
        "--name",
        "Alex Example",
        "--passport",
        passport,
        "--nationality",
        "GBR",
        "--birth-date",
        "1990-04-01",
        "--phone",
        "+44 7700 900123",
        "--email",
        "alex@example.com",
        "--language",
        "en",
        "--actor",
        "clerk-7",
        "--channel",
        "store",
        "--reason",
        "sold at the airport counter",
        "--now",
        now,
    ]
}

#[test]
fn line_lifecycle_from_registration_to_closing() {
    let env = TestEnv::new();
    env.load_example_policies();
    let file = write_csv(&env, "one.csv", &[HEADER.to_string(), good_row(21)]);
    env.ok(&["import", "lines", &file, "--carrier", "EX-SAKURA"]);
    let line = iccid(21);
    let number = msisdn_intl(21);
    let l = line.as_str();

    let out = env.ok(&register_args(l, "TR1234567", "2026-11-24T10:00:00Z"));
    assert_eq!(out, format!("{line} {number}: registered\n"));

    let out = env.ok(&[
        "lines",
        "activate",
        l,
        "--actor",
        "alex",
        "--channel",
        "web",
        "--reason",
        "first use",
        "--now",
        "2026-11-25T03:00:00Z",
    ]);
    assert_eq!(
        out,
        format!("{line} {number}: active, valid until 2026-12-04 23:59:59 JST\n")
    );

    // JP10-DV: 10 calendar days in JST, the activation day (25 November, 12:00 JST) being day 1.
    let report = show_json(&env, l, "2026-11-25T03:30:00Z");
    assert_eq!(report["state"], "active", "{report}");
    assert_eq!(
        report["valid_until_jst"], "2026-12-04 23:59:59 JST",
        "{report}"
    );
    assert_eq!(
        report["grace_until_jst"], "2026-12-07 23:59:59 JST",
        "{report}"
    );

    // Someone else cannot take the line over.
    let err = env.fail(&register_args(l, "XX9999999", "2026-11-25T03:40:00Z"));
    assert!(
        err.contains("transferred"),
        "a transfer should be refused as such:\n{err}"
    );

    env.ok(&[
        "lines",
        "top-up",
        l,
        "1000",
        "--actor",
        "agent-3",
        "--channel",
        "hotline",
        "--now",
        "2026-11-25T04:00:00Z",
    ]);
    env.ok(&[
        "lines",
        "use",
        l,
        "--data-mb",
        "100",
        "--actor",
        "network",
        "--channel",
        "api",
        "--now",
        "2026-11-25T05:00:00Z",
    ]);
    let report = show_json(&env, l, "2026-11-25T05:30:00Z");
    let balance = report["balance"].as_array().expect("balance is a list");
    let remaining = |unit: &str, source: &str| -> Vec<i64> {
        balance
            .iter()
            .filter(|b| b["unit"] == unit && b["source"] == source)
            .map(|b| b["remaining"].as_i64().expect("remaining is a number"))
            .collect()
    };
    assert_eq!(remaining("MB", "plan"), [10240 - 100], "{report}");
    assert_eq!(remaining("JPY", "top_up"), [1000], "{report}");

    env.ok(&[
        "lines",
        "addon",
        "bind",
        l,
        "ROAMING",
        "--actor",
        "ops-1",
        "--now",
        "2026-11-25T06:00:00Z",
    ]);
    let report = show_json(&env, l, "2026-11-25T06:10:00Z");
    let addons = report["addons"].as_array().expect("addons is a list");
    assert_eq!(addons.len(), 1, "{report}");
    assert_eq!(addons[0]["code"], "ROAMING", "{report}");
    assert!(addons[0]["unbound_at"].is_null(), "{report}");

    let err = env.fail(&[
        "lines",
        "addon",
        "bind",
        l,
        "ROAMING",
        "--actor",
        "ops-1",
        "--now",
        "2026-11-25T06:20:00Z",
    ]);
    assert!(
        err.contains("ROAMING") && err.contains("already bound"),
        "binding twice should say it is already bound:\n{err}"
    );

    env.ok(&[
        "lines",
        "addon",
        "unbind",
        l,
        "ROAMING",
        "--actor",
        "ops-1",
        "--now",
        "2026-11-25T07:00:00Z",
    ]);
    let report = show_json(&env, l, "2026-11-25T07:10:00Z");
    let addons = report["addons"].as_array().expect("addons is a list");
    assert_eq!(addons.len(), 1, "{report}");
    assert_eq!(addons[0]["unbound_at"], "2026-11-25T07:00:00Z", "{report}");

    // Valid through 23:59:59 JST on 4 December (14:59:59 UTC), expired after.
    assert_eq!(
        env.ok(&["jobs", "run-once", "--now", "2026-12-04T14:59:59Z"]),
        // Registration and activation notices (each one SMS and one e-mail), the provisioning,
        // and the reminder that validity ends within a day.
        "at 2026-12-04 23:59:59 JST: expired 0 lines, closed 0; completed 0 cancellations; delivered 10 side effects (0 to retry, 0 dead)\n"
    );
    assert_eq!(
        show_json(&env, l, "2026-12-04T14:59:59Z")["state"],
        "active"
    );
    assert_eq!(
        env.ok(&["jobs", "run-once", "--now", "2026-12-05T00:00:00Z"]),
        // Barred in grace, and the holder told (SMS and e-mail).
        "at 2026-12-05 09:00:00 JST: expired 1 lines, closed 0; completed 0 cancellations; delivered 4 side effects (0 to retry, 0 dead)\n"
    );
    assert_eq!(
        show_json(&env, l, "2026-12-05T00:00:00Z")["state"],
        "expired"
    );

    // EX-SAKURA keeps an expired line 3 days: closed from 2026-12-07T15:00:00Z.
    assert_eq!(
        env.ok(&["jobs", "run-once", "--now", "2026-12-07T14:59:59Z"]),
        "at 2026-12-07 23:59:59 JST: expired 0 lines, closed 0; completed 0 cancellations; delivered 0 side effects (0 to retry, 0 dead)\n"
    );
    assert_eq!(
        show_json(&env, l, "2026-12-07T14:59:59Z")["state"],
        "expired"
    );
    assert_eq!(
        env.ok(&["jobs", "run-once", "--now", "2026-12-07T15:00:00Z"]),
        // Closed: the subscriber is deleted from the network.
        "at 2026-12-08 00:00:00 JST: expired 0 lines, closed 1; completed 0 cancellations; delivered 1 side effects (0 to retry, 0 dead)\n"
    );
    let report = show_json(&env, l, "2026-12-08T00:00:00Z");
    assert_eq!(report["state"], "closed", "{report}");

    let err = env.fail(&["lines", "activate", l, "--now", "2026-12-08T01:00:00Z"]);
    assert!(
        err.contains("never be used again"),
        "reactivating a closed line:\n{err}"
    );
    let err = env.fail(&register_args(l, "XX9999999", "2026-12-08T01:00:00Z"));
    assert!(
        err.contains("transferred"),
        "registering a closed line to someone else:\n{err}"
    );
    assert_eq!(
        show_json(&env, l, "2026-12-08T01:00:00Z")["state"],
        "closed"
    );

    // The history names every step with who did it and through which channel.
    let history = report["history"].as_array().expect("history is a list");
    let steps: Vec<(&str, &str, &str, &str)> = history
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default(),
                e["actor_kind"].as_str().unwrap_or_default(),
                e["actor_id"].as_str().unwrap_or_default(),
                e["channel"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("register", "clerk", "clerk-7", "store"),
            ("activate", "customer", "alex", "web"),
            ("top_up", "agent", "agent-3", "hotline"),
            ("usage", "operator", "network", "api"),
            ("addon_bind", "operator", "ops-1", "operator"),
            ("addon_unbind", "operator", "ops-1", "operator"),
            ("expire", "system", "expiry", "system"),
            ("close", "system", "expiry", "system"),
        ],
        "{report}"
    );
    let text = env.ok(&["lines", "show", l, "--now", "2026-12-08T01:00:00Z"]);
    let expected_lines = [
        ("in_stock → registered", "clerk:clerk-7 via store"),
        ("registered → active", "customer:alex via web"),
        ("top_up", "agent:agent-3 via hotline"),
        ("usage", "operator:network via api"),
        ("addon_bind", "operator:ops-1 via operator"),
        ("addon_unbind", "operator:ops-1 via operator"),
        ("active → expired", "system:expiry via system"),
        ("expired → closed", "system:expiry via system"),
    ];
    let history_text: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "History")
        .skip(1)
        .collect();
    assert_eq!(history_text.len(), expected_lines.len(), "{text}");
    for (got, (step, who)) in history_text.iter().zip(expected_lines) {
        assert!(
            got.contains(step) && got.contains(who),
            "history line {got:?} should show {step:?} by {who:?}:\n{text}"
        );
    }
    assert!(text.contains("sold at the airport counter"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// 6. The demo server.
// ---------------------------------------------------------------------------------------------

/// Kills the child process when dropped, whether the test passed or not.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn get(agent: &ureq::Agent, url: &str) -> (u16, String) {
    get_as(agent, url, None)
}

fn get_as(agent: &ureq::Agent, url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = agent.get(url);
    if let Some(t) = token {
        request = request.header("Authorization", &format!("Bearer {t}"));
    }
    let mut response = request.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|e| panic!("reading the body of {url}: {e}"));
    (status, body)
}

#[test]
fn demo_serves_health_readiness_and_line_status() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("demo");
    let stderr_file = std::fs::File::create(dir.path().join("demo.stderr")).expect("stderr file");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("simdesk"))
        .arg("demo")
        .arg("--port")
        .arg("0")
        .arg("--data")
        .arg(&data)
        .current_dir(dir.path())
        .env_remove("SIMDESK_DB")
        .env_remove("SIMDESK_DATA_DIR")
        .env_remove("SIMDESK_CONFIG")
        .env_remove("SIMDESK_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr_file)
        .spawn()
        .expect("starting simdesk demo");
    let stdout = child.stdout.take().expect("piped stdout");
    let _guard = KillOnDrop(child);
    let demo_stderr =
        || std::fs::read_to_string(dir.path().join("demo.stderr")).unwrap_or_default();

    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut base = None;
    let mut example = None;
    let mut demo_token: Option<String> = None;
    let mut seen = Vec::new();
    while example.is_none() {
        let line = rx.recv_timeout(Duration::from_secs(300)).unwrap_or_else(|e| {
            panic!("simdesk demo did not announce itself ({e}); stdout so far: {seen:?}\nstderr:\n{}", demo_stderr())
        });
        if let Some(url) = line.strip_prefix("simdesk is serving on ") {
            base = Some(url.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("try: curl -H 'Authorization: Bearer ") {
            assert!(
                base.is_some(),
                "the example came before the address: {seen:?}"
            );
            let (token, url) = rest.split_once("' ").expect("token then URL");
            example = Some(url.trim().to_string());
            demo_token = Some(token.to_string());
        } else if line.starts_with("press Ctrl-C") {
            panic!(
                "simdesk demo printed no example line to try: {seen:?}\nstderr:\n{}",
                demo_stderr()
            );
        }
        seen.push(line);
    }
    let base = base.expect("the serving address");
    let example = example.expect("the example URL");
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert!(
        example.starts_with(&format!("{base}/api/v1/lines/")),
        "{example} is not on {base}"
    );

    let agent = http_agent();
    assert_eq!(
        get(&agent, &format!("{base}/healthz")),
        (200, "ok".to_string())
    );
    let (status, body) = get(&agent, &format!("{base}/readyz"));
    assert_eq!(status, 200, "readyz: {body}");

    let token = demo_token.expect("the demo's API token");
    let (status, body) = get(&agent, &example);
    assert_eq!(status, 401, "the API needs a token: {body}");
    let (status, body) = get_as(&agent, &example, Some(&token));
    assert_eq!(status, 200, "{example}: {body}");
    let line: Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{example} is not JSON ({e}): {body}"));
    assert_eq!(line["state"], "active", "{body}");

    let (status, body) = get(&agent, &format!("{base}/no/such/thing"));
    assert_eq!(status, 404, "{body}");
    let error: Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("the 404 body is not JSON ({e}): {body}"));
    for field in ["code", "reason", "message"] {
        assert!(
            error[field].as_str().is_some_and(|s| !s.is_empty()),
            "the 404 body lacks {field}: {body}"
        );
    }
}

#[test]
fn a_hotline_agent_cancels_and_the_receipt_verifies() {
    let env = TestEnv::new();
    env.load_example_policies();
    let file = write_csv(&env, "one.csv", &[HEADER.to_string(), good_row(41)]);
    env.ok(&["import", "lines", &file, "--carrier", "EX-SAKURA"]);
    let line = iccid(41);
    let l = line.as_str();
    env.ok(&register_args(l, "TR7654321", "2026-11-24T10:00:00Z"));
    env.ok(&["lines", "activate", l, "--now", "2026-11-24T11:00:00Z"]);
    env.ok(&["lines", "top-up", l, "700", "--now", "2026-11-24T12:00:00Z"]);
    env.ok(&[
        "lines",
        "addon",
        "bind",
        l,
        "ROAMING",
        "--now",
        "2026-11-24T12:30:00Z",
    ]);

    // The quote says where the line stands and never refuses for time left.
    let quote = env.ok(&["cancel", "quote", l, "--now", "2026-11-25T01:00:00Z"]);
    assert!(
        quote.contains("Note       The line is valid until"),
        "{quote}"
    );
    let quote: Value = serde_json::from_str(&env.ok(&[
        "cancel",
        "quote",
        l,
        "--json",
        "--now",
        "2026-11-25T01:00:00Z",
    ]))
    .unwrap();
    assert_eq!(quote["can_cancel"], true, "{quote}");
    assert_eq!(quote["effective_date_if_submitted_now"], "2026-11-26");
    assert_eq!(
        quote["refund"]["total"]["value"],
        1000 + 700 - 500,
        "{quote}"
    );
    assert_eq!(quote["bound_addons"][0]["code"], "ROAMING");

    // The caller's passport is checked against the registration.
    let wrong = env.fail(&[
        "cancel",
        "submit",
        l,
        "--channel",
        "hotline",
        "--actor",
        "agent-3",
        "--verify",
        "knowledge",
        "--name",
        "Alex Example",
        "--passport",
        "TR0000000",
        "--now",
        "2026-11-25T01:00:00Z",
    ]);
    assert!(wrong.contains("do not match the registration"), "{wrong}");
    let out = env.ok(&[
        "cancel",
        "submit",
        l,
        "--channel",
        "hotline",
        "--actor",
        "agent-3",
        "--verify",
        "knowledge",
        "--name",
        "example alex",
        "--passport",
        "tr 765 4321",
        "--reason",
        "caller flies home tonight",
        "--now",
        "2026-11-25T01:00:00Z",
    ]);
    assert!(
        out.contains("(approved)") && out.contains("Effective  2026-11-26"),
        "{out}"
    );
    let id: String = out.split_whitespace().nth(1).unwrap().to_string();
    // A second submission from another channel gets the same request.
    let again = env.ok(&[
        "cancel",
        "submit",
        l,
        "--channel",
        "store",
        "--actor",
        "clerk-1",
        "--now",
        "2026-11-25T02:00:00Z",
    ]);
    assert!(
        again.contains("already exists") && again.contains(&format!("Request    {id} ")),
        "{again}"
    );
    let shown = show_json(&env, l, "2026-11-25T02:00:00Z");
    assert_eq!(shown["state"], "pending_termination");

    // Not due before 00:00 JST on the effective date; done after.
    let early = env.ok(&["jobs", "run-once", "--now", "2026-11-25T14:59:59Z"]);
    assert!(early.contains("completed 0 cancellations"), "{early}");
    let done = env.ok(&["jobs", "run-once", "--now", "2026-11-25T15:00:00Z"]);
    assert!(done.contains("completed 1 cancellations"), "{done}");
    let request: Value = serde_json::from_str(&env.ok(&["cancel", "show", &id, "--json"])).unwrap();
    assert_eq!(request["state"], "completed");
    assert_eq!(request["line"]["state"], "terminated");
    let number = request["receipt"].as_str().unwrap().to_string();
    assert_eq!(number, "EX-SAKURA-2026-000001");

    let wallet = env.ok(&["wallet", "show", l]);
    assert!(wallet.contains("Balance    1,200 JPY"), "{wallet}");

    let receipt = env.ok(&["receipt", "show", &number, "--format", "json"]);
    let path = env.path("receipt.json");
    std::fs::write(&path, &receipt).unwrap();
    let verdict = env.ok(&["receipt", "verify", path.to_str().unwrap()]);
    assert!(
        verdict.starts_with("valid: receipt EX-SAKURA-2026-000001"),
        "{verdict}"
    );
    std::fs::write(&path, receipt.replacen("1200", "1300", 1)).unwrap();
    let tampered = env.fail(&["receipt", "verify", path.to_str().unwrap()]);
    assert!(
        tampered.contains("changed after it was signed"),
        "{tampered}"
    );
    let html = env.ok(&["receipt", "show", &number, "--format", "html"]);
    assert!(
        html.contains("ROAMING") && html.contains("1,200 JPY"),
        "{html}"
    );
    assert!(env
        .ok(&["keys", "show"])
        .starts_with("receipt verification key: ed25519:"));

    // After: nothing brings the line back.
    let reactivate = env.fail(&["lines", "activate", l]);
    assert!(reactivate.contains("never be used again"), "{reactivate}");
    let topup = env.fail(&["lines", "top-up", l, "500"]);
    assert!(topup.contains("terminated"), "{topup}");
    let again = env.fail(&["cancel", "submit", l, "--channel", "web"]);
    assert!(again.contains("nothing left to cancel"), "{again}");
}

// ---------------------------------------------------------------------------------------------
// 7. The keys that seal personal data.
// ---------------------------------------------------------------------------------------------

/// Registers line 31 again as its holder: answered only if the sealed passport number can be read.
fn register_again(env: &TestEnv, line: &str) -> String {
    env.fail(&register_args(line, "TR7654321", "2026-11-24T11:00:00Z"))
}

#[test]
fn master_key_rotation_keeps_personal_data_readable_and_a_wrong_key_is_refused() {
    let env = TestEnv::new();
    env.load_example_policies();
    let file = write_csv(&env, "one.csv", &[HEADER.to_string(), good_row(31)]);
    env.ok(&["import", "lines", &file, "--carrier", "EX-SAKURA"]);
    let line = iccid(31);
    env.ok(&register_args(&line, "TR7654321", "2026-11-24T10:00:00Z"));
    assert!(register_again(&env, &line).contains("already registered to this holder"));

    let keys = env.path("simdesk-data/keys");
    let old_key = std::fs::read_to_string(keys.join("master.key")).expect("the master key file");
    let out = env.ok(&["keys", "rotate"]);
    assert!(
        out.starts_with("moved 2 data keys from master key "),
        "{out}"
    );
    let new_key = std::fs::read_to_string(keys.join("master.key")).unwrap();
    assert_ne!(old_key, new_key);
    let retired: Vec<_> = std::fs::read_dir(&keys)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("master.key.retired-")
        })
        .collect();
    assert_eq!(retired.len(), 1, "the old key is kept beside the new one");
    assert_eq!(std::fs::read_to_string(retired[0].path()).unwrap(), old_key);

    // Read under the new key.
    assert!(register_again(&env, &line).contains("already registered to this holder"));
    // The old key, supplied through the variable, no longer opens anything: refused, named.
    let mut c = env.cmd(&["lines", "show", &line]);
    c.env("SIMDESK_MASTER_KEY", old_key.trim());
    let refused = expect_failure(c, &["lines", "show"]);
    assert!(
        refused.contains("sealed under master key") && refused.contains("SIMDESK_MASTER_KEY"),
        "{refused}"
    );
    // A master key file lost: no new key is made up silently for existing data.
    std::fs::remove_file(keys.join("master.key")).unwrap();
    let lost = env.fail(&["lines", "show", &line]);
    assert!(lost.contains("sealed under master key"), "{lost}");
    assert!(
        !keys.join("master.key").exists(),
        "a key made for nothing is removed again"
    );

    // With the key in the variable, rotation needs the new key's file and leaves it to deploy.
    std::fs::write(keys.join("master.key"), &new_key).unwrap();
    let mut c = env.cmd(&["keys", "rotate"]);
    c.env("SIMDESK_MASTER_KEY", new_key.trim());
    let needs_file = expect_failure(c, &["keys", "rotate"]);
    assert!(needs_file.contains("--new-key-file"), "{needs_file}");
    let next = env.path("next.key").display().to_string();
    let mut c = env.cmd(&["keys", "rotate", "--new-key-file", &next]);
    c.env("SIMDESK_MASTER_KEY", new_key.trim());
    let out = expect_ok(c, &["keys", "rotate"]);
    assert!(
        out.contains("moved 2 data keys") && out.contains("next.key"),
        "{out}"
    );
    let mut c = env.cmd(&register_args(&line, "TR7654321", "2026-11-24T12:00:00Z"));
    c.env(
        "SIMDESK_MASTER_KEY",
        std::fs::read_to_string(&next).unwrap().trim(),
    );
    let again = expect_failure(c, &["lines", "register"]);
    assert!(
        again.contains("already registered to this holder"),
        "{again}"
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Retention and erasure, with time moved forward by --now.
// ---------------------------------------------------------------------------------------------

fn holdings(env: &TestEnv, now: &str) -> Vec<Value> {
    let out = env.ok(&["privacy", "report", "--json", "--now", now]);
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn instant(v: &Value) -> jiff::Timestamp {
    v.as_str()
        .expect("an instant")
        .parse()
        .expect("an ISO instant")
}

fn iso(t: jiff::Timestamp) -> String {
    t.to_string()
}

/// Runs due work three times at `now`: the sweep queues the erasure notice, the next pass sends
/// it (SMS and e-mail), the one after that erases once it has left.
fn run_three_times(env: &TestEnv, now: &str) -> String {
    (0..3)
        .map(|_| env.ok(&["jobs", "run-once", "--now", now]))
        .collect()
}

#[test]
fn personal_data_goes_on_time_and_a_voice_lines_identity_record_is_held_exactly_three_years() {
    let env = TestEnv::new();
    env.load_example_policies();
    let data_only = format!("{},{},{},JP15-D", iccid(42), imsi(42), msisdn(42));
    let file = write_csv(
        &env,
        "two.csv",
        &[HEADER.to_string(), good_row(41), data_only],
    );
    env.ok(&["import", "lines", &file, "--carrier", "EX-SAKURA"]);
    let (voice, data) = (iccid(41), iccid(42));
    env.ok(&register_args(&voice, "TR4100041", "2026-11-24T10:00:00Z"));
    env.ok(&register_args(&data, "TR4200042", "2026-11-24T10:00:00Z"));
    for line in [&voice, &data] {
        env.ok(&["lines", "activate", line, "--now", "2026-11-25T03:00:00Z"]);
    }
    // While the lines are in service nothing is scheduled, and a request erases nothing.
    let before = holdings(&env, "2026-11-26T00:00:00Z");
    assert_eq!(before.len(), 2);
    assert!(
        before.iter().all(|h| h["personal_data"].is_null()),
        "{before:?}"
    );
    let refused = env.ok(&["privacy", "erase", &voice, "--now", "2026-11-26T00:00:00Z"]);
    assert!(
        refused.starts_with("nothing erased: 1 line(s)"),
        "{refused}"
    );

    // Both lines end (validity, then 3 days of grace) and are closed.
    env.ok(&["jobs", "run-once", "--now", "2026-12-31T00:00:00Z"]);
    let held = holdings(&env, "2026-12-31T00:00:00Z");
    let (v, d) = (&held[0], &held[1]);
    assert_eq!(v["lines_in_service"], 0, "{held:?}");
    let personal_at = instant(&v["personal_data"]);
    let voice_identity_at = instant(&v["identity_record"]);
    assert_eq!(v["legal_hold"], true);
    assert_eq!(
        d["legal_hold"], false,
        "a data-only line is outside the Act"
    );
    assert_eq!(instant(&d["identity_record"]), instant(&d["personal_data"]));
    // EX-SAKURA: personal data 30 days after the end; the voice line's record 3 calendar years
    // after it in Japan time.
    let ended = personal_at - jiff::SignedDuration::from_hours(24 * 30);
    let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
    assert_eq!(
        voice_identity_at,
        ended
            .to_zoned(tokyo)
            .checked_add(jiff::Span::new().years(3))
            .unwrap()
            .timestamp()
    );
    let table = env.ok(&["privacy", "report", "--now", "2026-12-31T00:00:00Z"]);
    assert!(table.contains("(legal hold)"), "{table}");

    // A second before the date: everything is still there.
    let just_before = iso(personal_at - jiff::SignedDuration::from_secs(1));
    let out = run_three_times(&env, &just_before);
    assert!(!out.contains("erased the personal data"), "{out}");
    assert!(holdings(&env, &just_before)
        .iter()
        .all(|h| h["personal_data_held"] == true));

    // From the date on: the holders are told, then their data goes.
    let out = run_three_times(&env, &iso(personal_at));
    assert!(out.contains("2 told their data is about to go"), "{out}");
    assert!(
        out.contains("erased the personal data of 2 customers and 1 identity records"),
        "{out}"
    );
    let after = holdings(&env, &iso(personal_at));
    assert_eq!(after[0]["personal_data_held"], false);
    assert_eq!(
        after[0]["identity_record_held"], true,
        "the voice line's record is held"
    );
    assert_eq!(after[1]["personal_data_held"], false);
    assert_eq!(
        after[1]["identity_record_held"], false,
        "the data-only line keeps nothing"
    );
    // The history says what went, by which rule, with no personal data.
    let shown = show_json(&env, &voice, &iso(personal_at));
    let history = shown["history"].to_string();
    assert!(history.contains("personal_data_erased"), "{history}");
    assert!(
        history.contains("identity record kept as the law requires"),
        "{history}"
    );
    assert!(!history.contains("TR4100041") && !history.contains("alex@example.com"));

    // The identity record: still held a second before its 3 years are over, gone at the end.
    let hold_end = iso(voice_identity_at - jiff::SignedDuration::from_secs(1));
    env.ok(&["jobs", "run-once", "--now", &hold_end]);
    assert_eq!(holdings(&env, &hold_end)[0]["identity_record_held"], true);
    let out = env.ok(&["jobs", "run-once", "--now", &iso(voice_identity_at)]);
    assert!(
        out.contains("and 1 identity records at the end of their legal hold"),
        "{out}"
    );
    assert_eq!(
        holdings(&env, &iso(voice_identity_at))[0]["identity_record_held"],
        false
    );
    let erased = env.ok(&[
        "privacy",
        "report",
        "--held",
        "--now",
        &iso(voice_identity_at),
    ]);
    assert_eq!(
        erased.lines().count(),
        1,
        "only the header is left: {erased}"
    );
    env.ok(&["audit", "verify"]);
}

#[test]
fn a_holder_who_asks_loses_everything_but_the_legally_held_record_at_once() {
    let env = TestEnv::new();
    env.load_example_policies();
    let file = write_csv(&env, "one.csv", &[HEADER.to_string(), good_row(51)]);
    env.ok(&["import", "lines", &file, "--carrier", "EX-SAKURA"]);
    let line = iccid(51);
    env.ok(&register_args(&line, "TR5100051", "2026-11-24T10:00:00Z"));
    env.ok(&["lines", "activate", &line, "--now", "2026-11-25T03:00:00Z"]);
    env.ok(&["jobs", "run-once", "--now", "2026-12-10T00:00:00Z"]);
    let held = holdings(&env, "2026-12-10T00:00:00Z");
    assert_eq!(held[0]["lines_in_service"], 0, "{held:?}");
    let out = env.ok(&[
        "privacy",
        "erase",
        &line,
        "--channel",
        "hotline",
        "--actor",
        "agent-3",
        "--reason",
        "caller asked to delete their data",
        "--now",
        "2026-12-10T00:00:00Z",
    ]);
    let until = instant(&held[0]["identity_record"])
        .to_zoned(jiff::tz::TimeZone::get("Asia/Tokyo").unwrap())
        .date()
        .to_string();
    assert!(
        out.contains("contact details, document images and codes erased"),
        "{out}"
    );
    assert!(
        out.contains(&format!("identity record kept until {until}")),
        "{out}"
    );
    let after = holdings(&env, "2026-12-10T00:00:00Z");
    assert_eq!(after[0]["personal_data_held"], false);
    assert_eq!(after[0]["identity_record_held"], true);
    let history = show_json(&env, &line, "2026-12-10T00:00:00Z")["history"].to_string();
    assert!(
        history.contains("caller asked to delete their data") && history.contains("agent-3"),
        "{history}"
    );
    // Asking again changes nothing and says the same.
    let again = env.ok(&["privacy", "erase", &line, "--now", "2026-12-11T00:00:00Z"]);
    assert!(
        again.contains(&format!("identity record kept until {until}")),
        "{again}"
    );
}
