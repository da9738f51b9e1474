//! Online charging end to end: the app with `[gy]` set answers a gateway's CCRs over real TCP on
//! 127.0.0.1 from the line's buckets — grants reserved so two sessions never share units, used
//! units counted once even when a request is repeated, what was not used returned at CCR-T, the
//! final grant marked, silent sessions' reservations released by due work, and lines that may
//! not use data refused. A fresh database (SQLite, or PostgreSQL when SIMDESK_TEST_PG is set).

mod support;

use diameter::avp::Avp;
use jiff::Timestamp;
use simdesk::gy::{avp, GySettings};
use simdesk::services::policies::{load_policies, PolicyBook};
use simdesk::store::LineKey;
use simdesk_domain::balance::BucketUnit;
use support::diameter::*;
use support::stock::{national, sell, stock};
use support::{fresh_db, policies_dir, AppOptions};

const MB: u64 = 1024 * 1024;

/// Line 1 and 2 of EX-SAKURA's JP10-DV (10,240 MB, 1,000 JPY, money pays 20 JPY a megabyte once
/// the allowance is gone) sold and active, line 3 in stock; the app's Gy server on a free port.
async fn world() -> (support::TestApp, std::net::SocketAddr) {
    world_with(AppOptions::new(), |_| {}).await
}

async fn world_with(
    options: AppOptions,
    gy_settings: impl FnOnce(&mut GySettings),
) -> (support::TestApp, std::net::SocketAddr) {
    let db = fresh_db().await;
    load_policies(db.store.as_ref(), &policies_dir(), Timestamp::now())
        .await
        .unwrap();
    let book = PolicyBook::load(db.store.as_ref()).await.unwrap();
    stock(db.store.as_ref(), &book, &[1, 2, 3]).await;
    for n in [1, 2] {
        sell(
            db.store.as_ref(),
            &book,
            n,
            "en",
            Timestamp::now() - jiff::SignedDuration::from_hours(1),
        )
        .await;
    }
    let gy = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut settings = GySettings::new(gy, "ocs.simdesk.test", "simdesk.test");
    gy_settings(&mut settings);
    let app = support::spawn_app_on(db, options.settings(|s| s.gy = Some(settings))).await;
    (app, gy)
}

/// The gateway, connected and past the capabilities exchange.
async fn gateway(addr: std::net::SocketAddr) -> Peer {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Peer::open(addr).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the Gy server did not listen on {addr}");
}

/// Line `n`'s number as a gateway sends it: E.164 without the `+`.
fn e164(n: u64) -> String {
    format!("81{}", &national(n)[1..])
}

fn request(
    session: &str,
    kind: i32,
    number: u32,
    line: u64,
    mscc: Avp,
) -> diameter::DiameterMessage {
    let mut avps = ccr_head(session, kind, number);
    avps.push(msisdn(&e164(line)));
    avps.push(mscc);
    ccr(number + 1, avps)
}

/// Result-Code, granted octets and whether Final-Unit-Indication is set, of the first MSCC.
fn grant(answer: &diameter::DiameterMessage) -> (Option<u32>, Option<u64>, bool) {
    let mscc = simdesk::gy::wire::find(answer.get_avps(), avp::MULTIPLE_SERVICES_CREDIT_CONTROL)
        .expect("an MSCC in the answer");
    let inside = inner(mscc);
    let code = simdesk::gy::wire::find(inside, avp::RESULT_CODE).and_then(Avp::get_unsigned32);
    let octets = simdesk::gy::wire::find(inside, avp::GRANTED_SERVICE_UNIT)
        .and_then(|g| simdesk::gy::wire::find(inner(g), avp::CC_TOTAL_OCTETS))
        .and_then(Avp::get_unsigned64);
    let last = simdesk::gy::wire::find(inside, avp::FINAL_UNIT_INDICATION).is_some();
    (code, octets, last)
}

async fn left(app: &support::TestApp, n: u64) -> (i64, i64) {
    let line = app
        .store
        .line(&LineKey::Msisdn(national(n).parse().unwrap()))
        .await
        .unwrap()
        .unwrap();
    let buckets = app.store.buckets(line.id).await.unwrap();
    let of = |unit: BucketUnit| {
        buckets
            .iter()
            .filter(|b| b.unit == unit)
            .map(|b| b.remaining)
            .sum()
    };
    (
        of(BucketUnit::Megabytes),
        of(BucketUnit::Money(simdesk_domain::money::Currency::Jpy)),
    )
}

