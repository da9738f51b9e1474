//! Japan's business calendar: national holidays computed by rule, carrier closures, and the
//! business-day arithmetic behind activation and refund deadlines.
//!
//! Holidays come from the rules of 国民の祝日に関する法律 and its one-off special laws rather than
//! from a downloaded list, so the calendar works offline and for future years. The equinox dates
//! use the usual approximation, which is only valid from 1980 to 2099; outside those years the
//! holidays are unknown, and [`BusinessCalendar`] then only knows weekends and closures.

use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::sync::OnceLock;

/// The years whose holidays are known: the range in which the equinox approximation holds.
pub const SUPPORTED_YEARS: RangeInclusive<i16> = FIRST_YEAR..=LAST_YEAR;

const FIRST_YEAR: i16 = 1980;
const LAST_YEAR: i16 = 2099;
const YEAR_COUNT: usize = (LAST_YEAR - FIRST_YEAR + 1) as usize;

/// A day off in Japan, with the Cabinet Office's Japanese and English names; one-off days by law
/// carry the name of their ceremony.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Holiday {
    pub date: Date,
    pub name_ja: &'static str,
    pub name_en: &'static str,
}

/// Why a calendar question or a closure could not be answered or built.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CalendarError {
    #[error(
        "year {year} is outside the supported range {FIRST_YEAR}..={LAST_YEAR}: \
         Japanese holidays are only computed for those years"
    )]
    YearOutOfRange { year: i16 },
    #[error("month {month} does not exist: expected 1 to 12")]
    InvalidMonth { month: u8 },
    #[error("day {day} does not exist in month {month}: expected 1 to {max}")]
    InvalidDay { month: u8, day: u8, max: u8 },
    #[error(
        "invalid closure {input:?}: {reason}; expected \"MM-DD\" or \"MM-DD..MM-DD\", \
         e.g. \"08-15\" or \"12-29..01-03\""
    )]
    InvalidClosure { input: String, reason: String },
}

/// Every national holiday and substitute day of `year`, sorted by date.
pub fn holidays(year: i16) -> Result<Vec<Holiday>, CalendarError> {
    year_holidays(year)
        .map(<[Holiday]>::to_vec)
        .ok_or(CalendarError::YearOutOfRange { year })
}

/// The holiday on `date`, if any. Always `None` outside [`SUPPORTED_YEARS`], where holidays are
/// unknown rather than absent.
pub fn holiday_on(date: Date) -> Option<Holiday> {
    let year = year_holidays(date.year())?;
    year.binary_search_by_key(&date, |h| h.date)
        .ok()
        .and_then(|i| year.get(i).copied())
}

/// Each year is computed once and shared, because `is_business_day` runs in loops over days.
fn year_holidays(year: i16) -> Option<&'static [Holiday]> {
    static YEARS: [OnceLock<Vec<Holiday>>; YEAR_COUNT] = [const { OnceLock::new() }; YEAR_COUNT];
    // Widened first so that years near i16::MIN cannot overflow the subtraction.
    let index = usize::try_from(i32::from(year) - i32::from(FIRST_YEAR)).ok()?;
    let cell = YEARS.get(index)?;
    Some(cell.get_or_init(|| compute_year(year)).as_slice())
}

#[derive(Clone, Copy)]
struct Name {
    ja: &'static str,
    en: &'static str,
}

const NEW_YEAR: Name = Name {
    ja: "元日",
    en: "New Year's Day",
};
const COMING_OF_AGE: Name = Name {
    ja: "成人の日",
    en: "Coming of Age Day",
};
const FOUNDATION: Name = Name {
    ja: "建国記念の日",
    en: "National Foundation Day",
};
const EMPEROR: Name = Name {
    ja: "天皇誕生日",
    en: "Emperor's Birthday",
};
const VERNAL: Name = Name {
    ja: "春分の日",
    en: "Vernal Equinox Day",
};
const SHOWA: Name = Name {
    ja: "昭和の日",
    en: "Showa Day",
};
const CONSTITUTION: Name = Name {
    ja: "憲法記念日",
    en: "Constitution Memorial Day",
};
const GREENERY: Name = Name {
    ja: "みどりの日",
    en: "Greenery Day",
};
const CHILDREN: Name = Name {
    ja: "こどもの日",
    en: "Children's Day",
};
const MARINE: Name = Name {
    ja: "海の日",
    en: "Marine Day",
};
const MOUNTAIN: Name = Name {
    ja: "山の日",
    en: "Mountain Day",
};
const AGED: Name = Name {
    ja: "敬老の日",
    en: "Respect for the Aged Day",
};
const AUTUMNAL: Name = Name {
    ja: "秋分の日",
    en: "Autumnal Equinox Day",
};
const HEALTH_SPORTS: Name = Name {
    ja: "体育の日",
    en: "Health and Sports Day",
};
const SPORTS: Name = Name {
    ja: "スポーツの日",
    en: "Sports Day",
};
const CULTURE: Name = Name {
    ja: "文化の日",
    en: "Culture Day",
};
const LABOUR: Name = Name {
    ja: "勤労感謝の日",
    en: "Labour Thanksgiving Day",
};
const SUBSTITUTE: Name = Name {
    ja: "休日",
    en: "Substitute holiday",
};
const CITIZENS: Name = Name {
    ja: "休日",
    en: "Citizens' holiday",
};
const ACCESSION: Name = Name {
    ja: "天皇の即位の日",
    en: "Enthronement Day",
};
const ENTHRONEMENT: Name = Name {
    ja: "即位礼正殿の儀",
    en: "Enthronement Ceremony",
};
const SHOWA_FUNERAL: Name = Name {
    ja: "昭和天皇の大喪の礼",
    en: "State Funeral of Emperor Showa",
};
const ROYAL_WEDDING: Name = Name {
    ja: "結婚の儀",
    en: "Imperial Wedding Ceremony",
};

