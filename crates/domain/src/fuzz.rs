//! Case counts and shared input strategies for the parser fuzz properties in this crate's tests.

use proptest::prelude::*;

/// Cases each parser fuzz property runs when `PROPTEST_CASES` is not set: enough to find
/// boundary mistakes on every CI run, few enough to keep the domain tests within seconds.
pub(crate) const PARSER_CASES: u32 = 10_000;

/// `ProptestConfig::default()` (which reads `PROPTEST_CASES` and the other `PROPTEST_*`
/// variables) with `default_cases` unless `PROPTEST_CASES` asks for another number.
pub(crate) fn config(default_cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default_cases;
    }
    config
}

/// What a careless or hostile user can type: any Unicode, text close to what the parsers
/// expect, control characters, and now and then something very long.
pub(crate) fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        4 => "[0-9０-９ +()\\-ー.,:_/a-zA-Z¥$€円\t\n\u{0}\u{3000}\u{FEFF}]{0,48}",
        1 => "\\PC{0,16}".prop_map(|s| s.repeat(1000)),
    ]
}

/// One edit to `text` at a place and with a character chosen by the strategy's seed values:
/// insert, delete, replace or duplicate a character, or swap two neighbours.
pub(crate) fn mutate(text: &str, edit: u8, at: prop::sample::Index, with: char) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let len = chars.len();
    match edit % 5 {
        0 => chars.insert(at.index(len + 1), with),
        1 if len > 0 => {
            chars.remove(at.index(len));
        }
        2 if len > 0 => chars[at.index(len)] = with,
        3 if len > 0 => {
            let i = at.index(len);
            chars.insert(i, chars[i]);
        }
        4 if len > 1 => {
            let i = at.index(len - 1);
            chars.swap(i, i + 1);
        }
        _ => chars.push(with),
    }
    chars.into_iter().collect()
}

/// A character to put into a valid value: mostly digits and the separators the parsers know,
/// sometimes anything.
pub(crate) fn edit_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::char::range('0', '9'),
        2 => prop::sample::select(vec![' ', '-', '+', '(', ')', '.', ',', '０', '９', 'ー', '\u{3000}', '\u{0}', 'a', 'Z']),
        1 => any::<char>(),
    ]
}
