//! Icinga2 target: on every host with the role monitoring, five files under
//! `/etc/icinga2/conf.d/svcintent/` (Debian's `icinga2.conf` includes `conf.d` recursively):
//!
//! | file | objects |
//! | --- | --- |
//! | `hosts.conf` | template `svcintent-host`; a Host per site host; a Host `vip_<service>` per monitored service |
//! | `services.conf` | template `svcintent-service`; the Services below |
//! | `commands.conf` | `svcintent-bird-protocol`, `svcintent-check-<service>` per command check, the mail NotificationCommands |
//! | `notifications.conf` | a User per notify target; `apply Notification` rules |
//! | `downtimes.conf` | a ScheduledDowntime per drained Host and per drained Service |
//!
//! The files are self-contained: they import nothing from Debian's sample `conf.d`
//! (`generic-host`, `mail-service-notification`), only the ITL and its plugin commands.
//!
//! # Two monitoring hosts: one HA zone
//!
//! With two monitoring hosts ([`crate::plan::monitors`]; validation refuses more) both get the
//! same objects, built for the zone as a whole ([`monitoring`]): only addresses of a family
//! every member has are checked, and `{address}` is a function of `NodeName` (see [`push_value`]).
//! Icinga2 then gives each object's checks and notifications to one connected endpoint of the
//! zone. Each also gets [`ZONES_PATH`] (an `Endpoint` per monitoring host, the first by name
//! connecting to the others; `Zone` [`ZONE`] with both; the package's global zones) and
//! [`API_PATH`] (the `ApiListener`, accepting neither config nor commands), and each
//! monitoring host's Host gets a Service `icinga2_cluster` (ITL `cluster`). The objects files
//! are byte-identical on both hosts; zones.conf and api.conf too.
//!
//! # Objects
//!
//! - **Site hosts**: `object Host "<name>"` with `address`/`address6`, `hostalive4` (or
//!   `hostalive6` when the monitoring host shares only IPv6 with it), `vars.svcintent_roles`,
//!   `vars.svcintent_drain`, `vars.svcintent_group` on balancers, notes = description.
//! - **Service VIPs**: `object Host "vip_<service>"` (`_` cannot occur in an identifier, so the
//!   name never collides with a site host) with `address` = first IPv4 VIP, `address6` = first
//!   IPv6 VIP, `hostalive4` (`hostalive6` without an IPv4 VIP). Its Services, for each VIP of a
//!   family the monitoring host has:
//!   - `ping_<vip>`: ping4/ping6 to the VIP: the VIP is announced and routed;
//!   - `<proto>_<port>_<vip>` per port: `http` (mode http; `http_ssl`+`http_sni` on TLS ports;
//!     a redirecting plain port expects a 3xx; otherwise the http check's path, method and
//!     status, vhost = check host or first server name), `ssl` (TLS passthrough, TLS
//!     terminated in mode tcp, or a tls check: handshake with SNI), `tcp` otherwise (on an
//!     anycast node an http or tls check applies to its port, else the first tcp port); UDP: port
//!     53 without a command check gets `dig` (a recursive `. NS` query), other UDP ports are
//!     covered only by the command check (the ITL `udp` needs send/expect strings we do not
//!     know);
//!   - `health_<vip>` for a `check.command` service: CheckCommand `svcintent-check-<service>`,
//!     the service's own health check run from the monitoring host.
//! - **Backends** (haproxy services): `backend_<service>_<port>` on the backend's Host, with the
//!   address HAProxy uses: `http` for an http check, `ssl` for a tls check, `tcp` otherwise.
//!   A PROXY-protocol backend with a rendered Apache vhost gets the same (the vhost excepts the
//!   monitoring hosts from the PROXY protocol); any other PROXY-protocol backend is checked with
//!   `tcp` sending a version 1 PROXY header first ([`PROXY_V1_LOCAL`], then the http check's
//!   request and its expected status line), so that it never logs a connection without a header.
//!   Drained backends get `vars.svcintent_drain = true` and a downtime.
//! - **BGP sessions**: `bgp_<peer>_<peer address>` on each speaker's Host, per session of its
//!   plan, checked with `svcintent-bird-protocol`: `check_by_ssh` to the speaker running
//!   `birdc -r show protocols <protocol>` and going CRITICAL unless it says `Established`.
//!   monitoring-plugins has no BGP check, and a TCP connect to port 179 from the monitoring
//!   host is both dropped by the nftables target (179 is open only between peers) and a fake
//!   BGP connection attempt. Requires the Icinga user to log in to the speakers by key, and the
//!   remote user to read BIRD's control socket (group `bird`). The protocol name is
//!   [`bird_protocol`].
//!
//! # Placeholders in `check.command`
//!
//! `{vip}`, `{port}` and `{address}` become the runtime macros `$svcintent_vip$`,
//! `$svcintent_port$` and `$svcintent_address$`, set on each `health_<vip>` Service to the VIP,
//! the service's first tcp port (else its first port, as `render::healthchecker` does), and the
//! monitoring host's own address of the VIP's family.
//!
//! # Notifications, drains
//!
//! Each name in `monitoring.notify` (and `site.monitoring.notify`) becomes a `User` whose
//! `email` is the bare name: mail goes to that local address, which the monitoring host's MTA
//! maps in `/etc/aliases`. Site hosts and BGP sessions notify the site's list; a service's
//! VIP host, frontends and backends notify the service's list (`vars.svcintent_notify`, read by
//! two `apply Notification` rules using the package's `/etc/icinga2/scripts/mail-*.sh`).
//! Services with `monitoring.enabled: false` are not rendered at all. Drained hosts and
//! backends are in a permanent ScheduledDowntime (every day 00:00-24:00).
//!
//! # Strings
//!
//! Every string is a double-quoted Icinga2 string ([`string`]): `\` and `"` are escaped with a
//! backslash (a backslash before anything else is dropped, before digits it starts an octal
//! escape). `$` starts a runtime macro in command lines, in custom variables (resolved
//! recursively) and in `notes` (also resolved recursively when a command uses
//! `$host.notes$`), so those strings go through [`macro_string`], which also doubles `$`.
//! `display_name` (not macro-resolved) only ever holds identifiers, addresses and numbers.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use minijinja::value::ValueKind;
use minijinja::{Environment, Error, ErrorKind, Value};
use serde::Serialize;

use super::{Context, RenderError, RenderedFile, Target};
use crate::model::{Balancing, CheckKind, Host, Intent, Mode, Proto, Role, Service, Tls};
use crate::plan::{BgpPeer, HostPlan, PeerKind};

const DIR: &str = "/etc/icinga2/conf.d/svcintent";