#[tokio::test]
async fn a_data_session_is_granted_counted_once_and_ended() {
    let (app, gy) = world().await;
    let mut gw = gateway(gy).await;
    let s = "pgw.test;1;line1";
    let a = gw.ask(request(s, 1, 0, 1, mscc(10, Some(MB), None))).await;
    assert_eq!(result_code(&a), Some(2001));
    assert_eq!(grant(&a), (Some(2001), Some(MB), false));
    // Five megabytes used, more asked for: counted against the plan's allowance.
    let update = || request(s, 2, 1, 1, mscc(10, Some(MB), Some(5 * MB)));
    let a = gw.ask(update()).await;
    assert_eq!(grant(&a).0, Some(2001));
    assert_eq!(left(&app, 1).await, (10_235, 1_000));
    // The gateway lost the answer and sends the same request again: answered the same, not
    // counted twice.
    let again = gw.ask(update()).await;
    assert_eq!(grant(&again), grant(&a));
    assert_eq!(left(&app, 1).await, (10_235, 1_000));
    // The session ends with one more megabyte used; nothing more is granted.
    let mut last = ccr_head(s, 3, 2);
    last.push(msisdn(&e164(1)));
    last.push(mscc(10, None, Some(MB)));
    let a = gw.ask(ccr(3, last)).await;
    assert_eq!(result_code(&a), Some(2001));
    assert_eq!(left(&app, 1).await, (10_234, 1_000));
}

#[tokio::test]
async fn the_last_units_carry_the_final_unit_indication() {
    let (app, gy) = world().await;
    let mut gw = gateway(gy).await;
    let s = "pgw.test;2;line2";
    // All of the allowance and 45 MB from money (900 JPY) are used: 100 JPY buys 5 MB more.
    let a = gw
        .ask(request(
            s,
            1,
            0,
            2,
            mscc(10, Some(10 * MB), Some((10_240 + 45) * MB)),
        ))
        .await;
    assert_eq!(left(&app, 2).await, (0, 100));
    assert_eq!(grant(&a), (Some(2001), Some(5 * MB), true));
    // Used up: nothing more to grant.
    let a = gw
        .ask(request(s, 2, 1, 2, mscc(10, Some(10 * MB), Some(5 * MB))))
        .await;
    assert_eq!(left(&app, 2).await, (0, 0));
    assert_eq!(grant(&a), (Some(4012), None, false));
}

#[tokio::test]
async fn lines_that_may_not_use_data_are_refused() {
    let (_app, gy) = world().await;
    let mut gw = gateway(gy).await;
    // Line 3 is still in stock: never activated, no service.
    let a = gw
        .ask(request("pgw.test;3", 1, 0, 3, mscc(10, Some(MB), None)))
        .await;
    assert_eq!(grant(&a).0, Some(4010));
    // A number no line has.
    let mut avps = ccr_head("pgw.test;4", 1, 0);
    avps.push(msisdn("819099999999"));
    let a = gw.ask(ccr(9, avps)).await;
    assert_eq!(result_code(&a), Some(5030));
}

/// Line 1 left with 100 JPY: all of the allowance and 45 MB of money used, so 5 MB remain.
async fn nearly_used_up(gw: &mut Peer, session: &str) -> diameter::DiameterMessage {
    gw.ask(request(
        session,
        1,
        0,
        1,
        mscc(10, Some(10 * MB), Some((10_240 + 45) * MB)),
    ))
    .await
}

