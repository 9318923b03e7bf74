//! Dates as Foundation keeps them: seconds since 2001-01-01T00:00:00Z (the "reference date"),
//! and the one text form mmc reads and writes, `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.

/// Days from 1970-01-01 to 2001-01-01.
const REFERENCE_DAYS: i64 = 11_323;
const SECONDS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Count years from March so that the leap day is the last day of the counted year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a count of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Reads `YYYY-MM-DDTHH:MM:SSZ` (optionally with a fraction of a second before the `Z`) as
/// seconds since 2001-01-01T00:00:00Z. `None` for any other form or an impossible date.
pub fn date_from_iso8601(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || !text.is_ascii() || *bytes.last()? != b'Z' {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<i64> {
        let part = &text[from..to];
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| bytes[i] != c) {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    let fraction = match &text[19..text.len() - 1] {
        "" => 0.0,
        digits if digits.len() >= 2 && digits.starts_with('.') => {
            if !digits[1..].bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            format!("0{digits}").parse::<f64>().ok()?
        }
        _ => return None,
    };
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day) - REFERENCE_DAYS;
    let whole = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
    Some(whole as f64 + fraction)
}

/// Writes seconds since 2001-01-01T00:00:00Z as `YYYY-MM-DDTHH:MM:SSZ`, or `None` when the
/// time is not a whole second in the years 0001 to 9999.
pub fn date_to_iso8601(seconds: f64) -> Option<String> {
    // Years 0001..=9999 lie well within ±1e12 seconds of 2001.
    if !seconds.is_finite() || seconds.fract() != 0.0 || seconds.abs() > 1e12 {
        return None;
    }
    let seconds = seconds as i64;
    let days = seconds.div_euclid(SECONDS_PER_DAY) + REFERENCE_DAYS;
    let in_day = seconds.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    if !(1..=9999).contains(&year) {
        return None;
    }
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_date_is_zero() {
        assert_eq!(date_from_iso8601("2001-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            date_to_iso8601(0.0).as_deref(),
            Some("2001-01-01T00:00:00Z")
        );
        // The Unix epoch is 978307200 seconds before the reference date.
        assert_eq!(
            date_from_iso8601("1970-01-01T00:00:00Z"),
            Some(-978_307_200.0)
        );
        assert_eq!(
            date_from_iso8601("2016-03-02T00:00:00Z"),
            Some(478_569_600.0)
        );
        assert_eq!(
            date_from_iso8601("2016-03-02T00:00:00.25Z"),
            Some(478_569_600.25)
        );
    }

    #[test]
    fn round_trips_over_the_whole_range() {
        for text in [
            "0001-01-01T00:00:00Z",
            "1600-02-29T12:34:56Z",
            "1900-03-01T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2024-12-31T23:59:59Z",
            "9999-12-31T23:59:59Z",
        ] {
            let seconds = date_from_iso8601(text).unwrap();
            assert_eq!(date_to_iso8601(seconds).as_deref(), Some(text));
        }
        let mut seconds = -63_113_904_000.0;
        while seconds < 252_423_993_599.0 {
            let text = date_to_iso8601(seconds).unwrap();
            assert_eq!(date_from_iso8601(&text), Some(seconds), "{text}");
            seconds += 7_777_777.0;
        }
    }

    #[test]
    fn refuses_other_forms() {
        for text in [
            "2016-03-02",
            "2016-03-02T00:00:00",
            "2016-03-02T00:00:00+00:00",
            "2016-3-02T00:00:00Z",
            "2015-02-29T00:00:00Z",
            "2016-13-01T00:00:00Z",
            "2016-03-02T24:00:00Z",
            "2016-03-02T00:00:60Z",
            "2016-03-02T00:00:00.Z",
            "2016-03-02 00:00:00Z",
            "+016-03-02T00:00:00Z",
            "2016-03-02T00:00:00ZZ",
            "२०१६-03-02T00:00:00Z",
        ] {
            assert_eq!(date_from_iso8601(text), None, "{text}");
        }
        assert_eq!(date_to_iso8601(0.5), None);
        assert_eq!(date_to_iso8601(-63_113_904_001.0), None);
        assert_eq!(date_to_iso8601(f64::NAN), None);
    }
}
