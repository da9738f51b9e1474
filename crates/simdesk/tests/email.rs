//! E-mail through a real SMTP server: `SmtpMailer` against aiosmtpd on loopback, read back from its maildir.

mod support;

use sha2::{Digest, Sha256};
use simdesk::adapters::email::{
    message_id_for, Attachment, Mail, Mailer, SmtpMailer, SmtpSecurity, SmtpSettings,
};
use simdesk::adapters::PeerError;
use std::time::{Duration, Instant};
use support::peers::smtp::Smtp;

const WAIT: Duration = Duration::from_secs(10);
const FROM: &str = "noreply@simdesk.example.jp";

fn settings(smtp: &Smtp) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port: smtp.addr().port(),
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: format!("Simdesk Travel SIM <{FROM}>"),
        timeout_secs: Some(5),
    }
}

fn mail(key: &str) -> Mail {
    Mail {
        message_id: key.into(),
        to: "chen.traveller@example.com".into(),
        // Long enough that the encoded subject is folded over several encoded words.
        subject: "您的旅遊 SIM 卡已經啟用：歡迎來到日本，祝您旅途愉快！訂單編號 8931-0001".into(),
        text: "陳先生您好：\n\n您的 SIM 卡已於 2025年4月1日 啟用，有效期限至 4月15日。\n如有疑問，請回覆此郵件。\n".into(),
        html: "<p>陳先生您好：</p>\n<p>您的 SIM 卡已於 <b>2025年4月1日</b> 啟用。</p>\n".into(),
        attachments: vec![],
    }
}

fn receipt_json() -> Vec<u8> {
    serde_json::to_vec_pretty(&serde_json::json!({
        "order": "8931-0001",
        "customer": "陳大文",
        "plan": "日本 15 日 無限流量",
        "amount_jpy": 4980
    }))
    .unwrap()
}

/// The Message-ID worked out here rather than with the crate's helper, so the test pins the
/// format a receiving system will see.
fn expected_message_id(key: &str) -> String {
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    format!("<{}@simdesk>", &digest[..32])
}

#[tokio::test]
async fn zh_hant_subject_bodies_and_json_attachment_arrive_intact() {
    let smtp = Smtp::start();
    let mailer = SmtpMailer::new(&settings(&smtp)).unwrap();
    let mut sent = mail("outbox-activation-1");
    sent.attachments.push(Attachment {
        filename: "receipt.json".into(),
        content_type: "application/json".into(),
        content: receipt_json(),
    });

    mailer.send_mail(&sent).await.unwrap();

    let received = smtp.wait_for_messages(1, WAIT).remove(0);
    assert_eq!(received.subject, sent.subject);
    assert_eq!(received.text, sent.text);
    assert_eq!(received.html, sent.html);
    assert!(received.from.contains(FROM), "{}", received.from);
    assert_eq!(received.to, sent.to);
    assert_eq!(
        received.attachments,
        vec![(
            "receipt.json".to_string(),
            "application/json".to_string(),
            receipt_json()
        )]
    );
    let json: serde_json::Value = serde_json::from_slice(&received.attachments[0].2).unwrap();
    assert_eq!(json["customer"], "陳大文");

    // Structure as mail clients expect it: the alternatives together, the attachment beside.
    let parsed = mailparse::parse_mail(&received.raw).unwrap();
    assert_eq!(parsed.ctype.mimetype, "multipart/mixed");
    assert_eq!(parsed.subparts[0].ctype.mimetype, "multipart/alternative");
    let alternatives: Vec<_> = parsed.subparts[0]
        .subparts
        .iter()
        .map(|p| (p.ctype.mimetype.as_str(), p.ctype.charset.to_lowercase()))
        .collect();
    assert_eq!(
        alternatives,
        [
            ("text/plain", "utf-8".into()),
            ("text/html", "utf-8".into())
        ]
    );
    let raw = String::from_utf8(received.raw.clone()).unwrap();
    assert!(raw.is_ascii(), "headers and bodies go as 7-bit encodings");
    assert!(raw.contains("\nDate: "), "{raw}");
    // The server's record of the envelope matches the headers.
    assert!(raw.contains(&format!("X-MailFrom: {FROM}")), "{raw}");
    assert!(
        raw.contains("X-RcptTo: chen.traveller@example.com"),
        "{raw}"
    );
}

