//! What each balancing mode can do: HAProxy balances TCP only; http checks need http mode;
//! TLS and client-IP settings must fit the mode; `web:` vhosts sit on web hosts.

use super::Locator;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::unknown::Unknowns;
use crate::model::{CheckKind, ClientIp, Intent, Mode, Proto, Role, Tls};

pub(super) fn check(
    intent: &Intent,
    unknown: &Unknowns,
    at: &Locator<'_>,
    diags: &mut Diagnostics,
) {
    shared_vhost_ports(intent, unknown, at, diags);
    for svc in intent.services.values() {
        let name = svc.name.as_str();
        let known = |fields: &[&str]| !unknown.service_fields(name, fields);
        let kind_known = !unknown.check_kind(name);
        if svc.check.timeout_ms >= svc.check.interval_ms
            && known(&["check.interval", "check.timeout"])
        {
            diags.push(
                Diagnostic::new(
                    Code::CheckTiming,
                    at.service_path(name, &["check", "timeout"]),
                    format!(
                        "check timeout {}ms is not shorter than the interval {}ms",
                        svc.check.timeout_ms, svc.check.interval_ms
                    ),
                )
                .help("a check should finish before the next one starts"),
            );
        }
        // An anycast node checks the service on its VIP at the check's port, else the first
        // tcp port: with only UDP ports, a tcp, http or tls check needs an explicit `port`.
        // (A haproxy service with UDP ports is refused by SI044.)
        let network_check_without_port = match &svc.check.kind {
            CheckKind::Tcp { port }
            | CheckKind::Http { port, .. }
            | CheckKind::Tls { port, .. } => port.is_none(),
            CheckKind::Command { .. } => false,
        };
        if svc.anycast.is_some()
            && network_check_without_port
            && kind_known
            && known(&["ports"])
            && !svc.ports.is_empty()
            && !svc.ports.iter().any(|p| p.proto == Proto::Tcp)
        {
            diags.push(
                Diagnostic::new(
                    Code::CheckMismatch,
                    at.service_field(name, "check"),
                    format!("`{name}` has only UDP ports, so a tcp, http or tls check without a `port` has nothing to connect to and its VIPs would never be announced"),
                )
                .help("use a command check, e.g. `check: { command: [check_dns, -H, example.edu, -s, \"{vip}\"] }`, or give the check the `port` of a TCP listener"),
            );
        }
        let Some(h) = &svc.haproxy else { continue };
        for p in svc.ports.iter().filter(|p| p.proto == Proto::Udp) {
            diags.push(
                Diagnostic::new(
                    Code::UdpOnHaproxy,
                    at.service_item(name, "ports", |t| t == format!("{}/udp", p.port)),
                    format!("HAProxy cannot balance UDP ({}/udp)", p.port),
                )
                .help("use `balancing: anycast` for UDP services such as DNS or Kerberos"),
            );
        }
        if h.mode == Mode::Tcp
            && matches!(svc.check.kind, CheckKind::Http { .. })
            && kind_known
            && known(&["mode"])
        {
            diags.push(
                Diagnostic::new(
                    Code::CheckMismatch,
                    at.service_path(name, &["check", "http"]),
                    format!("http check on `{name}`, an L4 (mode tcp) service"),
                )
                .with_secondary(at.service_field(name, "mode"), "mode set here")
                .help("use `mode: http`, or a tcp/tls check"),
            );
        }
        match &h.tls {
            _ if !known(&["tls", "mode", "ports"]) => {}
            Tls::Passthrough if h.mode == Mode::Http => diags.push(
                Diagnostic::new(Code::TlsConflict, at.service_path(name, &["tls", "mode"]), "TLS passthrough needs `mode: tcp`: HAProxy cannot read HTTP inside TLS it does not terminate")
                    .with_secondary(at.service_field(name, "mode"), "mode set here"),
            ),
            Tls::Terminate { ports, redirect_http, .. } => {
                for p in ports {
                    if !svc.ports.iter().any(|sp| sp.port == *p && sp.proto == Proto::Tcp) {
                        diags.push(
                            Diagnostic::new(Code::TlsConflict, at.service_path(name, &["tls", "ports"]), format!("TLS port {p} is not one of the service's ports"))
                                .with_secondary(at.service_field(name, "ports"), "service ports"),
                        );
                    }
                }
                if *redirect_http && h.mode == Mode::Tcp {
                    diags.push(Diagnostic::new(Code::TlsConflict, at.service_path(name, &["tls", "redirect_http"]), "`redirect_http` needs `mode: http`"));
                }
                if *redirect_http && !svc.ports.iter().any(|sp| !ports.contains(&sp.port)) {
                    diags.push(Diagnostic::new(Code::TlsConflict, at.service_path(name, &["tls", "redirect_http"]), "`redirect_http` needs a plain (non-TLS) port to redirect from"));
                }
            }
            _ => {}
        }
        if h.client_ip == ClientIp::XForwardedFor
            && h.mode == Mode::Tcp
            && known(&["mode", "client_ip"])
        {
            diags.push(
                Diagnostic::new(
                    Code::ClientIpConflict,
                    at.service_field(name, "client_ip"),
                    "X-Forwarded-For needs `mode: http`",
                )
                .with_secondary(at.service_field(name, "mode"), "mode set here")
                .help("use `client_ip: proxy-protocol` for L4 services"),
            );
        }
        if let Some(web) = h.web.as_ref().filter(|_| known(&["web"])) {
            if h.mode != Mode::Http && known(&["mode"]) {
                diags.push(Diagnostic::new(
                    Code::WebMismatch,
                    at.service_field(name, "web"),
                    "a `web:` vhost needs `mode: http`",
                ));
            }
            if web.server_names.is_empty() {
                diags.push(Diagnostic::new(
                    Code::MissingField,
                    at.service_field(name, "web"),
                    "`web:` lists no server_names",
                ));
            }
            let backend_ports: std::collections::BTreeSet<u16> = crate::collect::set(
                svc.ports
                    .iter()
                    .filter(|p| p.proto == Proto::Tcp)
                    .map(|p| h.backend_port.unwrap_or(p.port)),
            );
            if web.listen_port != 0
                && known(&["ports", "backend_port"])
                && !(backend_ports.len() == 1 && backend_ports.contains(&web.listen_port))
            {
                let ports: Vec<String> = backend_ports.iter().map(u16::to_string).collect();
                let sent_to = match ports.split_last() {
                    Some((last, [])) => format!("port {last}"),
                    Some((last, rest)) => format!("ports {} and {last}", rest.join(", ")),
                    None => "no port".to_owned(),
                };
                diags.push(
                    Diagnostic::new(Code::WebMismatch, at.service_path(name, &["web", "listen_port"]), format!("the vhost listens on port {} but HAProxy sends `{name}` to {sent_to}", web.listen_port))
                        .help("drop `listen_port` (it follows `backend_port`), or set `backend_port` to the same port"),
                );
            }
            if let (Some(health), CheckKind::Http { path, .. }) =
                (&web.health_path, &svc.check.kind)
                && health != path
                && kind_known
            {
                diags.push(
                    Diagnostic::new(Code::WebMismatch, at.service_path(name, &["web", "health_path"]), format!("the vhost answers health checks on {health} but the balancers check {path}"))
                        .with_secondary(at.service_path(name, &["check", "http", "path"]), "check path")
                        .help("drop `health_path` (it follows the check path), or make them equal"),
                );
            }
            if web.proxy_to.as_deref().is_some_and(|u| u.contains('?')) {
                diags.push(
                    Diagnostic::new(
                        Code::WebMismatch,
                        at.service_path(name, &["web", "proxy_to"]),
                        "`proxy_to` cannot carry a query string",
                    )
                    .help("proxy to a base URL such as http://127.0.0.1:3000/app"),
                );
            }
            if web.document_root.is_some() == web.proxy_to.is_some() {
                diags.push(
                    Diagnostic::new(Code::WebMismatch, at.service_field(name, "web"), "`web:` needs exactly one of document_root and proxy_to")
                        .help("serve files with `document_root`, or proxy to an application with `proxy_to`"),
                );
            }
            for b in &h.backends {
                if intent
                    .hosts
                    .get(&b.host)
                    .is_some_and(|host| !host.has(Role::Web))
                    && !unknown.host_field(&b.host, "roles")
                {
                    diags.push(
                        Diagnostic::new(
                            Code::WebMismatch,
                            at.service_item(name, "backends", |t| t == b.host),
                            format!(
                                "`{}` gets the `web:` vhost of `{name}` but lacks the role web",
                                b.host
                            ),
                        )
                        .with_secondary(at.host_value(&b.host, "roles"), "its roles")
                        .help("add `web` to its roles (Apache runs there), or drop `web:`"),
                    );
                }
            }
        }
    }
}

