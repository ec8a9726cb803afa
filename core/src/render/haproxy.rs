//! HAProxy 2.6 on balancers: `/etc/haproxy/haproxy.cfg` for every host with role `balancer`.
//!
//! # Layout
//!
//! - `global` as Debian's packaged config has it (syslog, `chroot /var/lib/haproxy`, user and
//!   group `haproxy`, `daemon`, Mozilla-intermediate TLS defaults) plus the admin socket
//!   `/run/haproxy/admin.sock` (`level admin`) used by the drain tooling, and a global `maxconn`
//!   that is the sum of every frontend's `maxconn` (plus the statistics listener), so the global
//!   limit never caps a frontend below its own.
//! - `defaults`: `log global`, `option dontlognull`, a frontend `maxconn` of
//!   [`DEFAULT_FRONTEND_MAXCONN`] and the model's default timeouts (connect 5s, client and
//!   server 30s); every section sets its service's own timeouts anyway. A service split into
//!   several listeners (one per backend port) gets its `maxconn` on each frontend.
//! - `listen svcintent_stats`: the statistics page on the balancer's own addresses, port
//!   [`STATS_PORT`], answering only the balancer itself and the monitoring hosts; admin actions
//!   (enable/disable servers) only from the balancer itself. The name contains `_` and does not
//!   end in `_<digits>`, so it can never equal a listener name (`<service>` or
//!   `<service>_<port>`, service names have no `_`). Note: the firewall plan has no allowance for
//!   this port, so the monitoring hosts reach it only once the plan opens it.
//! - `frontend svcintent_health` on `127.0.0.1:`[`HEALTH_PORT`]: `GET /<service>` answers 200
//!   while every backend (listener) of the service has a usable server, 503 otherwise (one
//!   `nbsrv(<backend>) lt 1` rule per backend: HAProxy reads at most 64 words per line, and a
//!   service with many ports has a backend per port), 404 for anything else. anycast-healthchecker announces the service's
//!   VIPs on this answer (`render::healthchecker`), so one failing backend server never
//!   withdraws a VIP and a dead HAProxy withdraws them all. Loopback only: nftables accepts
//!   `lo` and nothing else can reach it. Same naming rule as the statistics listener.
//! - `defaults` also sets `retries 3` and `option redispatch`: a connection a backend server
//!   refuses (stopped, not yet marked down) is retried on another server before the client
//!   sees an error; http backends also `retry-on conn-failure empty-response junk-response`,
//!   so a request a stopping server drops is sent again to another (measured in the netns lab).
//! - Per listener of each balanced service (`HostPlan::listeners`), a `frontend` and a `backend`
//!   named after the listener. The frontend binds every VIP of the service that this balancer
//!   announces (`HostPlan::announcements`, drained or not, so every bound VIP is announced) on
//!   every port of the listener, with `transparent` so that HAProxy starts before the VIPs are
//!   on `lo` (HAProxy 2.6 has no `freebind`; `transparent` sets `IP_TRANSPARENT`, which needs
//!   `CAP_NET_ADMIN`, and HAProxy binds before it drops root). Every balancer of a group gets
//!   byte-identical service sections; only the header and the statistics listener differ.
//! - TLS `terminate`: `ssl crt <paths.tls_certificates>/<certificate>` on the TLS ports (with
//!   ALPN `h2,http/1.1` in http mode), `http-request redirect scheme https` on the plain ports
//!   when `redirect_http`, and `X-Forwarded-Proto` set from `ssl_fc` in http mode.
//!   `passthrough` is a tcp frontend without `ssl`.
//! - Client address: `option forwardfor` (http mode, `x-forwarded-for`), or `send-proxy-v2`
//!   (`proxy-protocol`, `proxy-protocol-v2`) or `send-proxy` (`proxy-protocol-v1`) plus
//!   `check-send-proxy` on every server: the backend then requires the PROXY header on every
//!   connection, and HAProxy's health checks send it too, in the same version, even when the
//!   check has its own `port`.
//! - Health checks from the service's check: http → `option httpchk` + `http-check send` (Host
//!   header: the check's `host`, else the first non-wildcard web server name, else HTTP/1.0
//!   without Host) + `http-check expect status`; tls → `check-ssl verify none` (+`check-sni`):
//!   the handshake is the check, the backend certificate is not verified; tcp → `check`;
//!   command → HAProxy cannot run commands, so a TCP connect check (said in a comment).
//!   `inter`/`rise`/`fall`/`port` go on `default-server`, `timeout check` on the backend.
//! - Servers: address (never a host name) and port from the plan, `weight`, `backup`, and
//!   `disabled` (maintenance) when drained.
//!
//! # Quoting ([`quote`], filter `haproxy_quote`)
//!
//! HAProxy 2.6 splits a config line into words in `parse_line()` (src/tools.c): outside quotes
//! whitespace separates words, `#` starts a comment, `\` escapes, `"` opens weak quoting (with
//! `$VAR`/`${VAR}` environment expansion and backslash escapes inside), `'` opens strong
//! quoting, inside which *nothing* is interpreted (no `\`, no `$`, no `#`, no `"`) until the
//! next `'`. Quoted pieces and unquoted pieces of one word concatenate. So a string is written
//! unquoted when it consists only of `[A-Za-z0-9._/:@=+,-]`, and otherwise inside single quotes
//! with each `'` written as `'\''` (close, escaped quote, reopen). Line breaks, NUL and control
//! characters cannot be represented (a newline would end the line and start a new directive):
//! the filter refuses them, and validation (`validate::strings::forbidden_char`) already keeps
//! them out of every string. Proven with `haproxy -c` and by reading the description back from
//! the running daemon's statistics page (tests/tests/render_haproxy.rs).
//!
//! User strings reaching this file: service descriptions (`description`, joined from its words
//! by HAProxy, so it is passed as one quoted word), the http check path (`uri`, a validated URL
//! path, quoted when it has characters outside the plain set) and Host header (a validated DNS
//! name; `hdr` values are log-format strings, where `%` would be special, which DNS names
//! cannot contain), the SNI (DNS name), certificate file name and directory (validated file name
//! and path). Host descriptions and check commands are not written.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use minijinja::{Environment, Error, ErrorKind};
use serde::Serialize;

