//! `simdesk bench`: simdesk's throughput and latency beside the ceiling the same database and
//! machine reach in the same run, scenario by scenario, on SQLite and on PostgreSQL.

mod bare;
mod charging;
mod load;
mod scenarios;
mod seed;
mod usage;
mod world;

use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Import,
    Reads,
    Submissions,
    Completions,
    Expiry,
    Usage,
}

/// What to run and at which sizes.
#[derive(Debug, Clone)]
pub struct Options {
    pub backends: Vec<Backend>,
    pub scenarios: Vec<Scenario>,
    /// A PostgreSQL server the bench may create and drop databases on.
    pub pg_url: String,
    pub import_lines: u64,
    pub read_lines: u64,
    pub big_read_lines: u64,
    pub read_seconds: u64,
    pub connections: usize,
    pub submissions: u64,
    pub due: u64,
    pub expiry_lines: u64,
    pub expiring: u64,
    /// Usage records rated from one file, spread over `usage_lines` active lines.
    pub usage_records: u64,
    pub usage_lines: u64,
    /// Gy data sessions, one per active line, sending CCR-Updates for `gy_seconds`.
    pub gy_sessions: u64,
    /// Diameter connections the sessions share.
    pub gy_connections: usize,
    pub gy_seconds: u64,
}

impl Options {
    /// The sizes the targets are set for.
    pub fn full(backends: Vec<Backend>, pg_url: String) -> Options {
        Options {
            backends,
            scenarios: vec![
                Scenario::Import,
                Scenario::Reads,
                Scenario::Submissions,
                Scenario::Completions,
                Scenario::Expiry,
                Scenario::Usage,
            ],
            pg_url,
            import_lines: 1_000_000,
            read_lines: 100_000,
            big_read_lines: 10_000_000,
            read_seconds: 10,
            connections: 64,
            submissions: 10_000,
            due: 100_000,
            expiry_lines: 1_000_000,
            expiring: 100_000,
            usage_records: 1_000_000,
            usage_lines: 10_000,
            gy_sessions: 64,
            gy_connections: 8,
            gy_seconds: 10,
        }
    }

    /// Every scenario at a hundredth of the size or less: a check that the bench works.
    pub fn quick(mut self) -> Options {
        self.import_lines = 10_000;
        self.read_lines = 2_000;
        self.big_read_lines = 20_000;
        self.read_seconds = 2;
        self.submissions = 300;
        self.due = 300;
        self.expiry_lines = 10_000;
        self.expiring = 1_000;
        self.usage_records = 5_000;
        self.usage_lines = 200;
        self.gy_seconds = 2;
        self
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub backend: Backend,
    pub scenario: String,
    pub simdesk: String,
    pub ceiling: String,
    /// simdesk's figure over the ceiling's (higher is better); none where there is no ceiling
    /// and the figure itself is held to the target.
    pub ratio: Option<f64>,
    pub target: String,
    pub met: bool,
}

impl Row {
    fn new(
        backend: Backend,
        scenario: String,
        simdesk: String,
        ceiling: String,
        ratio: f64,
        target: f64,
    ) -> Row {
        Row {
            backend,
            scenario,
            simdesk,
            ceiling,
            ratio: Some(ratio),
            target: format!("≥ {target:.2}"),
            met: ratio >= target,
        }
    }

    /// A rate with no ceiling to compare it to, held to a fixed figure.
    fn at_least(
        backend: Backend,
        scenario: String,
        simdesk: String,
        rate: f64,
        target: f64,
        unit: &str,
    ) -> Row {
        Row {
            backend,
            scenario,
            simdesk,
            ceiling: "—".into(),
            ratio: None,
            target: format!("≥ {} {unit}", scenarios::thousands(target.round() as u64)),
            met: rate >= target,
        }
    }

    fn memory(backend: Backend, scenario: String, bytes: u64, limit: u64) -> Row {
        let mb = |b: u64| format!("{:.0} MB", b as f64 / (1024.0 * 1024.0));
        Row {
            backend,
            scenario,
            simdesk: mb(bytes),
            ceiling: "—".into(),
            ratio: None,
            target: format!("< {}", mb(limit)),
            met: bytes < limit,
        }
    }
}

/// Runs every chosen scenario on every chosen backend; `progress` hears each row as it is made.
pub async fn run(opts: &Options, progress: &dyn Fn(&Row)) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &backend in &opts.backends {
        for scenario in &opts.scenarios {
            let made = match scenario {
                Scenario::Import => scenarios::import(backend, opts).await,
                Scenario::Reads => scenarios::reads(backend, opts).await,
                Scenario::Submissions => scenarios::submissions(backend, opts).await,
                Scenario::Completions => scenarios::completions(backend, opts).await,
                Scenario::Expiry => scenarios::expiry(backend, opts).await,
                Scenario::Usage => usage::usage(backend, opts).await,
            }
            .map_err(|e| e.context(format!("{scenario:?} on {}", backend.as_str())))?;
            for row in made {
                progress(&row);
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

/// The table, one row per scenario and backend, columns aligned.
pub fn table(rows: &[Row]) -> String {
    let header = [
        "backend", "scenario", "simdesk", "ceiling", "ratio", "target", "",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.backend.as_str().to_string(),
                r.scenario.clone(),
                r.simdesk.clone(),
                r.ceiling.clone(),
                r.ratio
                    .map(|x| format!("{x:.2}"))
                    .unwrap_or_else(|| "—".into()),
                r.target.clone(),
                if r.met { "met" } else { "MISSED" }.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, row: &[&str]| {
        let mut text = String::new();
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                text.push_str(" | ");
            }
            text.push_str(c);
            text.push_str(&" ".repeat(w.saturating_sub(c.chars().count())));
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    line(&mut out, &header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let _ = writeln!(out, "{}", rule.join("-|-"));
    for row in &cells {
        let refs: Vec<&str> = row.iter().map(String::as_str).collect();
        line(&mut out, &refs);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lines_up_and_says_which_targets_were_missed() {
        let rows = vec![
            Row::new(
                Backend::Sqlite,
                "import".into(),
                "100/s".into(),
                "150/s".into(),
                0.67,
                0.5,
            ),
            Row::memory(
                Backend::Postgres,
                "memory".into(),
                200 * 1024 * 1024,
                150 * 1024 * 1024,
            ),
            Row::at_least(
                Backend::Sqlite,
                "ccr".into(),
                "4,200 CCR/s".into(),
                4200.0,
                5000.0,
                "CCR/s",
            ),
        ];
        let t = table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(lines[2].contains("0.67") && lines[2].ends_with("met"));
        assert!(lines[3].contains("200 MB") && lines[3].ends_with("MISSED"));
        assert!(lines[4].contains("≥ 5,000 CCR/s") && lines[4].ends_with("MISSED"));
        let bar = |l: &str| l.find(" | ").unwrap();
        assert_eq!(bar(lines[0]), bar(lines[2]));
    }
}
