//! The pages' words: the traveller's language (from `?lang=`, then the `sd_lang` cookie, then
//! Accept-Language) and messages from [`crate::i18n`], falling back to English.

use crate::i18n::{self, Args};
use simdesk_domain::customer::Language;

pub use crate::i18n::from_accept_language;

/// A message in `lang`; the key itself if no language has it (visible, never a panic).
pub fn t(lang: Language, key: &str) -> String {
    i18n::lookup(lang, key).unwrap_or_else(|| key.to_string())
}

/// A message with one placeholder filled.
pub fn t1(lang: Language, key: &str, name: &str, value: &str) -> String {
    let mut args = Args::new();
    args.insert(name.to_string().into(), i18n::text_arg(value));
    i18n::lookup_with_args(lang, key, &args).unwrap_or_else(|| key.to_string())
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
