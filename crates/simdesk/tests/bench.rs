//! `simdesk bench --quick` runs every scenario end to end and prints the table, on the backend
//! this test run uses (the figures at these sizes mean little; the full run is not part of CI).

mod support;

use std::process::Command;

#[test]
fn the_quick_bench_prints_every_scenario_with_its_ceiling_and_ratio() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_simdesk"));
    command.args(["bench", "--quick", "--read-seconds", "1"]);
    match std::env::var("SIMDESK_TEST_PG") {
        Ok(server) => command.args(["--backend", "postgres", "--pg", &server]),
        Err(_) => command.args(["--backend", "sqlite"]),
    };
    let out = command.output().expect("run simdesk bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let backend = if support::backend() == "postgres" {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with(backend)).collect();
    for scenario in [
        "import 10,000 lines from CSV",
        "line status over HTTP, 64 connections, 2,000 lines",
        "line status p99 at 20,000 lines vs 2,000",
        "resident memory of simdesk serve",
        "cancellation orders over the API",
        "completing 300 due cancellations",
        "expiry sweep: 1,000 of 10,000 lines",
    ] {
        let row = rows
            .iter()
            .find(|r| r.contains(scenario))
            .unwrap_or_else(|| panic!("no row for {scenario:?} in\n{stdout}"));
        // Every row names its target and says whether it was met.
        assert!(row.ends_with("met") || row.ends_with("MISSED"), "{row}");
        if !scenario.starts_with("resident memory") {
            let ratio: f64 = row.split(" | ").nth(4).unwrap().trim().parse().unwrap();
            assert!(ratio > 0.0, "{row}");
        }
    }
    assert!(stdout.lines().next().unwrap().starts_with("backend"));
}

#[test]
fn bench_sizes_that_cannot_work_are_refused_before_anything_runs() {
    let out = Command::new(env!("CARGO_BIN_EXE_simdesk"))
        .args([
            "bench",
            "--backend",
            "sqlite",
            "--expiry-lines",
            "10",
            "--expiring",
            "20",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--expiring 20 is more than --expiry-lines 10"),
        "{stderr}"
    );
}