/// The HA zone of two monitoring hosts (`zones.conf`), named as Icinga2's documentation names
/// the top zone, so that satellites and agents can be added below it.
pub const ZONE: &str = "master";

/// Where the zone's endpoints and the API listener go (two monitoring hosts only). The first
/// replaces the package's `zones.conf`; the second replaces the `features-enabled/api.conf`
/// symlink that `icinga2 feature enable api` makes.
pub const ZONES_PATH: &str = "/etc/icinga2/zones.conf";
/// See [`ZONES_PATH`].
pub const API_PATH: &str = "/etc/icinga2/features-enabled/api.conf";

/// The API port the endpoints of the zone connect to (Icinga2's default).
pub const API_PORT: u16 = crate::plan::ICINGA2_API_PORT;
const FILES: &[&str] = &[
    "hosts.conf",
    "services.conf",
    "commands.conf",
    "notifications.conf",
    "downtimes.conf",
];

/// Registers this target's templates and escaping filters.
pub fn register(env: &mut Environment<'static>) {
    let templates = [
        (
            "icinga2/hosts.conf.j2",
            include_str!("../../templates/icinga2/hosts.conf.j2"),
        ),
        (
            "icinga2/services.conf.j2",
            include_str!("../../templates/icinga2/services.conf.j2"),
        ),
        (
            "icinga2/commands.conf.j2",
            include_str!("../../templates/icinga2/commands.conf.j2"),
        ),
        (
            "icinga2/notifications.conf.j2",
            include_str!("../../templates/icinga2/notifications.conf.j2"),
        ),
        (
            "icinga2/downtimes.conf.j2",
            include_str!("../../templates/icinga2/downtimes.conf.j2"),
        ),
        (
            "icinga2/downtime-body.j2",
            include_str!("../../templates/icinga2/downtime-body.j2"),
        ),
        (
            "icinga2/zones.conf.j2",
            include_str!("../../templates/icinga2/zones.conf.j2"),
        ),
        (
            "icinga2/api.conf.j2",
            include_str!("../../templates/icinga2/api.conf.j2"),
        ),
    ];
    for (name, source) in templates {
        if let Err(e) = env.add_template(name, source) {
            debug_assert!(false, "icinga2 template {name}: {e}");
        }
    }
    env.add_filter("icinga2_str", |s: &str| string(s));
    env.add_filter("icinga2_macro_str", |s: &str| macro_string(s));
    env.add_filter("icinga2_command_arg", |s: &str| command_arg(s));
    env.add_filter("icinga2_vars", vars_block);
}

/// An Icinga2 double-quoted string literal holding exactly `s`.
///
/// The lexer reads `\` followed by any character as that character, except `\n`, `\t`, `\r`,
/// `\b`, `\f` and octal `\NNN`; a raw newline ends nothing and is an error. So `\` and `"` get
/// a backslash, the five control characters their escapes, and any other control character a
/// three-digit octal escape (byte-wise, `< 0x20` or `0x7f`; validation admits none of them).
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_string(&mut out, s, false);
    out
}

/// [`string`] for a value Icinga2 resolves macros in: `$` is doubled (`$$` is a literal `$`).
pub fn macro_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_string(&mut out, s, true);
    out
}

/// Appends [`string`] of `s` to `out` ([`macro_string`] when `macros`), in one pass over `s`.
fn push_string(out: &mut String, s: &str, macros: bool) {
    out.push('"');
    // Runs of characters that need no escape are copied whole.
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '\\' => Some("\\\\"),
            '"' => Some("\\\""),
            '\n' => Some("\\n"),
            '\t' => Some("\\t"),
            '\r' => Some("\\r"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '$' if macros => Some("$$"),
            // Any other control character: a three-digit octal escape.
            c if (c as u32) < 0x20 || c == '\u{7f}' => None,
            _ => continue,
        };
        out.push_str(s.get(plain..i).unwrap_or_default());
        match escape {
            Some(escape) => out.push_str(escape),
            None => {
                let _ = write!(out, "\\{:03o}", c as u32);
            }
        }
        plain = i + c.len_utf8();
    }
    out.push_str(s.get(plain..).unwrap_or_default());
    out.push('"');
}

/// The placeholders of `check.command` arguments and the macros they become.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("{vip}", "$svcintent_vip$"),
    ("{port}", "$svcintent_port$"),
    ("{address}", "$svcintent_address$"),
];

/// A command-array element for a `check.command` argument: literal text with `$` doubled,
/// each placeholder replaced by its runtime macro, quoted with [`string`].
pub fn command_arg(arg: &str) -> String {
    let mut out = String::new();
    let mut rest = arg;
    'outer: while !rest.is_empty() {
        for (ph, mac) in PLACEHOLDERS {
            if let Some(after) = rest.strip_prefix(ph) {
                out.push_str(mac);
                rest = after;
                continue 'outer;
            }
        }
        let mut chars = rest.chars();
        match chars.next() {
            Some('$') => out.push_str("$$"),
            Some(c) => out.push(c),
            None => break,
        }
        rest = chars.as_str();
    }
    string(&out)
}

/// Whether `name` can be a custom variable's name (after `vars.`): `[a-z][a-z0-9_]*`. Only
/// names written in this module reach it.
fn is_key(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A custom variable's value: booleans and integers bare, strings with [`macro_string`],
/// lists of those in brackets. A map holds a value per endpoint of the HA zone (endpoint name
/// to string): it becomes a function that returns the running endpoint's own
/// (`{{ return { "mon1" = "...", "mon2" = "..." }[NodeName] }}`), which Icinga2 calls when it
/// resolves the variable for a check, on the endpoint that runs the check. Appended to `out`.
fn push_value(out: &mut String, v: &Value) -> Result<(), Error> {
    match v.kind() {
        ValueKind::Map => {
            out.push_str("{{ return { ");
            for (i, k) in v.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let item = v.get_item(&k)?;
                push_string(out, k.as_str().unwrap_or_default(), false);
                out.push_str(" = ");
                push_string(out, item.as_str().unwrap_or_default(), true);
            }
            out.push_str(" }[NodeName] }}");
        }
        ValueKind::Seq => {
            out.push('[');
            for (i, item) in v.try_iter()?.enumerate() {
                out.push_str(if i > 0 { ", " } else { " " });
                push_scalar(out, &item)?;
            }
            out.push_str(" ]");
        }
        _ => push_scalar(out, v)?,
    }
    Ok(())
}

