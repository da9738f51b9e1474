//! Abuse limits and web hardening, over HTTP against the real router: sends, checks, sign-ins
//! and uploads are limited per address, line and account with a wait that ends; two nodes on one
//! database share the limits; sign-in tells nobody who is registered; uploads are judged by size
//! and content; forms need their token; every answer carries the security headers. Run on both
//! backends.

mod support;

use jiff::{SignedDuration, Timestamp};
use simdesk::adapters::messages::{CodeDestination, RecordingCodeSender};
use simdesk::clock::Clock;
use simdesk::services::cancellation;
use simdesk::services::policies::{load_policies, PolicyBook};
use simdesk::services::ServiceContext;
use simdesk::services::{lines, staff};
use simdesk::store::{LineKey, SessionRow, Store};
use simdesk::web::pages::session::hash;
use simdesk_domain::attribution::{Actor, Attribution, Channel};
use simdesk_domain::ids::{CarrierCode, RequestId};
use simdesk_domain::limits::{AbuseRules, Limit};
use std::sync::Arc;
use support::stock::{national, sell, stock};
use support::{fresh_db, policies_dir};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

/// Limits generous enough to stay out of the way, so each test tightens only the one it checks.
fn loose() -> AbuseRules {
    let wide = Limit::new(1000, 3600);
    AbuseRules {
        code_sends_per_line: wide,
        code_sends_per_ip: wide,
        sign_ins_per_account: wide,
        code_checks_per_line: wide,
        code_checks_per_ip: wide,
        codes_per_account: wide,
        staff_failures_per_user: wide.with_lockout(900),
        staff_sign_ins_per_ip: wide,
        knowledge_failures_per_line: wide.with_lockout(900),
        knowledge_failures_per_account: wide,
        uploads_per_request: wide,
        uploads_per_ip: wide,
        uploads_per_account: wide,
        kiosk_tickets_per_ip: wide,
        code_sms_per_hour: wide,
    }
}

struct World {
    app: support::TestApp,
    ctx: ServiceContext,
    codes: Arc<RecordingCodeSender>,
    http: reqwest::Client,
}

impl World {
    async fn new() -> World {
        let db = fresh_db().await;
        let s = db.store.as_ref();
        load_policies(s, &policies_dir(), at("2025-01-01T00:00:00Z"))
            .await
            .unwrap();
        let book = PolicyBook::load(s).await.unwrap();
        stock(s, &book, &[1, 2, 3]).await;
        for n in [1, 2, 3] {
            sell(s, &book, n, "en", Timestamp::now()).await;
        }
        let codes = Arc::new(RecordingCodeSender::default());
        let app = support::spawn_app_on(db, support::AppOptions::new().codes(&codes)).await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap();
        World {
            ctx: app.ctx.clone(),
            app,
            codes,
            http,
        }
    }

    /// Starts a node with these limits on a store of its own (one database, as nodes share it);
    /// `X-Forwarded-For` names the client, so a test can speak from several addresses.
    async fn node(&self, rules: AbuseRules, clock: &Clock) -> String {
        self.node_at(rules, clock, "http://127.0.0.1:8080").await
    }

    /// A node whose portal travellers reach at `public_url`.
    async fn node_at(&self, rules: AbuseRules, clock: &Clock, public_url: &str) -> String {
        let options = support::AppOptions::new()
            .limits(rules)
            .trust_forwarded_for()
            .public_url(public_url)
            .clock(clock)
            .codes(&self.codes);
        support::start_app(&self.app.db, options).await.base
    }

    fn s(&self) -> &dyn Store {
        self.app.store.as_ref()
    }

    async fn line(&self, n: u64) -> simdesk_domain::line::Line {
        lines::find_line(self.s(), &lines::parse_line_key(&national(n)).unwrap())
            .await
            .unwrap()
    }

    /// A signed-in traveller holding line `n`: the session cookie and its form token.
    async fn traveller(&self, n: u64) -> (String, String) {
        let holder = self.line(n).await.holder.unwrap();
        let token = format!("traveller-{n}-session");
        let now = Timestamp::now();
        self.s()
            .insert_session(&SessionRow {
                token_hash: hash(&token),
                kind: "traveller".into(),
                subject: holder.get(),
                carrier: Some("EX-SAKURA".into()),
                csrf_token: format!("csrf-{n}"),
                language: "en".into(),
                created_at: now,
                expires_at: now + SignedDuration::from_hours(1),
            })
            .await
            .unwrap();
        (format!("sd_session={token}"), format!("csrf-{n}"))
    }

