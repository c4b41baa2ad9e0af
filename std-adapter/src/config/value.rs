//! The scalar types of a policy file: durations, percentages, ratios, windows,
//! jitter. Each parses from a string (what an environment variable holds) and
//! deserializes from TOML/YAML, with the same checks and messages.

use core::fmt;
use core::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use steadfast::backoff::{Jitter, Ratio};
use steadfast::time::Duration;

/// A duration written with a unit and whole numbers only: `"1500us"`, `"250ms"`,
/// `"30s"`, `"5m"`, `"1h"`, `"1d"`, or several parts such as `"1m30s"`.
///
/// No floats: `"1.5s"` is rejected with a hint (`"1500ms"`). A bare number is
/// rejected too (seconds or milliseconds? say which).
///
/// ```
/// use steadfast_std::config::HumanDuration;
/// use steadfast::time::Duration;
///
/// let d: HumanDuration = "1m30s".parse()?;
/// assert_eq!(d.0, Duration::from_secs(90));
/// assert_eq!(d.to_string(), "90s");
/// let err = "1.5s".parse::<HumanDuration>().unwrap_err();
/// assert!(err.contains("\"1500ms\""), "{err}");
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HumanDuration(pub Duration);

/// `(unit, microseconds)`, longest spelling first so `ms` wins over `m`.
const UNITS: [(&str, u64); 9] = [
    ("us", 1),
    ("µs", 1),
    ("ms", 1_000),
    ("min", 60_000_000),
    ("s", 1_000_000),
    ("m", 60_000_000),
    ("h", 3_600_000_000),
    ("d", 86_400_000_000),
    ("ns", 0),
];

fn unit_micros(unit: &str) -> Option<u64> {
    UNITS.iter().find(|(u, _)| *u == unit).map(|(_, m)| *m)
}

/// `"1.5s"` → `Some("1500ms")`: the same value in a smaller unit, if one is exact.
fn decimal_hint(text: &str) -> Option<String> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let (whole, fraction) = number.split_once('.')?;
    let unit_us = unit_micros(unit.trim())?;
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let digits = u32::try_from(fraction.len()).ok()?;
    let scale = 10u64.checked_pow(digits)?;
    let fraction: u64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().ok()?
    };
    let total = whole.checked_mul(scale)?.checked_add(fraction)?;
    let micros = total.checked_mul(unit_us)?;
    if !micros.is_multiple_of(scale) {
        return None;
    }
    Some(HumanDuration(Duration::from_micros(micros / scale)).to_string())
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("expected a duration such as \"250ms\" or \"30s\", got \"\"".into());
    }
    if s.contains('.') {
        return Err(match decimal_hint(s) {
            Some(hint) => format!(
                "durations are whole numbers with a unit: write \"{hint}\" instead of \"{s}\""
            ),
            None => format!("durations are whole numbers with a unit (no decimals), got \"{s}\""),
        });
    }
    if s.starts_with('-') {
        return Err(format!("must not be negative, got \"{s}\""));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "a duration needs a unit: write \"{s}s\" or \"{s}ms\", got \"{s}\""
        ));
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "expected a duration such as \"250ms\", \"30s\" or \"1m30s\", got \"{s}\""
            ));
        }
        let (number, tail) = rest.split_at(digits);
        // "30 s" reads as "30s".
        let tail = tail.trim_start();
        if tail.is_empty() && total > 0 {
            return Err(format!(
                "the last number of \"{}\" has no unit: write \"{}s\" (units: us, ms, s, m, h, d)",
                clip(s),
                clip(s)
            ));
        }
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c.is_whitespace())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let per_unit = match unit_micros(unit) {
            Some(0) => {
                return Err(format!(
                    "the smallest unit is microseconds (\"us\"), got \"{s}\""
                ));
            }
            Some(m) => m,
            None => {
                return Err(format!(
                    "unknown unit \"{}\" in \"{}\" (use us, ms, s, m, h or d)",
                    clip(unit),
                    clip(s)
                ));
            }
        };
        let value: u64 = number
            .parse()
            .map_err(|_| format!("duration too long: \"{s}\""))?;
        total = value
            .checked_mul(per_unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration too long: \"{s}\""))?;
        rest = tail.trim_start();
    }
    Ok(Duration::from_micros(total))
}

impl FromStr for HumanDuration {
    type Err = String;