/// An object's custom variables, one line each in name order: a tab, `vars.`, the name
/// ([`is_key`]) and ` = ` its value ([`push_value`]), and a newline. One filter call for the
/// whole block: a Service has eight variables on average, and a template loop of two filter
/// calls per variable was most of the time `services.conf` took.
fn vars_block(vars: &Value) -> Result<String, Error> {
    let mut out = String::new();
    let mut line = |name: &str, v: &Value| -> Result<(), Error> {
        if !is_key(name) {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("bad variable name {name:?}"),
            ));
        }
        out.push_str("\tvars.");
        out.push_str(name);
        out.push_str(" = ");
        push_value(&mut out, v)?;
        out.push('\n');
        Ok(())
    };
    if let Some(service) = vars.downcast_object_ref::<ServiceVars>() {
        for (name, v) in &service.0.vars.0 {
            line(name, v)?;
        }
    } else {
        for name in vars.try_iter()? {
            line(name.as_str().unwrap_or_default(), &vars.get_item(&name)?)?;
        }
    }
    Ok(out)
}

/// Appends a boolean, an integer or a string ([`macro_string`]) of [`push_value`].
fn push_scalar(out: &mut String, v: &Value) -> Result<(), Error> {
    match v.kind() {
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            let n = i64::try_from(v.clone())?;
            let _ = write!(out, "{n}");
        }
        ValueKind::String => push_string(out, v.as_str().unwrap_or_default(), true),
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("no Icinga2 literal for a {other}"),
            ));
        }
    }
    Ok(())
}

/// The BIRD protocol name of a BGP session, as the BIRD target names it
/// (`render::bird`: `<kind>_<peer>[_v4|_v6]`, `-` mapped to `_` by [`super::bird::symbol`]):
/// `rr_` for a route reflector, `cl_` for a reflector's client, `mesh_` between reflectors,
/// `up_` (no family suffix) for an upstream.
pub fn bird_protocol(peer: &BgpPeer) -> String {
    let sym = super::bird::symbol(&peer.name).unwrap_or_else(|_| peer.name.replace('-', "_"));
    let family = if peer.address.is_ipv4() { "v4" } else { "v6" };
    match peer.kind {
        PeerKind::RouteReflector => format!("rr_{sym}_{family}"),
        PeerKind::RrClient => format!("cl_{sym}_{family}"),
        PeerKind::RrMesh => format!("mesh_{sym}_{family}"),
        PeerKind::Upstream => format!("up_{sym}"),
    }
}

/// A Host object.
#[derive(Debug, Clone, Serialize)]
pub struct IcingaHost {
    /// Object name.
    pub name: String,
    /// Display name (identifiers and addresses only).
    pub display_name: String,
    /// IPv4 address.
    pub address: Option<IpAddr>,
    /// IPv6 address.
    pub address6: Option<IpAddr>,
    /// ITL check command.
    pub check_command: &'static str,
    /// Free text (description).
    pub notes: Option<String>,
    /// Custom variables.
    pub vars: Vars,
    /// The svcintent service this object is for (`vip_<service>` hosts).
    pub service: Option<String>,
}