    /// A cancellation request on line `n` through `channel`: the store's needs an identity
    /// document, the web's a one-time code.
    async fn request(&self, n: u64, channel: Channel) -> RequestId {
        let line = self.line(n).await;
        cancellation::submit(
            &self.ctx,
            &LineKey::Id(line.id),
            channel,
            None,
            Attribution::new(
                Actor::operator("test"),
                Channel::Operator,
                Timestamp::now(),
                "walk-in",
            ),
        )
        .await
        .unwrap()
        .request
        .request
        .id
    }

    async fn post_form(&self, url: &str, from: &str, cookie: &str, body: &str) -> Answer {
        let r = self
            .http
            .post(url)
            .header("x-forwarded-for", from)
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        Answer::read(r).await
    }

    /// Asks for a sign-in code from `from`, with an anonymous form token.
    async fn sign_in(&self, base: &str, from: &str, identifier: &str) -> Answer {
        let body = format!("csrf=anon&identifier={}", encode(identifier));
        self.post_form(&format!("{base}/signin"), from, "sd_form=anon", &body)
            .await
    }

    async fn upload(
        &self,
        base: &str,
        from: &str,
        // The session cookie, and the form token to send (none: the form without it).
        session: (&str, Option<&str>),
        request: RequestId,
        content: &[u8],
        declared: &str,
    ) -> Answer {
        let boundary = "simdesk-test-boundary";
        let mut body = Vec::new();
        if let Some(token) = session.1 {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"passport.jpg\"\r\nContent-Type: {declared}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let r = self
            .http
            .post(format!("{base}/my/requests/{request}/document"))
            .header("x-forwarded-for", from)
            .header("cookie", session.0)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        Answer::read(r).await
    }

    async fn documents(&self, request: RequestId) -> usize {
        self.s().documents(request).await.unwrap().len()
    }
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    async fn read(r: reqwest::Response) -> Answer {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().await.unwrap_or_default();
        Answer {
            status,
            headers,
            body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Retry-After` of a 429, in seconds.
    fn limited(&self) -> i64 {
        assert_eq!(self.status, 429, "expected a refusal: {}", self.body);
        self.header("retry-after")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("429 without Retry-After: {:?}", self.headers))
    }
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn encode(s: &str) -> String {
    s.replace('+', "%2B").replace('@', "%40")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_requests_are_limited_per_identifier_and_per_address_and_the_wait_ends() {
    let w = World::new().await;
    let clock = Clock::system();
    let base = w
        .node(
            AbuseRules {
                sign_ins_per_account: Limit::new(2, 3600),
                code_sends_per_ip: Limit::new(4, 3600),
                ..loose()
            },
            &clock,
        )
        .await;
    // Per identifier: the third request for one number is refused, from any address.
    for from in ["198.51.100.1", "198.51.100.2"] {
        let r = w.sign_in(&base, from, &national(1)).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let wait = w
        .sign_in(&base, "198.51.100.3", &national(1))
        .await
        .limited();
    assert!((1..=3600).contains(&wait), "{wait}");
    let page = w.sign_in(&base, "198.51.100.3", &national(1)).await;
    assert!(page.body.contains("Too many attempts"), "{}", page.body);
    // Per address: a fifth request from one address is refused whatever it names, while the
    // same identifiers from another address still get through.
    let from = "203.0.113.7";
    for n in [2, 3] {
        assert_eq!(w.sign_in(&base, from, &national(n)).await.status, 200);
    }
    for e in ["t2@example.com", "t3@example.com"] {
        assert_eq!(w.sign_in(&base, from, e).await.status, 200);
    }
    w.sign_in(&base, from, "nobody@example.com").await.limited();
    assert_eq!(
        w.sign_in(&base, "203.0.113.8", "nobody@example.com")
            .await
            .status,
        200
    );
    // When the clock passes the window, the identifier may ask again.
    clock.advance(SignedDuration::from_hours(1));
    assert_eq!(
        w.sign_in(&base, "198.51.100.9", &national(1)).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_and_unknown_identifiers_get_the_same_answer() {
    let w = World::new().await;
    let base = w.node(loose(), &Clock::system()).await;
    let registered = national(1); // 09000000001
    let unknown = "08000000001"; // same last digits, never sold
    let known = w.sign_in(&base, "192.0.2.1", &registered).await;
    let other = w.sign_in(&base, "192.0.2.1", unknown).await;
    assert_eq!((known.status, other.status), (200, 200));
    assert_eq!(
        known.body.replace(&registered, "X"),
        other.body.replace(unknown, "X"),
        "the pages differ"
    );
    let by_mail = w.sign_in(&base, "192.0.2.1", "t2@example.com").await;
    let stranger = w.sign_in(&base, "192.0.2.1", "t2@example.org").await;
    assert_eq!((by_mail.status, stranger.status), (200, 200));
    assert_eq!(
        by_mail
            .body
            .replace("t2@example.com", "X")
            .replace("example.com", "D"),
        stranger
            .body
            .replace("t2@example.org", "X")
            .replace("example.org", "D"),
    );
    // Only the registered ones were sent a code.
    let line = w.line(1).await;
    assert!(w
        .codes
        .last_code_to(&CodeDestination::Line(line.msisdn.to_string()))
        .is_some());
    assert!(w
        .codes
        .last_code_to(&CodeDestination::Email("t2@example.com".into()))
        .is_some());
    assert!(w
        .codes
        .last_code_to(&CodeDestination::Email("t2@example.org".into()))
        .is_none());
    // Checking a code for the unknown number says what a known one without a code says.
    let check =
        |identifier: &str| format!("csrf=anon&identifier={}&code=123456", encode(identifier));
    let unknown_check = w
        .post_form(
            &format!("{base}/signin/code"),
            "192.0.2.1",
            "sd_form=anon",
            &check(unknown),
        )
        .await;
    let never_sent = w
        .post_form(
            &format!("{base}/signin/code"),
            "192.0.2.1",
            "sd_form=anon",
            &check(&national(3)),
        )
        .await;
    assert_eq!(unknown_check.status, never_sent.status);
    assert_eq!(unknown_check.body, never_sent.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_checks_and_cancellation_codes_are_limited_per_address_line_and_account() {
    let w = World::new().await;
    let base = w
        .node(
            AbuseRules {
                code_checks_per_ip: Limit::new(3, 3600),
                code_sends_per_line: Limit::new(1, 3600),
                ..loose()
            },
            &Clock::system(),
        )
        .await;
    // Sign-in code checks from one address: the fourth is refused, even with the right code.
    assert_eq!(
        w.sign_in(&base, "192.0.2.10", &national(1)).await.status,
        200
    );
    let msisdn = w.line(1).await.msisdn.to_string();
    let code = w
        .codes
        .last_code_to(&CodeDestination::Line(msisdn))
        .unwrap();
    let attempt = |code: &str| format!("csrf=anon&identifier={}&code={code}", national(1));
    for _ in 0..3 {
        let r = w
            .post_form(
                &format!("{base}/signin/code"),
                "192.0.2.10",
                "sd_form=anon",
                &attempt("000000"),
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
    }
    w.post_form(
        &format!("{base}/signin/code"),
        "192.0.2.10",
        "sd_form=anon",
        &attempt(&code),
    )
    .await
    .limited();
    // Another address is not held up by it: the right code signs in.
    let r = w
        .post_form(
            &format!("{base}/signin/code"),
            "192.0.2.11",
            "sd_form=anon",
            &attempt(&code),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // Cancellation codes per line: one send, then the line waits; another line does not.
    let one = w.traveller(2).await;
    let two = w.traveller(3).await;
    let req_one = w.request(2, Channel::Web).await;
    let req_two = w.request(3, Channel::Web).await;
    let send = |csrf: &str| format!("csrf={csrf}&to=email");
    let url = |id: RequestId| format!("{base}/my/requests/{id}/code");
    let r = w
        .post_form(&url(req_one), "192.0.2.20", &one.0, &send(&one.1))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    w.post_form(&url(req_one), "192.0.2.21", &one.0, &send(&one.1))
        .await
        .limited();
    let r = w
        .post_form(&url(req_two), "192.0.2.20", &two.0, &send(&two.1))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_username_is_locked_after_failures_until_the_clock_passes_the_lockout() {
    let w = World::new().await;
    for name in ["agent-one", "agent-two"] {
        staff::add(
            w.s(),
            name,
            "a-long-password-1",
            "agent",
            &CarrierCode::new("EX-SAKURA"),
            Timestamp::now(),
        )
        .await
        .unwrap();
    }
    let clock = Clock::system();
    let base = w
        .node(
            AbuseRules {
                staff_failures_per_user: Limit::new(3, 900).with_lockout(900),
                ..loose()
            },
            &clock,
        )
        .await;
    let sign_in = |user: &str, password: &str, from: &str| {
        let body = format!("csrf=anon&username={user}&password={password}");
        let url = format!("{base}/staff/signin");
        let from = from.to_string();
        let w = &w;
        async move { w.post_form(&url, &from, "sd_form=anon", &body).await }
    };
    for from in ["192.0.2.30", "192.0.2.31", "192.0.2.32"] {
        assert_eq!(
            sign_in("agent-one", "wrong-password", from).await.status,
            401
        );
    }
    // Locked: even the right password waits, from any address, for the lockout.
    let wait = sign_in("agent-one", "a-long-password-1", "192.0.2.33")
        .await
        .limited();
    assert!((840..=900).contains(&wait), "{wait}");
    // Another username is not affected.
    assert_eq!(
        sign_in("agent-two", "a-long-password-1", "192.0.2.30")
            .await
            .status,
        303
    );
    clock.advance(SignedDuration::from_mins(14));
    sign_in("agent-one", "a-long-password-1", "192.0.2.33")
        .await
        .limited();
    clock.advance(SignedDuration::from_mins(2));
    assert_eq!(
        sign_in("agent-one", "a-long-password-1", "192.0.2.33")
            .await
            .status,
        303
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database_share_the_limits() {
    let w = World::new().await;
    let clock = Clock::system();
    let rules = AbuseRules {
        code_sends_per_ip: Limit::new(2, 3600),
        ..loose()
    };
    let a = w.node(rules, &clock).await;
    let b = w.node(rules, &clock).await;
    let from = "198.51.100.50";
    assert_eq!(w.sign_in(&a, from, &national(1)).await.status, 200);
    assert_eq!(w.sign_in(&b, from, &national(2)).await.status, 200);
    w.sign_in(&a, from, &national(3)).await.limited();
    w.sign_in(&b, from, &national(3)).await.limited();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_limited_by_size_content_count_and_token() {
    let w = World::new().await;
    let base = w
        .node(
            AbuseRules {
                uploads_per_ip: Limit::new(2, 3600),
                ..loose()
            },
            &Clock::system(),
        )
        .await;
    let me = w.traveller(1).await;
    let id = w.request(1, Channel::Store).await;
    // Larger than 10 MB: 413, nothing stored.
    let mut big = PNG.to_vec();
    big.resize(10 * 1024 * 1024 + 100_000, 0);
    let r = w
        .upload(
            &base,
            "192.0.2.40",
            (&me.0, Some(&me.1)),
            id,
            &big,
            "image/png",
        )
        .await;
    assert_eq!(r.status, 413, "{}", r.body);
    // HTML sent as a JPEG: refused, saying which types are accepted; nothing stored.
    let r = w
        .upload(
            &base,
            "192.0.2.41",
            (&me.0, Some(&me.1)),
            id,
            b"<html><script>alert(1)</script></html>",
            "image/jpeg",
        )
        .await;
    assert_eq!(r.status, 415, "{}", r.body);
    assert!(r.body.contains("JPEG or PNG photo or a PDF"), "{}", r.body);
    // A PNG declared as a JPEG is a disguise too.
    let r = w
        .upload(
            &base,
            "192.0.2.41",
            (&me.0, Some(&me.1)),
            id,
            PNG,
            "image/jpeg",
        )
        .await;
    assert_eq!(r.status, 415, "{}", r.body);
    // Without the form's token in the body: refused.
    let r = w
        .upload(&base, "192.0.2.42", (&me.0, None), id, PNG, "image/png")
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(w.documents(id).await, 0);
    // Two real photos from one address, then the third waits.
    for _ in 0..2 {
        let r = w
            .upload(
                &base,
                "192.0.2.43",
                (&me.0, Some(&me.1)),
                id,
                PNG,
                "image/png",
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    w.upload(
        &base,
        "192.0.2.43",
        (&me.0, Some(&me.1)),
        id,
        PNG,
        "image/png",
    )
    .await
    .limited();
    assert_eq!(w.documents(id).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kiosk_needs_its_form_token_and_limits_tickets_per_address() {
    let w = World::new().await;
    let base = w
        .node(
            AbuseRules {
                kiosk_tickets_per_ip: Limit::new(1, 3600),
                ..loose()
            },
            &Clock::system(),
        )
        .await;
    let url = format!("{base}/kiosk/EX-SAKURA");
    let page = Answer::read(w.http.get(&url).send().await.unwrap()).await;
    let cookie = page
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let token = cookie.trim_start_matches("sd_form=").to_string();
    assert!(page.body.contains(&token), "the form carries the token");
    let day = simdesk_domain::validity::japan_date(Timestamp::now()).to_string();
    let waiting = || async {
        w.s()
            .queue_board(&CarrierCode::new("EX-SAKURA"), &day)
            .await
            .unwrap()
            .1
    };
    let r = w.post_form(&url, "192.0.2.60", "", "").await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = w
        .post_form(&url, "192.0.2.60", &cookie, "csrf=forged")
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(waiting().await, 0, "no ticket without the token");
    let r = w
        .post_form(&url, "192.0.2.60", &cookie, &format!("csrf={token}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("ticket-number"), "{}", r.body);
    w.post_form(&url, "192.0.2.60", &cookie, &format!("csrf={token}"))
        .await
        .limited();
    assert_eq!(waiting().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_answer_carries_the_security_headers() {
    let w = World::new().await;
    let base = w.node(loose(), &Clock::system()).await;
    let agent = staff::add(
        w.s(),
        "agent-headers",
        "a-long-password-1",
        "agent",
        &CarrierCode::new("EX-SAKURA"),
        Timestamp::now(),
    )
    .await
    .unwrap();
    let now = Timestamp::now();
    w.s()
        .insert_session(&SessionRow {
            token_hash: hash("agent-session"),
            kind: "staff".into(),
            subject: agent,
            carrier: Some("EX-SAKURA".into()),
            csrf_token: "csrf-agent".into(),
            language: "en".into(),
            created_at: now,
            expires_at: now + SignedDuration::from_hours(1),
        })
        .await
        .unwrap();
    let id = w.request(1, Channel::Store).await;
    let doc = cancellation::upload_document(
        &w.ctx,
        id,
        PNG.to_vec(),
        Attribution::new(Actor::operator("t"), Channel::Operator, now, "scan"),
    )
    .await
    .unwrap();
    let get = |path: String, cookie: &'static str| {
        let url = format!("{base}{path}");
        let w = &w;
        async move {
            Answer::read(
                w.http
                    .get(url)
                    .header("cookie", cookie)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let answers = vec![
        ("page", get("/".into(), "").await),
        ("404", get("/no/such/page".into(), "").await),
        ("api", get("/api/v1/lines/09000000001".into(), "").await),
        (
            "error page",
            w.sign_in(&base, "192.0.2.70", "not a number").await,
        ),
        (
            "document",
            get(
                format!("/console/documents/{doc}"),
                "sd_session=agent-session",
            )
            .await,
        ),
        (
            "forbidden",
            w.post_form(
                &format!("{base}/staff/signin"),
                "192.0.2.71",
                "",
                "csrf=x&username=a&password=b",
            )
            .await,
        ),
    ];
    let statuses: Vec<_> = answers.iter().map(|(k, a)| (*k, a.status)).collect();
    assert_eq!(
        statuses,
        vec![
            ("page", 200),
            ("404", 404),
            ("api", 401),
            ("error page", 422),
            ("document", 200),
            ("forbidden", 403)
        ]
    );
    for (kind, a) in &answers {
        let csp = a.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{kind}: {csp:?}");
        assert_eq!(
            a.header("x-content-type-options"),
            Some("nosniff"),
            "{kind}"
        );
        assert_eq!(a.header("x-frame-options"), Some("DENY"), "{kind}");
        assert_eq!(a.header("referrer-policy"), Some("same-origin"), "{kind}");
    }
    assert!(answers
        .iter()
        .all(|(_, a)| a.header("strict-transport-security").is_none()));
    // Behind https, browsers are told to stay on it.
    let tls = w
        .node_at(loose(), &Clock::system(), "https://sim.example.jp")
        .await;
    let page = Answer::read(w.http.get(format!("{tls}/")).send().await.unwrap()).await;
    assert_eq!(
        page.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    let cookie = page.header("set-cookie").unwrap_or_default();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    let plain = answers[0].1.header("set-cookie").unwrap_or_default();
    assert!(
        plain.starts_with("sd_form=") && !plain.contains("Secure"),
        "{plain}"
    );
    let document = &answers[4].1;
    assert!(document
        .header("content-disposition")
        .is_some_and(|d| d.starts_with("attachment")));
    assert!(document
        .header("content-security-policy")
        .is_some_and(|c| c.starts_with("sandbox")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_locks_wrong_identity_answers_and_refuses_documents_in_its_error_shape() {
    let w = World::new().await;
    let clock = Clock::system();
    let base = w
        .node(
            AbuseRules {
                knowledge_failures_per_line: Limit::new(2, 3600).with_lockout(900),
                ..loose()
            },
            &clock,
        )
        .await;
    let token = simdesk::web::api::new_token();
    w.s()
        .insert_api_token(
            &CarrierCode::new("EX-SAKURA"),
            "partner",
            &simdesk::web::api::hash_token(&token),
            "test",
            Timestamp::now(),
        )
        .await
        .unwrap();
    let post = |path: String, content_type: &'static str, body: Vec<u8>| {
        let request = w
            .http
            .post(format!("{base}{path}"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", content_type)
            .body(body);
        async move { Answer::read(request.send().await.unwrap()).await }
    };
    let answer = |passport: &str| {
        format!(r#"{{"name":"Traveller Example","passport":"{passport}"}}"#).into_bytes()
    };
    // The hotline's check is knowledge: two wrong answers lock the line's request.
    let id = w.request(1, Channel::Hotline).await;
    let knowledge = format!("/api/v1/cancellations/{id}/knowledge");
    for _ in 0..2 {
        let r = post(knowledge.clone(), "application/json", answer("XX0000000")).await;
        assert_eq!(r.status, 403, "{}", r.body);
    }
    let r = post(knowledge.clone(), "application/json", answer("TK0000001")).await;
    let wait = r.limited();
    assert!((840..=900).contains(&wait), "{wait}");
    let error: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(error["code"], "RATE_LIMITED", "{error}");
    assert!(error["reason"].is_string() && error["message"].is_string());
    let record = w.s().request(id).await.unwrap().unwrap();
    assert!(
        record.request.passed.is_empty(),
        "nothing passed while locked"
    );
    // Once the lockout is over, the right answer passes.
    clock.advance(SignedDuration::from_secs(901));
    let r = post(knowledge, "application/json", answer("TK0000001")).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Documents: HTML sent as a JPEG is 415, more than 10 MB is 413, both in the error shape.
    let id = w.request(2, Channel::Store).await;
    let documents = format!("/api/v1/cancellations/{id}/documents");
    let r = post(documents.clone(), "image/jpeg", b"<html><script>".to_vec()).await;
    assert_eq!(r.status, 415, "{}", r.body);
    assert!(r.body.contains("\"code\":\"DOCUMENT\""), "{}", r.body);
    let mut big = PNG.to_vec();
    big.resize(10 * 1024 * 1024 + 1, 0);
    let r = post(documents.clone(), "image/png", big).await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.body.contains("\"code\""), "{}", r.body);
    assert_eq!(w.documents(id).await, 0);
    let r = post(documents, "image/png", PNG.to_vec()).await;
    assert_eq!(r.status, 201, "{}", r.body);
}