#[tokio::test]
async fn a_grant_is_held_for_its_session_and_what_was_not_used_comes_back_at_the_end() {
    let (app, gy) = world().await;
    let mut gw = gateway(gy).await;
    // The phone's first session is granted the last 5 MB, marked final.
    let a = nearly_used_up(&mut gw, "pgw.test;10;a").await;
    assert_eq!(grant(&a), (Some(2001), Some(5 * MB), true));
    assert_eq!(left(&app, 1).await, (0, 100));
    // A second session of the same line meanwhile: the 5 MB are held, nothing is left for it.
    let b = gw
        .ask(request("pgw.test;10;b", 1, 0, 1, mscc(10, Some(MB), None)))
        .await;
    assert_eq!(grant(&b), (Some(4012), None, false));
    // The first session ends having used 2 MB: 40 JPY spent, the other 3 MB back on the line.
    let mut end = ccr_head("pgw.test;10;a", 3, 1);
    end.push(msisdn(&e164(1)));
    end.push(mscc(10, None, Some(2 * MB)));
    assert_eq!(result_code(&gw.ask(ccr(20, end)).await), Some(2001));
    assert_eq!(left(&app, 1).await, (0, 60));
    // Now the second session gets them, and they are the last.
    let b = gw
        .ask(request(
            "pgw.test;10;b",
            2,
            1,
            1,
            mscc(10, Some(10 * MB), None),
        ))
        .await;
    assert_eq!(grant(&b), (Some(2001), Some(3 * MB), true));
}