#[tokio::test]
async fn message_id_is_derived_from_the_outbox_key_and_kept_on_resend() {
    let smtp = Smtp::start();
    let mailer = SmtpMailer::new(&settings(&smtp)).unwrap();
    let sent = mail("outbox-activation-2");

    mailer.send_mail(&sent).await.unwrap();
    mailer.send_mail(&sent).await.unwrap();
    mailer
        .send_mail(&mail("outbox-activation-3"))
        .await
        .unwrap();

    let received = smtp.wait_for_messages(3, WAIT);
    let expected = expected_message_id("outbox-activation-2");
    assert_eq!(expected, message_id_for("outbox-activation-2"));
    assert_eq!(received[0].message_id, expected);
    assert_eq!(received[1].message_id, expected);
    assert_eq!(
        received[2].message_id,
        expected_message_id("outbox-activation-3")
    );
    // Without attachments the message is the alternatives alone.
    let parsed = mailparse::parse_mail(&received[0].raw).unwrap();
    assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
    assert!(received[0].attachments.is_empty());
}

#[tokio::test]
async fn a_stopped_server_is_unavailable_and_mail_flows_again_after_restart() {
    let mut smtp = Smtp::start();
    let mut s = settings(&smtp);
    s.timeout_secs = Some(2);
    let mailer = SmtpMailer::new(&s).unwrap();
    // A first mail leaves a pooled connection behind, which the outage breaks.
    mailer.send_mail(&mail("outbox-before")).await.unwrap();
    smtp.wait_for_messages(1, WAIT);

    smtp.stop();
    let started = Instant::now();
    let error = mailer
        .send_mail(&mail("outbox-during"))
        .await
        .expect_err("nothing listens");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    match &error {
        PeerError::Unavailable(message) => {
            assert!(message.contains(&smtp.addr().to_string()), "{message}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }

    smtp.restart();
    mailer.send_mail(&mail("outbox-during")).await.unwrap();
    let received = smtp.wait_for_messages(2, WAIT);
    assert_eq!(received[1].message_id, expected_message_id("outbox-during"));
}

#[tokio::test]
async fn starttls_against_a_server_without_it_fails_and_sends_nothing() {
    let smtp = Smtp::start();
    let mut s = settings(&smtp);
    s.security = SmtpSecurity::StartTls;
    let mailer = SmtpMailer::new(&s).unwrap();

    let error = mailer
        .send_mail(&mail("outbox-starttls"))
        .await
        .expect_err("the server offers no STARTTLS");

    // Unavailable, not Refused: lettre stops before MAIL FROM because the server did not offer
    // STARTTLS. That is a fault of the relay or of the path to it (a misconfigured relay, or
    // someone stripping STARTTLS on the way), not of this message, which will go once the relay
    // offers TLS again; refusing would park every mail of the outage for an operator instead.
    match &error {
        PeerError::Unavailable(message) => {
            assert!(message.contains(&smtp.addr().to_string()), "{message}");
            assert!(message.contains("STARTTLS"), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // Required STARTTLS means no fallback to clear text.
    std::thread::sleep(Duration::from_millis(300));
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn implicit_tls_against_a_plain_server_is_unavailable() {
    let smtp = Smtp::start();
    let mut s = settings(&smtp);
    s.security = SmtpSecurity::Tls;
    let mailer = SmtpMailer::new(&s).unwrap();

    let started = Instant::now();
    let error = mailer
        .send_mail(&mail("outbox-tls"))
        .await
        .expect_err("the server speaks no TLS");

    // A failed handshake is a fault of the connection, retried like an outage.
    match &error {
        PeerError::Unavailable(message) => {
            assert!(message.contains(&smtp.addr().to_string()), "{message}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn an_invalid_recipient_is_refused() {
    let smtp = Smtp::start();
    let mailer = SmtpMailer::new(&settings(&smtp)).unwrap();

    let mut bad = mail("outbox-bad-address");
    bad.to = "chen at example dot com".into();
    match mailer.send_mail(&bad).await {
        Err(PeerError::Refused(message)) => {
            assert!(message.contains("chen at example dot com"), "{message}")
        }
        other => panic!("expected Refused, got {other:?}"),
    }

    // A well-formed internationalised address that this server cannot take: it does not offer
    // SMTPUTF8, so the same mail would fail the same way on every retry.
    let mut unicode = mail("outbox-unicode-address");
    unicode.to = "陳大文@example.com".into();
    match mailer.send_mail(&unicode).await {
        Err(PeerError::Refused(message)) => {
            assert!(message.contains(&smtp.addr().to_string()), "{message}");
        }
        other => panic!("expected Refused, got {other:?}"),
    }

    // The server is fine: a valid mail still goes, and it is the only one that arrived.
    mailer.send_mail(&mail("outbox-good")).await.unwrap();
    let received = smtp.wait_for_messages(1, WAIT);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(received[0].message_id, expected_message_id("outbox-good"));
}
