//! The message templates in every language: complete, filled, escaped and short enough.

use super::*;
use fluent_templates::fluent_bundle::FluentResource;
use std::collections::BTreeSet;

fn locales_dir(tag: &str) -> String {
    format!("{}/locales/{tag}", env!("CARGO_MANIFEST_DIR"))
}

/// The message ids of one .ftl file, after checking it parses without a single error
/// (the loader panics at start-up on a file that does not).
fn message_ids(path: &str) -> Vec<String> {
    let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    if let Err((_, errors)) = FluentResource::try_new(source.clone()) {
        panic!("{path} does not parse: {errors:?}");
    }
    // A message starts in the first column with its identifier; continuation lines are
    // indented and comments start with '#', so this finds exactly the ids.
    source
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
        .filter_map(|l| {
            let (id, _) = l.split_once('=')?;
            let id = id.trim_end();
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                .then(|| id.to_string())
        })
        .collect()
}

fn expected_keys() -> BTreeSet<String> {
    let mut keys: BTreeSet<String> = Event::ALL
        .iter()
        .flat_map(|e| ["sms", "subject", "body"].map(|part| e.key(part)))
        .collect();
    keys.extend(Reply::ALL.map(|r| r.key().to_string()));
    keys
}

fn sample(name: &str) -> &'static str {
    match name {
        "msisdn" => "080-1234-5678",
        "plan" => "日本10日間カード 10GB",
        "valid_until" => "2025-05-20 23:59",
        "hours" => "37",
        "grace_until" => "2025-06-19 23:59",
        "effective_date" => "2025-05-22",
        "reason" => "本人確認書類の写真が不鮮明です",
        "receipt_number" => "RC-2025-000123",
        "refund" => "1,200円",
        "receipt_url" => "https://simdesk.example/my/receipts/RC-2025-000123",
        "amount" => "¥860",
        "reference" => "PO-7741-XK",
        "code" => "482906",
        "minutes" => "15",
        "kept_until" => "2028-05-31",
        "balance" => "¥350",
        "portal_url" => "https://simdesk.example/",
        "percent" => "90",
        "left_mb" => "1,024",
        other => panic!("no sample for {other}"),
    }
}

fn params(names: &[&str]) -> BTreeMap<String, String> {
    names
        .iter()
        .map(|n| (n.to_string(), sample(n).to_string()))
        .collect()
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.trim().is_empty(), "{what} is empty");
    for bad in ['{', '}', '$', '\u{2068}', '\u{2069}'] {
        assert!(
            !text.contains(bad),
            "{what} contains {bad:?} (an unfilled placeholder?): {text}"
        );
    }
    assert!(!text.contains("Unknown localization key"), "{what}: {text}");
}

#[test]
fn every_language_has_exactly_every_template() {
    let expected = expected_keys();
    for lang in Language::ALL {
        let path = format!("{}/messages.ftl", locales_dir(lang.tag()));
        let ids = message_ids(&path);
        let mut seen = BTreeSet::new();
        for id in &ids {
            assert!(seen.insert(id.clone()), "{lang}: {id} is defined twice");
            assert!(
                expected.contains(id),
                "{lang}: messages.ftl has {id}, which no event or reply uses"
            );
        }
        for key in &expected {
            assert!(seen.contains(key), "{lang}: messages.ftl lacks {key}");
        }
        // Every .ftl of a language goes into one bundle, where a repeated id stops the
        // loader, so the other files must not define ours.
        let dir = locales_dir(lang.tag());
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
            let other = entry.unwrap().path();
            if other.extension().is_some_and(|x| x == "ftl")
                && other.file_name().is_some_and(|n| n != "messages.ftl")
            {
                for id in message_ids(&other.to_string_lossy()) {
                    assert!(
                        !expected.contains(&id),
                        "{lang}: {} also defines {id}",
                        other.display()
                    );
                }
            }
        }
    }
}

