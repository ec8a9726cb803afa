//! Apache 2.4 on web backends: hosts with role `web` that are backends of a service with `web:`.
//!
//! # Files
//!
//! - `/etc/apache2/sites-available/svcintent-<service>.conf`, one per web service of the host:
//!   a `<VirtualHost *:<port>>` on the service's backend port(s) for this host (or
//!   `web.listen_port` when set), `ServerName` (the first server name; when that is a wildcard,
//!   which `ServerName` cannot match, it is also a `ServerAlias`) and `ServerAlias` (the other
//!   server names, and the http check's `host` when it is not among them, so the balancers'
//!   check reaches this vhost and not the port's default one), then either `DocumentRoot` with a
//!   `<Directory>` granting access, or `ProxyPass`/`ProxyPassReverse` to `proxy_to` (with
//!   `ProxyPreserveHost On`; `SSLProxyEngine On` for an https target).
//! - `/etc/apache2/conf-available/svcintent.conf` on every host with at least one such site:
//!   the `LoadModule` lines of the modules the sites use, each inside `<IfModule !x_module>` so
//!   that it is a no-op where `a2enmod` already loaded the module (Debian's `mods-enabled` is
//!   included before `conf-enabled`); the `svcintent` `LogFormat` (`%a`, the real client from
//!   mod_remoteip, and `%{c}a`, the balancer); the `Listen <port> http` lines of every port the
//!   sites use (`http` explicitly, since Apache defaults port 443 to https), except 80, which
//!   Debian's `ports.conf` already listens on (a second `Listen` on a port is a syntax error,
//!   "Cannot define multiple Listeners on the same IP:port"). Note: a web port of 443 collides
//!   in the same way with `ports.conf`'s `<IfModule ssl_module> Listen 443` when mod_ssl is
//!   enabled on the host.
//!
//! # Enabling
//!
//! The files are rendered into `conf-available`/`sites-available` (Debian's convention, and what
//! the daemon check includes); the deploy step runs `a2enconf svcintent` and
//! `a2ensite svcintent-<service>` for every file of the host's manifest, and `a2dissite` for
//! every enabled `svcintent-*` site that is no longer rendered (a dangling symlink in
//! `sites-enabled` would stop Apache). Keeping the `*-enabled` symlinks under Debian's tools
//! means an operator can still take one site out with `a2dissite` in an emergency and
//! `apache2ctl -S` shows the usual picture.
//!
//! # Health endpoint
//!
//! The balancers' check path (`web.health_path`, else the path of an http check) is answered
//! with 200 by the vhost itself, never by the proxied application or the document root:
//! `<Location "path">` with `Redirect 200` (mod_alias, a Debian default module; a non-3xx
//! `Redirect` status ends the request with that status) and `ErrorDocument 200 "OK"` for the
//! body, plus `ProxyPass "path" "!"` before the proxying rule. `<Location>` compares the
//! decoded URL path without query, so the path is cut at `?` and `%XX` escapes of plain
//! characters are decoded ([`location_path`]). A health path of `/` is not special-cased: the
//! site itself answers it.
//!
//! # Client address
//!
//! `x-forwarded-for`: `RemoteIPHeader X-Forwarded-For` and `RemoteIPInternalProxy` with exactly
//! the addresses of the service's balancers. `proxy-protocol`: `RemoteIPProxyProtocol On`
//! (Apache 2.4.31+; HAProxy then also sends the PROXY header on its checks, `check-send-proxy`)
//! and `RemoteIPProxyProtocolExceptions` for the monitoring hosts, which check the backend
//! directly without a PROXY header. The PROXY protocol is decided per listening address, so all
//! services sharing a port on one web host must agree on `client_ip` (a validation rule).
//!
//! # Quoting ([`quote`], filter `apache_quote`; [`comment`], filter `apache_comment`)
//!
//! Apache reads a directive's arguments with `ap_getword_conf()`: a word in double quotes may
//! contain spaces, and inside it `\"` is a quote and `\\` a backslash; every other character,
//! `#` included, is literal. Before that, `${NAME}` is replaced by a `Define`d or environment
//! variable anywhere in a directive line, quoted or not, and there is no escape for it; a line
//! ending in `\` (even a comment line) continues on the next line. So arguments are written in
//! double quotes with `\` and `"` escaped, and strings containing `${` or control characters are
//! refused (validation only lets DNS names, `[A-Za-z0-9._/-]` paths and URLs without `$`, `{`,
//! quotes, spaces or backslashes reach a directive). Service descriptions appear only in
//! comments, quoted the same way so the line always ends in `"`, never in `\`.