/// An object's custom variables, sorted by name: a sorted vector, not a map, because a site of
/// 10,000 services has some 95,000 objects and a B-tree node each was 7 % of the monitoring
/// model's memory. Serialised as a map, in name order.
#[derive(Debug, Clone, Default)]
pub struct Vars(Vec<(&'static str, Value)>);

impl Vars {
    /// Sets `key` (replacing its value if it has one).
    pub fn insert(&mut self, key: &'static str, value: Value) {
        match self.0.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => {
                if let Some(slot) = self.0.get_mut(i) {
                    slot.1 = value;
                }
            }
            Err(i) => self.0.insert(i, (key, value)),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        let i = self.0.binary_search_by(|(k, _)| (*k).cmp(key)).ok()?;
        self.0.get(i).map(|(_, v)| v)
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

impl Serialize for Vars {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A Service object. The templates read it as a minijinja [`Object`](minijinja::value::Object),
/// field by field, so that none of the tens of thousands of Services of a large site is
/// converted into a map of template values to be read once.
#[derive(Debug, Clone)]
pub struct IcingaService {
    /// Host object name (a string).
    pub host: Value,
    /// Service name.
    pub name: String,
    /// Display name (identifiers, addresses, numbers only).
    pub display_name: String,
    /// Check command name (a string).
    pub check_command: Value,
    /// Free text (the service's description; a string).
    pub notes: Option<Value>,
    /// Custom variables (the check command's and ours).
    pub vars: Vars,
    /// In permanent downtime.
    pub drain: bool,
    /// The svcintent service this object checks (a string; `None`: host-level, e.g. BGP
    /// sessions).
    pub service: Option<Value>,
}

impl IcingaService {
    /// The Host object's name.
    fn host_name(&self) -> &str {
        self.host.as_str().unwrap_or_default()
    }

    /// The fields the templates read (`s.<field>`).
    const FIELDS: &'static [&'static str] = &[
        "host",
        "name",
        "display_name",
        "check_command",
        "notes",
        "vars",
        "drain",
        "service",
    ];
}

/// A Service as the templates see it: each field made a template value when a template reads
/// it (the shared strings and the variables are reference counts, not copies).
impl minijinja::value::Object for IcingaService {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let optional = |v: &Option<Value>| v.clone().unwrap_or(Value::from(()));
        Some(match key.as_str()? {
            "host" => self.host.clone(),
            "name" => Value::from(self.name.as_str()),
            "display_name" => Value::from(self.display_name.as_str()),
            "check_command" => self.check_command.clone(),
            "notes" => optional(&self.notes),
            "vars" => Value::from_object(ServiceVars(Arc::clone(self))),
            "drain" => Value::from(self.drain),
            "service" => optional(&self.service),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Str(Self::FIELDS)
    }
}

/// A Service's variables as the templates read them (`s.vars`): a map in name order, read in
/// place through the Service.
#[derive(Debug)]
struct ServiceVars(Arc<IcingaService>);

impl minijinja::value::Object for ServiceVars {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.vars.get(key.as_str()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        let names = self.0.vars.0.iter().map(|(k, _)| Value::from(*k));
        minijinja::value::Enumerator::Values(names.collect())
    }
}

/// A CheckCommand for a service's `check.command`.
#[derive(Debug, Clone, Serialize)]
pub struct IcingaCommand {
    /// Object name.
    pub name: String,
    /// Service it belongs to.
    pub service: String,
    /// argv: the plugin's absolute path, then the arguments (raw; the template escapes them).
    pub argv: Vec<String>,
}

/// Everything the templates render for one monitoring host.
#[derive(Debug, Clone)]
pub struct Monitoring {
    /// Host objects (site hosts, then VIP hosts).
    pub hosts: Vec<IcingaHost>,
    /// Service objects, sorted by host and name, each shared with the template value that
    /// reads it.
    pub services: Vec<Arc<IcingaService>>,
    /// Command-check CheckCommands.
    pub commands: Vec<IcingaCommand>,
    /// User names.
    pub users: Vec<String>,
    /// Whether any Host has `vars.svcintent_notify`.
    pub notify_hosts: bool,
    /// Whether any Service has `vars.svcintent_notify`.
    pub notify_services: bool,
    /// Drained Host names.
    pub drained_hosts: Vec<String>,
    /// Monitored services, sorted.
    pub monitored: Vec<String>,
}

fn s(v: impl Into<String>) -> Value {
    Value::from(v.into())
}

fn list(v: &[String]) -> Value {
    Value::from(v.to_vec())
}

/// The view of the site from the monitoring zone: one monitoring host, or the two endpoints
/// of an HA zone. Both endpoints of a zone get the same objects (Icinga2 gives each object's
/// checks and notifications to one endpoint), so only what every member can check is rendered.
struct Builder<'a> {
    intent: &'a Intent,
    cx: &'a Context<'a>,
    zone: &'a [&'a Host],
    services: Vec<Arc<IcingaService>>,
    /// One template value per distinct string and per distinct notify list of the Services'
    /// fields: a Service shares its Host's name, its check command, its service's name, notes
    /// and notify list with many others (some 85,000 Services at 10,000 services), and a clone
    /// of a value is a reference count, not a copy.
    strings: BTreeMap<String, Value>,
    lists: BTreeMap<Vec<String>, Value>,
}

impl Builder<'_> {
    /// Whether every monitoring host of the zone has an address of `addr`'s family.
    fn can_reach(&self, addr: IpAddr) -> bool {
        !self.zone.is_empty() && self.zone.iter().all(|m| m.address_for(addr).is_some())
    }

    /// The monitoring host's own address of `addr`'s family: a string for one monitoring host,
    /// per endpoint (a map by endpoint name, rendered as a choice by `NodeName`) in an HA zone.
    fn own_address(&self, addr: IpAddr) -> Value {
        match self.zone {
            [me] => s(me
                .address_for(addr)
                .map(|a| a.to_string())
                .unwrap_or_default()),
            zone => Value::from_iter(zone.iter().map(|m| {
                (
                    m.name.clone(),
                    m.address_for(addr)
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                )
            })),
        }
    }

    fn site_host(&self, h: &Host) -> IcingaHost {
        let mut vars = Vars::default();
        let roles: Vec<String> = h.roles.iter().map(|r| r.as_str().to_owned()).collect();
        vars.insert("svcintent_roles", list(&roles));
        vars.insert("svcintent_drain", Value::from(h.drain));
        if h.has(Role::Balancer) {
            vars.insert("svcintent_group", s(&h.group));
        }
        if !self.intent.site.monitoring.notify.is_empty() {
            vars.insert(
                "svcintent_notify",
                list(&self.intent.site.monitoring.notify),
            );
        }
        let v4 = h.ipv4.is_some() && self.zone.iter().all(|m| m.ipv4.is_some());
        let v6 = h.ipv6.is_some() && self.zone.iter().all(|m| m.ipv6.is_some());
        IcingaHost {
            name: h.name.clone(),
            display_name: h.name.clone(),
            address: h.ipv4.map(IpAddr::V4),
            address6: h.ipv6.map(IpAddr::V6),
            check_command: if v6 && !v4 {
                "hostalive6"
            } else {
                "hostalive4"
            },
            notes: h.description.clone(),
            vars,
            service: None,
        }
    }

    fn vip_host(&self, svc: &Service) -> Option<IcingaHost> {
        let reachable: Vec<IpAddr> = svc
            .vips
            .iter()
            .copied()
            .filter(|v| self.can_reach(*v))
            .collect();
        let address = reachable.iter().copied().find(IpAddr::is_ipv4);
        let address6 = reachable.iter().copied().find(IpAddr::is_ipv6);
        let first = address.or(address6)?;
        let mut vars = Vars::default();
        vars.insert("svcintent_service", s(&svc.name));
        vars.insert(
            "svcintent_balancing",
            s(match svc.balancing {
                Balancing::Haproxy => "haproxy",
                Balancing::Anycast => "anycast",
            }),
        );
        if !svc.monitoring.notify.is_empty() {
            vars.insert("svcintent_notify", list(&svc.monitoring.notify));
        }
        Some(IcingaHost {
            name: vip_host_name(&svc.name),
            display_name: format!("{} (VIP)", svc.name),
            address,
            address6,
            check_command: if first.is_ipv4() {
                "hostalive4"
            } else {
                "hostalive6"
            },
            notes: svc.description.clone(),
            vars,
            service: Some(svc.name.clone()),
        })
    }

    /// The one value of the string `text`.
    fn shared_text(&mut self, text: &str) -> Value {
        if let Some(v) = self.strings.get(text) {
            return v.clone();
        }
        let v = s(text);
        self.strings.insert(text.to_owned(), v.clone());
        v
    }

    /// The one value of the list `items`.
    fn shared_list(&mut self, items: &[String]) -> Value {
        if let Some(v) = self.lists.get(items) {
            return v.clone();
        }
        let v = list(items);
        self.lists.insert(items.to_vec(), v.clone());
        v
    }

    #[allow(clippy::too_many_arguments, reason = "one Service object's fields")]
    fn push(
        &mut self,
        host: &str,
        name: String,
        display_name: String,
        command: &str,
        svc: Option<&Service>,
        mut vars: Vars,
        drain: bool,
    ) {
        let notify = svc.map_or(&self.intent.site.monitoring.notify, |s| {
            &s.monitoring.notify
        });
        if !notify.is_empty() {
            let notify = self.shared_list(notify);
            vars.insert("svcintent_notify", notify);
        }
        let service = svc.map(|svc| self.shared_text(&svc.name));
        if let Some(service) = &service {
            vars.insert("svcintent_service", service.clone());
        }
        if drain {
            vars.insert("svcintent_drain", Value::from(true));
        }
        let notes = svc
            .and_then(|s| s.description.as_deref())
            .map(|d| self.shared_text(d));
        let host = self.shared_text(host);
        let check_command = self.shared_text(command);
        self.services.push(Arc::new(IcingaService {
            host,
            name,
            display_name,
            check_command,
            notes,
            vars,
            drain,
            service,
        }));
    }

    /// ping, per-port and command checks of one VIP.
    fn frontends(&mut self, svc: &Service, vip: IpAddr) {
        if !self.can_reach(vip) {
            return;
        }
        let host = vip_host_name(&svc.name);
        let family = if vip.is_ipv4() { "4" } else { "6" };
        // The VIP as text, formatted once for every object and variable that names it.
        let vip_text = vip.to_string();
        let address = s(vip_text.as_str());
        let mut vars = Vars::default();
        vars.insert("ping_address", address.clone());
        vars.insert("svcintent_vip", address.clone());
        self.push(
            &host,
            format!("ping_{vip_text}"),
            format!("{} VIP {vip_text} reachable", svc.name),
            &format!("ping{family}"),
            Some(svc),
            vars,
            false,
        );
        let command_check = matches!(svc.check.kind, CheckKind::Command { .. });
        for port in &svc.ports {
            let mut vars = Vars::default();
            vars.insert("svcintent_vip", address.clone());
            vars.insert("svcintent_port", Value::from(port.port));
            let command = match port.proto {
                Proto::Tcp => tcp_frontend(svc, &address, port.port, &mut vars),
                Proto::Udp if port.port == 53 && !command_check => {
                    vars.insert("dig_server", address.clone());
                    vars.insert("dig_port", Value::from(port.port));
                    vars.insert("dig_lookup", s("."));
                    vars.insert("dig_record_type", s("NS"));
                    "dig"
                }
                Proto::Udp => continue,
            };
            self.push(
                &host,
                format!("{}_{}_{vip_text}", port.proto.as_str(), port.port),
                format!(
                    "{} {}/{} on {vip_text} ({command})",
                    svc.name,
                    port.port,
                    port.proto.as_str()
                ),
                command,
                Some(svc),
                vars,
                false,
            );
        }
        if command_check {
            let mut vars = Vars::default();
            vars.insert("svcintent_vip", address.clone());
            let port = svc
                .ports
                .iter()
                .find(|p| p.proto == Proto::Tcp)
                .or(svc.ports.first());
            vars.insert("svcintent_port", Value::from(port.map_or(0, |p| p.port)));
            vars.insert("svcintent_address", self.own_address(vip));
            self.push(
                &host,
                format!("health_{vip_text}"),
                format!("{} health check on {vip_text}", svc.name),
                &command_name(&svc.name),
                Some(svc),
                vars,
                false,
            );
        }
    }

    /// One Service per (backend host, port) HAProxy checks, on the backend's Host.
    fn backends(&mut self, svc: &Service) {
        let Some(h) = &svc.haproxy else { return };
        // The servers as the balancers see them (any balancer: they all get the same).
        let Some(lb) = self.cx.announcers.balancers(svc).first() else {
            return;
        };
        let Some(listeners) = self
            .cx
            .plan
            .hosts
            .get(&lb.name)
            .and_then(|p| p.listeners.get(&svc.name))
        else {
            return;
        };
        let mut seen = BTreeSet::new();
        for server in listeners.iter().flat_map(|l| &l.servers) {
            if !seen.insert((server.host.clone(), server.port)) {
                continue;
            }
            let Some(backend) = self.intent.hosts.get(&server.host) else {
                continue;
            };
            let address = if self.can_reach(server.address) {
                server.address
            } else {
                match backend.addresses().into_iter().find(|a| self.can_reach(*a)) {
                    Some(a) => a,
                    None => continue,
                }
            };
            let mut vars = Vars::default();
            // A PROXY-protocol backend without a rendered vhost (Postfix, Dovecot, ...) reads a
            // PROXY header first and logs every connection without one as an error: its check
            // sends one. Apache vhosts rendered here except the monitoring hosts from the
            // PROXY protocol, so they are checked like any other backend.
            let header_first = h.client_ip.proxy_protocol().is_some() && h.web.is_none();
            let command = if header_first {
                proxy_header_check(svc, address, server.port, &mut vars)
            } else {
                match &svc.check.kind {
                    CheckKind::Http {
                        path,
                        expect,
                        host,
                        method,
                        port,
                    } => {
                        let port = port.unwrap_or(server.port);
                        vars.insert("http_address", s(address.to_string()));
                        vars.insert("http_port", Value::from(port));
                        vars.insert("http_uri", s(path));
                        vars.insert("http_expect", s(expect.to_string()));
                        if let Some(vhost) = host
                            .as_ref()
                            .or(h.web.as_ref().and_then(|w| w.server_names.first()))
                        {
                            vars.insert("http_vhost", s(vhost));
                        }
                        if method != "GET" {
                            vars.insert("http_method", s(method));
                        }
                        "http"
                    }
                    CheckKind::Tls { sni, port } => {
                        vars.insert("ssl_address", s(address.to_string()));
                        vars.insert("ssl_port", Value::from(port.unwrap_or(server.port)));
                        if let Some(sni) = sni {
                            vars.insert("ssl_sni", s(sni));
                        }
                        "ssl"
                    }
                    CheckKind::Tcp { port } => {
                        vars.insert("tcp_address", s(address.to_string()));
                        vars.insert("tcp_port", Value::from(port.unwrap_or(server.port)));
                        "tcp"
                    }
                    CheckKind::Command { .. } => {
                        vars.insert("tcp_address", s(address.to_string()));
                        vars.insert("tcp_port", Value::from(server.port));
                        "tcp"
                    }
                }
            };
            vars.insert("svcintent_port", Value::from(server.port));
            self.push(
                &server.host,
                format!("backend_{}_{}", svc.name, server.port),
                format!(
                    "{} backend {}:{} ({command}{})",
                    svc.name,
                    server.host,
                    server.port,
                    if header_first { ", PROXY header" } else { "" }
                ),
                command,
                Some(svc),
                vars,
                server.drain,
            );
        }
    }

    /// HAProxy itself on a balancer: its statistics page answers the monitoring hosts. The VIP
    /// checks cannot see one dead HAProxy (the other balancers keep the VIPs up).
    fn haproxy(&mut self, host: &Host) {
        let Some(address) = host.addresses().into_iter().find(|a| self.can_reach(*a)) else {
            return;
        };
        let mut vars = Vars::default();
        vars.insert("http_address", s(address.to_string()));
        vars.insert("http_port", Value::from(crate::plan::HAPROXY_STATS_PORT));
        vars.insert("http_uri", s("/"));
        vars.insert("http_expect", s("200"));
        self.push(
            &host.name,
            "haproxy".to_owned(),
            format!(
                "HAProxy statistics {address} port {}",
                crate::plan::HAPROXY_STATS_PORT
            ),
            "http",
            None,
            vars,
            host.drain,
        );
    }

    /// The HA zone itself, on each of its monitoring hosts: the ITL `cluster` check goes
    /// CRITICAL while an endpoint of the zone is not connected (the zone then runs every check
    /// on the endpoint that is left, and nothing else tells).
    fn cluster(&mut self, host: &Host) {
        self.push(
            &host.name,
            "icinga2_cluster".to_owned(),
            format!("Icinga2 HA zone {ZONE}: every endpoint connected"),
            "cluster",
            None,
            Vars::default(),
            false,
        );
    }

    fn bgp(&mut self, host: &Host, plan: &HostPlan) {
        let Some(ssh) = host.addresses().into_iter().find(|a| self.can_reach(*a)) else {
            return;
        };
        for peer in &plan.peers {
            let mut vars = Vars::default();
            vars.insert("by_ssh_address", s(ssh.to_string()));
            vars.insert("svcintent_bird_protocol", s(bird_protocol(peer)));
            vars.insert("svcintent_peer", s(&peer.name));
            vars.insert("svcintent_peer_address", s(peer.address.to_string()));
            vars.insert("svcintent_peer_kind", s(peer_kind(peer)));
            self.push(
                &host.name,
                format!("bgp_{}_{}", peer.name, peer.address),
                format!(
                    "BGP {} {} ({})",
                    peer.name,
                    peer.address,
                    bird_protocol(peer)
                ),
                "svcintent-bird-protocol",
                None,
                vars,
                host.drain,
            );
        }
    }
}

fn peer_kind(peer: &BgpPeer) -> &'static str {
    match peer.kind {
        PeerKind::RouteReflector => "route-reflector",
        PeerKind::RrClient => "rr-client",
        PeerKind::RrMesh => "rr-mesh",
        PeerKind::Upstream => "upstream",
    }
}

/// The Host object of a service's VIPs.
pub fn vip_host_name(service: &str) -> String {
    format!("vip_{service}")
}

/// The CheckCommand of a service's `check.command`.
pub fn command_name(service: &str) -> String {
    format!("svcintent-check-{service}")
}

/// The PROXY protocol version 1 header a backend check sends first: `UNKNOWN`, as a proxy does
/// for a connection of its own ("use the real connection endpoints"). Every PROXY receiver
/// reads version 1, and a plugin cannot send version 2's binary header. Written for
/// `check_tcp -E` (`\r\n` escapes).
pub const PROXY_V1_LOCAL: &str = "PROXY UNKNOWN\\r\\n";

/// The check of a backend that reads a PROXY header first: ITL `tcp` (`check_tcp -E -s`)
/// sending [`PROXY_V1_LOCAL`], then for an http check the request, expecting its status line
/// (a mismatch is CRITICAL). A tls or command check becomes the header alone: the plugin cannot
/// send a header before a TLS handshake. Fills the command's variables.
fn proxy_header_check(
    svc: &Service,
    address: IpAddr,
    server_port: u16,
    vars: &mut Vars,
) -> &'static str {
    let mut send = PROXY_V1_LOCAL.to_owned();
    let port = match &svc.check.kind {
        CheckKind::Http {
            path,
            expect,
            host,
            method,
            port,
        } => {
            // `-E` reads `\\` as a backslash: a validated path has none, escaped all the same.
            let escape = |t: &str| t.replace('\\', "\\\\");
            send.push_str(&format!("{method} {} HTTP/1.0\\r\\n", escape(path)));
            if let Some(host) = host {
                send.push_str(&format!("Host: {}\\r\\n", escape(host)));
            }
            send.push_str("\\r\\n");
            vars.insert(
                "tcp_expect",
                Value::from(vec![
                    format!("HTTP/1.0 {expect}"),
                    format!("HTTP/1.1 {expect}"),
                ]),
            );
            vars.insert("tcp_mismatch", s("crit"));
            *port
        }
        CheckKind::Tcp { port } | CheckKind::Tls { port, .. } => *port,
        CheckKind::Command { .. } => None,
    };
    vars.insert("tcp_address", s(address.to_string()));
    vars.insert("tcp_port", Value::from(port.unwrap_or(server_port)));
    vars.insert("tcp_escape_send", Value::from(true));
    vars.insert("tcp_send", s(send));
    "tcp"
}