    /// Parses `"250ms"`, `"1m30s"`; rejects `"none"`, decimals, bare numbers.
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().eq_ignore_ascii_case("none") {
            return Err("\"none\" is not allowed here: give a duration such as \"30s\"".into());
        }
        parse_duration(s).map(Self)
    }
}

impl fmt::Display for HumanDuration {
    /// The largest unit that is exact: `90s`, `250ms`, `1500us`, `5m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0.as_micros();
        if us == 0 {
            return f.write_str("0s");
        }
        for (unit, per) in [
            ("d", 86_400_000_000),
            ("h", 3_600_000_000),
            ("m", 60_000_000),
            ("s", 1_000_000),
            ("ms", 1_000),
        ] {
            // Minutes and hours read better than 90s only when exact and ≥ 2 units.
            if us.is_multiple_of(per) && (per <= 1_000_000 || us / per >= 2) {
                return write!(f, "{}{unit}", us / per);
            }
        }
        write!(f, "{us}us")
    }
}

/// Shared visitor pieces: the wrong-type messages of a duration.
fn duration_number_error<E: de::Error>(n: impl fmt::Display) -> E {
    E::custom(format!(
        "a duration needs a unit: write \"{n}s\" or \"{n}ms\", got {n}"
    ))
}

fn float_text(v: f64) -> String {
    if v.is_nan() {
        return "nan (not a number)".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "inf (infinity)"
        } else {
            "-inf (infinity)"
        }
        .to_owned();
    }
    let mut t = format!("{v}");
    if !t.contains('.') {
        t.push_str(".0");
    }
    t
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"250ms\" or \"30s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<HumanDuration, E> {
                Err(duration_number_error(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<HumanDuration, E> {
                Err(duration_number_error(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "durations are strings with a unit and no decimals (e.g. \"1500ms\"), got {}",
                    float_text(v)
                )))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A timeout: a [`HumanDuration`] longer than zero, or `"none"` for no timeout.
///
/// A zero timeout is rejected (it would expire every attempt before it starts);
/// write `"none"` to switch the timeout off.
///
/// ```
/// use steadfast_std::config::Timeout;
/// use steadfast::time::Duration;
///
/// assert_eq!("none".parse::<Timeout>()?, Timeout(None));
/// assert_eq!("2s".parse::<Timeout>()?, Timeout(Some(Duration::from_secs(2))));
/// assert!("0s".parse::<Timeout>().is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timeout(pub Option<Duration>);

impl FromStr for Timeout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().eq_ignore_ascii_case("none") {
            return Ok(Self(None));
        }
        let d = parse_duration(s)?;
        if d.is_zero() {
            return Err(format!(
                "must be longer than zero (write \"none\" for no timeout), got \"{}\"",
                s.trim()
            ));
        }
        Ok(Self(Some(d)))
    }
}

