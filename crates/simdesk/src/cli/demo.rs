//! `simdesk demo`: a fresh demo data folder with the example carriers and about a thousand
//! fictional lines, served at once with a token and staff accounts to try things with.

use super::Cli;
use crate::app::App;
use crate::config::Settings;
use crate::services::demo;
use crate::services::lines::{self, parse_line_key};
use crate::web;
use anyhow::{bail, Context};
use simdesk_domain::ids::CarrierCode;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The demo's staff password: printed on start, fine for fictional data only.
const DEMO_STAFF_PASSWORD: &str = "demo-password-123";

pub(super) async fn run(cli: &Cli, port: u16, data: &Path) -> anyhow::Result<()> {
    let now = cli.now();
    let dir = prepare_demo_dir(data)?;
    let url = format!("sqlite://{}", dir.join("simdesk.db").display());
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let demo_settings = Settings {
        data_dir: dir.clone(),
        db: Some(url.clone()),
        // The portal's links point at the demo's own address.
        listen: addr,
        ..Settings::default()
    };
    let mut app = App::build(demo_settings)
        .await
        .with_context(|| format!("creating {url}"))?;
    let policies = dir.join("policies");
    crate::examples::write_to(&policies).context("writing the example policies")?;
    eprintln!("creating demo data in {} …", dir.display());
    let summary = demo::seed(&app.ctx, &policies, now).await?;
    eprintln!("{} lines:", summary.lines);
    for (carrier, state, n) in &summary.by_state {
        eprintln!("  {carrier:<10} {state:<20} {n}");
    }
    app.reload_policies().await?;
    // Demo travellers are fictional: their codes, SMS and e-mails land in a file to read.
    app.send_messages_to_file(&dir.join("messages-sent.txt"));
    // A token for the example line's carrier, so the API can be tried at once.
    let mut token = None;
    let mut demo_carrier = None;
    if let Some(line) = &summary.example_line {
        let line = lines::find_line(app.ctx.store.as_ref(), &parse_line_key(line)?).await?;
        let secret = web::api::new_token();
        app.ctx
            .store
            .insert_api_token(
                &line.carrier,
                "demo",
                &web::api::hash_token(&secret),
                "demo",
                now,
            )
            .await?;
        token = Some(secret);
        // Fictional staff for the console and the counter; the password is printed because it is a demo.
        for (name, role) in [("demo-agent", "agent"), ("demo-clerk", "clerk")] {
            crate::services::staff::add(
                app.ctx.store.as_ref(),
                name,
                DEMO_STAFF_PASSWORD,
                role,
                &line.carrier,
                now,
            )
            .await?;
        }
        demo_carrier = Some(line.carrier.clone());
    }
    let info = DemoInfo {
        dir: &dir,
        line: summary.example_line.clone(),
        token,
        carrier: demo_carrier,
    };
    super::serve::serve(app, addr, |local| info.describe(local)).await
}

fn prepare_demo_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    const MARKER: &str = ".simdesk-demo";
    if dir.exists() {
        let is_demo = dir.join(MARKER).exists();
        let empty = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !is_demo && !empty {
            bail!(
                "{} exists and is not a simdesk demo folder; pass another --data folder",
                dir.display()
            );
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(
        dir.join(MARKER),
        "created by `simdesk demo`; recreated on every run\n",
    )?;
    Ok(dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()))
}

/// What the demo prints so a newcomer can try things at once.
struct DemoInfo<'a> {
    dir: &'a Path,
    line: Option<String>,
    token: Option<String>,
    carrier: Option<CarrierCode>,
}

impl DemoInfo<'_> {
    fn describe(&self, local: SocketAddr) -> std::io::Result<()> {
        let db = self.dir.join("simdesk.db");
        out!(
            "demo data: {} (SQLite: {})",
            self.dir.display(),
            db.display()
        );
        out!("API description: http://{local}/openapi.json");
        out!(
            "self-service portal: http://{local}/ (the SMS and e-mails demo travellers are sent from now on, codes included, appear in {})",
            self.dir.join("messages-sent.txt").display()
        );
        if let Some(carrier) = &self.carrier {
            out!("staff: http://{local}/staff as demo-agent or demo-clerk, password {DEMO_STAFF_PASSWORD}");
            out!(
                "store: kiosk http://{local}/kiosk/{carrier}, board http://{local}/board/{carrier}"
            );
        }
        if let (Some(line), Some(token)) = (&self.line, &self.token) {
            out!(
                "try: curl -H 'Authorization: Bearer {token}' http://{local}/api/v1/lines/{}",
                line.replace('+', "%2B")
            );
            out!(
                " or: simdesk --db sqlite://{} --data-dir {} lines show {line}",
                db.display(),
                self.dir.display()
            );
        }
        Ok(())
    }
}
