//! The VIPs on the loopback. systemd-networkd adds the rendered file's addresses at boot but
//! never removes one that leaves the file, so `svcintent apply` adds and removes them itself
//! with `ip address`, at the right moment of its order (added once the services that answer on
//! them run, removed once BIRD no longer exports them).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use super::exec::{self, argv};

const TIMEOUT: Duration = Duration::from_secs(10);

fn prefix(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(_) => format!("{ip}/32"),
        IpAddr::V6(_) => format!("{ip}/128"),
    }
}

/// The addresses on `lo` now.
pub fn addresses() -> Result<BTreeSet<IpAddr>, String> {
    let ran = exec::run(&argv(["ip", "-o", "address", "show", "dev", "lo"]), TIMEOUT);
    if !ran.ok() {
        return Err(ran.failure());
    }
    Ok(parse(&ran.output))
}

/// Addresses from `ip -o address show` output (`1: lo    inet 192.0.2.10/32 scope global lo ...`).
pub fn parse(text: &str) -> BTreeSet<IpAddr> {
    text.lines()
        .filter_map(|l| {
            let mut words = l
                .split_whitespace()
                .skip_while(|w| *w != "inet" && *w != "inet6");
            words.next()?;
            words.next()?.split('/').next()?.parse().ok()
        })
        .collect()
}

/// Adds `vips` to `lo` (those already there are left alone) and checks they are there.
pub fn add(vips: &[IpAddr]) -> Result<(), String> {
    let present = addresses()?;
    for vip in vips.iter().filter(|v| !present.contains(v)) {
        let ran = exec::run(
            &argv(["ip", "address", "add", &prefix(*vip), "dev", "lo"]),
            TIMEOUT,
        );
        if !ran.ok() {
            return Err(ran.failure());
        }
    }
    let now = addresses()?;
    let missing: Vec<String> = vips
        .iter()
        .filter(|v| !now.contains(v))
        .map(ToString::to_string)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("not on lo after adding: {}", missing.join(", ")))
    }
}

/// Removes `vips` from `lo` (those already gone are fine) and checks they are gone.
pub fn remove(vips: &[IpAddr]) -> Result<(), String> {
    let present = addresses()?;
    for vip in vips.iter().filter(|v| present.contains(v)) {
        let ran = exec::run(
            &argv(["ip", "address", "del", &prefix(*vip), "dev", "lo"]),
            TIMEOUT,
        );
        if !ran.ok() {
            return Err(ran.failure());
        }
    }
    let now = addresses()?;
    let left: Vec<String> = vips
        .iter()
        .filter(|v| now.contains(v))
        .map(ToString::to_string)
        .collect();
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("still on lo after removing: {}", left.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn addresses_of_ip_o_address_show() {
        let text = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n\
                    1: lo    inet 192.0.2.10/32 scope global lo\\       valid_lft forever preferred_lft forever\n\
                    1: lo    inet6 2001:db8:100::10/128 scope global \\       valid_lft forever preferred_lft forever\n";
        let got: Vec<String> = parse(text).iter().map(ToString::to_string).collect();
        assert_eq!(got, ["127.0.0.1", "192.0.2.10", "2001:db8:100::10"]);
    }
}
