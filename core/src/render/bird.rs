//! BIRD 2.0 on every BGP speaker: `/etc/bird/bird.conf`.
//!
//! # Balancers and anycast nodes (route-reflector clients)
//!
//! - `router id` (the host's `router_id`, else its IPv4 address), `protocol device`.
//! - `protocol direct svcintent_vips` on `lo` imports every address there (`import all`): a
//!   configuration that never changes, so that `birdc configure` never restarts the protocol
//!   (BIRD restarts a direct protocol whose import filter changes, and a restart withdraws and
//!   re-announces every VIP: the routers rehash their ECMP flows and reset connections in
//!   flight, as the deploy lab showed, first when the filter named the VIPs, then when it named
//!   the site's prefixes). The export filter takes only host routes within the site's
//!   `anycast_prefixes` (`SVCINTENT_SITE4/6`) among the addresses `render::loopback` puts there
//!   (`SVCINTENT_LO4/6`: every loopback VIP); a VIP missing from `lo` has no route and is
//!   never announced.
//! - `include` of anycast-healthchecker's prefix files by absolute path
//!   (`render::healthchecker::BIRD_CONF4/6`, for the families the daemon runs), defining
//!   `ACAST_PS_ADVERTISE` / `ACAST6_PS_ADVERTISE`: the healthy prefixes plus a dummy.
//! - Export filter `svcintent_announce4/6`: rejects the dummy prefix explicitly, then accepts a
//!   route only when it is in the healthy list *and* in `SVCINTENT_ANNOUNCE4/6` (the host's
//!   announcements that are not `withdrawn`): a drained host or service is withdrawn by
//!   `birdc configure` alone, whatever the health checker's file says, and a prefix left in
//!   that file by a removed service is never exported.
//! - One iBGP session per route reflector and family (`rr_<reflector>_v4`, `_v6`, from
//!   `HostPlan::peers`), `import none` (the host forwards nothing: it needs no routes, and the
//!   VIPs are local addresses already), export the filter above with `next hop self`.
//! - `protocol kernel` per family with `import none; export none`: nothing enters or leaves
//!   the kernel table.
//!
//! # Route reflectors
//!
//! - `SVCINTENT_SITE4/6`: host routes within `site.anycast_prefixes` (`P{32,32}`, `P{128,128}`).
//! - Per client and family (`cl_<host>_v4`, `_v6`): `rr client`, `rr cluster id`
//!   (`site.bgp.cluster_id`, else the first reflector's router id), import only the client's
//!   entitled prefixes (`BgpPeer::accept`, exact match) with the client itself as BGP next hop,
//!   else `import none` (a client entitled to nothing is accepted nothing); `export none`
//!   (clients import nothing anyway).
//! - Per other reflector and family (`mesh_<host>_v4`, `_v6`): plain iBGP with the same cluster
//!   id, VIP routes of the site both ways (routes one reflector reflects carry the shared
//!   cluster id, so the other drops them: the mesh matters only if cluster ids ever differ).
//! - `announce: site` services (`SVCINTENT_SITE_ONLY4/6`, rendered only when the site has
//!   some): their VIP routes go only to the upstreams inside the site (`internal: true`, by
//!   default those of the site's AS), tagged with the well-known community NO_EXPORT
//!   (65535, 65281) so that the upstream's AS keeps them; every other upstream's export filter
//!   leaves them out explicitly (`net !~ SVCINTENT_SITE_ONLY4`), whatever the community.
//! - Per upstream (`up_<name>`; eBGP, or iBGP when its AS is the site's): `import none`,
//!   export the BGP routes within the site's anycast prefixes, `next hop keep` (the reflector
//!   is not in the forwarding path: traffic goes straight to the announcing host, so the
//!   upstream must reach the hosts' addresses directly) and `add paths tx` (every announcer's
//!   path, so the upstream can spread flows over all of them by ECMP).
//! - The reflector exports nothing to the kernel (`export none`): it is not in the forwarding
//!   path. It learns the kernel's routes (`learn`, `import all`) and the connected networks
//!   (`protocol direct`, all interfaces but `lo`) only to resolve the clients' next hops
//!   (iBGP `gateway recursive`), so that their routes are valid and exported.
//!
//! Timers on every session: `hold time`, `keepalive time`, `connect delay time` from
//! `site.bgp`.
//!
//! # Symbols and strings
//!
//! Only identifiers, addresses and numbers are written; no free text (BIRD 2.0 strings have no
//! escape for `"`). Protocol names are `<kind>_<name>[_v4|_v6]` with `-` mapped to `_`
//! (filter `bird_sym`; injective because identifiers have no `_`); the prefixes keep them
//! clear of BIRD's reserved words (`client`, `direct`, `kernel`...), and at most
//! 5 + 48 + 3 characters they stay within BIRD's 64-character symbol limit. `bird_sym` refuses
//! anything that is not `[a-z][a-z0-9_]*` after the mapping.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use minijinja::{Environment, Error, ErrorKind};
use serde::Serialize;

