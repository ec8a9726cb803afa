//! Value parsers for the command line: counts (`500G`), sizes (`3GiB`), durations (`90s`).

use std::time::Duration;

use crate::daemons::Daemon;

/// Splits `12.5GiB` into `("12.5", "gib")`.
fn split(s: &str) -> (String, String) {
    let s = s.trim().replace('_', "");
    let at = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(at);
    (number.to_owned(), unit.trim().to_ascii_lowercase())
}

fn scaled(number: &str, factor: u64, what: &str) -> Result<u64, String> {
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{number}` is not a number ({what})"))?;
    let scaled = value * factor as f64;
    if !scaled.is_finite() || scaled < 0.0 || scaled > u64::MAX as f64 {
        return Err(format!("{number} is out of range ({what})"));
    }
    Ok(scaled as u64)
}

/// A count with an optional decimal suffix: `1000`, `5k`, `500M`, `500G`, `2T`.
pub fn count(s: &str) -> Result<u64, String> {
    let (number, unit) = split(s);
    let factor = match unit.as_str() {
        "" => 1,
        "k" => 1_000,
        "m" => 1_000_000,
        "g" => 1_000_000_000,
        "t" => 1_000_000_000_000,
        other => return Err(format!("unknown suffix `{other}`: use k, M, G or T")),
    };
    scaled(&number, factor, "a count like 500G")
}

/// A size in bytes with an optional binary suffix: `65536`, `512KiB`, `64MiB`, `3GiB`, `4G`.
pub fn size(s: &str) -> Result<u64, String> {
    let (number, unit) = split(s);
    let factor: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown unit `{other}`: use KiB, MiB or GiB")),
    };
    scaled(&number, factor, "a size like 512MiB")
}

/// A size that must not be zero (`--max-stack`).
pub fn nonzero_size(s: &str) -> Result<u64, String> {
    match size(s)? {
        0 => Err("must be more than 0".to_owned()),
        n => Ok(n),
    }
}

/// A duration: `1500ms`, `90s`, `2m`, `1h`; a bare number is seconds.
pub fn duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = split(s);
    let millis: u64 = match unit.as_str() {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        other => return Err(format!("unknown unit `{other}`: use ms, s, m or h")),
    };
    Ok(Duration::from_millis(scaled(
        &number,
        millis,
        "a duration like 90s",
    )?))
}

/// A daemon name.
pub fn daemon(s: &str) -> Result<Daemon, String> {
    Daemon::ALL
        .iter()
        .copied()
        .find(|d| d.name() == s)
        .ok_or_else(|| {
            format!(
                "unknown daemon `{s}`: use {}",
                Daemon::ALL
                    .iter()
                    .map(|d| d.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(count("500G"), Ok(500_000_000_000));
        assert_eq!(count("1_000"), Ok(1000));
        assert_eq!(count("2.5k"), Ok(2500));
        assert!(count("5x").is_err());
        assert!(count("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(size("3GiB"), Ok(3 << 30));
        assert_eq!(size("512 MiB"), Ok(512 << 20));
        assert_eq!(size("64k"), Ok(64 << 10));
        assert_eq!(size("100"), Ok(100));
        assert!(size("3GB/s").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("0.5s"), Ok(Duration::from_millis(500)));
        assert!(duration("1d").is_err());
    }
}
