//! simdesk's one source of words: the Fluent files in `locales/<language>/` (pages, messages,
//! receipts) and how the language a traveller reads is chosen.
//!
//! Every `.ftl` file of a language folder joins one bundle, so an id is unique across
//! `portal.ftl`, `messages.ftl` and `receipts.ftl`. English is the fallback for a missing id.

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{static_loader, LanguageIdentifier, Loader};
use simdesk_domain::customer::Language;
use std::borrow::Cow;
use std::collections::HashMap;

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // Fluent's marks around placeholders (for bidirectional layout) are invisible noise in
        // an SMS, an e-mail or a page in the languages simdesk speaks; none is ever produced.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The languages simdesk speaks, each with a complete set of texts.
pub const SUPPORTED: [Language; 5] = Language::ALL;

/// The language used when nothing better is known, and the one a missing text falls back to.
pub const FALLBACK: Language = Language::En;

/// Placeholder values for a text, by name.
pub type Args = HashMap<Cow<'static, str>, FluentValue<'static>>;

/// A text could not be produced in the language asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{language}: {id}: {reason}")]
pub struct LookupError {
    pub language: Language,
    pub id: String,
    pub reason: String,
}

fn langid(language: Language) -> LanguageIdentifier {
    language
        .tag()
        .parse()
        .unwrap_or_else(|_| unic_langid::langid!("en"))
}

/// The text `id` in `language`, else in English; `None` if neither has it.
pub fn lookup(language: Language, id: &str) -> Option<String> {
    LOCALES
        .try_lookup(&langid(language), id)
        .map(|s| strip_isolation(&s))
}

/// [`lookup`] with placeholders filled.
pub fn lookup_with_args(language: Language, id: &str, args: &Args) -> Option<String> {
    LOCALES
        .try_lookup_with_args(&langid(language), id, args)
        .map(|s| strip_isolation(&s))
}

/// The text `id` in `language` only, with no fallback: what the tests use to prove that a
/// language is complete, and what a caller uses to notice a gap before falling back.
pub fn lookup_exact(
    language: Language,
    id: &str,
    args: Option<&Args>,
) -> Result<String, LookupError> {
    LOCALES
        .lookup_single_language(&langid(language), id, args)
        .map(|s| strip_isolation(&s))
        .map_err(|e| LookupError {
            language,
            id: id.to_string(),
            reason: e.to_string(),
        })
}

/// One placeholder's value as Fluent takes it.
pub fn text_arg(value: impl Into<String>) -> FluentValue<'static> {
    FluentValue::from(value.into())
}

/// Fluent's bidirectional isolation marks must never reach a phone, a mailbox or a page,
/// whether a translation or a value carried them.
pub fn strip_isolation(s: &str) -> String {
    s.replace(['\u{2068}', '\u{2069}'], "")
}

/// Picks the language from an Accept-Language header: the first supported one, by quality;
/// a regional tag (`zh-CN`, `ja-JP`) counts as its language, `zh` as simplified Chinese.
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

/// The language of a tag written down earlier (a receipt's, a holder's registered one),
/// read leniently: ja, en, ko, zh-Hans (also zh, zh-CN, zh-SG), zh-Hant (also zh-TW, zh-HK,
/// zh-MO); case and `_` for `-` do not matter, a region is ignored; anything else is English.
pub fn from_tag(tag: &str) -> Language {
    let lower = tag.trim().to_ascii_lowercase().replace('_', "-");
    let mut subtags = lower.split('-');
    match subtags.next().unwrap_or("") {
        "ja" => Language::Ja,
        "ko" => Language::Ko,
        "zh" => {
            if subtags.any(|s| matches!(s, "hant" | "tw" | "hk" | "mo")) {
                Language::ZhHant
            } else {
                Language::ZhHans
            }
        }
        _ => FALLBACK,
    }
}

/// The first language known, in the caller's order of preference (what the traveller asked
/// for, their registered language, their browser's), else English.
pub fn preferred(candidates: impl IntoIterator<Item = Option<Language>>) -> Language {
    candidates.into_iter().flatten().next().unwrap_or(FALLBACK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_written_down_are_read_leniently() {
        for (tag, language) in [
            ("ja", Language::Ja),
            ("ja-JP", Language::Ja),
            ("en", Language::En),
            ("ko", Language::Ko),
            ("zh-Hans", Language::ZhHans),
            ("zh", Language::ZhHans),
            ("zh-CN", Language::ZhHans),
            ("zh-Hant", Language::ZhHant),
            ("zh-TW", Language::ZhHant),
            ("zh_hant_HK", Language::ZhHant),
            ("fr", Language::En),
            ("", Language::En),
        ] {
            assert_eq!(from_tag(tag), language, "{tag}");
        }
        for language in SUPPORTED {
            assert_eq!(from_tag(language.tag()), language);
        }
    }

    #[test]
    fn the_first_known_preference_wins() {
        assert_eq!(
            preferred([None, Some(Language::Ko), Some(Language::Ja)]),
            Language::Ko
        );
        assert_eq!(preferred([None, None]), Language::En);
    }

    #[test]
    fn a_missing_text_falls_back_to_english_only_when_asked_to() {
        // Every shipped language has every id, so probe with an id only English could have.
        assert_eq!(lookup(Language::Ja, "no-such-text"), None);
        assert!(lookup_exact(Language::Ja, "no-such-text", None).is_err());
        assert_eq!(
            lookup(Language::Ja, "receipt-title").as_deref(),
            Some("解約証明書")
        );
    }
}