/// The check of a TCP frontend port; fills the command's variables.
///
/// `vip`: the VIP's address as text.
fn tcp_frontend(svc: &Service, vip: &Value, port: u16, vars: &mut Vars) -> &'static str {
    let (tls_port, redirect) = match svc.haproxy.as_ref().map(|h| &h.tls) {
        Some(Tls::Terminate {
            ports,
            redirect_http,
            ..
        }) => (ports.contains(&port), *redirect_http),
        Some(Tls::Passthrough) => (true, false),
        _ => (false, false),
    };
    let http_mode = svc.haproxy.as_ref().is_some_and(|h| h.mode == Mode::Http);
    // Where the health check speaks its protocol: on a balancer every frontend port (the
    // check's port is a backend port); on an anycast node the check's port, else the first
    // tcp port (as `render::healthchecker` runs it).
    let check_port = match &svc.check.kind {
        CheckKind::Http { port, .. } | CheckKind::Tls { port, .. } => port.or_else(|| {
            svc.ports
                .iter()
                .find(|p| p.proto == Proto::Tcp)
                .map(|p| p.port)
        }),
        _ => None,
    };
    let checked_here = svc.haproxy.is_some() || check_port == Some(port);
    let http_check = checked_here && matches!(svc.check.kind, CheckKind::Http { .. });
    if http_mode || http_check {
        vars.insert("http_address", vip.clone());
        vars.insert("http_port", Value::from(port));
        let server_name = svc
            .haproxy
            .as_ref()
            .and_then(|h| h.web.as_ref())
            .and_then(|w| w.server_names.first());
        let (path, expect, host, method) = match &svc.check.kind {
            CheckKind::Http {
                path,
                expect,
                host,
                method,
                ..
            } => (
                path.as_str(),
                Some(*expect),
                host.as_ref().or(server_name),
                method.as_str(),
            ),
            _ => ("/", None, server_name, "GET"),
        };
        if let Some(vhost) = host {
            vars.insert("http_vhost", s(vhost));
        }
        vars.insert("http_uri", s(path));
        if tls_port {
            vars.insert("http_ssl", Value::from(true));
            vars.insert("http_sni", Value::from(true));
        }
        if redirect && !tls_port {
            vars.insert("http_expect", s("301,302,303,307,308"));
        } else if let Some(code) = expect {
            vars.insert("http_expect", s(code.to_string()));
            if method != "GET" {
                vars.insert("http_method", s(method));
            }
        }
        return "http";
    }
    let tls_check = checked_here && matches!(svc.check.kind, CheckKind::Tls { .. });
    if tls_port || tls_check {
        vars.insert("ssl_address", vip.clone());
        vars.insert("ssl_port", Value::from(port));
        if let CheckKind::Tls { sni: Some(sni), .. } = &svc.check.kind {
            vars.insert("ssl_sni", s(sni));
        }
        return "ssl";
    }
    vars.insert("tcp_address", vip.clone());
    vars.insert("tcp_port", Value::from(port));
    "tcp"
}