use super::{Context, RenderError, RenderedFile, Target};
use crate::model::{CheckKind, ClientIp, Mode, Role, Service, Tls};
use crate::plan::{HostPlan, Listener};

/// Where the file goes on the balancer.
pub const PATH: &str = "/etc/haproxy/haproxy.cfg";

/// Port of the statistics/admin page on the balancer's own addresses.
pub const STATS_PORT: u16 = crate::plan::HAPROXY_STATS_PORT;

/// Port of the announcement-health frontend on `127.0.0.1`.
pub const HEALTH_PORT: u16 = crate::plan::HAPROXY_HEALTH_PORT;

/// `maxconn` of the announcement-health frontend (one check per VIP every interval).
const HEALTH_MAXCONN: u32 = 100;

/// `maxconn` of a frontend whose service sets none (the `defaults` section's value).
pub const DEFAULT_FRONTEND_MAXCONN: u32 = 10_000;

/// `maxconn` of the statistics listener.
const STATS_MAXCONN: u32 = 100;

const TEMPLATE: &str = "haproxy/haproxy.cfg.j2";
const SECTION_TEMPLATE: &str = "haproxy/section.cfg.j2";

/// Registers this target's templates and escaping filters.
pub fn register(env: &mut Environment<'static>) {
    // A template that does not parse is reported when rendering (template not found) and by
    // this module's unit tests.
    let _ = env.add_template(
        TEMPLATE,
        include_str!("../../templates/haproxy/haproxy.cfg.j2"),
    );
    let _ = env.add_template(
        SECTION_TEMPLATE,
        include_str!("../../templates/haproxy/section.cfg.j2"),
    );
    env.add_filter("haproxy_quote", |s: &str| {
        quote(s).map_err(|m| Error::new(ErrorKind::InvalidOperation, m))
    });
    env.add_filter("haproxy_time", time);
}

/// Whether `c` is written unquoted: no character HAProxy's line parser treats specially, and
/// nothing a log-format or ACL parser would.
fn plain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | ':' | '@' | '=' | '+' | ',' | '-')
}

/// Quotes `s` as one HAProxy 2.6 configuration word that parses back to exactly `s` (see the
/// module documentation). Refuses strings with control characters, which no quoting can carry.
pub fn quote(s: &str) -> Result<String, String> {
    if let Some(c) = s
        .chars()
        .find(|c| crate::validate::strings::forbidden_char(*c))
    {
        return Err(format!("cannot write U+{:04X} into haproxy.cfg", c as u32));
    }
    if !s.is_empty() && s.chars().all(plain_char) {
        return Ok(s.to_owned());
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    Ok(out)
}

/// A duration in milliseconds as an HAProxy time (`2s`, `1500ms`, `10m`).
pub fn time(ms: u32) -> String {
    if ms == 0 || !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    }
}