use super::healthchecker;
use super::{Context, RenderError, RenderedFile, Target};
use crate::model::{AnnounceScope, Intent, Role};
use crate::plan::{BgpPeer, HostPlan, PeerKind, cluster_id, router_id};

/// Where the file goes.
pub const PATH: &str = "/etc/bird/bird.conf";

/// The hold list of an announcing host, included by its `bird.conf`: `SVCINTENT_HOLD4/6`,
/// prefixes the export filter rejects whatever their health. State (installed only where
/// missing): `svcintent apply` lists there the VIPs it withdraws first, and puts the rendered
/// file (placeholders only) back when it is done.
pub const HOLD_PATH: &str = "/var/lib/svcintent/bird-hold.conf";

/// The hold lists' placeholders: a BIRD set cannot be empty, and no VIP is ever `0.0.0.0` or
/// `::` (validation refuses unspecified addresses).
pub const HOLD_PLACEHOLDERS: (&str, &str) = ("0.0.0.0/32", "::/128");

/// The hold list's text holding `held` (apply writes it; the rendered file holds nothing).
pub fn hold_list(held: &[IpNet]) -> String {
    let list = |v4: bool| {
        let placeholder = if v4 {
            HOLD_PLACEHOLDERS.0
        } else {
            HOLD_PLACEHOLDERS.1
        };
        std::iter::once(placeholder.to_owned())
            .chain(
                held.iter()
                    .filter(|p| p.addr().is_ipv4() == v4)
                    .map(IpNet::to_string),
            )
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "define SVCINTENT_HOLD4 = [ {} ];\ndefine SVCINTENT_HOLD6 = [ {} ];\n",
        list(true),
        list(false)
    )
}

const MACROS_TEMPLATE: &str = "bird/macros.j2";
const CLIENT_TEMPLATE: &str = "bird/client.conf.j2";
const REFLECTOR_TEMPLATE: &str = "bird/reflector.conf.j2";

/// A BIRD symbol from an identifier: `-` becomes `_`. Refuses anything but
/// `[a-z][a-z0-9_]*` (at most 64 characters) after the mapping.
pub fn symbol(ident: &str) -> Result<String, String> {
    let s = ident.replace('-', "_");
    let mut chars = s.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 64;
    if ok {
        Ok(s)
    } else {
        Err(format!("{ident:?} cannot be a BIRD symbol"))
    }
}

/// Registers this target's templates and filters.
pub fn register(env: &mut Environment<'static>) {
    env.add_filter("bird_sym", |s: &str| {
        symbol(s).map_err(|m| Error::new(ErrorKind::InvalidOperation, m))
    });
    // A template that does not parse shows up as "template not found" when rendering.
    let _ = env.add_template(
        MACROS_TEMPLATE,
        include_str!("../../templates/bird/macros.j2"),
    );
    let _ = env.add_template(
        CLIENT_TEMPLATE,
        include_str!("../../templates/bird/client.conf.j2"),
    );
    let _ = env.add_template(
        REFLECTOR_TEMPLATE,
        include_str!("../../templates/bird/reflector.conf.j2"),
    );
}

#[derive(Serialize)]
struct Timers {
    hold: u16,
    keepalive: u16,
    connect_delay: u16,
}

