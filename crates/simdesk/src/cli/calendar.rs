//! `simdesk calendar`: the Japanese business-day calendar, with a carrier's closures if asked.

use super::Cli;
use crate::services::policies::PolicyBook;
use clap::Subcommand;
use jiff::civil::Date;
use simdesk_domain::calendar::{self, BusinessCalendar};

#[derive(Subcommand)]
pub enum CalendarCommand {
    /// List a year's national holidays: YYYY-MM-DD<TAB>name
    Holidays {
        year: i16,
        /// Print English names instead of Japanese
        #[arg(long)]
        english: bool,
    },
    /// The date N Japanese business days after DATE
    AddBusinessDays {
        date: Date,
        days: u32,
        /// Also skip this carrier's closures (needs its policy loaded)
        #[arg(long)]
        carrier: Option<String>,
    },
}

pub(super) async fn run(cli: &Cli, cmd: &CalendarCommand) -> anyhow::Result<()> {
    match cmd {
        CalendarCommand::Holidays { year, english } => {
            let list = calendar::holidays(*year)?;
            for h in list {
                out!(
                    "{}\t{}",
                    h.date,
                    if *english { h.name_en } else { h.name_ja }
                );
            }
        }
        CalendarCommand::AddBusinessDays {
            date,
            days,
            carrier,
        } => {
            let cal = match carrier {
                None => BusinessCalendar::japan(),
                Some(code) => {
                    let store = cli.store().await?;
                    PolicyBook::load(store.as_ref())
                        .await?
                        .carrier(code)?
                        .calendar()
                }
            };
            out!("{}", cal.add_business_days(*date, *days)?);
        }
    }
    Ok(())
}