/// Builds the monitoring view of the monitoring zone (`zone`: the monitoring hosts, sorted by
/// name; every one of them gets this same view).
pub fn monitoring(cx: &Context<'_>, zone: &[&Host]) -> Monitoring {
    let intent = cx.intent;
    let mut b = Builder {
        intent,
        cx,
        zone,
        services: Vec::new(),
        strings: BTreeMap::new(),
        lists: BTreeMap::new(),
    };
    let mut hosts: Vec<IcingaHost> = intent.hosts.values().map(|h| b.site_host(h)).collect();
    let monitored: Vec<&Service> = intent
        .services
        .values()
        .filter(|s| s.monitoring.enabled)
        .collect();
    let mut commands = Vec::new();
    for svc in &monitored {
        let Some(vh) = b.vip_host(svc) else { continue };
        hosts.push(vh);
        for vip in &svc.vips {
            b.frontends(svc, *vip);
        }
        if let CheckKind::Command { argv } = &svc.check.kind
            && let Some((plugin, args)) = argv.split_first()
        {
            let path = if plugin.starts_with('/') {
                plugin.clone()
            } else {
                format!(
                    "{}/{plugin}",
                    intent.site.paths.plugins.trim_end_matches('/')
                )
            };
            let argv = std::iter::once(path).chain(args.iter().cloned()).collect();
            commands.push(IcingaCommand {
                name: command_name(&svc.name),
                service: svc.name.clone(),
                argv,
            });
        }
    }
    for svc in &monitored {
        b.backends(svc);
    }
    for (name, plan) in &cx.plan.hosts {
        if let Some(h) = intent.hosts.get(name) {
            b.bgp(h, plan);
            if h.has(Role::Balancer) {
                b.haproxy(h);
            }
            if zone.len() > 1 && h.has(Role::Monitoring) {
                b.cluster(h);
            }
        }
    }
    let mut services = b.services;
    crate::collect::sort_by(&mut services, |x, y| {
        (x.host_name(), &x.name).cmp(&(y.host_name(), &y.name))
    });
    services.dedup_by(|x, y| x.host_name() == y.host_name() && x.name == y.name);
    let notify_hosts = hosts
        .iter()
        .any(|h| h.vars.contains_key("svcintent_notify"));
    let notify_services = services
        .iter()
        .any(|s| s.vars.contains_key("svcintent_notify"));
    let mut users = BTreeSet::new();
    if notify_hosts || notify_services {
        users.extend(intent.site.monitoring.notify.iter().cloned());
    }
    for svc in &monitored {
        users.extend(svc.monitoring.notify.iter().cloned());
    }
    let drained_hosts = intent
        .hosts
        .values()
        .filter(|h| h.drain)
        .map(|h| h.name.clone())
        .collect();
    Monitoring {
        hosts,
        services,
        commands,
        users: users.into_iter().collect(),
        notify_hosts,
        notify_services,
        drained_hosts,
        monitored: monitored.iter().map(|s| s.name.clone()).collect(),
    }
}