#[test]
fn every_template_formats_in_its_own_language_with_exactly_its_placeholders() {
    // No fallback here: a translation that names a placeholder its event does not offer,
    // or is missing, fails in that very language.
    for lang in Language::ALL {
        for event in Event::ALL {
            let args = fluent_args(
                event.as_str(),
                event.placeholders(),
                &params(event.placeholders()),
            )
            .unwrap();
            for part in ["sms", "subject", "body"] {
                let key = event.key(part);
                if let Err(e) = i18n::lookup_exact(lang, &key, Some(&args)) {
                    panic!("{lang}: {key}: {e:?}");
                }
            }
        }
        for reply in Reply::ALL {
            let args = fluent_args(
                reply.key(),
                reply.placeholders(),
                &params(reply.placeholders()),
            )
            .unwrap();
            if let Err(e) = i18n::lookup_exact(lang, reply.key(), Some(&args)) {
                panic!("{lang}: {}: {e:?}", reply.key());
            }
        }
    }
}

#[test]
fn no_placeholder_is_left_unfilled_or_dropped() {
    for lang in Language::ALL {
        for event in Event::ALL {
            let m = render(event, lang, &params(event.placeholders()))
                .unwrap_or_else(|e| panic!("{lang} {event}: {e}"));
            assert_clean(&format!("{lang} {event} sms"), &m.sms);
            assert_clean(&format!("{lang} {event} subject"), &m.subject);
            assert_clean(&format!("{lang} {event} body"), &m.text);
            assert!(!m.html.contains(['\u{2068}', '\u{2069}']));
            for name in event.placeholders() {
                assert!(
                    m.text.contains(sample(name)),
                    "{lang} {event} body does not show ${name}: {}",
                    m.text
                );
            }
            assert!(
                m.text.contains("\n\n"),
                "{lang} {event} body has a single paragraph"
            );
            let last = m.text.lines().last().unwrap_or_default();
            assert!(
                last.starts_with("— simdesk"),
                "{lang} {event} body does not end with the desk's sign-off: {last}"
            );
        }
        for reply in Reply::ALL {
            let text = render_reply(reply, lang, &params(reply.placeholders()))
                .unwrap_or_else(|e| panic!("{lang} {}: {e}", reply.key()));
            assert_clean(&format!("{lang} {}", reply.key()), &text);
            for name in reply.placeholders() {
                assert!(
                    text.contains(sample(name)),
                    "{lang} {} does not show ${name}: {text}",
                    reply.key()
                );
            }
        }
    }
}

#[test]
fn texts_that_must_carry_a_value_do() {
    for lang in Language::ALL {
        let code = render(
            Event::OneTimeCode,
            lang,
            &params(Event::OneTimeCode.placeholders()),
        )
        .unwrap();
        assert!(code.sms.contains("482906"), "{lang}: {}", code.sms);
        assert!(code.sms.contains("15"), "{lang}: {}", code.sms);
        let done = render(
            Event::CancellationCompleted,
            lang,
            &params(Event::CancellationCompleted.placeholders()),
        )
        .unwrap();
        assert!(
            done.sms.contains(sample("receipt_url")),
            "{lang}: {}",
            done.sms
        );
        let approved = render(
            Event::CancellationApproved,
            lang,
            &params(Event::CancellationApproved.placeholders()),
        )
        .unwrap();
        assert!(
            approved.sms.contains("2025-05-22"),
            "{lang}: {}",
            approved.sms
        );
        let help = render_reply(Reply::Help, lang, &BTreeMap::new()).unwrap();
        let own = match lang {
            Language::Ja => ["残高", "解約"],
            Language::En => ["BAL", "CANCEL"],
            Language::ZhHans => ["余额", "注销"],
            Language::ZhHant => ["餘額", "註銷"],
            Language::Ko => ["잔액", "해지"],
        };
        for keyword in ["BAL", "CANCEL"].iter().chain(own.iter()) {
            assert!(
                help.contains(keyword),
                "{lang} help lacks {keyword}: {help}"
            );
        }
    }
}

#[test]
fn english_counts_are_singular_or_plural() {
    let mut p = params(Event::ValidityReminder.placeholders());
    p.insert("hours".into(), "1".into());
    let one = render(Event::ValidityReminder, Language::En, &p).unwrap();
    assert!(one.sms.contains("about 1 hour,"), "{}", one.sms);
    assert!(one.text.contains("about 1 hour from now"), "{}", one.text);
    let many = render(
        Event::ValidityReminder,
        Language::En,
        &params(Event::ValidityReminder.placeholders()),
    )
    .unwrap();
    assert!(
        many.text.contains("about 37 hours from now"),
        "{}",
        many.text
    );
    let mut p = params(Event::OneTimeCode.placeholders());
    p.insert("minutes".into(), "1".into());
    let code = render(Event::OneTimeCode, Language::En, &p).unwrap();
    assert!(code.sms.contains("valid for 1 minute."), "{}", code.sms);
    // Anything but a plain count is shown exactly as given.
    p.insert("minutes".into(), "05".into());
    let code = render(Event::OneTimeCode, Language::En, &p).unwrap();
    assert!(code.sms.contains("valid for 05 minutes."), "{}", code.sms);
}

