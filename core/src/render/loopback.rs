//! VIPs on the loopback, for systemd-networkd: `/etc/systemd/network/50-svcintent-vips.network`
//! on every host with role `balancer` or `anycast-node`.
//!
//! ```text
//! [Match]
//! Name=lo
//!
//! [Network]
//! Address=192.0.2.10/32
//! Address=2001:db8:100::10/128
//! ```
//!
//! One `Address=` per VIP of `HostPlan::loopback_vips` (every VIP the host announces, drained
//! or not), sorted (IPv4 first), as `/32` or `/128`: anycast-healthchecker counts a check as
//! failed unless `ip address show dev lo to <vip>/32` prints exactly that prefix, and BIRD
//! (`render::bird`) originates the VIP routes from these addresses (`protocol direct` on `lo`).
//! A host without VIPs still gets the file (no `Address=`), so every announcer has the same
//! files.
//!
//! Why systemd-networkd: it ships with systemd (no extra package on Debian 12), is declarative,
//! coexists with ifupdown (it leaves links without a matching `.network` file alone), and was
//! checked with the real daemon (systemd 252, in a private network namespace,
//! tests/tests/render_loopback.rs): it adds exactly these addresses to `lo` and keeps
//! `127.0.0.1/8` and `::1/128`. `systemd-analyze verify` does not read `.network` files; the
//! test runs networkd instead. An ifupdown stanza in `/etc/network/interfaces.d/` would work
//! too but needs ifupdown, which is not on every host.
//!
//! Caveats for the host setup:
//! - `systemd-networkd` must be enabled. It uses only the first matching `.network` file per
//!   link (lexical order), so no other file may match `lo` before `50-svcintent-vips.network`.
//! - networkd does not remove a VIP from `lo` when it disappears from this file (loopback is
//!   exempt from its cleanup of "foreign" addresses, systemd PR #2024; the test shows it across
//!   a restart of networkd): a VIP removed from the intent stays on `lo` until it is deleted by hand
//!   (`ip address del <vip> dev lo`) or the host reboots. It is not announced meanwhile (no
//!   check lists it, and BIRD's `SVCINTENT_LO` filter no longer admits its route); the host
//!   only keeps answering that address locally. Other addresses on `lo` are likewise left
//!   alone.
//!
//! Drain: a drained host (or service on a node) keeps its VIPs on `lo`; only the announcement
//! is withdrawn (anycast-healthchecker `check_disabled`, BIRD's export filter). Connections
//! already established to the VIP on this host therefore keep working while the routers move
//! new flows to the other announcers.
//!
//! No user string reaches this file: only validated addresses and the fixed header.

use minijinja::Environment;
use serde::Serialize;

use super::{Context, RenderError, RenderedFile, Target};
use crate::plan::HostPlan;

/// Where the file goes.
pub const PATH: &str = "/etc/systemd/network/50-svcintent-vips.network";

const TEMPLATE: &str = "loopback/vips.network.j2";

/// Registers this target's templates (no filters: only addresses are written).
pub fn register(env: &mut Environment<'static>) {
    let _ = env.add_template(
        TEMPLATE,
        include_str!("../../templates/loopback/vips.network.j2"),
    );
}

#[derive(Serialize)]
struct Ctx {
    header: String,
    addresses: Vec<String>,
}

/// Files this host gets from this target: the `.network` file on balancers and anycast nodes.
pub fn render(cx: &Context<'_>, host: &HostPlan) -> Result<Vec<RenderedFile>, RenderError> {
    if !super::healthchecker::runs_on(host) {
        return Ok(Vec::new());
    }
    let services: Vec<String> =
        crate::collect::set(host.announcements.iter().map(|a| a.service.clone()))
            .into_iter()
            .collect();
    let ctx = Ctx {
        header: cx.header("#", &host.name, &services),
        addresses: host
            .loopback_vips
            .iter()
            .map(|v| ipnet::IpNet::from(*v).to_string())
            .collect(),
    };
    let contents = cx.render_shared(Target::Loopback, &host.name, TEMPLATE, &ctx)?;
    Ok(vec![RenderedFile {
        host: host.name.clone(),
        path: PATH.to_owned(),
        target: Target::Loopback,
        contents,
        services,
        origins: Vec::new(),
    }])
}