#[derive(Serialize)]
struct Session {
    /// Peer name (an identifier), mapped to a symbol in the template.
    name: String,
    /// `v4` or `v6`.
    family: &'static str,
    local: String,
    address: String,
    asn: u32,
    /// Prefixes accepted (route-reflector clients).
    accept: Vec<String>,
    /// iBGP (upstreams).
    internal: bool,
    /// An upstream inside the site (`internal:`): it also gets the `announce: site` VIPs.
    inside: bool,
    /// The site has `announce: site` VIPs of this session's family (upstreams).
    site_only: bool,
}

#[derive(Serialize)]
struct Family {
    /// `4` or `6`.
    v: &'static str,
    /// The daemon maintains this family's healthy list.
    healthchecked: bool,
    include: &'static str,
    variable: &'static str,
    dummy: String,
    /// VIPs on `lo`.
    loopback: Vec<String>,
    /// VIPs announced when healthy.
    announce: Vec<String>,
    /// The site's VIP routes (`P{32,32}`): what a reflector accepts, what a client imports.
    site: Vec<String>,
    /// Route reflector: the host routes of the `announce: site` VIPs.
    site_only: Vec<String>,
}

#[derive(Serialize)]
struct Config {
    header: String,
    router_id: Option<String>,
    cluster_id: Option<String>,
    local_as: u32,
    timers: Timers,
    families: Vec<Family>,
    reflectors: Vec<Session>,
    clients: Vec<Session>,
    mesh: Vec<Session>,
    upstreams: Vec<Session>,
    /// The hold list's path (announcing hosts).
    hold: Option<&'static str>,
}

fn family_of(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "v4" } else { "v6" }
}

fn session(p: &BgpPeer, intent: &Intent, site_only: &[IpNet]) -> Session {
    let upstream = intent
        .site
        .bgp
        .upstreams
        .iter()
        .find(|u| p.kind == PeerKind::Upstream && u.name == p.name);
    Session {
        name: p.name.clone(),
        family: family_of(p.address),
        local: p.local.to_string(),
        address: p.address.to_string(),
        asn: p.asn,
        accept: p.accept.iter().map(IpNet::to_string).collect(),
        internal: p.asn == intent.site.asn,
        inside: upstream.is_some_and(|u| u.internal),
        site_only: site_only
            .iter()
            .any(|n| n.addr().is_ipv4() == p.address.is_ipv4()),
    }
}

/// The host routes of every VIP of an `announce: site` service, sorted.
fn site_only_prefixes(intent: &Intent) -> Vec<IpNet> {
    let set = crate::collect::set(
        intent
            .services
            .values()
            .filter(|s| s.announce == AnnounceScope::Site)
            .flat_map(|s| s.vips.iter().map(|v| IpNet::from(*v))),
    );
    set.into_iter().collect()
}

fn strings<'a>(nets: impl Iterator<Item = &'a IpNet>, v4: bool) -> Vec<String> {
    let set = crate::collect::set(nets.filter(|n| n.addr().is_ipv4() == v4));
    set.into_iter().map(IpNet::to_string).collect()
}