/// One-off days off by special law. `true` marks the 2019 days that law deemed 国民の祝日, so that
/// they create substitute and citizens' holidays (which is why 2019-04-30 and 05-02 were off).
const ONE_OFF_DAYS: [(i16, i8, i8, Name, bool); 5] = [
    (1989, 2, 24, SHOWA_FUNERAL, false),
    (1990, 11, 12, ENTHRONEMENT, false),
    (1993, 6, 9, ROYAL_WEDDING, false),
    (2019, 5, 1, ACCESSION, true),
    (2019, 10, 22, ENTHRONEMENT, true),
];

/// `year` must be in [`SUPPORTED_YEARS`]: every date built here is then valid.
fn compute_year(year: i16) -> Vec<Holiday> {
    let at = |month: i8, day: i8| jiff::civil::date(year, month, day);
    let mut national: Vec<(Date, Name)> = Vec::with_capacity(24);

    national.push((at(1, 1), NEW_YEAR));
    let coming_of_age = if year <= 1999 {
        at(1, 15)
    } else {
        nth_monday(year, 1, 2)
    };
    national.push((coming_of_age, COMING_OF_AGE));
    national.push((at(2, 11), FOUNDATION));
    match year {
        ..=1988 => national.push((at(4, 29), EMPEROR)),
        1989..=2018 => national.push((at(12, 23), EMPEROR)),
        // The holiday moved to Naruhito's birthday with his accession on 05-01, after 02-23 had
        // passed and before 12-23 came.
        2019 => {}
        _ => national.push((at(2, 23), EMPEROR)),
    }
    national.push((at(3, vernal_equinox_day(year)), VERNAL));
    match year {
        ..=1988 => {}
        1989..=2006 => national.push((at(4, 29), GREENERY)),
        _ => {
            national.push((at(4, 29), SHOWA));
            national.push((at(5, 4), GREENERY));
        }
    }
    national.push((at(5, 3), CONSTITUTION));
    national.push((at(5, 5), CHILDREN));
    let marine = match year {
        ..=1995 => None,
        1996..=2002 => Some(at(7, 20)),
        // The Tokyo Olympics moved three holidays around their opening and closing ceremonies.
        2020 => Some(at(7, 23)),
        2021 => Some(at(7, 22)),
        _ => Some(nth_monday(year, 7, 3)),
    };
    if let Some(day) = marine {
        national.push((day, MARINE));
    }
    let mountain = match year {
        ..=2015 => None,
        2020 => Some(at(8, 10)),
        2021 => Some(at(8, 8)),
        _ => Some(at(8, 11)),
    };
    if let Some(day) = mountain {
        national.push((day, MOUNTAIN));
    }
    let aged = if year <= 2002 {
        at(9, 15)
    } else {
        nth_monday(year, 9, 3)
    };
    national.push((aged, AGED));
    national.push((at(9, autumnal_equinox_day(year)), AUTUMNAL));
    let sports = match year {
        ..=1999 => (at(10, 10), HEALTH_SPORTS),
        2000..=2019 => (nth_monday(year, 10, 2), HEALTH_SPORTS),
        2020 => (at(7, 24), SPORTS),
        2021 => (at(7, 23), SPORTS),
        _ => (nth_monday(year, 10, 2), SPORTS),
    };
    national.push(sports);
    national.push((at(11, 3), CULTURE));
    national.push((at(11, 23), LABOUR));

    let mut special: Vec<(Date, Name)> = Vec::new();
    for (y, month, day, name, deemed_national) in ONE_OFF_DAYS {
        if y == year {
            let entry = (at(month, day), name);
            if deemed_national {
                national.push(entry);
            } else {
                special.push(entry);
            }
        }
    }
    national.sort_by_key(|(date, _)| *date);

    let is_national = |date: Date| national.iter().any(|(d, _)| *d == date);
    let mut extra: Vec<(Date, Name)> = Vec::new();
    for &(date, _) in &national {
        if date.weekday() != Weekday::Sunday {
            continue;
        }
        let Some(mut candidate) = next_day(date) else {
            continue;
        };
        if year >= 2007 {
            // Since 2007 the substitute is the first day after that is not itself a holiday,
            // so a Sunday 05-03 gives 05-06.
            while is_national(candidate) {
                match next_day(candidate) {
                    Some(next) => candidate = next,
                    None => break,
                }
            }
        }
        if !is_national(candidate) {
            extra.push((candidate, SUBSTITUTE));
        }
    }
    if year >= 1986 {
        for &(date, _) in &national {
            let Some(middle) = next_day(date) else {
                continue;
            };
            let sandwiched = next_day(middle).is_some_and(is_national);
            let taken = is_national(middle) || extra.iter().any(|(d, _)| *d == middle);
            // Until 2006 the law excluded Sundays from the sandwich rule, e.g. 1986-05-04.
            let excluded_sunday = year < 2007 && middle.weekday() == Weekday::Sunday;
            if sandwiched && !taken && !excluded_sunday {
                extra.push((middle, CITIZENS));
            }
        }
    }

    let mut all: Vec<Holiday> = national
        .into_iter()
        .chain(extra)
        .chain(special)
        .map(|(date, name)| Holiday {
            date,
            name_ja: name.ja,
            name_en: name.en,
        })
        .collect();
    all.sort_by_key(|h| h.date);
    all
}

