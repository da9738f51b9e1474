//! The traveller's language: from `?lang=`, then the `sd_lang` cookie, then Accept-Language;
//! messages from the Fluent files in `locales/`, falling back to English.

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{static_loader, Loader};
use simdesk_domain::customer::Language;
use std::collections::HashMap;
use unic_langid::LanguageIdentifier;

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
    };
}

fn langid(lang: Language) -> LanguageIdentifier {
    lang.tag()
        .parse()
        .unwrap_or_else(|_| unic_langid::langid!("en"))
}

/// A message in `lang`; the key itself if no language has it (visible, never a panic).
pub fn t(lang: Language, key: &str) -> String {
    LOCALES
        .try_lookup(&langid(lang), key)
        .unwrap_or_else(|| key.to_string())
}

/// A message with one placeholder filled.
pub fn t1(lang: Language, key: &str, name: &str, value: &str) -> String {
    let mut args: HashMap<std::borrow::Cow<'static, str>, FluentValue<'_>> = HashMap::new();
    args.insert(
        name.to_string().into(),
        FluentValue::from(value.to_string()),
    );
    LOCALES
        .try_lookup_with_args(&langid(lang), key, &args)
        // Fluent isolates placeholders with invisible marks; they only get in the way in HTML.
        .map(|s| s.replace(['\u{2068}', '\u{2069}'], ""))
        .unwrap_or_else(|| key.to_string())
}

/// Picks the language from an Accept-Language header: the first supported one.
pub fn from_accept_language(header: &str) -> Option<Language> {
    let mut ranked: Vec<(u32, &str)> = header
        .split(',')
        .map(|part| {
            let mut it = part.trim().split(";q=");
            let tag = it.next().unwrap_or("").trim();
            let q = it
                .next()
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            // Integer ranking keeps the order stable without comparing floats.
            ((q * 1000.0) as u32, tag)
        })
        .collect();
    ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
    ranked.into_iter().find_map(|(_, tag)| {
        tag.parse::<Language>().ok().or_else(|| {
            tag.split('-')
                .next()
                .and_then(|p| p.parse::<Language>().ok())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_languages_are_understood() {
        assert_eq!(
            from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Some(Language::ZhHans)
        );
        assert_eq!(
            from_accept_language("zh-TW,zh;q=0.9"),
            Some(Language::ZhHant)
        );
        assert_eq!(
            from_accept_language("fr-FR,fr;q=0.9,ko;q=0.5"),
            Some(Language::Ko)
        );
        assert_eq!(from_accept_language("ja-JP"), Some(Language::Ja));
        assert_eq!(from_accept_language("de"), None);
    }

    fn keys(lang: &str) -> Vec<String> {
        let path = format!("{}/locales/{lang}/portal.ftl", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut keys: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim().to_string()))
            .collect();
        keys.sort();
        keys
    }

    #[test]
    fn every_language_has_every_message_and_no_unfilled_placeholder() {
        let reference = keys("en");
        for lang in Language::ALL {
            assert_eq!(
                keys(lang.tag()),
                reference,
                "{lang} must have exactly the English message ids"
            );
            for key in &reference {
                let text = t1(lang, key, "x", "VALUE");
                assert!(
                    !text.contains("{ $") && !text.contains("{$"),
                    "{lang} {key}: {text}"
                );
            }
        }
        assert_eq!(
            t1(Language::En, "code-sent", "to", "••••5678"),
            "We sent a 6-digit code to ••••5678. It is valid for 10 minutes."
        );
    }
}
