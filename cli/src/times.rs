//! Durations as step takes them (Go's `time.ParseDuration`: `8h`, `30m`, `1h30m`, `1.5h`,
//! `300ms`), written back the way Go prints them, and instants in RFC 3339 (UTC).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses a Go duration into signed nanoseconds: an optional sign, then one or more
/// decimal numbers (with an optional fraction), each followed by a unit (`ns`, `us`, `µs`,
/// `ms`, `s`, `m`, `h`); `0` alone is zero.
pub(crate) fn parse_go_duration(s: &str) -> Result<i128, String> {
    let bad = || format!("{s:?} is not a duration (e.g. 8h, 30m, 1h30m, 1.5h, 300ms)");
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.bytes().take_while(u8::is_ascii_digit).count();
                a.split_at(n)
            }
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(after.len(), |(i, _)| i);
        let (unit, after) = after.split_at(unit_len);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(bad()),
        };
        // Go caps durations at about 290 years; so do we, which keeps the sums in range.
        let whole: i128 = if int.is_empty() {
            0
        } else {
            int.parse::<i128>().map_err(|_| bad())?
        };
        let mut part = whole.checked_mul(scale).ok_or_else(bad)?;
        let mut unit_frac = scale;
        for d in frac.bytes().take(18) {
            unit_frac /= 10;
            part += i128::from(d - b'0') * unit_frac;
        }
        total = total.checked_add(part).ok_or_else(bad)?;
        if total > i128::from(i64::MAX) {
            return Err(bad());
        }
        rest = after;
    }
    Ok(if neg { -total } else { total })
}

/// A Go duration that must be more than zero (a flag of `stepca renew`).
pub(crate) fn positive_duration(s: &str) -> Result<Duration, String> {
    match parse_go_duration(s)? {
        n if n > 0 => Ok(Duration::from_nanos(n as u64)),
        _ => Err(format!("{s:?}: must be more than zero")),
    }
}

/// A time as step's `--not-before` and `--not-after` take it: an instant (RFC 3339), or a
/// duration from now (Go's syntax: `24h`, `30m`, `-1h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeOrDuration {
    /// UNIX seconds.
    At(i64),
    /// Nanoseconds from now (or, for `--not-after`, from `--not-before` when it is given).
    In(i128),
}

impl TimeOrDuration {
    /// UNIX seconds: the instant, or `base` plus the duration (rounded to the second).
    pub(crate) fn resolve(self, base: i64) -> i64 {
        match self {
            TimeOrDuration::At(t) => t,
            TimeOrDuration::In(n) => base + (n as f64 / 1e9).round() as i64,
        }
    }
}

/// Parses `--not-before` / `--not-after`: RFC 3339 first, else a Go duration (as step).
pub(crate) fn time_or_duration(s: &str) -> Result<TimeOrDuration, String> {
    if let Some(t) = parse_rfc3339(s) {
        return Ok(TimeOrDuration::At(t));
    }
    parse_go_duration(s).map(TimeOrDuration::In).map_err(|_| {
        format!(
            "{s:?} is neither a time (RFC 3339: 2025-11-26T09:40:00Z) nor a duration \
             (24h, 30m, 1h30m, -5m)"
        )
    })
}

/// UNIX seconds of an RFC 3339 time (`2025-11-26T09:40:00Z`, `2025-11-26T10:40:00.5+01:00`),
/// fractions of a second dropped; `None` if it is not one.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let o = h * 3600 + m * 60;
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day < 1 || day > days_in_month || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + min * 60 + sec - offset)
}

/// Whole seconds as Go prints a duration: `10h52m5s`, `5m0s`, `42s`, `0s`, `-3s`.
pub(crate) fn go_duration(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{sign}{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}s")
    } else {
        format!("{sign}{s}s")
    }
}

/// UNIX seconds as RFC 3339 in UTC: `2025-11-26T09:40:00Z`.
pub(crate) fn rfc3339_secs(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// A time as RFC 3339 in UTC, to the second.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    rfc3339_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_go_parses() {
        let s = 1_000_000_000i128;
        assert_eq!(parse_go_duration("8h"), Ok(8 * 3600 * s));
        assert_eq!(parse_go_duration("30m"), Ok(30 * 60 * s));
        assert_eq!(parse_go_duration("10s"), Ok(10 * s));
        assert_eq!(parse_go_duration("1h30m"), Ok(5400 * s));
        assert_eq!(parse_go_duration("8h30m10s"), Ok((8 * 3600 + 1810) * s));
        assert_eq!(parse_go_duration("1.5h"), Ok(5400 * s));
        assert_eq!(parse_go_duration(".5s"), Ok(s / 2));
        assert_eq!(parse_go_duration("5.s"), Ok(5 * s));
        assert_eq!(parse_go_duration("300ms"), Ok(300_000_000));
        assert_eq!(parse_go_duration("2us"), Ok(2_000));
        assert_eq!(parse_go_duration("2µs"), Ok(2_000));
        assert_eq!(parse_go_duration("7ns"), Ok(7));
        assert_eq!(parse_go_duration("-1.5h"), Ok(-5400 * s));
        assert_eq!(parse_go_duration("+10s"), Ok(10 * s));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("0s"), Ok(0));
        for bad in [
            "", "-", "10", "h", "1d", "1.h2", ".s", "1h 30m", "1H", "5 s", "2562048h",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(positive_duration("10s"), Ok(Duration::from_secs(10)));
        assert!(positive_duration("0s").is_err());
        assert!(positive_duration("-1m").is_err());
    }

    #[test]
    fn times_or_durations_as_step() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2025-11-26T09:40:00Z"), Some(1_764_150_000));
        assert_eq!(
            parse_rfc3339("2025-11-26T10:40:00+01:00"),
            Some(1_764_150_000)
        );
        assert_eq!(
            parse_rfc3339("2025-11-26T09:10:00.123-00:30"),
            Some(1_764_150_000)
        );
        assert_eq!(parse_rfc3339("2000-02-29t00:00:00z"), Some(951_782_400));
        for bad in [
            "2025-11-26",
            "2025-11-26 09:40:00Z",
            "2025-11-26T09:40:00",
            "2025-02-29T00:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-11-26T24:00:00Z",
            "2025-11-26T09:40:00.Z",
            "2025-11-26T09:40:00+0100",
            "24h",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        let h = 3_600_000_000_000i128;
        assert_eq!(time_or_duration("24h"), Ok(TimeOrDuration::In(24 * h)));
        assert_eq!(time_or_duration("-1h"), Ok(TimeOrDuration::In(-h)));
        assert_eq!(
            time_or_duration("2025-11-26T09:40:00Z"),
            Ok(TimeOrDuration::At(1_764_150_000))
        );
        assert!(time_or_duration("tomorrow").is_err());
        assert!(time_or_duration("3600").is_err());
        assert_eq!(TimeOrDuration::In(90 * h / 60).resolve(100), 100 + 5400);
        assert_eq!(TimeOrDuration::At(7).resolve(100), 7);
    }

    #[test]
    fn prints_like_go_and_rfc3339() {
        assert_eq!(go_duration(39125), "10h52m5s");
        assert_eq!(go_duration(300), "5m0s");
        assert_eq!(go_duration(42), "42s");
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(-3), "-3s");
        assert_eq!(rfc3339_secs(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_secs(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_secs(1_764_150_000), "2025-11-26T09:40:00Z");
        assert_eq!(rfc3339_secs(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(rfc3339_secs(-1), "1969-12-31T23:59:59Z");
    }
}
