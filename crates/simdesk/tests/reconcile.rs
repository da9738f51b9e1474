//! `network reconcile` against a real OsmoHLR: what the HLR lost, gained or let through behind
//! simdesk's back is found and put right, and nothing is touched while calls still wait.

mod support;

use jiff::{SignedDuration, Timestamp};
use simdesk::adapters::hlr::HlrNetwork;
use simdesk::adapters::network::Network;
use simdesk::services::outbox::{self, Peers};
use simdesk::services::policies::{load_policies, PolicyBook};
use simdesk::services::reconcile::{self, Expected, Found, Scope};
use simdesk::services::{jobs, lines};
use std::sync::Arc;
use std::time::Duration;
use support::peers::hlr::Hlr;
use support::{fresh_db, policies_dir};

fn listing() -> Scope<'static> {
    Scope::default()
}

fn imsi(n: u64) -> String {
    format!("44010{n:010}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_hlr_lost_or_let_through_is_put_right() {
    let hlr = Hlr::start();
    let db = fresh_db().await;
    let s = db.store.as_ref();
    load_policies(s, &policies_dir(), Timestamp::now())
        .await
        .unwrap();
    let book = PolicyBook::load(s).await.unwrap();
    support::stock::stock(s, &book, &[1, 2, 3, 4]).await;
    let sold = Timestamp::now();
    for n in [1, 2, 3] {
        support::stock::sell(s, &book, n, "en", sold).await;
    }
    let network = Arc::new(HlrNetwork::new(hlr.ctrl(), Duration::from_secs(2)));
    let mut peers = Peers::recording(db.store.clone(), "https://sim.example.jp");
    peers.network = network.clone();
    outbox::deliver(s, &peers, sold).await.unwrap();

    // Line 3 expires: barred in grace.
    let line3 = lines::find_line(s, &lines::parse_line_key("09000000003").unwrap())
        .await
        .unwrap();
    let after = line3.validity_ends_at.unwrap() + SignedDuration::from_secs(1);
    jobs::run_once(s, after).await.unwrap();
    outbox::deliver(s, &peers, after).await.unwrap();
    let clean = reconcile::reconcile(s, &book, &peers, listing(), after)
        .await
        .unwrap();
    assert!(clean.disagreements.is_empty(), "{clean:?}");
    assert_eq!(clean.checked, 3, "lines in stock are not checked");

    // Behind simdesk's back: line 1's subscriber is deleted, line 3 (expired) gets service
    // back, and line 4 — never sold — appears.
    network.deprovision("manual", &imsi(1), "").await.unwrap();
    network
        .unbar("manual", &imsi(3), "+819000000003")
        .await
        .unwrap();
    network
        .provision("manual", &imsi(4), "+819000000004")
        .await
        .unwrap();

    let listed = reconcile::reconcile(s, &book, &peers, listing(), after)
        .await
        .unwrap();
    let by_imsi = |i: &str| {
        listed
            .disagreements
            .iter()
            .find(|d| d.imsi == i)
            .cloned()
            .unwrap_or_else(|| panic!("{i} not listed: {listed:?}"))
    };
    let one = by_imsi(&imsi(1));
    assert_eq!(
        (one.expected, one.found.clone()),
        (Expected::Barred, Found::Absent),
        "line 1 expired too"
    );
    let three = by_imsi(&imsi(3));
    assert_eq!(three.expected, Expected::Barred);
    assert_eq!(three.fix, ["bar"]);
    // Lines in stock are checked only when asked.
    assert_eq!(listed.disagreements.len(), 2, "{listed:?}");
    let with_stock = reconcile::reconcile(
        s,
        &book,
        &peers,
        Scope {
            include_stock: true,
            ..listing()
        },
        after,
    )
    .await
    .unwrap();
    assert_eq!(with_stock.checked, 4);
    let four = with_stock
        .disagreements
        .iter()
        .find(|d| d.imsi == imsi(4))
        .expect("the stock line on the network is listed");
    assert_eq!(
        (four.expected, four.fix.clone()),
        (Expected::Absent, vec!["deprovision".to_string()])
    );
    // A dry run changes nothing.
    assert!(hlr
        .get(&format!("subscriber.by-imsi-{}.info", imsi(1)))
        .is_none());

    let fixed = reconcile::reconcile(
        s,
        &book,
        &peers,
        Scope {
            apply: true,
            include_stock: true,
            carrier: None,
        },
        after,
    )
    .await
    .unwrap();
    assert_eq!(fixed.left_in_outbox, 0, "{fixed:?}");
    let info1 = hlr
        .get(&format!("subscriber.by-imsi-{}.info", imsi(1)))
        .expect("line 1 is back in the HLR");
    assert!(info1.contains("msisdn\t819000000001"), "{info1}");
    assert!(
        info1.contains("nam_cs\t0") && info1.contains("nam_ps\t0"),
        "barred: {info1}"
    );
    let info3 = hlr
        .get(&format!("subscriber.by-imsi-{}.info", imsi(3)))
        .unwrap();
    assert!(
        info3.contains("nam_cs\t0") && info3.contains("nam_ps\t0"),
        "{info3}"
    );
    assert!(
        hlr.get(&format!("subscriber.by-imsi-{}.info", imsi(4)))
            .is_none(),
        "the stock line is off the network"
    );
    let again = reconcile::reconcile(
        s,
        &book,
        &peers,
        Scope {
            include_stock: true,
            ..listing()
        },
        after,
    )
    .await
    .unwrap();
    assert!(again.disagreements.is_empty(), "{again:?}");
}

/// Data runs out on a line: the outbox bars data alone on the real HLR (ps-enabled 0, voice and
/// SMS on), reconciliation agrees with it, and a top-up that buys data lets it flow again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_run_out_is_barred_on_the_hlr_and_a_top_up_lifts_it() {
    use simdesk::services::usage::{self, UsageRecord};
    use simdesk::store::LineKey;
    use simdesk_domain::attribution::{Actor, Attribution, Channel};
    use simdesk_domain::policy::Service;
    let hlr = Hlr::start();
    let db = fresh_db().await;
    let s = db.store.as_ref();
    load_policies(s, &policies_dir(), Timestamp::now())
        .await
        .unwrap();
    let book = PolicyBook::load(s).await.unwrap();
    support::stock::stock(s, &book, &[1]).await;
    let sold = Timestamp::now() - SignedDuration::from_hours(1);
    support::stock::sell(s, &book, 1, "en", sold).await;
    let network = Arc::new(HlrNetwork::new(hlr.ctrl(), Duration::from_secs(2)));
    let mut peers = Peers::recording(db.store.clone(), "https://sim.example.jp");
    peers.network = network.clone();
    let now = Timestamp::now();
    outbox::deliver(s, &peers, now).await.unwrap();
    let flags = || {
        let var = |f: &str| {
            hlr.get(&format!("subscriber.by-imsi-{}.{f}", imsi(1)))
                .unwrap()
        };
        (var("ps-enabled"), var("cs-enabled"))
    };
    assert_eq!(flags(), ("1".to_string(), "1".to_string()));

    // All of JP10-DV's 10,240 MB and the 1,000 JPY that buy 50 MB more, used.
    let key = LineKey::Msisdn(support::stock::national(1).parse().unwrap());
    let by = Attribution::system("usage file", now, "the host network's usage file");
    let record = UsageRecord {
        record_id: "run-out".into(),
        line: key.clone(),
        service: Service::Data,
        started_at: now - SignedDuration::from_mins(30),
        ended_at: None,
        volume: 10_290 * 1024 * 1024,
        network: None,
        rating_group: None,
    };
    usage::count(s, &book, &record, "cdr", &by).await.unwrap();
    outbox::deliver(s, &peers, now).await.unwrap();
    assert_eq!(flags(), ("0".to_string(), "1".to_string()));
    let agreed = reconcile::reconcile(s, &book, &peers, listing(), now)
        .await
        .unwrap();
    assert!(agreed.disagreements.is_empty(), "{agreed:?}");

    // Behind simdesk's back data comes on again: reconciliation bars it again, data alone.
    network.unbar_data("manual", &imsi(1), "").await.unwrap();
    let found = reconcile::reconcile(s, &book, &peers, listing(), now)
        .await
        .unwrap();
    assert_eq!(found.disagreements.len(), 1, "{found:?}");
    assert_eq!(found.disagreements[0].expected, Expected::DataBarred);
    assert_eq!(found.disagreements[0].fix, ["bar_data"]);

    // A top-up at the counter buys data again.
    let clerk = Attribution::new(
        Actor::operator("clerk-1"),
        Channel::Store,
        now,
        "top-up at the counter",
    );
    lines::top_up(s, &book, &key, "1000", clerk).await.unwrap();
    outbox::deliver(s, &peers, now).await.unwrap();
    assert_eq!(flags(), ("1".to_string(), "1".to_string()));
    let clean = reconcile::reconcile(s, &book, &peers, listing(), now)
        .await
        .unwrap();
    assert!(clean.disagreements.is_empty(), "{clean:?}");
}
