//! Lines in stock and sold, for tests that need a traveller's line and not the story of it.

use jiff::Timestamp;
use simdesk::services::import::{import_lines, ImportRequest, Progress};
use simdesk::services::lines;
use simdesk::services::policies::PolicyBook;
use simdesk::store::Store;
use simdesk_domain::attribution::{Actor, Attribution, Channel};
use simdesk_domain::customer::RegistrationForm;
use simdesk_domain::ids::Iccid;

fn by(who: &str, at: Timestamp) -> Attribution {
    Attribution::new(Actor::operator(who), Channel::Operator, at, "test stock")
}

/// Line `n`'s ICCID.
pub fn iccid(n: u64) -> String {
    Iccid::from_body(&format!("89811001{n:010}"))
        .expect("a valid ICCID body")
        .to_string()
}

/// Line `n`'s number as dialled in Japan (`090` + eight digits).
pub fn national(n: u64) -> String {
    format!("090{n:08}")
}

/// Stocks EX-SAKURA JP10-DV lines numbered `numbers`.
pub async fn stock(store: &dyn Store, book: &PolicyBook, numbers: &[u64]) {
    stock_as(store, book, numbers, "JP10-DV,physical").await
}

/// Stocks EX-SAKURA ESIM-15 eSIM lines numbered `numbers`, their profiles waiting on the
/// SM-DP+ to be ordered.
pub async fn stock_esims(store: &dyn Store, book: &PolicyBook, numbers: &[u64]) {
    stock_as(store, book, numbers, "ESIM-15,esim").await
}

async fn stock_as(store: &dyn Store, book: &PolicyBook, numbers: &[u64], plan_and_kind: &str) {
    let mut csv = String::from("iccid,imsi,msisdn,plan,kind\n");
    for n in numbers {
        csv.push_str(&format!(
            "{},44010{n:010},{},{plan_and_kind}\n",
            iccid(*n),
            national(*n)
        ));
    }
    static NOTHING: fn(u64) = |_| {};
    import_lines(
        store,
        book,
        ImportRequest {
            carrier: &"EX-SAKURA".into(),
            source_name: "stock.csv",
            input: csv.as_bytes(),
            skip_invalid: false,
            by: by("inventory", Timestamp::now()),
        },
        Progress {
            checked: &NOTHING,
            written: &NOTHING,
        },
    )
    .await
    .expect("stock imports");
}

/// Registers line `n` to a traveller speaking `language` and activates it at `at`.
pub async fn sell(store: &dyn Store, book: &PolicyBook, n: u64, language: &str, at: Timestamp) {
    register(store, book, n, language, at).await;
    let key = lines::parse_line_key(&national(n)).expect("a line key");
    lines::activate(store, book, &key, by("clerk", at))
        .await
        .expect("activates");
}

/// Registers line `n` to a traveller speaking `language` at `at`.
pub async fn register(store: &dyn Store, book: &PolicyBook, n: u64, language: &str, at: Timestamp) {
    let key = lines::parse_line_key(&national(n)).expect("a line key");
    let form = RegistrationForm {
        full_name: "Traveller Example".into(),
        passport_number: format!("TK{n:07}"),
        nationality: "KR".into(),
        birth_date: "1990-04-01".into(),
        phone: "+82 10 1234 5678".into(),
        email: format!("t{n}@example.com"),
        language: language.into(),
    };
    lines::register(store, book, &key, &form, by("clerk", at))
        .await
        .expect("registers");
}