#[derive(Serialize)]
struct FileCtx {
    header: String,
    /// The monitoring model as the templates see it ([`template_model`]), made once for all
    /// files (converting it per file was most of this target's time on large sites).
    m: minijinja::Value,
}

/// A list handed to the templates an item at a time: an item becomes a template value when a
/// template's loop reaches it and is dropped after, so no file holds the whole list converted.
/// Converting the model of a 10,000-service site at once took more memory than the model and
/// the files together (`tests/examples/streampeak.rs`).
#[derive(Debug)]
struct ItemByItem<T>(Vec<T>);

impl<T: Serialize + std::fmt::Debug + Send + Sync + 'static> minijinja::value::Object
    for ItemByItem<T>
{
    fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Seq
    }

    fn get_value(self: &std::sync::Arc<Self>, index: &Value) -> Option<Value> {
        self.0.get(index.as_usize()?).map(Value::from_serialize)
    }

    fn enumerate(self: &std::sync::Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(self.0.len())
    }
}

/// A list of objects the templates read in place ([`IcingaService`]): an item is handed out as
/// a reference to the object, never converted.
#[derive(Debug)]
struct ObjectList<T>(Vec<Arc<T>>);

impl<T: minijinja::value::Object + Send + Sync + 'static> minijinja::value::Object
    for ObjectList<T>
{
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, index: &Value) -> Option<Value> {
        let item = self.0.get(index.as_usize()?)?;
        Some(Value::from_dyn_object(minijinja::value::DynObject::new(
            Arc::clone(item),
        )))
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(self.0.len())
    }
}

/// The model the templates read as `m`: [`Monitoring`]'s fields, its long lists an item at a
/// time, and `drained_services`, the Services in downtime (filtered in Rust, not by a template
/// that would convert every Service to test one flag).
fn template_model(m: Monitoring, drained_services: Vec<Arc<IcingaService>>) -> Value {
    minijinja::context! {
        hosts => Value::from_object(ItemByItem(m.hosts)),
        services => Value::from_object(ObjectList(m.services)),
        drained_services => Value::from_object(ObjectList(drained_services)),
        commands => Value::from_object(ItemByItem(m.commands)),
        users => m.users,
        notify_hosts => m.notify_hosts,
        notify_services => m.notify_services,
        drained_hosts => m.drained_hosts,
    }
}

/// One endpoint of the HA zone, for `zones.conf`.
#[derive(Serialize)]
struct Endpoint {
    name: String,
    /// The address the first endpoint connects to (every other endpoint has one).
    host: Option<String>,
}

#[derive(Serialize)]
struct ZoneCtx {
    header: String,
    zone: &'static str,
    endpoints: Vec<Endpoint>,
    port: u16,
}

/// The endpoints of the HA zone: the first (by name) connects to every other one, at its
/// address of the first family both have (IPv4 first), as Icinga2's documentation sets up an
/// HA master pair; the same `zones.conf` serves both hosts.
fn endpoints(zone: &[&Host]) -> Vec<Endpoint> {
    let first = zone.first();
    zone.iter()
        .enumerate()
        .map(|(i, m)| Endpoint {
            name: m.name.clone(),
            host: first.filter(|_| i > 0).and_then(|f| {
                m.addresses()
                    .into_iter()
                    .find(|a| f.address_for(*a).is_some())
                    .map(|a| a.to_string())
            }),
        })
        .collect()
}