/// Files this host gets from this target: `bird.conf` on every BGP speaker.
pub fn render(cx: &Context<'_>, host: &HostPlan) -> Result<Vec<RenderedFile>, RenderError> {
    let reflector = host.roles.contains(&Role::RouteReflector);
    if !reflector && !healthchecker::runs_on(host) {
        return Ok(Vec::new());
    }
    let err = |message: String| RenderError {
        target: Target::Bird,
        host: host.name.clone(),
        message,
    };
    let intent = cx.intent;
    let (dummy4, dummy6) = cx.dummy_prefixes().map_err(err)?;
    let (hc4, hc6) = healthchecker::families(host);
    let asn = intent.site.asn;

    let mut services: BTreeSet<String> = BTreeSet::new();
    let site_only = if reflector {
        site_only_prefixes(intent)
    } else {
        Vec::new()
    };
    // Host routes within `site.anycast_prefixes` (`P{32,32}`, `P{128,128}`): what a reflector
    // accepts at all, and what a client exports. Only export filters use it (re-fed on
    // `configure`, never restarted).
    let site = |v4: bool| {
        crate::collect::set(
            intent
                .site
                .anycast_prefixes
                .iter()
                .filter(|p| p.addr().is_ipv4() == v4)
                .map(|p| format!("{0}{{{1},{1}}}", p.trunc(), if v4 { 32 } else { 128 })),
        )
        .into_iter()
        .collect::<Vec<_>>()
    };
    let families = if reflector {
        // Services whose VIPs some client may announce through this reflector.
        let accepted: BTreeSet<IpNet> =
            crate::collect::set(host.peers.iter().flat_map(|p| p.accept.iter().copied()));
        for svc in intent.services.values() {
            if svc.vips.iter().any(|v| accepted.contains(&IpNet::from(*v))) {
                services.insert(svc.name.clone());
            }
        }
        vec![
            Family {
                v: "4",
                healthchecked: false,
                include: "",
                variable: "",
                dummy: String::new(),
                loopback: Vec::new(),
                announce: Vec::new(),
                site: site(true),
                site_only: strings(site_only.iter(), true),
            },
            Family {
                v: "6",
                healthchecked: false,
                include: "",
                variable: "",
                dummy: String::new(),
                loopback: Vec::new(),
                announce: Vec::new(),
                site: site(false),
                site_only: strings(site_only.iter(), false),
            },
        ]
    } else {
        services.extend(host.announcements.iter().map(|a| a.service.clone()));
        let lo: Vec<IpNet> = host.loopback_vips.iter().map(|v| IpNet::from(*v)).collect();
        let announce: Vec<IpNet> = host
            .announcements
            .iter()
            .filter(|a| !a.withdrawn)
            .map(|a| a.prefix)
            .collect();
        let fam = |v4: bool| Family {
            v: if v4 { "4" } else { "6" },
            healthchecked: if v4 { hc4 } else { hc6 },
            include: if v4 {
                healthchecker::BIRD_CONF4
            } else {
                healthchecker::BIRD_CONF6
            },
            variable: if v4 {
                healthchecker::BIRD_VARIABLE4
            } else {
                healthchecker::BIRD_VARIABLE6
            },
            dummy: if v4 {
                dummy4.to_string()
            } else {
                dummy6.to_string()
            },
            loopback: strings(lo.iter(), v4),
            announce: strings(announce.iter(), v4),
            site: site(v4),
            site_only: Vec::new(),
        };
        vec![fam(true), fam(false)]
    };

    let by_kind = |kind: PeerKind| {
        host.peers
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| session(p, intent, &site_only))
            .collect::<Vec<_>>()
    };
    let services: Vec<String> = services.into_iter().collect();
    let bgp = &intent.site.bgp;
    let config = Config {
        header: cx.header("#", &host.name, &services),
        router_id: cx.host(host).and_then(router_id).map(|r| r.to_string()),
        cluster_id: cluster_id(intent).map(|c| c.to_string()),
        local_as: asn,
        timers: Timers {
            hold: bgp.hold_time,
            keepalive: bgp.keepalive_time,
            connect_delay: bgp.connect_delay_time,
        },
        families,
        reflectors: by_kind(PeerKind::RouteReflector),
        clients: by_kind(PeerKind::RrClient),
        mesh: by_kind(PeerKind::RrMesh),
        upstreams: by_kind(PeerKind::Upstream),
        hold: (!reflector).then_some(HOLD_PATH),
    };
    let template = if reflector {
        REFLECTOR_TEMPLATE
    } else {
        CLIENT_TEMPLATE
    };
    let contents = cx.render_template(Target::Bird, &host.name, template, &config)?;
    let mut files = Vec::new();
    if !reflector {
        files.push(RenderedFile {
            host: host.name.clone(),
            path: HOLD_PATH.to_owned(),
            target: Target::Bird,
            contents: format!(
                "{}# svcintent apply's hold list (see /etc/bird/bird.conf): placeholders only, nothing held.\n{}",
                cx.header("#", &host.name, &[]),
                hold_list(&[])
            ),
            services: Vec::new(),
            origins: Vec::new(),
        });
    }
    files.push(RenderedFile {
        host: host.name.clone(),
        path: PATH.to_owned(),
        target: Target::Bird,
        contents,
        services,
        origins: Vec::new(),
    });
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_map_dashes_and_refuse_the_rest() {
        assert_eq!(symbol("core1-v6").as_deref(), Ok("core1_v6"));
        assert!(symbol("a b").is_err());
        assert!(symbol("1a").is_err());
        assert!(symbol("a\"").is_err());
        assert!(symbol("").is_err());
    }
}
