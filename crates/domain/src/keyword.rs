//! Keywords a traveller texts to the service number, recognised in every language simdesk speaks.
//!
//! Phones differ in what they add around a word: an IME may leave full-width letters or an
//! ideographic space, autocorrect may capitalise or add a full stop, a traveller may write "BAL
//! please". All of that is tolerated. What is not tolerated is a keyword that runs on into another
//! word: "解約しないで" ("do not cancel") must not read as 解約, and "BALANCE" is not "BAL".

use crate::customer::Language;

/// What a traveller asks for by SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keyword {
    /// Reply with the line's remaining balance.
    Balance,
    /// Start cancelling the line.
    Cancel,
}

/// Every spelling, with the language it was written in. Latin spellings carry no language: the
/// traveller's own language is used for the answer.
const KEYWORDS: &[(&str, Keyword, Option<Language>)] = &[
    ("bal", Keyword::Balance, None),
    ("残高", Keyword::Balance, Some(Language::Ja)),
    ("余额", Keyword::Balance, Some(Language::ZhHans)),
    ("餘額", Keyword::Balance, Some(Language::ZhHant)),
    ("잔액", Keyword::Balance, Some(Language::Ko)),
    ("cancel", Keyword::Cancel, None),
    ("解約", Keyword::Cancel, Some(Language::Ja)),
    ("注销", Keyword::Cancel, Some(Language::ZhHans)),
    ("註銷", Keyword::Cancel, Some(Language::ZhHant)),
    ("해지", Keyword::Cancel, Some(Language::Ko)),
];

/// The keyword an inbound SMS starts with, and the language it is written in (`None` for the
/// Latin keywords, meaning "answer in the customer's language"). `None` when the text is not a
/// keyword.
pub fn parse(text: &str) -> Option<(Keyword, Option<Language>)> {
    let normalized = normalize(text);
    let start = normalized.trim_start_matches(is_blank);
    KEYWORDS.iter().find_map(|&(spelling, keyword, language)| {
        let rest = strip_prefix_ignore_ascii_case(start, spelling)?;
        stands_alone(rest).then_some((keyword, language))
    })
}

/// Folds the variants phones produce into one form: full-width Latin and punctuation to ASCII,
/// the ideographic space to a plain one, and decomposed Hangul jamo into syllables.
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let c = match c {
            '\u{3000}' => ' ',
            // The full-width forms of ASCII '!'..'~' sit at a fixed offset from it.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        };
        match compose_hangul(c, chars.peek().copied()) {
            Some(syllable) => {
                chars.next();
                // A trailing consonant may follow the vowel.
                let with_final = chars.peek().and_then(|&t| add_final_consonant(syllable, t));
                match with_final {
                    Some(full) => {
                        chars.next();
                        out.push(full);
                    }
                    None => out.push(syllable),
                }
            }
            None => out.push(c),
        }
    }
    out
}

const JAMO_L_BASE: u32 = 0x1100;
const JAMO_V_BASE: u32 = 0x1161;
const JAMO_T_BASE: u32 = 0x11A7;
const SYLLABLE_BASE: u32 = 0xAC00;
const L_COUNT: u32 = 19;
const V_COUNT: u32 = 21;
const T_COUNT: u32 = 28;

/// A leading consonant and a vowel jamo as one Hangul syllable (Unicode's composition algorithm).
fn compose_hangul(lead: char, vowel: Option<char>) -> Option<char> {
    let l = (lead as u32).checked_sub(JAMO_L_BASE)?;
    let v = (vowel? as u32).checked_sub(JAMO_V_BASE)?;
    if l >= L_COUNT || v >= V_COUNT {
        return None;
    }
    char::from_u32(SYLLABLE_BASE + (l * V_COUNT + v) * T_COUNT)
}

/// A syllable without a final consonant followed by a trailing consonant jamo, as one syllable.
fn add_final_consonant(syllable: char, trailing: char) -> Option<char> {
    let t = (trailing as u32).checked_sub(JAMO_T_BASE)?;
    if t == 0 || t >= T_COUNT {
        return None;
    }
    char::from_u32(syllable as u32 + t)
}

/// Whitespace and the invisible characters some keyboards insert before the first word.
fn is_blank(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
        )
}

/// Whether the keyword ends a word: the text ends, or a space, punctuation or a symbol follows.
/// Letters and digits, including kana, ideographs and Hangul, would make it part of a longer word.
fn stands_alone(rest: &str) -> bool {
    rest.chars().next().is_none_or(|c| !c.is_alphanumeric())
}