/// Files this host gets from this target (monitoring hosts only).
pub fn render(cx: &Context<'_>, host: &HostPlan) -> Result<Vec<RenderedFile>, RenderError> {
    if !host.roles.contains(&Role::Monitoring) || cx.host(host).is_none() {
        return Ok(Vec::new());
    }
    let zone = crate::plan::monitors(cx.intent);
    let mut m = monitoring(cx, &zone);
    // The services each file is made from, for its header and the manifest.
    let commands: Vec<String> = m.commands.iter().map(|c| c.service.clone()).collect();
    let drained_services: Vec<Arc<IcingaService>> =
        m.services.iter().filter(|s| s.drain).cloned().collect();
    let drained: BTreeSet<String> = crate::collect::set(
        drained_services
            .iter()
            .filter_map(|s| s.service.as_ref()?.as_str().map(str::to_owned)),
    );
    let drained: Vec<String> = drained.into_iter().collect();
    let monitored = std::mem::take(&mut m.monitored);
    let m_value = template_model(m, drained_services);
    let mut files = Vec::new();
    for file in FILES {
        let services: Vec<String> = match *file {
            "commands.conf" => commands.clone(),
            "downtimes.conf" => drained.clone(),
            _ => monitored.clone(),
        };
        let header = cx.header("//", &host.name, &services);
        let template = format!("icinga2/{}.j2", file);
        let contents = cx.render_template(
            Target::Icinga2,
            &host.name,
            &template,
            FileCtx {
                header,
                m: m_value.clone(),
            },
        )?;
        files.push(RenderedFile {
            host: host.name.clone(),
            path: format!("{DIR}/{file}"),
            target: Target::Icinga2,
            contents,
            services,
            origins: Vec::new(),
        });
    }
    if zone.len() > 1 {
        let zone_ctx = ZoneCtx {
            header: cx.header("//", &host.name, &[]),
            zone: ZONE,
            endpoints: endpoints(&zone),
            port: API_PORT,
        };
        for (path, template) in [
            (ZONES_PATH, "icinga2/zones.conf.j2"),
            (API_PATH, "icinga2/api.conf.j2"),
        ] {
            let contents = cx.render_template(Target::Icinga2, &host.name, template, &zone_ctx)?;
            files.push(RenderedFile {
                host: host.name.clone(),
                path: path.to_owned(),
                target: Target::Icinga2,
                contents,
                services: Vec::new(),
                origins: Vec::new(),
            });
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_quote_and_backslash() {
        assert_eq!(string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(string("trailing\\"), r#""trailing\\""#);
        assert_eq!(string("\\101"), r#""\\101""#);
        assert_eq!(string("# $x {{ }}} ; %"), r##""# $x {{ }}} ; %""##);
        assert_eq!(string("a\nb\u{1}"), r#""a\nb\001""#);
    }

    #[test]
    fn macro_strings_double_dollars() {
        assert_eq!(
            macro_string("cost $5 $host.name$"),
            r#""cost $$5 $$host.name$$""#
        );
    }

    #[test]
    fn command_args_map_placeholders() {
        assert_eq!(command_arg("{vip}"), r#""$svcintent_vip$""#);
        assert_eq!(
            command_arg("http://[{vip}]:{port}/$x"),
            r#""http://[$svcintent_vip$]:$svcintent_port$/$$x""#
        );
        assert_eq!(command_arg("{address}{vip"), r#""$svcintent_address${vip""#);
        assert_eq!(command_arg("\"{{vip}}\\"), r#""\"{$svcintent_vip$}\\""#);
    }

    #[test]
    fn templates_parse() {
        let mut env = Environment::new();
        register(&mut env);
        for file in FILES {
            assert!(
                env.get_template(&format!("icinga2/{file}.j2")).is_ok(),
                "{file}"
            );
        }
    }

    #[test]
    fn vars_keep_one_value_per_name_in_name_order() {
        let mut vars = Vars::default();
        vars.insert("svcintent_service", s("www"));
        vars.insert("http_port", Value::from(80));
        vars.insert("svcintent_drain", Value::from(false));
        vars.insert("http_port", Value::from(443));
        assert_eq!(vars.get("http_port"), Some(&Value::from(443)));
        assert!(vars.contains_key("svcintent_drain"));
        assert!(!vars.contains_key("http_uri"));
        let json = serde_json::to_string(&vars).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"http_port":443,"svcintent_drain":false,"svcintent_service":"www"}"#
        );
    }

    #[test]
    fn a_vars_block_is_one_assignment_per_variable_in_name_order() {
        let mut vars = Vars::default();
        vars.insert("svcintent_service", s("w$w"));
        vars.insert("http_port", Value::from(443));
        vars.insert("svcintent_notify", Value::from(vec!["noc"]));
        let expected = "\tvars.http_port = 443\n\tvars.svcintent_notify = [ \"noc\" ]\n\tvars.svcintent_service = \"w$$w\"\n";
        // As a Service hands it out (`s.vars`, read in place) and as a serialised map (Hosts).
        let service = Arc::new(IcingaService {
            host: s("web1"),
            name: "backend_www_80".to_owned(),
            display_name: "www backend".to_owned(),
            check_command: s("http"),
            notes: None,
            vars: vars.clone(),
            drain: false,
            service: None,
        });
        let object = minijinja::value::Object::get_value(&service, &Value::from("vars"));
        assert_eq!(
            object.as_ref().map(|v| vars_block(v).ok()),
            Some(Some(expected.to_owned()))
        );
        let map = Value::from_serialize(&vars);
        assert_eq!(vars_block(&map).ok().as_deref(), Some(expected));
        let bad = Value::from_iter([("Bad-Name", Value::from(1))]);
        assert!(vars_block(&bad).is_err());
        assert!(!is_key("9lives") && !is_key("") && is_key("a_9"));
    }

    fn value(v: &Value) -> Result<String, Error> {
        let mut out = String::new();
        push_value(&mut out, v)?;
        Ok(out)
    }

    #[test]
    fn values() {
        assert_eq!(value(&Value::from(true)).as_deref().ok(), Some("true"));
        assert_eq!(value(&Value::from(443)).as_deref().ok(), Some("443"));
        assert_eq!(
            value(&Value::from(vec!["a$", "b"])).as_deref().ok(),
            Some(r#"[ "a$$", "b" ]"#)
        );
        assert!(value(&Value::from(1.5)).is_err());
    }
}