/// `addr:port` as HAProxy reads it (`[v6]:port`).
fn sockaddr(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

#[derive(Debug, Serialize)]
struct Config {
    header: String,
    maxconn: u64,
    default_maxconn: u32,
    stats: Stats,
    health: Health,
    health_maxconn: u32,
    /// Each section rendered by [`SECTION_TEMPLATE`].
    sections: Vec<String>,
}

/// The input of [`SECTION_TEMPLATE`].
#[derive(Debug, Serialize)]
struct SectionInput<'a> {
    s: &'a Section,
}

/// The announcement-health frontend: `GET /<service>` answers 200 while every backend of the
/// service has a usable server, 503 otherwise.
#[derive(Debug, Serialize)]
struct Health {
    bind: String,
    routes: Vec<HealthRoute>,
}

#[derive(Debug, Serialize)]
struct HealthRoute {
    service: String,
    /// The service's backends (one per listener).
    backends: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Stats {
    port: u16,
    binds: Vec<String>,
    /// Sources allowed to read the page.
    readers: Vec<String>,
    /// Sources allowed to use the admin actions.
    admins: Vec<String>,
    maxconn: u32,
}

#[derive(Debug, Serialize)]
struct Section {
    name: String,
    service: String,
    description: Option<String>,
    mode: &'static str,
    frontend: Option<Frontend>,
    backend: Backend,
}

#[derive(Debug, Serialize)]
struct Frontend {
    binds: Vec<Bind>,
    maxconn: Option<u32>,
    timeout_client: u32,
    redirect_https: bool,
    forwarded_proto: bool,
    forwardfor: bool,
}

#[derive(Debug, Serialize)]
struct Bind {
    address: String,
    /// Certificate path when TLS is terminated on this port.
    crt: Option<String>,
    alpn: bool,
}

#[derive(Debug, Serialize)]
struct Backend {
    balance: &'static str,
    timeout_connect: u32,
    timeout_server: u32,
    timeout_check: u32,
    check: CheckOut,
    inter: u32,
    rise: u8,
    fall: u8,
    /// The PROXY protocol version sent to the servers (traffic and checks).
    send_proxy: Option<u8>,
    servers: Vec<Server>,
}

#[derive(Debug, Serialize)]
struct CheckOut {
    /// `http`, `tls`, `tcp` or `command`.
    kind: &'static str,
    method: String,
    path: String,
    /// HTTP version sent (`HTTP/1.1` with a Host header, else `HTTP/1.0`).
    version: &'static str,
    host: Option<String>,
    expect: u16,
    sni: Option<String>,
    port: Option<u16>,
}

#[derive(Debug, Serialize)]
struct Server {
    name: String,
    address: String,
    weight: u16,
    backup: bool,
    disabled: bool,
}

fn check_out(svc: &Service) -> CheckOut {
    let web_name = svc
        .haproxy
        .as_ref()
        .and_then(|h| h.web.as_ref())
        .and_then(|w| {
            w.server_names
                .iter()
                .find(|n| !n.starts_with("*."))
                .cloned()
        });
    let mut out = CheckOut {
        kind: "tcp",
        method: "GET".to_owned(),
        path: "/".to_owned(),
        version: "HTTP/1.0",
        host: None,
        expect: 200,
        sni: None,
        port: None,
    };
    match &svc.check.kind {
        CheckKind::Tcp { port } => out.port = *port,
        CheckKind::Http {
            path,
            expect,
            host,
            method,
            port,
        } => {
            out.kind = "http";
            out.method.clone_from(method);
            out.path.clone_from(path);
            out.host = host.clone().or(web_name);
            out.version = if out.host.is_some() {
                "HTTP/1.1"
            } else {
                "HTTP/1.0"
            };
            out.expect = *expect;
            out.port = *port;
        }
        CheckKind::Tls { sni, port } => {
            out.kind = "tls";
            out.sni.clone_from(sni);
            out.port = *port;
        }
        CheckKind::Command { .. } => out.kind = "command",
    }
    out
}

/// `announced`: the VIPs this balancer announces, per service.
fn section(
    cx: &Context<'_>,
    announced: &BTreeMap<&str, BTreeSet<IpAddr>>,
    svc: &Service,
    listener: &Listener,
) -> Option<Section> {
    let h = svc.haproxy.as_ref()?;
    let http = h.mode == Mode::Http;
    let announced = announced.get(svc.name.as_str());
    let (tls_ports, crt, redirect_http): (&[u16], Option<String>, bool) = match &h.tls {
        Tls::Terminate {
            certificate,
            ports,
            redirect_http,
        } => (
            ports,
            Some(format!(
                "{}/{}",
                cx.intent.site.paths.tls_certificates, certificate
            )),
            *redirect_http,
        ),
        Tls::None | Tls::Passthrough => (&[], None, false),
    };
    let mut binds = Vec::new();
    for vip in svc
        .vips
        .iter()
        .filter(|v| announced.is_some_and(|a| a.contains(v)))
    {
        for port in &listener.ports {
            let tls = tls_ports.contains(port);
            binds.push(Bind {
                address: sockaddr(*vip, *port),
                crt: if tls { crt.clone() } else { None },
                alpn: tls && http,
            });
        }
    }
    let has_plain = listener.ports.iter().any(|p| !tls_ports.contains(p));
    let frontend = (!binds.is_empty()).then(|| Frontend {
        binds,
        maxconn: h.maxconn,
        timeout_client: h.timeouts.client_ms,
        redirect_https: http && redirect_http && has_plain,
        forwarded_proto: http,
        forwardfor: http && h.client_ip == ClientIp::XForwardedFor,
    });
    let servers = listener
        .servers
        .iter()
        .map(|s| Server {
            name: s.host.clone(),
            address: sockaddr(s.address, s.port),
            weight: s.weight,
            backup: s.backup,
            disabled: s.drain,
        })
        .collect();
    Some(Section {
        name: listener.name.clone(),
        service: svc.name.clone(),
        description: svc.description.clone().filter(|d| !d.is_empty()),
        mode: if http { "http" } else { "tcp" },
        frontend,
        backend: Backend {
            balance: h.balance.as_str(),
            timeout_connect: h.timeouts.connect_ms,
            timeout_server: h.timeouts.server_ms,
            timeout_check: svc.check.timeout_ms,
            check: check_out(svc),
            inter: svc.check.interval_ms,
            rise: svc.check.rise,
            fall: svc.check.fall,
            send_proxy: h.client_ip.proxy_protocol(),
            servers,
        },
    })
}

/// Files this host gets from this target: `haproxy.cfg` on balancers.
pub fn render(cx: &Context<'_>, host: &HostPlan) -> Result<Vec<RenderedFile>, RenderError> {
    if !host.roles.contains(&Role::Balancer) {
        return Ok(Vec::new());
    }
    let mut announced: BTreeMap<&str, BTreeSet<IpAddr>> = BTreeMap::new();
    for a in &host.announcements {
        announced
            .entry(a.service.as_str())
            .or_default()
            .insert(a.vip);
    }
    let mut sections = Vec::new();
    for name in &host.balanced {
        let Some(svc) = cx.intent.services.get(name) else {
            continue;
        };
        for listener in host
            .listeners
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            sections.extend(section(cx, &announced, svc, listener));
        }
    }
    let own: Vec<IpAddr> = cx.host(host).map(|h| h.addresses()).unwrap_or_default();
    let mut readers: Vec<IpAddr> = own.clone();
    readers.extend(cx.monitor_addresses().iter().copied());
    let readers: BTreeSet<IpAddr> = crate::collect::set(readers);
    let maxconn = sections
        .iter()
        .filter_map(|s| s.frontend.as_ref())
        .map(|f| u64::from(f.maxconn.unwrap_or(DEFAULT_FRONTEND_MAXCONN)))
        .sum::<u64>()
        + u64::from(STATS_MAXCONN)
        + u64::from(HEALTH_MAXCONN);
    let mut routes: Vec<HealthRoute> = Vec::new();
    for s in &sections {
        match routes.last_mut() {
            Some(r) if r.service == s.service => r.backends.push(s.name.clone()),
            _ => routes.push(HealthRoute {
                service: s.service.clone(),
                backends: vec![s.name.clone()],
            }),
        }
    }
    let services = host.balanced.clone();
    let config = Config {
        header: cx.header("#", &host.name, &services),
        maxconn,
        default_maxconn: DEFAULT_FRONTEND_MAXCONN,
        stats: Stats {
            port: STATS_PORT,
            binds: own.iter().map(|a| sockaddr(*a, STATS_PORT)).collect(),
            readers: readers.iter().map(ToString::to_string).collect(),
            admins: own.iter().map(ToString::to_string).collect(),
            maxconn: STATS_MAXCONN,
        },
        health: Health {
            bind: sockaddr(IpAddr::from([127, 0, 0, 1]), HEALTH_PORT),
            routes,
        },
        health_maxconn: HEALTH_MAXCONN,
        sections: sections
            .iter()
            .map(|s| {
                cx.render_shared(
                    Target::Haproxy,
                    &host.name,
                    SECTION_TEMPLATE,
                    &SectionInput { s },
                )
            })
            .collect::<Result<_, _>>()?,
    };
    let contents = cx.render_template(Target::Haproxy, &host.name, TEMPLATE, &config)?;
    Ok(vec![RenderedFile {
        host: host.name.clone(),
        path: PATH.to_owned(),
        target: Target::Haproxy,
        contents,
        services,
        origins: Vec::new(),
    }])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn plain_words_stay_unquoted() {
        assert_eq!(quote("/healthz").unwrap(), "/healthz");
        assert_eq!(quote("www.example.edu").unwrap(), "www.example.edu");
        assert_eq!(
            quote("/etc/haproxy/certs/a_b-c.pem").unwrap(),
            "/etc/haproxy/certs/a_b-c.pem"
        );
    }