#[tokio::test]
async fn a_silent_session_loses_its_grant_when_its_validity_ends() {
    let clock = simdesk::clock::Clock::fixed(Timestamp::now());
    let options = AppOptions::new()
        .clock(&clock)
        .due_work()
        .settings(|s| s.jobs_every_secs = 1);
    let (app, gy) = world_with(options, |g| g.validity_secs = 60).await;
    let mut gw = gateway(gy).await;
    let a = nearly_used_up(&mut gw, "pgw.test;11;a").await;
    assert_eq!(grant(&a), (Some(2001), Some(5 * MB), true));
    let b = gw
        .ask(request("pgw.test;11;b", 1, 0, 1, mscc(10, Some(MB), None)))
        .await;
    assert_eq!(grant(&b).0, Some(4012));
    // The first session says nothing for longer than its grant's validity: due work releases
    // what it held, and the other session is granted it.
    clock.advance(jiff::SignedDuration::from_secs(61));
    let mut number = 1;
    let granted = loop {
        let b = gw
            .ask(request(
                "pgw.test;11;b",
                2,
                number,
                1,
                mscc(10, Some(MB), None),
            ))
            .await;
        if grant(&b).0 == Some(2001) || number > 100 {
            break grant(&b);
        }
        number += 1;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(granted, (Some(2001), Some(MB), false));
    // And due work has dropped the silent session's reservation from the store.
    let mut reaped = false;
    for _ in 0..100 {
        if app
            .store
            .credit_reservation("pgw.test;11;a", "10")
            .await
            .unwrap()
            .is_none()
        {
            reaped = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(reaped, "the silent session's reservation was released");
    // Nothing was spent by the release: the line still holds its 100 JPY.
    assert_eq!(left(&app, 1).await, (0, 100));
}

#[tokio::test]
async fn a_line_cancelled_is_refused_while_pending_and_once_terminated() {
    use simdesk::services::cancellation::{self, Knowledge};
    use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
    let (app, gy) = world().await;
    let mut gw = gateway(gy).await;
    let a = gw
        .ask(request("pgw.test;12", 1, 0, 1, mscc(10, Some(MB), None)))
        .await;
    assert_eq!(grant(&a).0, Some(2001));
    let now = Timestamp::now();
    let by = Attribution::new(
        Actor {
            kind: ActorKind::Agent,
            id: "agent-1".into(),
        },
        Channel::Hotline,
        now,
        "caller asked to cancel",
    );
    let key = LineKey::Msisdn(national(1).parse().unwrap());
    let knows = Knowledge {
        name: "Traveller Example".into(),
        passport: "TK0000001".into(),
    };
    cancellation::submit(&app.ctx, &key, Channel::Hotline, Some(knows), by)
        .await
        .unwrap();
    // Approved and waiting for its effective date: no more service.
    let a = gw
        .ask(request(
            "pgw.test;12",
            2,
            1,
            1,
            mscc(10, Some(MB), Some(MB)),
        ))
        .await;
    assert_eq!(grant(&a), (Some(4010), None, false));
    let later = now + jiff::SignedDuration::from_hours(24 * 20);
    simdesk::services::jobs::run_due(&app.ctx, &app.peers, later)
        .await
        .unwrap();
    let line = app.store.line(&key).await.unwrap().unwrap();
    assert_eq!(line.state, simdesk_domain::line::LineState::Terminated);
    let a = gw
        .ask(request("pgw.test;13", 1, 0, 1, mscc(10, Some(MB), None)))
        .await;
    assert_eq!(grant(&a), (Some(4010), None, false));
}

#[tokio::test]
async fn abroad_data_is_granted_and_counted_at_the_visited_networks_zone() {
    let (app, gy) = world().await;
    let mut gw = gateway(gy).await;
    // In Korea (450-05) EX-SAKURA's east-asia zone keeps the plan's allowance for Japan and
    // sells data at 100 JPY a megabyte: the 1,000 JPY buy 10 MB, the last of them.
    let s = "pgw.test;14;abroad";
    let mut first = ccr_head(s, 1, 0);
    first.push(msisdn(&e164(1)));
    first.push(visited("45005"));
    first.push(mscc(10, Some(10 * MB), None));
    let a = gw.ask(ccr(30, first)).await;
    assert_eq!(grant(&a), (Some(2001), Some(10 * MB), true));
    // Four megabytes used there cost 400 JPY; the allowance is untouched.
    let mut update = ccr_head(s, 2, 1);
    update.push(msisdn(&e164(1)));
    update.push(visited("45005"));
    update.push(mscc(10, Some(10 * MB), Some(4 * MB)));
    let a = gw.ask(ccr(31, update)).await;
    assert_eq!(left(&app, 1).await, (10_240, 600));
    assert_eq!(grant(&a), (Some(2001), Some(6 * MB), true));
    // The record keeps the network it was used on.
    let line = app
        .store
        .line(&LineKey::Msisdn(national(1).parse().unwrap()))
        .await
        .unwrap()
        .unwrap();
    let records = app.store.usage_of_line(line.id, None, 10).await.unwrap();
    assert_eq!(records[0].network.as_deref(), Some("45005"));
}

#[tokio::test]
async fn many_sessions_at_once_are_each_counted_once() {
    let (app, gy) = world().await;
    // Sixteen gateways' sessions on line 1 report a megabyte each at the same moment: their
    // records are written together, and every one of them counts.
    let mut running = Vec::new();
    for n in 0..16u32 {
        running.push(tokio::spawn(async move {
            let mut gw = gateway(gy).await;
            let s = format!("pgw.test;20;{n}");
            let a = gw
                .ask(request(&s, 1, 0, 1, mscc(10, Some(MB), Some(MB))))
                .await;
            let repeated = gw
                .ask(request(&s, 1, 0, 1, mscc(10, Some(MB), Some(MB))))
                .await;
            (grant(&a), grant(&repeated))
        }));
    }
    for r in running {
        let (first, again) = r.await.unwrap();
        assert_eq!(first.0, Some(2001));
        assert_eq!(first, again);
    }
    assert_eq!(left(&app, 1).await, (10_240 - 16, 1_000));
}

#[tokio::test]
async fn sessions_asking_at_once_share_the_last_units_never_more() {
    let (app, gy) = world().await;
    let mut gw = gateway(gy).await;
    // 5 MB are left, held by nobody once this session ends having used nothing more.
    nearly_used_up(&mut gw, "pgw.test;21;setup").await;
    let mut end = ccr_head("pgw.test;21;setup", 3, 1);
    end.push(msisdn(&e164(1)));
    end.push(mscc(10, None, None));
    gw.ask(ccr(40, end)).await;
    assert_eq!(left(&app, 1).await, (0, 100));
    // Eight sessions ask for 1 MB each at the same moment: five are granted, the last of them
    // marked final, and three are told nothing is left.
    let mut running = Vec::new();
    for n in 0..8u32 {
        running.push(tokio::spawn(async move {
            let mut gw = gateway(gy).await;
            let s = format!("pgw.test;21;{n}");
            grant(&gw.ask(request(&s, 1, 0, 1, mscc(10, Some(MB), None))).await)
        }));
    }
    let mut granted = 0;
    let mut refused = 0;
    for r in running {
        match r.await.unwrap() {
            (Some(2001), Some(units), _) => granted += units,
            (Some(4012), None, false) => refused += 1,
            other => panic!("unexpected grant {other:?}"),
        }
    }
    assert_eq!((granted, refused), (5 * MB, 3));
}