impl fmt::Display for Timeout {
    /// `none` or the duration.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("none"),
            Some(d) => HumanDuration(d).fmt(f),
        }
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Timeout;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"30s\", or \"none\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timeout, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Timeout, E> {
                Ok(Timeout(None))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timeout, E> {
                Err(duration_number_error(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timeout, E> {
                Err(duration_number_error(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timeout, E> {
                Err(E::custom(format!(
                    "durations are strings with a unit and no decimals (e.g. \"1500ms\"), got {}",
                    float_text(v)
                )))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A whole percentage in `1..=100` (`50`, or `"50%"` from an environment variable).
///
/// ```
/// use steadfast_std::config::Percent;
/// assert_eq!("50".parse::<Percent>()?, Percent(50));
/// assert_eq!("75%".parse::<Percent>()?, Percent(75));
/// assert_eq!("150".parse::<Percent>().unwrap_err(), "must be 1..=100, got 150");
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Percent(pub u8);

impl Percent {
    fn from_i128(v: i128) -> Result<Self, String> {
        match u8::try_from(v) {
            Ok(p) if (1..=100).contains(&p) => Ok(Self(p)),
            _ => Err(format!("must be 1..=100, got {v}")),
        }
    }
}

impl FromStr for Percent {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let digits = t.strip_suffix('%').unwrap_or(t).trim();
        match digits.parse::<i128>() {
            Ok(v) => Self::from_i128(v),
            Err(_) => Err(format!("must be a whole number 1..=100, got \"{t}\"")),
        }
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole percentage 1..=100")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Percent, E> {
                Percent::from_i128(i128::from(v)).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Percent, E> {
                Percent::from_i128(i128::from(v)).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Percent, E> {
                Err(E::custom(format!(
                    "must be a whole number 1..=100, got {}",
                    float_text(v)
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Percent, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A rate of injected faults, as a percentage with up to four decimals
/// (`2`, `"2%"`, `"0.5%"`, `"0.0001%"`: one in a million), kept in parts per
/// million.
///
/// ```
/// use steadfast_std::config::Rate;
/// assert_eq!("2%".parse::<Rate>()?, Rate(20_000));
/// assert_eq!("0.0001%".parse::<Rate>()?, Rate(1));
/// assert_eq!("100".parse::<Rate>()?, Rate(1_000_000));
/// assert_eq!("0.00001%".parse::<Rate>().unwrap_err(), "at most four decimals (0.0001% is one in a million), got \"0.00001%\"");
/// assert_eq!("101%".parse::<Rate>().unwrap_err(), "must be 0% to 100%, got \"101%\"");
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rate(pub u32);

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let digits = t.strip_suffix('%').unwrap_or(t).trim();
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let number = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
        if !number(whole) || !(fraction.is_empty() || number(fraction)) {
            return Err(format!(
                "must be a percentage such as \"2%\" or \"0.5%\", got \"{}\"",
                clip(t)
            ));
        }
        if fraction.len() > 4 {
            return Err(format!(
                "at most four decimals (0.0001% is one in a million), got \"{}\"",
                clip(t)
            ));
        }
        let whole: u64 = whole.parse().unwrap_or(u64::MAX);
        let fraction: u64 = format!("{fraction:0<4}").parse().unwrap_or(0);
        match whole
            .checked_mul(10_000)
            .and_then(|w| w.checked_add(fraction))
        {
            Some(ppm) if ppm <= 1_000_000 => Ok(Self(ppm as u32)),
            _ => Err(format!("must be 0% to 100%, got \"{}\"", clip(t))),
        }
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a percentage such as \"2%\" or \"0.5%\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Rate, E> {
                v.to_string().parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Rate, E> {
                v.to_string().parse().map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Rate, E> {
                Err(E::custom(format!(
                    "write a percentage as text, such as \"{}%\"",
                    float_text(v)
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rate, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A number with up to three decimals (`2`, `"1.5"`, `0.25`, at most 1000),
/// kept in thousandths: an adaptive throttle's `K`, a gRPC `token_ratio`.
///
/// ```
/// use steadfast_std::config::Thousandths;
/// assert_eq!("2".parse::<Thousandths>()?, Thousandths(2_000));
/// assert_eq!("1.25".parse::<Thousandths>()?, Thousandths(1_250));
/// assert_eq!("0.1".parse::<Thousandths>()?, Thousandths(100));
/// assert_eq!("1.2345".parse::<Thousandths>().unwrap_err(), "at most three decimals, got \"1.2345\"");
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Thousandths(pub u32);

impl FromStr for Thousandths {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let (whole, fraction) = t.split_once('.').unwrap_or((t, ""));
        let number = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
        if !number(whole) || !(fraction.is_empty() || number(fraction)) {
            return Err(format!(
                "must be a number such as 2 or 1.5, got \"{}\"",
                clip(t)
            ));
        }
        if fraction.len() > 3 {
            return Err(format!("at most three decimals, got \"{}\"", clip(t)));
        }
        let whole: u64 = whole.parse().unwrap_or(u64::MAX);
        let fraction: u64 = format!("{fraction:0<3}").parse().unwrap_or(0);
        match whole
            .checked_mul(1_000)
            .and_then(|w| w.checked_add(fraction))
        {
            Some(n) if n <= 1_000_000 => Ok(Self(n as u32)),
            _ => Err(format!("must be at most 1000, got \"{}\"", clip(t))),
        }
    }
}

impl<'de> Deserialize<'de> for Thousandths {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Thousandths;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number such as 2 or 1.5")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Thousandths, E> {
                v.to_string().parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Thousandths, E> {
                v.to_string().parse().map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Thousandths, E> {
                float_text(v).parse().map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Thousandths, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A backoff multiplier as an integer ratio: `2`, `"2"` or `"3/2"` (no floats).
///
/// `"1.5"` (or `1.5`) is rejected with the hint to write `"3/2"`. The ratio must be
/// at least 1 and its reduced denominator at most 1000 (see [`Ratio`]).
///
/// ```
/// use steadfast_std::config::Multiplier;
///
/// let m: Multiplier = "3/2".parse()?;
/// assert_eq!((m.0.num(), m.0.den()), (3, 2));
/// let err = "1.5".parse::<Multiplier>().unwrap_err();
/// assert!(err.contains("\"3/2\""), "{err}");
/// assert!("0".parse::<Multiplier>().is_err());
/// assert!("1/0".parse::<Multiplier>().is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Multiplier(pub Ratio);

/// What a decimal multiplier should be written as.
#[derive(Debug, PartialEq, Eq)]
enum RatioHint {
    /// The same value as an accepted ratio.
    Exact(String),
    /// No accepted ratio is the same value (its denominator is over 1000):
    /// the nearest thousandths, accepted.
    Nearest(String),
    /// Below 1: no multiplier is accepted.
    BelowOne,
}

/// `num/den` reduced, as text, if it is an accepted [`Ratio`].
fn accepted(num: u128, den: u128) -> Option<String> {
    let (n, d) = (u32::try_from(num).ok()?, u32::try_from(den).ok()?);
    let ratio = Ratio::new(n, d).ok()?;
    Some(if ratio.den() == 1 {
        format!("{}", ratio.num())
    } else {
        format!("{}/{}", ratio.num(), ratio.den())
    })
}

/// The hint for a decimal multiplier (`1.5` → `3/2`); only ever an accepted
/// value. `None` when the decimal cannot be read or is too large.
fn ratio_hint(decimal: &str) -> Option<RatioHint> {
    let (whole, fraction) = decimal.split_once('.')?;
    let digits = u32::try_from(fraction.len()).ok()?;
    let den = 10u128.checked_pow(digits)?;
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().ok()?
    };
    let num = whole.checked_mul(den)?.checked_add(fraction)?;
    if num < den {
        return Some(RatioHint::BelowOne);
    }
    if let Some(exact) = accepted(num, den) {
        return Some(RatioHint::Exact(exact));
    }
    let thousandths = num.checked_mul(1000)?.checked_add(den / 2)? / den;
    accepted(thousandths, 1000).map(RatioHint::Nearest)
}

impl Multiplier {
    fn from_parts(num: u64, den: u64, text: &str) -> Result<Self, String> {
        let (Ok(n), Ok(d)) = (u32::try_from(num), u32::try_from(den)) else {
            return Err(format!(
                "numerator and denominator must fit in 32 bits, got \"{text}\""
            ));
        };
        if d != 0 && n < d {
            return Err(format!(
                "multipliers are at least 1 (each retry waits at least as long as the one \
                 before), got \"{text}\""
            ));
        }
        Ratio::new(n, d)
            .map(Self)
            .map_err(|e| format!("{}, got \"{text}\"", e.problem))
    }

    /// `raw` is the decimal (`1.5`), `shown` how the user wrote it (`"1.5"` or `1.5`).
    fn decimal_error(raw: &str, shown: &str) -> String {
        match ratio_hint(raw) {
            Some(RatioHint::Exact(hint)) => format!(
                "multipliers are integer ratios (no floats): write \"{hint}\" instead of {shown}"
            ),
            Some(RatioHint::Nearest(hint)) => format!(
                "multipliers are integer ratios with a denominator of at most 1000 (no floats): \
                 write \"{hint}\", the nearest, instead of {shown}"
            ),
            Some(RatioHint::BelowOne) => format!(
                "multipliers are at least 1 (each retry waits at least as long as the one \
                 before), got {shown}"
            ),
            None => {
                format!("multipliers are integer ratios such as \"3/2\" (no floats), got {shown}")
            }
        }
    }
}

impl FromStr for Multiplier {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.contains('.') {
            return Err(Self::decimal_error(t, &format!("\"{t}\"")));
        }
        let (num, den) = match t.split_once('/') {
            Some((n, d)) => (n.trim(), d.trim()),
            None => (t, "1"),
        };
        match (num.parse::<u64>(), den.parse::<u64>()) {
            (Ok(n), Ok(d)) => Self::from_parts(n, d, t),
            _ => Err(format!(
                "expected an integer ratio such as \"2\" or \"3/2\", got \"{t}\""
            )),
        }
    }
}

impl fmt::Display for Multiplier {
    /// `2` or `3/2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.den() == 1 {
            write!(f, "{}", self.0.num())
        } else {
            write!(f, "{}/{}", self.0.num(), self.0.den())
        }
    }
}

impl<'de> Deserialize<'de> for Multiplier {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Multiplier;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer ratio such as \"2\" or \"3/2\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Multiplier, E> {
                Multiplier::from_parts(v, 1, &v.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Multiplier, E> {
                Err(E::custom(format!("must be at least 1, got {v}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Multiplier, E> {
                let text = float_text(v);
                Err(E::custom(Multiplier::decimal_error(&text, &text)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Multiplier, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A breaker's `window`: a number of calls (`detector = "count"`) or a
/// duration (`detector = "time"`).
///
/// ```
/// use steadfast_std::config::Window;
/// use steadfast::time::Duration;
///
/// assert_eq!("100".parse::<Window>()?, Window::Calls(100));
/// assert_eq!("60s".parse::<Window>()?, Window::Span(Duration::from_secs(60)));
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Window {
    /// The last N calls.
    Calls(u32),
    /// The calls of the last span of time.
    Span(Duration),
}

impl FromStr for Window {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if let Ok(n) = t.parse::<u64>() {
            return u32::try_from(n)
                .map(Self::Calls)
                .map_err(|_| format!("too many calls: {n}"));
        }
        parse_duration(t).map(Self::Span).map_err(|e| {
            format!(
                "expected a number of calls (count detector) or a duration (time detector): {e}"
            )
        })
    }
}

impl fmt::Display for Window {
    /// `100` or `60s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Calls(n) => write!(f, "{n}"),
            Self::Span(d) => HumanDuration(*d).fmt(f),
        }
    }
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Window;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of calls (100) or a duration (\"60s\")")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Window, E> {
                u32::try_from(v)
                    .map(Window::Calls)
                    .map_err(|_| E::custom(format!("too many calls: {v}")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Window, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!("must not be negative, got {v}"))),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Window, E> {
                Err(E::custom(format!(
                    "must be a whole number of calls or a duration string, got {}",
                    float_text(v)
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Window, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A jitter: `"none"`, `"full"`, `"equal"`, `"decorrelated"` or
/// `"proportional:10"` (±10 %, at most 100).
///
/// ```
/// use steadfast_std::config::JitterSpec;
/// use steadfast::backoff::Jitter;
///
/// assert_eq!("proportional:10".parse::<JitterSpec>()?.0, Jitter::Proportional { percent: 10 });
/// assert_eq!("equal".parse::<JitterSpec>()?.0, Jitter::Equal);
/// assert!("proportional:101".parse::<JitterSpec>().is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JitterSpec(pub Jitter);

impl FromStr for JitterSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let jitter = match t {
            "none" => Jitter::None,
            "full" => Jitter::Full,
            "equal" => Jitter::Equal,
            "decorrelated" => Jitter::Decorrelated,
            _ => {
                let Some(percent) = t.strip_prefix("proportional:") else {
                    return Err(format!(
                        "expected \"none\", \"full\", \"equal\", \"decorrelated\" or \"proportional:<percent>\", got \"{t}\""
                    ));
                };
                match percent.trim().trim_end_matches('%').parse::<u8>() {
                    Ok(p) if p <= 100 => Jitter::Proportional { percent: p },
                    _ => {
                        return Err(format!(
                            "proportional jitter takes a whole percent 0..=100, got \"{t}\""
                        ));
                    }
                }
            }
        };
        Ok(Self(jitter))
    }
}

impl fmt::Display for JitterSpec {
    /// The file spelling: `equal`, `proportional:10`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Jitter::None => f.write_str("none"),
            Jitter::Full => f.write_str("full"),
            Jitter::Equal => f.write_str("equal"),
            Jitter::Decorrelated => f.write_str("decorrelated"),
            Jitter::Proportional { percent } => write!(f, "proportional:{percent}"),
        }
    }
}

impl<'de> Deserialize<'de> for JitterSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = JitterSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a jitter such as \"equal\" or \"proportional:10\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JitterSpec, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// A policy's `max_attempts`: a whole number (checked against `1..` when the
/// policy is validated), or `"unlimited"` — no limit on attempts, which the
/// policy must bound with a `total_timeout`.
///
/// ```
/// use steadfast_std::config::Attempts;
/// assert_eq!("5".parse::<Attempts>()?, Attempts::Limit(5));
/// assert_eq!("unlimited".parse::<Attempts>()?, Attempts::Unlimited);
/// assert!("forever".parse::<Attempts>().is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Attempts {
    /// At most this many attempts, the first included.
    Limit(i64),
    /// No limit: only the total timeout (required), the budget and the
    /// outcomes end the retries.
    Unlimited,
}

impl FromStr for Attempts {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("unlimited") {
            return Ok(Self::Unlimited);
        }
        t.parse::<i64>().map(Self::Limit).map_err(|_| {
            format!("expected a whole number of attempts or \"unlimited\", got \"{t}\"")
        })
    }
}

impl fmt::Display for Attempts {
    /// `3` or `unlimited`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Limit(n) => write!(f, "{n}"),
            Self::Unlimited => f.write_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for Attempts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Attempts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number of attempts (3) or \"unlimited\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Attempts, E> {
                Ok(Attempts::Limit(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Attempts, E> {
                Ok(Attempts::Limit(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Attempts, E> {
                Err(E::custom(format!(
                    "must be a whole number of attempts or \"unlimited\", got {}",
                    float_text(v)
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Attempts, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Reads an optional whole number within `lo..=hi` (the file's integer keys and
/// `seed`), with messages in words: `expected a whole number, got "3"`.
struct WholeVisitor {
    lo: i128,
    hi: i128,
}

impl WholeVisitor {
    fn check<E: de::Error>(&self, v: i128) -> Result<Option<i128>, E> {
        if (self.lo..=self.hi).contains(&v) {
            Ok(Some(v))
        } else {
            Err(E::custom(format!(
                "must be a whole number from {} to {}, got {v}",
                self.lo, self.hi
            )))
        }
    }
}

impl<'de> Visitor<'de> for WholeVisitor {
    type Value = Option<i128>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole number")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.check(i128::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.check(i128::from(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
        self.check(v)
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
        self.check(i128::try_from(v).unwrap_or(i128::MAX))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Err(E::custom(format!(
            "expected a whole number, got {}",
            float_text(v)
        )))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match v.trim().parse::<i128>() {
            Ok(n) => Err(E::custom(format!(
                "expected a whole number, got the text \"{}\" (write {n} without quotes)",
                clip(v)
            ))),
            Err(_) => Err(E::custom(format!(
                "expected a whole number, got \"{}\"",
                clip(v)
            ))),
        }
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// `seed`: a whole number from 0 to 2⁶⁴ − 1.
pub(super) fn seed<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = d.deserialize_option(WholeVisitor {
        lo: 0,
        hi: i128::from(u64::MAX),
    })?;
    Ok(v.map(|n| u64::try_from(n).unwrap_or(u64::MAX)))
}

/// An integer key (its range is checked by `validate`, which names it).
pub(super) fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = d.deserialize_option(WholeVisitor {
        lo: i128::from(i64::MIN),
        hi: i128::from(i64::MAX),
    })?;
    Ok(v.map(|n| i64::try_from(n).unwrap_or(i64::MAX)))
}

/// The longest echo of a value in a message, in characters.
const CLIP: usize = 60;

/// `value`, or its first [`CLIP`] characters and `…`: a message quotes what was
/// written without repeating a huge value whole.
pub(super) fn clip(value: &str) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(CLIP) {
        None => value.into(),
        Some((end, _)) => format!("{}…", &value[..end]).into(),
    }
}

/// The tail of a message, clipped to a few hundred characters.
pub(super) fn clip_long(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(4 * CLIP) {
        None => text.into(),
        Some((end, _)) => format!("{}…", &text[..end]).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::Multiplier;

    /// Every hint a multiplier error gives is itself accepted.
    #[test]
    fn multiplier_hints_suggest_only_accepted_values() {
        for decimal in [
            "1.5",
            "2.25",
            "1.001",
            "1.0005",
            "1.0000001",
            "3.14159265358979",
            "0.5",
            "0.0000001",
            ".5",
            "1.",
            "4294967295.5",
            "99999999999999999999.5",
        ] {
            let err = decimal.parse::<Multiplier>().unwrap_err();
            if let Some((_, rest)) = err.split_once("write \"") {
                let hint = rest.split('"').next().unwrap();
                assert!(
                    hint.parse::<Multiplier>().is_ok(),
                    "{decimal}: the hint {hint:?} is refused ({err})"
                );
            } else {
                assert!(
                    err.contains("at least 1") || err.contains("integer ratios such as"),
                    "{decimal}: {err}"
                );
            }
        }
        let err = "0.0000001".parse::<Multiplier>().unwrap_err();
        assert!(err.contains("at least 1"), "{err}");
        let err = "1.0000001".parse::<Multiplier>().unwrap_err();
        assert!(err.contains("write \"1\", the nearest"), "{err}");
        let err = "1.0005".parse::<Multiplier>().unwrap_err();
        assert!(err.contains("write \"1001/1000\", the nearest"), "{err}");
    }
}