    #[test]
    fn everything_else_is_strongly_quoted() {
        assert_eq!(quote("").unwrap(), "''");
        assert_eq!(quote("Main website").unwrap(), "'Main website'");
        assert_eq!(quote("a#b").unwrap(), "'a#b'");
        assert_eq!(quote("$HOME ${HOME}").unwrap(), "'$HOME ${HOME}'");
        assert_eq!(quote(r#"say "hi""#).unwrap(), r#"'say "hi"'"#);
        assert_eq!(quote(r"trailing\").unwrap(), r"'trailing\'");
        assert_eq!(quote(r"\x41 \n").unwrap(), r"'\x41 \n'");
        assert_eq!(quote("/a?b=1&c=%41").unwrap(), "'/a?b=1&c=%41'");
        assert_eq!(quote("café").unwrap(), "'café'");
    }

    #[test]
    fn single_quotes_close_escape_and_reopen() {
        assert_eq!(quote("it's").unwrap(), r"'it'\''s'");
        assert_eq!(quote("'").unwrap(), r"''\'''");
        assert_eq!(quote("''").unwrap(), r"''\'''\'''");
    }

    #[test]
    fn control_characters_are_refused() {
        for s in ["a\nb", "a\rb", "a\0b", "a\tb", "a\u{2028}b", "\u{202e}"] {
            assert!(quote(s).is_err(), "{s:?}");
        }
    }

    /// Reads a quoted word back the way HAProxy's `parse_line` does for the characters
    /// [`quote`] emits: single quotes toggle strong quoting, `\'` outside quotes is a quote.
    fn unquote(s: &str) -> String {
        let mut out = String::new();
        let mut squote = false;
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\'' => squote = !squote,
                '\\' if !squote && chars.peek() == Some(&'\'') => {
                    out.push('\'');
                    chars.next();
                }
                c => {
                    assert!(
                        squote || plain_char(c),
                        "unquoted special char {c:?} in {s:?}"
                    );
                    out.push(c);
                }
            }
        }
        assert!(!squote, "unbalanced quotes in {s:?}");
        out
    }

    #[test]
    fn quoting_round_trips() {
        for s in [
            "",
            "x",
            "it's",
            "''",
            r"\'",
            r#"q"d's # $HOME ${HOME} ; } }}} \ % {{ end\"#,
            "a b  c",
            "é'\\",
        ] {
            assert_eq!(unquote(&quote(s).unwrap()), s);
        }
    }

    #[test]
    fn times() {
        assert_eq!(time(2000), "2s");
        assert_eq!(time(1500), "1500ms");
        assert_eq!(time(600_000), "10m");
        assert_eq!(time(90_000), "90s");
        assert_eq!(time(0), "0ms");
    }

    #[test]
    fn templates_parse() {
        let mut env = Environment::new();
        register(&mut env);
        assert!(env.get_template(TEMPLATE).is_ok());
        assert!(env.get_template(SECTION_TEMPLATE).is_ok());
    }
}