#[test]
fn a_missing_placeholder_is_an_error_naming_it() {
    let mut p = params(Event::CancellationApproved.placeholders());
    p.remove("effective_date");
    let err = render(Event::CancellationApproved, Language::Ja, &p).unwrap_err();
    assert_eq!(
        err,
        MessageError::MissingPlaceholder {
            template: "cancellation_approved",
            placeholder: "effective_date"
        }
    );
    assert!(err.to_string().contains("effective_date"), "{err}");
    assert!(err.to_string().contains("cancellation_approved"), "{err}");

    p.insert("effective_date".into(), "  ".into());
    assert!(matches!(
        render(Event::CancellationApproved, Language::Ja, &p),
        Err(MessageError::MissingPlaceholder {
            placeholder: "effective_date",
            ..
        })
    ));

    let err = render_reply(
        Reply::Balance,
        Language::Ko,
        &params(&["msisdn", "balance"]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("valid_until"), "{err}");
}

#[test]
fn extra_params_are_ignored() {
    let mut p = params(Event::DataErased.placeholders());
    p.insert("full_name".into(), "TARO YAMADA".into());
    let m = render(Event::DataErased, Language::En, &p).unwrap();
    assert!(!m.sms.contains("YAMADA") && !m.text.contains("YAMADA"));
}

#[test]
fn html_is_escaped_linked_and_tagged_with_the_language() {
    let mut p = params(Event::CancellationRejected.placeholders());
    p.insert(
        "reason".into(),
        "<script>alert(\"x\")</script> & 'more'".into(),
    );
    let m = render(Event::CancellationRejected, Language::En, &p).unwrap();
    assert!(!m.html.contains("<script"), "{}", m.html);
    let escaped = m
        .html
        .replace("&#60;", "&lt;")
        .replace("&#62;", "&gt;")
        .replace("&#34;", "&quot;")
        .replace("&#39;", "&apos;")
        .replace("&#38;", "&amp;");
    assert!(
        escaped.contains(
            "Reason: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &apos;more&apos;"
        ),
        "{}",
        m.html
    );
    assert!(m.html.contains("<html lang=\"en\">"), "{}", m.html);
    // The plain text keeps what was given.
    assert!(m.text.contains("<script>alert(\"x\")</script> & 'more'"));

    let mut p = params(Event::CancellationCompleted.placeholders());
    p.insert(
        "receipt_url".into(),
        "https://simdesk.example/my/receipts/RC-1?lang=zh-Hant&v=2".into(),
    );
    let m = render(Event::CancellationCompleted, Language::ZhHant, &p).unwrap();
    assert!(m.html.contains("<html lang=\"zh-Hant\">"), "{}", m.html);
    let href = "https://simdesk.example/my/receipts/RC-1?lang=zh-Hant";
    assert!(
        m.html.contains(&format!("<a href=\"{href}&amp;v=2\""))
            || m.html.contains(&format!("<a href=\"{href}&#38;v=2\"")),
        "{}",
        m.html
    );
    // The subject becomes the heading, each paragraph a <p>, each line break a <br>.
    assert!(
        m.html.contains(&format!(
            "<h1 style=\"margin:0 0 20px;font-size:20px;line-height:1.4;color:#111827;\">{}</h1>",
            m.subject
        )),
        "{}",
        m.html
    );
    let paragraphs = m.text.split("\n\n").count();
    assert_eq!(m.html.matches("<p ").count(), paragraphs, "{}", m.html);
    assert!(m.html.contains("<br>"), "{}", m.html);
}

#[test]
fn addresses_are_found_where_they_start_and_end() {
    let links = |line: &str| -> Vec<String> {
        linkify(line)
            .into_iter()
            .filter(|s| s.link)
            .map(|s| s.text)
            .collect()
    };
    assert_eq!(
        links("See https://a.example/r/1. Thanks"),
        ["https://a.example/r/1"]
    );
    assert_eq!(
        links("解約証明書：https://a.example/r/1をご確認ください"),
        ["https://a.example/r/1"]
    );
    assert_eq!(links("(http://a.example/x)"), ["http://a.example/x"]);
    assert_eq!(
        links("http://a.example/wiki/A_(b) and https://b.example"),
        ["http://a.example/wiki/A_(b)", "https://b.example"]
    );
    assert!(links("javascript:alert(1) and https:// alone").is_empty());
    let text: String = linkify("x https://a.example/q?a=1 y")
        .into_iter()
        .map(|s| s.text)
        .collect();
    assert_eq!(text, "x https://a.example/q?a=1 y");
}

#[test]
fn cjk_values_come_out_intact() {
    for lang in Language::ALL {
        let m = render(
            Event::Registration,
            lang,
            &params(Event::Registration.placeholders()),
        )
        .unwrap();
        for out in [&m.sms, &m.text, &m.html] {
            assert!(out.contains("日本10日間カード 10GB"), "{lang}: {out}");
        }
        let m = render(
            Event::CancellationRejected,
            lang,
            &params(Event::CancellationRejected.placeholders()),
        )
        .unwrap();
        for out in [&m.sms, &m.text, &m.html] {
            assert!(
                out.contains("本人確認書類の写真が不鮮明です"),
                "{lang}: {out}"
            );
        }
        let m = render(
            Event::CancellationCompleted,
            lang,
            &params(Event::CancellationCompleted.placeholders()),
        )
        .unwrap();
        assert!(m.text.contains("1,200円"), "{lang}: {}", m.text);
        assert!(m.html.contains("1,200円"), "{lang}: {}", m.html);
    }
}

#[test]
fn each_language_speaks_its_own_language() {
    let english = render(
        Event::Activation,
        Language::En,
        &params(Event::Activation.placeholders()),
    )
    .unwrap();
    for (lang, word) in [
        (Language::Ja, "開通"),
        (Language::ZhHans, "开通"),
        (Language::ZhHant, "開通"),
        (Language::Ko, "개통"),
    ] {
        let m = render(
            Event::Activation,
            lang,
            &params(Event::Activation.placeholders()),
        )
        .unwrap();
        assert_ne!(m.text, english.text, "{lang}");
        assert!(m.text.contains(word), "{lang}: {}", m.text);
    }
    let hant = render_reply(Reply::Cancel, Language::ZhHant, &params(&["portal_url"])).unwrap();
    assert!(hant.contains("門號") && hant.contains("註銷"), "{hant}");
    let hans = render_reply(Reply::Cancel, Language::ZhHans, &params(&["portal_url"])).unwrap();
    assert!(hans.contains("号码") && hans.contains("注销"), "{hans}");
}

#[test]
fn events_have_stable_names() {
    for event in Event::ALL {
        assert_eq!(event.as_str().parse::<Event>(), Ok(event));
        assert_eq!(event.to_string(), event.as_str());
    }
    let err = "refund".parse::<Event>().unwrap_err();
    assert_eq!(err, MessageError::UnknownEvent("refund".into()));
    let text = err.to_string();
    assert!(
        text.contains("\"refund\"") && text.contains("refund_credited"),
        "{text}"
    );
}

#[test]
fn sms_fit_in_two_parts() {
    // One part holds 70 characters of Japanese, Chinese or Korean, or 160 of English;
    // a longer text goes out in parts of 67 and 153. The texts aim for one part, but a
    // date, a reason or an address may take them into a second, never a third.
    for lang in Language::ALL {
        let limit = if lang == Language::En {
            2 * 153
        } else {
            2 * 67
        };
        for event in Event::ALL {
            let m = render(event, lang, &params(event.placeholders())).unwrap();
            let n = m.sms.chars().count();
            assert!(
                n <= limit,
                "{lang} {event} sms has {n} characters: {}",
                m.sms
            );
        }
        for reply in Reply::ALL {
            let text = render_reply(reply, lang, &params(reply.placeholders())).unwrap();
            let n = text.chars().count();
            assert!(
                n <= limit,
                "{lang} {} has {n} characters: {text}",
                reply.key()
            );
        }
    }
}