/// `text` without its first `prefix.chars().count()` characters when they equal `prefix`,
/// ignoring the case of ASCII letters.
fn strip_prefix_ignore_ascii_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let mut rest = text.char_indices();
    for expected in prefix.chars() {
        let (_, actual) = rest.next()?;
        if !actual.eq_ignore_ascii_case(&expected) {
            return None;
        }
    }
    let consumed = rest.next().map_or(text.len(), |(i, _)| i);
    text.get(consumed..)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn balance(language: Option<Language>) -> Option<(Keyword, Option<Language>)> {
        Some((Keyword::Balance, language))
    }

    fn cancel(language: Option<Language>) -> Option<(Keyword, Option<Language>)> {
        Some((Keyword::Cancel, language))
    }

    #[test]
    fn every_spelling_in_its_language() {
        assert_eq!(parse("BAL"), balance(None));
        assert_eq!(parse("残高"), balance(Some(Language::Ja)));
        assert_eq!(parse("余额"), balance(Some(Language::ZhHans)));
        assert_eq!(parse("餘額"), balance(Some(Language::ZhHant)));
        assert_eq!(parse("잔액"), balance(Some(Language::Ko)));
        assert_eq!(parse("CANCEL"), cancel(None));
        assert_eq!(parse("解約"), cancel(Some(Language::Ja)));
        assert_eq!(parse("注销"), cancel(Some(Language::ZhHans)));
        assert_eq!(parse("註銷"), cancel(Some(Language::ZhHant)));
        assert_eq!(parse("해지"), cancel(Some(Language::Ko)));
    }

    #[test]
    fn latin_case_does_not_matter() {
        assert_eq!(parse("bal"), balance(None));
        assert_eq!(parse("Bal"), balance(None));
        assert_eq!(parse("cAnCeL"), cancel(None));
    }

    #[test]
    fn full_width_latin_is_read_as_latin() {
        assert_eq!(parse("ＢＡＬ"), balance(None));
        assert_eq!(parse("ｂａｌ"), balance(None));
        assert_eq!(parse("ＣＡＮＣＥＬ！"), cancel(None));
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        assert_eq!(parse("  BAL  "), balance(None));
        assert_eq!(parse("\u{3000}残高\u{3000}"), balance(Some(Language::Ja)));
        assert_eq!(parse("\n\t잔액\r\n"), balance(Some(Language::Ko)));
        assert_eq!(parse("\u{FEFF}解約"), cancel(Some(Language::Ja)));
    }

    #[test]
    fn trailing_punctuation_and_extra_words_are_tolerated() {
        assert_eq!(parse("残高。"), balance(Some(Language::Ja)));
        assert_eq!(parse("BAL!"), balance(None));
        assert_eq!(parse("bal."), balance(None));
        assert_eq!(parse("余额？"), balance(Some(Language::ZhHans)));
        assert_eq!(parse("BAL please"), balance(None));
        assert_eq!(parse("残高　おねがいします"), balance(Some(Language::Ja)));
        assert_eq!(parse("cancel my line"), cancel(None));
        assert_eq!(parse("해지 해주세요"), cancel(Some(Language::Ko)));
        assert_eq!(parse("註銷，謝謝"), cancel(Some(Language::ZhHant)));
    }

    #[test]
    fn a_keyword_running_into_another_word_is_not_a_keyword() {
        assert_eq!(parse("BALANCE"), None);
        assert_eq!(parse("BAL2"), None);
        assert_eq!(parse("cancelled"), None);
        assert_eq!(parse("解約しないで"), None);
        assert_eq!(parse("残高照会"), None);
    }

    #[test]
    fn other_texts_are_not_keywords() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("   "), None);
        assert_eq!(parse("hello"), None);
        assert_eq!(parse("please BAL"), None);
        assert_eq!(parse("BA"), None);
        assert_eq!(parse("残"), None);
        assert_eq!(parse("!BAL"), None);
    }

    #[test]
    fn decomposed_hangul_is_composed() {
        // 잔액 as conjoining jamo: ᄌ ᅡ ᆫ ᄋ ᅢ ᆨ
        assert_eq!(
            parse("\u{110C}\u{1161}\u{11AB}\u{110B}\u{1162}\u{11A8}"),
            balance(Some(Language::Ko))
        );
        // 해지: ᄒ ᅢ ᄌ ᅵ
        assert_eq!(
            parse("\u{1112}\u{1162}\u{110C}\u{1175}"),
            cancel(Some(Language::Ko))
        );
    }

    proptest! {
        #[test]
        fn never_panics(text in any::<String>()) {
            let _ = parse(&text);
        }

        #[test]
        fn never_panics_after_a_keyword(
            index in 0..KEYWORDS.len(),
            rest in any::<String>(),
        ) {
            let _ = parse(&format!("{}{}", KEYWORDS[index].0, rest));
        }

        #[test]
        fn whitespace_and_case_never_change_the_answer(
            index in 0..KEYWORDS.len(),
            before in "[ \t\n\u{3000}]{0,4}",
            after in "[ \t\n\u{3000}。!?.]{0,4}",
            upper in any::<bool>(),
        ) {
            let (spelling, keyword, language) = KEYWORDS[index];
            let spelling = if upper { spelling.to_ascii_uppercase() } else { spelling.to_string() };
            prop_assert_eq!(
                parse(&format!("{before}{spelling}{after}")),
                Some((keyword, language))
            );
        }
    }
}

/// Arbitrary and mutated SMS texts through the keyword reader: a keyword or none, never a panic,
/// and never a keyword that runs on into a longer word.
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::fuzz::{config, edit_char, mutate, text, PARSER_CASES};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(config(PARSER_CASES))]

        #[test]
        fn any_text_is_a_keyword_or_none(text in text()) {
            let _ = parse(&text);
        }

        #[test]
        fn an_edited_keyword_is_a_keyword_or_none(
            index in 0..KEYWORDS.len(),
            rest in text(),
            edits in prop::collection::vec((any::<u8>(), any::<prop::sample::Index>(), edit_char()), 0..3),
        ) {
            let mut message = format!("{}{rest}", KEYWORDS[index].0);
            for (edit, at, with) in edits {
                message = mutate(&message, edit, at, with);
            }
            if let Some((keyword, _)) = parse(&message) {
                // Whatever was read is one of the spellings, standing alone.
                let normalized = normalize(&message);
                let start = normalized.trim_start_matches(is_blank);
                prop_assert!(KEYWORDS.iter().any(|&(spelling, k, _)| k == keyword
                    && strip_prefix_ignore_ascii_case(start, spelling).is_some_and(stands_alone)));
            }
        }
    }
}