use std::collections::BTreeSet;
use std::net::IpAddr;

use minijinja::{Environment, Error, ErrorKind};
use serde::Serialize;

use super::{Context, RenderError, RenderedFile, Target};
use crate::model::{CheckKind, ClientIp, Role, Service};
use crate::plan::HostPlan;

const SITE_TEMPLATE: &str = "apache/site.conf.j2";
const CONF_TEMPLATE: &str = "apache/svcintent.conf.j2";

/// Path of the shared configuration on a web backend.
pub const CONF_PATH: &str = "/etc/apache2/conf-available/svcintent.conf";

/// Where Debian's Apache modules are.
const MODULE_DIR: &str = "/usr/lib/apache2/modules";

/// Where the logs go (Debian's `APACHE_LOG_DIR`, written out so no variable is needed).
const LOG_DIR: &str = "/var/log/apache2";

/// The site file of `service`.
pub fn site_path(service: &str) -> String {
    format!("/etc/apache2/sites-available/svcintent-{service}.conf")
}

/// Registers this target's templates and escaping filters.
pub fn register(env: &mut Environment<'static>) {
    // A template that does not parse is reported when rendering (template not found) and by
    // this module's unit tests.
    let _ = env.add_template(
        SITE_TEMPLATE,
        include_str!("../../templates/apache/site.conf.j2"),
    );
    let _ = env.add_template(
        CONF_TEMPLATE,
        include_str!("../../templates/apache/svcintent.conf.j2"),
    );
    env.add_filter("apache_quote", |s: &str| {
        quote(s).map_err(|m| Error::new(ErrorKind::InvalidOperation, m))
    });
    env.add_filter("apache_comment", |s: &str| {
        comment(s).map_err(|m| Error::new(ErrorKind::InvalidOperation, m))
    });
}

fn refuse_controls(s: &str) -> Result<(), String> {
    match s
        .chars()
        .find(|c| crate::validate::strings::forbidden_char(*c))
    {
        Some(c) => Err(format!(
            "cannot write U+{:04X} into an Apache configuration",
            c as u32
        )),
        None => Ok(()),
    }
}

fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// One directive argument in double quotes that Apache reads back as exactly `s` (see the
/// module documentation). Refuses `${` (variable expansion, which has no escape) and control
/// characters.
pub fn quote(s: &str) -> Result<String, String> {
    refuse_controls(s)?;
    if s.contains("${") {
        return Err(
            "cannot write `${` into an Apache directive (it would expand a variable)".to_owned(),
        );
    }
    Ok(escaped(s))
}

/// Free text for a comment line: quoted like [`quote`] so that the line ends in `"` (a comment
/// ending in `\` would swallow the next line). `${` is harmless in a comment.
pub fn comment(s: &str) -> Result<String, String> {
    refuse_controls(s)?;
    Ok(escaped(s))
}