fn next_day(date: Date) -> Option<Date> {
    date.tomorrow().ok()
}

/// Happy Monday holidays: `nth` is at most 3, so the day is at most the 21st.
fn nth_monday(year: i16, month: i8, nth: i8) -> Date {
    let first = jiff::civil::date(year, month, 1);
    let to_monday = (7 - first.weekday().to_monday_zero_offset()) % 7;
    jiff::civil::date(year, month, 1 + to_monday + 7 * (nth - 1))
}

/// day = floor(20.8431 + 0.242194 * (y - 1980)) - floor((y - 1980) / 4), in millionths so that
/// no rounding error can move a boundary year by a day. Valid for 1980..=2099 only.
fn vernal_equinox_day(year: i16) -> i8 {
    equinox_day(20_843_100, year)
}

/// As [`vernal_equinox_day`], with 23.2488.
fn autumnal_equinox_day(year: i16) -> i8 {
    equinox_day(23_248_800, year)
}

fn equinox_day(base_millionths: i32, year: i16) -> i8 {
    let n = i32::from(year) - i32::from(FIRST_YEAR);
    let day = (base_millionths + 242_194 * n) / 1_000_000 - n / 4;
    // Both terms are non-negative in range, so truncating division is the floor; the result is
    // 19..=24 for every supported year.
    i8::try_from(day).unwrap_or(20)
}

/// A yearly period when the carrier does not process orders, inclusive at both ends. It may wrap
/// over the new year (`12-29..01-03`). Written and read as `MM-DD` or `MM-DD..MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Closure {
    start: (u8, u8),
    end: (u8, u8),
}

impl Closure {
    /// A closure from `start_month`-`start_day` to `end_month`-`end_day` inclusive. 02-29 is
    /// accepted and simply never matches in common years.
    pub fn new(
        start_month: u8,
        start_day: u8,
        end_month: u8,
        end_day: u8,
    ) -> Result<Closure, CalendarError> {
        validate_month_day(start_month, start_day)?;
        validate_month_day(end_month, end_day)?;
        Ok(Closure {
            start: (start_month, start_day),
            end: (end_month, end_day),
        })
    }

    /// First day as (month, day).
    pub fn start(&self) -> (u8, u8) {
        self.start
    }

    /// Last day as (month, day), inclusive.
    pub fn end(&self) -> (u8, u8) {
        self.end
    }

    pub fn contains(&self, date: Date) -> bool {
        let day = (date.month().unsigned_abs(), date.day().unsigned_abs());
        if self.start <= self.end {
            self.start <= day && day <= self.end
        } else {
            day >= self.start || day <= self.end
        }
    }
}

fn validate_month_day(month: u8, day: u8) -> Result<(), CalendarError> {
    let max = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 => 29,
        _ => return Err(CalendarError::InvalidMonth { month }),
    };
    if (1..=max).contains(&day) {
        Ok(())
    } else {
        Err(CalendarError::InvalidDay { month, day, max })
    }
}

impl FromStr for Closure {
    type Err = CalendarError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| CalendarError::InvalidClosure {
            input: excerpt(s),
            reason,
        };
        let text = s.trim();
        if text.is_empty() {
            return Err(invalid("it is empty".to_string()));
        }
        let (first, last) = text.split_once("..").unwrap_or((text, text));
        let (start_month, start_day) = parse_month_day(first).map_err(&invalid)?;
        let (end_month, end_day) = parse_month_day(last).map_err(&invalid)?;
        Closure::new(start_month, start_day, end_month, end_day).map_err(|e| invalid(e.to_string()))
    }
}

fn parse_month_day(text: &str) -> Result<(u8, u8), String> {
    let text = text.trim();
    let Some((month, day)) = text.split_once('-') else {
        return Err(format!(
            "{:?} is not a month and a day joined by '-'",
            excerpt(text)
        ));
    };
    Ok((parse_number(month, "month")?, parse_number(day, "day")?))
}

fn parse_number(text: &str, what: &str) -> Result<u8, String> {
    // u8::from_str alone would accept "+1" and three-digit forms such as "012".
    let well_formed = (1..=2).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse() {
        Ok(value) if well_formed => Ok(value),
        _ => Err(format!(
            "{:?} is not a {what} of one or two digits",
            excerpt(text)
        )),
    }
}

/// Shortens echoed input so that an error about a pasted novel stays one line.
fn excerpt(text: &str) -> String {
    const LIMIT: usize = 32;
    if text.chars().count() <= LIMIT {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(LIMIT).collect();
        short.push('…');
        short
    }
}

impl fmt::Display for Closure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ((sm, sd), (em, ed)) = (self.start, self.end);
        if self.start == self.end {
            write!(f, "{sm:02}-{sd:02}")
        } else {
            write!(f, "{sm:02}-{sd:02}..{em:02}-{ed:02}")
        }
    }
}