/// Apache enables the PROXY protocol per listening port, not per vhost (mod_remoteip: "if you
/// enable it in any one of them, it is enabled for all of them"): services whose vhosts share a
/// port on one web host must agree on whether the PROXY protocol is used. `X-Forwarded-For`
/// and `none` are per vhost (`RemoteIPHeader`), so they may share a port.
fn shared_vhost_ports(
    intent: &Intent,
    unknown: &Unknowns,
    at: &Locator<'_>,
    diags: &mut Diagnostics,
) {
    let mut seen: std::collections::BTreeMap<(&str, u16), (&str, bool)> =
        std::collections::BTreeMap::new();
    for svc in intent.services.values() {
        let Some(h) = &svc.haproxy else { continue };
        let fields = ["web", "client_ip", "backends", "backend_port", "ports"];
        if h.web.is_none() || unknown.service_fields(&svc.name, &fields) {
            continue;
        }
        let proxy_protocol = h.client_ip == ClientIp::ProxyProtocol;
        for b in &h.backends {
            for p in svc.ports.iter().filter(|p| p.proto == Proto::Tcp) {
                let port = b.port.or(h.backend_port).unwrap_or(p.port);
                match seen.get(&(b.host.as_str(), port)) {
                    Some((other, pp)) if *pp != proxy_protocol && *other != svc.name => diags.push(
                        Diagnostic::new(
                            Code::ClientIpConflict,
                            at.service_field(&svc.name, "client_ip"),
                            format!(
                                "`{}` and `{other}` share port {port} on `{}`, but only {} uses the PROXY protocol",
                                svc.name,
                                b.host,
                                if proxy_protocol { format!("`{}`", svc.name) } else { format!("`{other}`") }
                            ),
                        )
                        .help("Apache turns the PROXY protocol on for a whole port: use `client_ip: proxy-protocol` in both or in neither, or give one service another `backend_port`"),
                    ),
                    Some(_) => {}
                    None => {
                        seen.insert((b.host.as_str(), port), (svc.name.as_str(), proxy_protocol));
                    }
                }
            }
        }
    }
}
