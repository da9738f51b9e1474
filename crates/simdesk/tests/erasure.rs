//! Erasure by crypto-shredding, at the store: once the retention policy says so, a customer's
//! contact details can no longer be read or looked up, their document images and codes are gone,
//! and a voice line's identity record stays readable exactly until its 3 years are over.

mod support;

use jiff::{SignedDuration, Timestamp};
use simdesk::services::cancellation;
use simdesk::services::outbox::{self, Peers};
use simdesk::services::policies::{load_policies, PolicyBook};
use simdesk::services::privacy;
use simdesk::services::ServiceContext;
use simdesk::store::LineKey;
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use simdesk_domain::ids::CarrierCode;
use support::{fresh_db, policies_dir, stock};

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn clerk(id: &str, when: Timestamp, why: &str) -> Attribution {
    Attribution::new(
        Actor {
            kind: ActorKind::Clerk,
            id: id.into(),
        },
        Channel::Store,
        when,
        why,
    )
}

/// Sweeps and delivers until nothing more happens at `now` (the notice leaves, then data goes).
async fn settle(ctx: &ServiceContext, peers: &Peers, now: Timestamp) -> privacy::SweepReport {
    let mut total = privacy::SweepReport::default();
    for _ in 0..4 {
        outbox::deliver(ctx.store.as_ref(), peers, now)
            .await
            .unwrap();
        let r = privacy::sweep(ctx, now).await.unwrap();
        total.personal_data_erased += r.personal_data_erased;
        total.identity_records_erased += r.identity_records_erased;
        total.documents_erased += r.documents_erased;
        total.notices_queued += r.notices_queued;
        total.purged.codes += r.purged.codes;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_shreds_contact_data_documents_and_codes_and_holds_the_identity_record_three_years()
{
    let db = fresh_db().await;
    let store = db.store.clone();
    load_policies(store.as_ref(), &policies_dir(), at("2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    let book = PolicyBook::load(store.as_ref()).await.unwrap();
    stock::stock(store.as_ref(), &book, &[7]).await;
    let sold = at("2026-11-25T03:00:00Z");
    stock::sell(store.as_ref(), &book, 7, "ko", sold).await;
    let app = support::start_app(&db, support::AppOptions::new()).await;
    let (ctx, peers) = (app.ctx.clone(), app.peers.clone());
    let key = LineKey::Iccid(stock::iccid(7).parse().unwrap());
    let line = store.line(&key).await.unwrap().unwrap();
    let customer = line.holder.unwrap();

    // At the store: a document is uploaded by one clerk and approved by another.
    let asked = at("2026-11-26T01:00:00Z");
    let record = cancellation::submit(
        &ctx,
        &key,
        Channel::Store,
        None,
        clerk("clerk-1", asked, "leaving Japan"),
    )
    .await
    .unwrap();
    let id = record.request.request.id;
    let mut image = vec![0xFF, 0xD8, 0xFF, 0xE0];
    image.extend_from_slice(b"passport TK0000007");
    cancellation::upload_document(
        &ctx,
        id,
        image.clone(),
        clerk("clerk-1", asked, "passport photo"),
    )
    .await
    .unwrap();
    // A code sent for this line: kept while the send limits count it (an hour), then purged.
    store
        .insert_code(line.id, Some(id), "line", "0123abcd", asked)
        .await
        .unwrap();
    let doc = store.documents(id).await.unwrap()[0].id;
    assert_eq!(store.document_content(doc).await.unwrap().unwrap().2, image);
    let decided = asked + SignedDuration::from_mins(5);
    cancellation::review_document(
        &ctx,
        id,
        true,
        None,
        clerk("clerk-2", decided, "passport matches"),
    )
    .await
    .unwrap();
    // EX-SAKURA keeps document images 0 days after the decision: gone at the next sweep, while
    // the review's outcome stays.
    let r = settle(&ctx, &peers, decided).await;
    assert_eq!((r.documents_erased, r.purged.codes), (1, 0));
    assert!(store.document_content(doc).await.unwrap().is_none());
    assert_eq!(store.documents(id).await.unwrap()[0].review, "approved");

    // The cancellation takes effect; the line has ended.
    cancellation::complete_due(&ctx, at("2026-12-01T00:00:00Z"))
        .await
        .unwrap();
    let ended = store.line(&key).await.unwrap().unwrap().ended_at.unwrap();
    let personal_at = ended + SignedDuration::from_hours(24 * 30);
    let email = "t7@example.com";

    // The day before: everything readable and found.
    let r = settle(&ctx, &peers, personal_at - SignedDuration::from_secs(1)).await;
    assert_eq!((r.personal_data_erased, r.purged.codes), (0, 1));
    assert!(store
        .customer(customer)
        .await
        .unwrap()
        .unwrap()
        .personal
        .is_some());
    assert_eq!(
        store.customer_by_email(email).await.unwrap(),
        Some(customer)
    );

    // On the date: the holder is told first, then the contact part is shredded.
    let r = settle(&ctx, &peers, personal_at).await;
    assert_eq!((r.notices_queued, r.personal_data_erased), (1, 1));
    assert_eq!(
        r.identity_records_erased, 0,
        "a voice line's record is held"
    );
    let row = store.customer(customer).await.unwrap().unwrap();
    assert!(row.personal.is_none());
    assert_eq!(row.contact_erased_at, Some(personal_at));
    assert_eq!(store.customer_by_email(email).await.unwrap(), None);
    let record = store.identity_record(customer).await.unwrap().unwrap();
    assert_eq!(record.passport_number, "TK0000007");
    assert_eq!(
        store
            .lines_by_holder_name(&CarrierCode::new("EX-SAKURA"), "traveller", 10)
            .await
            .unwrap()
            .len(),
        1,
        "the identity record can still be found for the authorities"
    );
    // Exactly one notice went out, in the holder's language, saying until when the record stays.
    let notices: Vec<_> = store
        .outbox_entries(None, None, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.idempotency_key.starts_with("notify:data_erased:") && e.kind != "notify")
        .collect();
    assert_eq!(notices.len(), 2, "one SMS and one e-mail: {notices:?}");
    assert!(notices.iter().all(|n| n.state == "done"));

    // Exactly 3 years (Japan time) after the end: held a second before, shredded at it.
    let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
    let hold_end = ended
        .to_zoned(tokyo)
        .checked_add(jiff::Span::new().years(3))
        .unwrap()
        .timestamp();
    let r = settle(&ctx, &peers, hold_end - SignedDuration::from_secs(1)).await;
    assert_eq!(r.identity_records_erased, 0);
    assert!(store.identity_record(customer).await.unwrap().is_some());
    let r = settle(&ctx, &peers, hold_end).await;
    assert_eq!(r.identity_records_erased, 1);
    assert!(store.identity_record(customer).await.unwrap().is_none());
    assert!(store
        .lines_by_holder_name(&CarrierCode::new("EX-SAKURA"), "traveller", 10)
        .await
        .unwrap()
        .is_empty());
    let row = store.customer(customer).await.unwrap().unwrap();
    assert_eq!(row.identity_erased_at, Some(hold_end));
    // What must stay stays: the line, its history (with the erasures), the ledger.
    let history = store.events(line.id).await.unwrap();
    let erasures: Vec<_> = history
        .iter()
        .filter(|e| e.kind == "personal_data_erased")
        .collect();
    assert_eq!(erasures.len(), 2, "{history:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_left_unreviewed_on_a_withdrawn_request_is_erased_too() {
    let db = fresh_db().await;
    let store = db.store.clone();
    load_policies(store.as_ref(), &policies_dir(), at("2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    let book = PolicyBook::load(store.as_ref()).await.unwrap();
    stock::stock(store.as_ref(), &book, &[8]).await;
    stock::sell(store.as_ref(), &book, 8, "en", at("2026-11-25T03:00:00Z")).await;
    let ctx = support::start_app(&db, support::AppOptions::new())
        .await
        .ctx;
    let key = LineKey::Iccid(stock::iccid(8).parse().unwrap());
    let asked = at("2026-11-26T01:00:00Z");
    let id = cancellation::submit(
        &ctx,
        &key,
        Channel::Store,
        None,
        clerk("c", asked, "walk-in"),
    )
    .await
    .unwrap()
    .request
    .request
    .id;
    let image = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3].to_vec();
    cancellation::upload_document(&ctx, id, image, clerk("c", asked, "scan"))
        .await
        .unwrap();
    let doc = store.documents(id).await.unwrap()[0].id;
    // Pending review on an open request: kept, it is still needed.
    let r = privacy::sweep(&ctx, asked + SignedDuration::from_hours(1))
        .await
        .unwrap();
    assert_eq!(r.documents_erased, 0);
    assert!(store.document_content(doc).await.unwrap().is_some());
    // The traveller changes their mind: nobody will review it now, so it goes.
    let later = asked + SignedDuration::from_hours(2);
    cancellation::withdraw(&ctx, id, clerk("c", later, "staying longer"))
        .await
        .unwrap();
    let r = privacy::sweep(&ctx, later).await.unwrap();
    assert_eq!(r.documents_erased, 1);
    assert!(store.document_content(doc).await.unwrap().is_none());
    assert_eq!(store.documents(id).await.unwrap()[0].review, "pending");
}