impl TryFrom<String> for Closure {
    type Error = CalendarError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Closure> for String {
    fn from(closure: Closure) -> Self {
        closure.to_string()
    }
}

/// Which days the carrier processes: weekdays that are neither Japanese holidays nor in one of
/// the closures.
///
/// Outside [`SUPPORTED_YEARS`] holidays are unknown, so only weekends and closures count there.
/// Methods that step through days never panic: past jiff's last date (9999-12-31) they stop at
/// `Date::MAX`, which is also what a calendar whose closures cover the whole year yields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BusinessCalendar {
    closures: Vec<Closure>,
}

impl BusinessCalendar {
    /// Weekends and Japanese holidays only.
    pub fn japan() -> BusinessCalendar {
        BusinessCalendar::default()
    }

    pub fn with_closures(closures: Vec<Closure>) -> BusinessCalendar {
        BusinessCalendar { closures }
    }

    pub fn closures(&self) -> &[Closure] {
        &self.closures
    }

    pub fn is_business_day(&self, date: Date) -> bool {
        !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
            && !self.closures.iter().any(|c| c.contains(date))
            && holiday_on(date).is_none()
    }

    /// The `n`th business day after `date`, not counting `date` itself; for `n == 0`, the first
    /// business day on or after `date`.
    ///
    /// Strictly increasing in `n`, except that from a non-business day `n = 0` and `n = 1` both
    /// give the next business day (a Saturday order is due Monday, whether rolled or counted).
    ///
    /// Refuses to step onto a date whose holidays are unknown (outside 1980–2099) rather than
    /// answer with a date that may be a holiday.
    pub fn add_business_days(&self, date: Date, n: u32) -> Result<Date, CalendarError> {
        let known = |d: Date| {
            if SUPPORTED_YEARS.contains(&d.year()) {
                Ok(d)
            } else {
                Err(CalendarError::YearOutOfRange { year: d.year() })
            }
        };
        let step = |d: Date| {
            next_day(d)
                .ok_or(CalendarError::YearOutOfRange { year: d.year() })
                .and_then(known)
        };
        let mut current = known(date)?;
        if n == 0 {
            while !self.is_business_day(current) {
                current = step(current)?;
            }
            return Ok(current);
        }
        let mut remaining = n;
        while remaining > 0 {
            current = step(current)?;
            if self.is_business_day(current) {
                remaining -= 1;
            }
        }
        Ok(current)
    }

    /// The first business day strictly after `date`.
    pub fn next_business_day(&self, date: Date) -> Result<Date, CalendarError> {
        self.add_business_days(date, 1)
    }