/// The URL path `<Location>` compares for a check path: cut at `?`, and `%XX` decoded where it
/// stands for a character that is plain in a URL path (other escapes stay as written).
pub fn location_path(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(i) = rest.find('%') {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        let decoded = from
            .get(1..3)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .map(char::from)
            // Plain in a URL path: a URL character that is not a separator or an escape.
            .filter(|c| crate::validate::strings::url_char(*c) && !matches!(c, '/' | '%' | '?'));
        match decoded {
            Some(c) => {
                out.push(c);
                rest = from.get(3..).unwrap_or_default();
            }
            None => {
                out.push('%');
                rest = from.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

#[derive(Debug, Serialize)]
struct Site {
    header: String,
    service: String,
    description: Option<String>,
    ports: Vec<u16>,
    server_name: String,
    aliases: Vec<String>,
    document_root: Option<String>,
    proxy_to: Option<String>,
    proxy_tls: bool,
    health: Option<String>,
    remoteip_header: bool,
    internal_proxies: Vec<String>,
    proxy_protocol: bool,
    proxy_protocol_exceptions: Vec<String>,
    log_dir: &'static str,
}

#[derive(Debug, Serialize)]
struct Conf {
    header: String,
    modules: Vec<(String, String)>,
    listen: Vec<u16>,
    skipped_80: bool,
}

/// The ports this host serves `svc` on: `web.listen_port`, else its backend port(s).
fn ports_of(svc: &Service, host: &str) -> BTreeSet<u16> {
    let Some(h) = &svc.haproxy else {
        return BTreeSet::new();
    };
    if let Some(w) = h.web.as_ref().filter(|w| w.listen_port != 0) {
        return BTreeSet::from([w.listen_port]);
    }
    let service_ports: Vec<u16> = svc
        .ports
        .iter()
        .filter(|p| p.proto == crate::model::Proto::Tcp)
        .map(|p| p.port)
        .collect();
    let mut out = BTreeSet::new();
    for b in h.backends.iter().filter(|b| b.host == host) {
        match (b.port, h.backend_port) {
            (Some(p), _) | (None, Some(p)) => {
                if !service_ports.is_empty() {
                    out.insert(p);
                }
            }
            (None, None) => out.extend(service_ports.iter().copied()),
        }
    }
    out
}

fn site(cx: &Context<'_>, host: &HostPlan, svc: &Service) -> Option<Site> {
    let h = svc.haproxy.as_ref()?;
    let web = h.web.as_ref()?;
    let ports: Vec<u16> = ports_of(svc, &host.name).into_iter().collect();
    if ports.is_empty() {
        return None;
    }
    let (check_host, check_path) = match &svc.check.kind {
        CheckKind::Http { host, path, .. } => (host.clone(), Some(path.clone())),
        _ => (None, None),
    };
    // Apache refuses a wildcard `ServerName` ("use ServerAlias to set multiple server
    // names"): the first name without a wildcard, else a name of this service under the
    // reserved `.invalid` domain (RFC 6761), which no client ever asks for; the wildcards
    // are aliases.
    let server_name = web
        .server_names
        .iter()
        .find(|n| !n.starts_with("*."))
        .cloned()
        .unwrap_or_else(|| format!("{}.invalid", svc.name));
    let mut aliases: Vec<String> = Vec::new();
    for n in &web.server_names {
        if (n != &server_name || n.starts_with("*.")) && !aliases.contains(n) {
            aliases.push(n.clone());
        }
    }
    if let Some(ch) = check_host
        && ch != server_name
        && !aliases.contains(&ch)
    {
        aliases.push(ch);
    }
    let health = web
        .health_path
        .clone()
        .or(check_path)
        .map(|p| location_path(&p))
        .filter(|p| p != "/" && !p.is_empty());
    let proxy_to = web.proxy_to.as_ref().map(|u| {
        if u.ends_with('/') {
            u.clone()
        } else {
            format!("{u}/")
        }
    });
    let balancers: BTreeSet<IpAddr> = crate::collect::set(
        cx.announcers
            .balancers(svc)
            .iter()
            .flat_map(|b| b.addresses()),
    );
    let monitors: BTreeSet<IpAddr> = crate::collect::set(
        crate::plan::monitors(cx.intent)
            .into_iter()
            .flat_map(|m| m.addresses()),
    );
    let services = vec![svc.name.clone()];
    Some(Site {
        header: cx.header("#", &host.name, &services),
        service: svc.name.clone(),
        description: svc.description.clone().filter(|d| !d.is_empty()),
        ports,
        server_name,
        aliases,
        document_root: web.document_root.clone(),
        proxy_tls: proxy_to.as_ref().is_some_and(|u| u.starts_with("https://")),
        proxy_to,
        health,
        remoteip_header: h.client_ip == ClientIp::XForwardedFor,
        internal_proxies: balancers.iter().map(ToString::to_string).collect(),
        proxy_protocol: h.client_ip == ClientIp::ProxyProtocol,
        proxy_protocol_exceptions: monitors.iter().map(ToString::to_string).collect(),
        log_dir: LOG_DIR,
    })
}

/// Files this host gets from this target: one site per web service it is a backend of, and
/// the shared `svcintent.conf`.
pub fn render(cx: &Context<'_>, host: &HostPlan) -> Result<Vec<RenderedFile>, RenderError> {
    if !host.roles.contains(&Role::Web) {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    let mut services = Vec::new();
    let mut listen = BTreeSet::new();
    let mut modules = BTreeSet::new();
    for name in &host.backend_of {
        let Some(svc) = cx.intent.services.get(name) else {
            continue;
        };
        let Some(site) = site(cx, host, svc) else {
            continue;
        };
        listen.extend(site.ports.iter().copied());
        if site.health.is_some() {
            modules.insert((0, "alias"));
        }
        if site.document_root.is_some() {
            modules.insert((0, "authz_core"));
        }
        if site.remoteip_header || site.proxy_protocol {
            modules.insert((0, "remoteip"));
        }
        if site.proxy_to.is_some() {
            // mod_proxy before the modules that register with it.
            modules.insert((0, "proxy"));
            modules.insert((1, "proxy_http"));
        }
        if site.proxy_tls {
            modules.insert((0, "socache_shmcb"));
            modules.insert((1, "ssl"));
        }
        let contents = cx.render_shared(Target::Apache, &host.name, SITE_TEMPLATE, &site)?;
        files.push(RenderedFile {
            host: host.name.clone(),
            path: site_path(&svc.name),
            target: Target::Apache,
            contents,
            services: vec![svc.name.clone()],
            origins: Vec::new(),
        });
        services.push(svc.name.clone());
    }
    if files.is_empty() {
        return Ok(files);
    }
    let skipped_80 = listen.remove(&80);
    let conf = Conf {
        header: cx.header("#", &host.name, &services),
        modules: modules
            .into_iter()
            .map(|(_, m)| (format!("{m}_module"), format!("{MODULE_DIR}/mod_{m}.so")))
            .collect(),
        listen: listen.into_iter().collect(),
        skipped_80,
    };
    let contents = cx.render_template(Target::Apache, &host.name, CONF_TEMPLATE, &conf)?;
    files.push(RenderedFile {
        host: host.name.clone(),
        path: CONF_PATH.to_owned(),
        target: Target::Apache,
        contents,
        services,
        origins: Vec::new(),
    });
    Ok(files)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    /// Reads a quoted word back the way `ap_getword_conf()` does.
    fn unquote(s: &str) -> String {
        let inner = s
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap();
        let mut out = String::new();
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\' && matches!(chars.peek(), Some('"' | '\\')) {
                out.push(chars.next().unwrap());
            } else {
                assert_ne!(c, '"', "unescaped quote in {s:?}");
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("/srv/www").unwrap(), "\"/srv/www\"");
        assert_eq!(quote(r#"a"b"#).unwrap(), r#""a\"b""#);
        assert_eq!(quote(r"a\").unwrap(), r#""a\\""#);
        assert_eq!(quote("# ; } %{x}").unwrap(), "\"# ; } %{x}\"");
        assert!(quote("${HOME}").is_err());
        assert!(quote("a\nb").is_err());
        assert!(quote("a\u{2029}").is_err());
        for s in ["", "x y", r#"\"\\"#, r"end\", "'q'", "$HOME"] {
            assert_eq!(unquote(&quote(s).unwrap()), s);
        }
    }

    #[test]
    fn comments_never_end_in_a_backslash() {
        for s in ["", r"\", r"a\\", "${X} \\", r#"x\""#] {
            let c = comment(s).unwrap();
            assert!(c.ends_with('"'), "{c}");
            assert_eq!(unquote(&c), s);
        }
        assert!(comment("a\rb").is_err());
    }

    #[test]
    fn location_paths() {
        assert_eq!(location_path("/healthz"), "/healthz");
        assert_eq!(location_path("/healthz?full=1"), "/healthz");
        assert_eq!(location_path("/h%41%2d"), "/hA-");
        assert_eq!(location_path("/a%2Fb%25%"), "/a%2Fb%25%");
        assert_eq!(location_path("/%zz%4"), "/%zz%4");
    }

    #[test]
    fn templates_parse() {
        let mut env = Environment::new();
        register(&mut env);
        assert!(env.get_template(SITE_TEMPLATE).is_ok());
        assert!(env.get_template(CONF_TEMPLATE).is_ok());
    }
}
