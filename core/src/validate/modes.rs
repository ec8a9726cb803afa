//! What each balancing mode can do: HAProxy balances TCP only; http checks need http mode;
//! TLS and client-IP settings must fit the mode; `web:` vhosts sit on web hosts.

use super::Locator;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::model::{CheckKind, ClientIp, Intent, Mode, Proto, Role, Tls};

pub(super) fn check(intent: &Intent, at: &Locator<'_>, diags: &mut Diagnostics) {
    for svc in intent.services.values() {
        let name = svc.name.as_str();
        if svc.check.timeout_ms >= svc.check.interval_ms {
            diags.push(
                Diagnostic::new(
                    Code::CheckTiming,
                    at.service_path(name, &["check", "timeout"]),
                    format!("check timeout {}ms is not shorter than the interval {}ms", svc.check.timeout_ms, svc.check.interval_ms),
                )
                .help("a check should finish before the next one starts"),
            );
        }
        let network_check = !matches!(svc.check.kind, CheckKind::Command { .. });
        if network_check && !svc.ports.is_empty() && !svc.ports.iter().any(|p| p.proto == Proto::Tcp) {
            diags.push(
                Diagnostic::new(
                    Code::CheckMismatch,
                    at.service_field(name, "check"),
                    format!("`{name}` has only UDP ports, so a tcp, http or tls check can never pass and its VIPs would never be announced"),
                )
                .help("use a command check, e.g. `check: { command: [check_dns, -H, example.edu, -s, \"{vip}\"] }`"),
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
        if h.mode == Mode::Tcp && matches!(svc.check.kind, CheckKind::Http { .. }) {
            diags.push(
                Diagnostic::new(Code::CheckMismatch, at.service_path(name, &["check", "http"]), format!("http check on `{name}`, an L4 (mode tcp) service"))
                    .with_secondary(at.service_field(name, "mode"), "mode set here")
                    .help("use `mode: http`, or a tcp/tls check"),
            );
        }
        match &h.tls {
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
        if h.client_ip == ClientIp::XForwardedFor && h.mode == Mode::Tcp {
            diags.push(
                Diagnostic::new(Code::ClientIpConflict, at.service_field(name, "client_ip"), "X-Forwarded-For needs `mode: http`")
                    .with_secondary(at.service_field(name, "mode"), "mode set here")
                    .help("use `client_ip: proxy-protocol` for L4 services"),
            );
        }
        if let Some(web) = &h.web {
            if h.mode != Mode::Http {
                diags.push(Diagnostic::new(Code::WebMismatch, at.service_field(name, "web"), "a `web:` vhost needs `mode: http`"));
            }
            if web.server_names.is_empty() {
                diags.push(Diagnostic::new(Code::MissingField, at.service_field(name, "web"), "`web:` lists no server_names"));
            }
            if web.document_root.is_some() == web.proxy_to.is_some() {
                diags.push(
                    Diagnostic::new(Code::WebMismatch, at.service_field(name, "web"), "`web:` needs exactly one of document_root and proxy_to")
                        .help("serve files with `document_root`, or proxy to an application with `proxy_to`"),
                );
            }
            for b in &h.backends {
                if intent.hosts.get(&b.host).is_some_and(|host| !host.has(Role::Web)) {
                    diags.push(
                        Diagnostic::new(
                            Code::WebMismatch,
                            at.service_item(name, "backends", |t| t == b.host),
                            format!("`{}` gets the `web:` vhost of `{name}` but lacks the role web", b.host),
                        )
                        .with_secondary(at.host_value(&b.host, "roles"), "its roles")
                        .help("add `web` to its roles (Apache runs there), or drop `web:`"),
                    );
                }
            }
        }
    }
}