    /// The business days `d` with `start < d <= end`, negated when `end` is before `start`, so
    /// that `business_days_between(d, add_business_days(d, n)) == n` for every `n >= 1`.
    pub fn business_days_between(&self, start: Date, end: Date) -> i64 {
        if end < start {
            return -self.business_days_between(end, start);
        }
        let mut count = 0;
        let mut current = start;
        while current < end {
            match next_day(current) {
                Some(next) => current = next,
                None => break,
            }
            if self.is_business_day(current) {
                count += 1;
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    /// The official list (Cabinet Office) for 2025–2027: date,name_ja,name_en.
    const REFERENCE_CSV: &str = include_str!("../data/jp-holidays-2025-2027.csv");

    fn names_on(year: i16) -> Vec<(String, &'static str, &'static str)> {
        holidays(year)
            .unwrap()
            .into_iter()
            .map(|h| (h.date.to_string(), h.name_ja, h.name_en))
            .collect()
    }

    fn holiday_name(d: Date) -> Option<(&'static str, &'static str)> {
        holiday_on(d).map(|h| (h.name_ja, h.name_en))
    }

    #[test]
    fn reproduces_the_reference_list_for_2025_to_2027() {
        let expected: Vec<(String, String, String)> = REFERENCE_CSV
            .lines()
            .skip(1)
            .map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                assert_eq!(fields.len(), 3, "{line}");
                (
                    fields[0].to_string(),
                    fields[1].to_string(),
                    fields[2].to_string(),
                )
            })
            .collect();
        let actual: Vec<(String, String, String)> = (2025..=2027)
            .flat_map(names_on)
            .map(|(d, ja, en)| (d, ja.to_string(), en.to_string()))
            .collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn golden_week_2026_ends_with_a_substitute_on_wednesday() {
        assert_eq!(
            holiday_name(date(2026, 5, 6)),
            Some(("休日", "Substitute holiday"))
        );
        let cal = BusinessCalendar::japan();
        assert_eq!(
            cal.add_business_days(date(2026, 5, 1), 1).unwrap(),
            date(2026, 5, 7)
        );
        assert_eq!(
            cal.next_business_day(date(2026, 5, 1)).unwrap(),
            date(2026, 5, 7)
        );
    }

    #[test]
    fn citizens_holidays_fill_silver_weeks() {
        for d in [date(2009, 9, 22), date(2015, 9, 22), date(2026, 9, 22)] {
            assert_eq!(holiday_name(d), Some(("休日", "Citizens' holiday")), "{d}");
        }
        // 05-04 between Constitution Day and Children's Day, before it became Greenery Day.
        assert_eq!(
            holiday_name(date(1988, 5, 4)),
            Some(("休日", "Citizens' holiday"))
        );
        // The rule only started in 1986.
        assert_eq!(holiday_on(date(1982, 5, 4)), None);
        // Until 2006 a sandwiched Sunday stayed an ordinary Sunday.
        assert_eq!(holiday_on(date(1997, 5, 4)), None);
        // A substitute day is not also a citizens' holiday.
        assert_eq!(
            holiday_name(date(1987, 5, 4)),
            Some(("休日", "Substitute holiday"))
        );
    }

    #[test]
    fn saturday_holidays_get_no_substitute() {
        let saturday = date(2023, 9, 23);
        assert_eq!(saturday.weekday(), Weekday::Saturday);
        assert_eq!(
            holiday_name(saturday),
            Some(("秋分の日", "Autumnal Equinox Day"))
        );
        assert_eq!(holiday_on(date(2023, 9, 25)), None);
        let saturday = date(2026, 10, 10);
        assert_eq!(saturday.weekday(), Weekday::Saturday);
        assert!(holidays(2026)
            .unwrap()
            .iter()
            .filter(|h| h.name_en == "Substitute holiday")
            .all(|h| h.date.weekday() != Weekday::Sunday && h.date.weekday() != Weekday::Saturday));
    }

    #[test]
    fn substitutes_before_2007_only_took_the_next_day() {
        // 2003-05-04 was a Sunday but not yet a national holiday: no substitute on 05-06.
        assert_eq!(holiday_on(date(2003, 5, 4)), None);
        assert_eq!(holiday_on(date(2003, 5, 6)), None);
        assert_eq!(
            holiday_name(date(2006, 1, 2)),
            Some(("休日", "Substitute holiday"))
        );
        // Since 2007 the substitute skips the following holidays.
        assert_eq!(
            holiday_name(date(2008, 5, 6)),
            Some(("休日", "Substitute holiday"))
        );
    }

    #[test]
    fn holidays_moved_or_renamed_over_the_years() {
        assert_eq!(holiday_name(date(1988, 4, 29)).unwrap().0, "天皇誕生日");
        assert_eq!(holiday_name(date(1989, 4, 29)).unwrap().0, "みどりの日");
        assert_eq!(holiday_name(date(2007, 4, 29)).unwrap().0, "昭和の日");
        assert_eq!(holiday_name(date(2007, 5, 4)).unwrap().0, "みどりの日");
        assert_eq!(holiday_name(date(1989, 12, 23)).unwrap().0, "天皇誕生日");
        assert_eq!(holiday_name(date(2018, 12, 23)).unwrap().0, "天皇誕生日");
        assert_eq!(holiday_on(date(2019, 12, 23)), None);
        assert_eq!(holiday_on(date(2019, 2, 23)), None);
        assert!(holidays(2019)
            .unwrap()
            .iter()
            .all(|h| h.name_ja != "天皇誕生日"));
        assert_eq!(holiday_name(date(2020, 2, 23)).unwrap().0, "天皇誕生日");
        assert_eq!(holiday_name(date(1999, 1, 15)).unwrap().0, "成人の日");
        assert_eq!(holiday_name(date(2000, 1, 10)).unwrap().0, "成人の日");
        assert_eq!(holiday_on(date(1995, 7, 20)), None);
        assert_eq!(holiday_name(date(1996, 7, 20)).unwrap().0, "海の日");
        assert_eq!(holiday_name(date(2003, 7, 21)).unwrap().0, "海の日");
        assert_eq!(holiday_on(date(2015, 8, 11)), None);
        assert_eq!(holiday_name(date(2016, 8, 11)).unwrap().0, "山の日");
        assert_eq!(holiday_name(date(2002, 9, 15)).unwrap().0, "敬老の日");
        assert_eq!(holiday_name(date(2003, 9, 15)).unwrap().0, "敬老の日");
        assert_eq!(holiday_name(date(2004, 9, 20)).unwrap().0, "敬老の日");
        assert_eq!(
            holiday_name(date(1999, 10, 10)),
            Some(("体育の日", "Health and Sports Day"))
        );
        assert_eq!(holiday_name(date(2000, 10, 9)).unwrap().0, "体育の日");
        assert_eq!(holiday_name(date(2019, 10, 14)).unwrap().0, "体育の日");
        assert_eq!(holiday_name(date(2022, 10, 10)).unwrap().0, "スポーツの日");
    }

    #[test]
    fn one_off_days_by_special_law() {
        assert_eq!(
            holiday_name(date(1989, 2, 24)),
            Some(("昭和天皇の大喪の礼", "State Funeral of Emperor Showa"))
        );
        assert_eq!(
            holiday_name(date(1990, 11, 12)).unwrap().0,
            "即位礼正殿の儀"
        );
        assert_eq!(holiday_name(date(1993, 6, 9)).unwrap().0, "結婚の儀");
        assert_eq!(holiday_name(date(2019, 5, 1)).unwrap().0, "天皇の即位の日");
        assert_eq!(
            holiday_name(date(2019, 10, 22)).unwrap().0,
            "即位礼正殿の儀"
        );
        for d in [date(2019, 4, 30), date(2019, 5, 2)] {
            assert_eq!(holiday_name(d), Some(("休日", "Citizens' holiday")), "{d}");
        }
        // Ten days off in a row around the 2019 accession.
        let cal = BusinessCalendar::japan();
        assert_eq!(
            cal.next_business_day(date(2019, 4, 26)).unwrap(),
            date(2019, 5, 7)
        );
    }

    #[test]
    fn olympic_years_moved_three_holidays() {
        let names = |year| {
            holidays(year)
                .unwrap()
                .into_iter()
                .filter(|h| (7..=10).contains(&h.date.month()))
                .map(|h| (h.date, h.name_ja))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(2020),
            vec![
                (date(2020, 7, 23), "海の日"),
                (date(2020, 7, 24), "スポーツの日"),
                (date(2020, 8, 10), "山の日"),
                (date(2020, 9, 21), "敬老の日"),
                (date(2020, 9, 22), "秋分の日"),
            ]
        );
        assert_eq!(
            names(2021),
            vec![
                (date(2021, 7, 22), "海の日"),
                (date(2021, 7, 23), "スポーツの日"),
                (date(2021, 8, 8), "山の日"),
                (date(2021, 8, 9), "休日"),
                (date(2021, 9, 20), "敬老の日"),
                (date(2021, 9, 23), "秋分の日"),
            ]
        );
    }

    #[test]
    fn equinoxes_follow_the_integer_formula() {
        let spring = [(1980, 20), (1981, 21), (2000, 20), (2027, 21), (2099, 20)];
        for (year, day) in spring {
            assert_eq!(vernal_equinox_day(year), day, "{year}");
        }
        let autumn = [(1980, 23), (2012, 22), (2024, 22), (2027, 23), (2099, 23)];
        for (year, day) in autumn {
            assert_eq!(autumnal_equinox_day(year), day, "{year}");
        }
    }

    #[test]
    fn years_outside_the_formula_are_refused_with_the_range() {
        for year in [1979, 2100, i16::MIN, i16::MAX] {
            let err = holidays(year).unwrap_err();
            assert_eq!(err, CalendarError::YearOutOfRange { year });
            assert!(err.to_string().contains("1980..=2099"), "{err}");
        }
        assert_eq!(holiday_on(date(1959, 4, 10)), None);
        assert_eq!(holiday_on(date(2100, 1, 1)), None);
    }

    #[test]
    fn every_supported_year_is_consistent() {
        for year in SUPPORTED_YEARS {
            let list = holidays(year).unwrap();
            assert!((12..=22).contains(&list.len()), "{year}: {}", list.len());
            for h in &list {
                if h.name_en == "Citizens' holiday" {
                    assert_ne!(h.date.weekday(), Weekday::Sunday, "{h:?}");
                }
                if h.name_en == "Substitute holiday" {
                    assert_ne!(h.date.weekday(), Weekday::Sunday, "{h:?}");
                    let sunday_before = list.iter().any(|o| {
                        o.date < h.date
                            && o.date.weekday() == Weekday::Sunday
                            && h.date.since(o.date).unwrap().get_days() <= 3
                    });
                    assert!(sunday_before, "{h:?}");
                }
            }
        }
    }

    #[test]
    fn out_of_range_years_only_know_weekends_and_closures() {
        let cal = BusinessCalendar::japan();
        // 2100-01-01 is a Friday: no holiday can be known there.
        assert!(cal.is_business_day(date(2100, 1, 1)));
        assert!(!cal.is_business_day(date(2100, 1, 2)));
        assert!(cal.is_business_day(date(1979, 1, 1)));
        let closed = BusinessCalendar::with_closures(vec!["12-29..01-03".parse().unwrap()]);
        assert!(!closed.is_business_day(date(2100, 1, 1)));
    }

    #[test]
    fn year_end_closure_pushes_deadlines_into_january() {
        let closure: Closure = "12-29..01-03".parse().unwrap();
        let cal = BusinessCalendar::with_closures(vec![closure]);
        assert_eq!(
            cal.add_business_days(date(2026, 12, 28), 1).unwrap(),
            date(2027, 1, 4)
        );
        assert_eq!(
            cal.add_business_days(date(2026, 12, 29), 0).unwrap(),
            date(2027, 1, 4)
        );
        assert_eq!(
            BusinessCalendar::japan()
                .add_business_days(date(2026, 12, 28), 1)
                .unwrap(),
            date(2026, 12, 29)
        );
    }

    #[test]
    fn zero_business_days_is_the_first_business_day_on_or_after() {
        let cal = BusinessCalendar::japan();
        assert_eq!(
            cal.add_business_days(date(2026, 5, 7), 0).unwrap(),
            date(2026, 5, 7)
        );
        assert_eq!(
            cal.add_business_days(date(2026, 5, 2), 0).unwrap(),
            date(2026, 5, 7)
        );
    }

    #[test]
    fn business_days_between_counts_the_end_not_the_start() {
        let cal = BusinessCalendar::japan();
        assert_eq!(
            cal.business_days_between(date(2026, 5, 1), date(2026, 5, 7)),
            1
        );
        assert_eq!(
            cal.business_days_between(date(2026, 5, 7), date(2026, 5, 1)),
            -1
        );
        assert_eq!(
            cal.business_days_between(date(2026, 5, 7), date(2026, 5, 7)),
            0
        );
        assert_eq!(
            cal.business_days_between(date(2026, 5, 11), date(2026, 5, 18)),
            5
        );
    }

    #[test]
    fn stepping_past_the_known_years_is_refused_instead_of_looping_forever() {
        let cal = BusinessCalendar::with_closures(vec!["01-01..12-31".parse().unwrap()]);
        assert!(cal.add_business_days(date(2090, 1, 1), 1).is_err());
        assert!(cal.add_business_days(date(2090, 1, 1), 0).is_err());
        let cal = BusinessCalendar::japan();
        assert_eq!(
            cal.add_business_days(Date::MAX, 1),
            Err(CalendarError::YearOutOfRange { year: 9999 })
        );
        assert_eq!(
            cal.add_business_days(date(2099, 12, 31), 1),
            Err(CalendarError::YearOutOfRange { year: 2100 })
        );
        assert_eq!(cal.business_days_between(date(9999, 12, 30), Date::MAX), 1);
    }

    #[test]
    fn closures_parse_and_print_back() {
        let wrap: Closure = "12-29..01-03".parse().unwrap();
        assert_eq!(wrap, Closure::new(12, 29, 1, 3).unwrap());
        assert_eq!(wrap.to_string(), "12-29..01-03");
        assert_eq!((wrap.start(), wrap.end()), ((12, 29), (1, 3)));
        let single: Closure = "08-15".parse().unwrap();
        assert_eq!(single, Closure::new(8, 15, 8, 15).unwrap());
        assert_eq!(single.to_string(), "08-15");
        assert_eq!("8-15".parse::<Closure>().unwrap(), single);
        assert_eq!(
            " 08-13 .. 08-16 ".parse::<Closure>().unwrap().to_string(),
            "08-13..08-16"
        );
        for text in ["12-29..01-03", "08-15", "02-29", "01-01..12-31"] {
            let parsed: Closure = text.parse().unwrap();
            assert_eq!(parsed.to_string(), text);
        }
    }

    #[test]
    fn closures_contain_their_days_including_over_the_new_year() {
        let wrap: Closure = "12-29..01-03".parse().unwrap();
        assert!(wrap.contains(date(2026, 12, 29)));
        assert!(wrap.contains(date(2026, 12, 31)));
        assert!(wrap.contains(date(2027, 1, 1)));
        assert!(wrap.contains(date(2027, 1, 3)));
        assert!(!wrap.contains(date(2027, 1, 4)));
        assert!(!wrap.contains(date(2026, 12, 28)));
        assert!(!wrap.contains(date(2026, 6, 15)));
        let obon: Closure = "08-13..08-16".parse().unwrap();
        assert!(obon.contains(date(2026, 8, 13)));
        assert!(obon.contains(date(2026, 8, 16)));
        assert!(!obon.contains(date(2026, 8, 17)));
        let leap: Closure = "02-29".parse().unwrap();
        assert!(leap.contains(date(2028, 2, 29)));
        assert!(!leap.contains(date(2027, 2, 28)));
        assert!(!leap.contains(date(2027, 3, 1)));
    }

    #[test]
    fn invalid_closures_say_what_is_wrong_and_the_expected_format() {
        assert_eq!(
            Closure::new(13, 1, 1, 1),
            Err(CalendarError::InvalidMonth { month: 13 })
        );
        assert_eq!(
            Closure::new(2, 30, 3, 1),
            Err(CalendarError::InvalidDay {
                month: 2,
                day: 30,
                max: 29
            })
        );
        assert_eq!(
            Closure::new(4, 1, 4, 31),
            Err(CalendarError::InvalidDay {
                month: 4,
                day: 31,
                max: 30
            })
        );
        assert!(Closure::new(1, 0, 1, 1).is_err());
        assert!(Closure::new(2, 29, 2, 29).is_ok());
        let cases = [
            ("", "empty"),
            ("1229..0103", "joined by '-'"),
            ("12-29..", "joined by '-'"),
            ("12-29...01-03", "is not a month"),
            ("13-01", "month 13 does not exist"),
            ("02-30", "day 30 does not exist in month 2"),
            ("ab-01", "\"ab\" is not a month"),
            ("+1-01", "\"+1\" is not a month"),
            ("012-01", "\"012\" is not a month"),
            ("12-", "\"\" is not a day"),
        ];
        for (input, fragment) in cases {
            let err = input.parse::<Closure>().unwrap_err();
            let message = err.to_string();
            assert!(message.contains(fragment), "{input:?}: {message}");
            assert!(message.contains("MM-DD..MM-DD"), "{input:?}: {message}");
        }
    }

    #[test]
    fn closures_deserialize_from_their_text_form() {
        use serde::de::value::{Error as ValueError, StrDeserializer};
        use serde::de::IntoDeserializer;
        let de: StrDeserializer<'_, ValueError> = "12-29..01-03".into_deserializer();
        assert_eq!(
            Closure::deserialize(de).unwrap(),
            Closure::new(12, 29, 1, 3).unwrap()
        );
        let de: StrDeserializer<'_, ValueError> = "12-32".into_deserializer();
        assert!(Closure::deserialize(de).is_err());
        assert_eq!(
            String::from(Closure::new(8, 13, 8, 16).unwrap()),
            "08-13..08-16"
        );
    }

    fn supported_date() -> impl Strategy<Value = Date> {
        // Days since 1980-01-01 up to the end of 2098, so that 30 business days stay in range.
        (0i32..43_830).prop_map(|days| {
            date(1980, 1, 1)
                .checked_add(jiff::Span::new().days(days))
                .unwrap()
        })
    }

    fn closures() -> impl Strategy<Value = Vec<Closure>> {
        let closure = (1u8..=12, 1u8..=28, 1u8..=12, 1u8..=28)
            .prop_map(|(sm, sd, em, ed)| Closure::new(sm, sd, em, ed).unwrap());
        // Short closures only: a random long one could leave no business day in 30 steps' reach,
        // which is legal but makes the property slow rather than wrong.
        prop::collection::vec(closure, 0..3).prop_map(|all| {
            all.into_iter()
                .filter(|c| c.start().0 == c.end().0 && c.start() <= c.end())
                .collect()
        })
    }

    proptest! {
        #[test]
        fn adding_business_days_lands_on_business_days_in_order(
            start in supported_date(),
            closures in closures(),
        ) {
            let cal = BusinessCalendar::with_closures(closures);
            let mut previous: Option<Date> = None;
            for n in 0..=30u32 {
                // Long random closures can push the count past the last year we know.
                let landed = match cal.add_business_days(start, n) {
                    Ok(d) => d,
                    Err(CalendarError::YearOutOfRange { year: 2100 }) => break,
                    Err(e) => return Err(TestCaseError::fail(e.to_string())),
                };
                prop_assert!(cal.is_business_day(landed), "{start} + {n} = {landed}");
                prop_assert!(!matches!(landed.weekday(), Weekday::Saturday | Weekday::Sunday));
                prop_assert!(holiday_on(landed).is_none());
                prop_assert!(!cal.closures().iter().any(|c| c.contains(landed)));
                prop_assert!(landed >= start);
                if n > 0 {
                    prop_assert!(landed > start);
                    prop_assert_eq!(cal.business_days_between(start, landed), i64::from(n));
                }
                if let Some(previous) = previous {
                    // From a non-business day, 0 and 1 both mean "the next business day".
                    if n == 1 && !cal.is_business_day(start) {
                        prop_assert_eq!(landed, previous);
                    } else {
                        prop_assert!(landed > previous, "{start}: {n} gives {landed} <= {previous}");
                    }
                }
                previous = Some(landed);
            }
        }

        #[test]
        fn holidays_are_sorted_unique_and_within_their_year(year in 1980i16..=2099) {
            let list = holidays(year).unwrap();
            prop_assert!(list.windows(2).all(|pair| pair[0].date < pair[1].date));
            for h in &list {
                prop_assert_eq!(h.date.year(), year);
                prop_assert_eq!(holiday_on(h.date), Some(*h));
            }
        }

        #[test]
        fn holiday_on_agrees_with_the_year_list(day in supported_date()) {
            let list = holidays(day.year()).unwrap();
            prop_assert_eq!(holiday_on(day), list.iter().find(|h| h.date == day).copied());
        }

        #[test]
        fn closures_print_and_parse_back(sm in 1u8..=12, sd in 1u8..=28, em in 1u8..=12, ed in 1u8..=28) {
            let closure = Closure::new(sm, sd, em, ed).unwrap();
            prop_assert_eq!(closure.to_string().parse::<Closure>(), Ok(closure));
        }
    }
}

/// Arbitrary and mutated text through the closure parser (closures come from policy files):
/// a closure that prints and parses back, or an error naming the problem, never a panic.
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::fuzz::{config, edit_char, mutate, text, PARSER_CASES};
    use proptest::prelude::*;

    const MAX_ERROR_LEN: usize = 1000;

    fn check(text: &str) -> Result<(), TestCaseError> {
        match text.parse::<Closure>() {
            Ok(closure) => {
                prop_assert_eq!(closure.to_string().parse::<Closure>(), Ok(closure));
                let ((sm, sd), (em, ed)) = (closure.start(), closure.end());
                prop_assert!(validate_month_day(sm, sd).is_ok());
                prop_assert!(validate_month_day(em, ed).is_ok());
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(message.starts_with("invalid closure"), "{message}");
                prop_assert!(
                    message.chars().count() <= MAX_ERROR_LEN,
                    "error too long: {message}"
                );
            }
        }
        Ok(())
    }

    fn closure() -> impl Strategy<Value = String> {
        (1u8..=12, 1u8..=31, 1u8..=12, 1u8..=31, any::<bool>()).prop_map(
            |(sm, sd, em, ed, range)| {
                if range {
                    format!("{sm:02}-{sd:02}..{em:02}-{ed:02}")
                } else {
                    format!("{sm}-{sd}")
                }
            },
        )
    }

    proptest! {
        #![proptest_config(config(PARSER_CASES))]

        #[test]
        fn any_text_is_a_closure_or_a_clear_error(text in text()) {
            check(&text)?;
        }

        #[test]
        fn an_edited_closure_is_a_closure_or_a_clear_error(
            text in closure(),
            edits in prop::collection::vec((any::<u8>(), any::<prop::sample::Index>(), edit_char()), 0..3),
        ) {
            let mut text = text;
            for (edit, at, with) in edits {
                text = mutate(&text, edit, at, with);
            }
            check(&text)?;
        }
    }

    // Regressions: inputs the properties above once failed on.

    #[test]
    fn a_pasted_page_as_a_closure_gets_a_one_line_error() {
        let text = "🟠".repeat(1000);
        let message = text.parse::<Closure>().unwrap_err().to_string();
        assert!(message.chars().count() < 300, "{message}");
        assert!(message.starts_with("invalid closure \"🟠🟠"), "{message}");
    }
}
