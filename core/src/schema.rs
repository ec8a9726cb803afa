//! The input format, as data. One table drives unknown-key detection (with "did you mean"),
//! the JSON Schema served by `svcintent schema` (for yaml-language-server completion) and the
//! field reference in `docs/format.md` (a test keeps the two in step).

use serde_json::{Map, Value, json};

/// The type of a field's value.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// An identifier: `[a-z][a-z0-9-]*`, at most 48 characters, no trailing `-`.
    Ident,
    /// Free text without control characters.
    Text,
    /// A DNS name (optionally starting with `*.`).
    Hostname,
    /// An absolute file-system path of safe characters.
    Path,
    /// A file name of safe characters.
    FileName,
    /// An absolute URL path (`/healthz?full=1`).
    UrlPath,
    /// An `http://` or `https://` URL.
    Url,
    /// A command-line argument without control characters.
    Arg,
    /// A dotted version (`2.6`).
    Version,
    /// An integer in a range.
    Int(i64, i64),
    /// `true` or `false`.
    Bool,
    /// A duration such as `2s`, `500ms`, `1m`.
    Duration,
    /// An IPv4 or IPv6 address.
    Ip,
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// A prefix such as `192.0.2.0/24` (a bare address means /32 or /128).
    Net,
    /// A port number.
    Port,
    /// A port with protocol: `443/tcp`, `53/udp`, or a bare number (tcp).
    PortSpec,
    /// One of a set of words.
    Enum(&'static [&'static str]),
    /// A list.
    List(&'static Ty),
    /// One value or a list of them.
    OneOrList(&'static Ty),
    /// Either of two types.
    Either(&'static Ty, &'static Ty),
    /// A mapping with known fields.
    Object(&'static [Field]),
    /// A mapping from identifiers to values.
    MapOf(&'static Ty),
}

/// Which balancing mode a service field applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// Any service.
    Any,
    /// `balancing: haproxy` only.
    Haproxy,
    /// `balancing: anycast` only.
    Anycast,
}

/// One field of a mapping.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Key.
    pub name: &'static str,
    /// Value type.
    pub ty: Ty,
    /// Whether it must be given (after inheritance).
    pub required: bool,
    /// Default, as written in YAML (empty: none).
    pub default: &'static str,
    /// What it means.
    pub doc: &'static str,
    /// Balancing modes it applies to (service fields).
    pub applies: Applies,
}

const fn f(name: &'static str, ty: Ty, default: &'static str, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        required: false,
        default,
        doc,
        applies: Applies::Any,
    }
}
const fn req(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        required: true,
        default: "",
        doc,
        applies: Applies::Any,
    }
}
const fn hap(name: &'static str, ty: Ty, default: &'static str, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        required: false,
        default,
        doc,
        applies: Applies::Haproxy,
    }
}
const fn any(name: &'static str, ty: Ty, default: &'static str, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        required: false,
        default,
        doc,
        applies: Applies::Anycast,
    }
}

/// `client_ip` methods. `proxy-protocol` and `proxy-protocol-v2` are the same (version 2).
pub const CLIENT_IP: &[&str] = &[
    "none",
    "proxy-protocol",
    "proxy-protocol-v1",
    "proxy-protocol-v2",
    "x-forwarded-for",
];

/// `announce` scopes of a service.
pub const ANNOUNCE: &[&str] = &["site", "upstream"];

/// Host roles.
pub const ROLES: &[&str] = &[
    "balancer",
    "route-reflector",
    "anycast-node",
    "web",
    "backend",
    "monitoring",
];

const IDENT: Ty = Ty::Ident;
const NET: Ty = Ty::Net;
const IP: Ty = Ty::Ip;
const ARG: Ty = Ty::Arg;
const HOSTNAME: Ty = Ty::Hostname;
const PORTSPEC: Ty = Ty::PortSpec;
const PORT: Ty = Ty::Port;
const ROLE: Ty = Ty::Enum(ROLES);

/// `site.bgp.upstreams[]`.
pub const UPSTREAM: &[Field] = &[
    req(
        "name",
        Ty::Ident,
        "Name of the upstream router (BIRD protocol name).",
    ),
    req(
        "address",
        Ty::Ip,
        "Its address; the route reflectors peer with it from their address of the same family.",
    ),
    req(
        "asn",
        Ty::Int(1, 4_294_967_294),
        "Its AS number (the site's own: iBGP).",
    ),
    f(
        "internal",
        Ty::Bool,
        "true when its asn is the site's (iBGP)",
        "Whether the router is inside the site: it also gets the VIPs of `announce: site` services, tagged NO_EXPORT.",
    ),
];
const UPSTREAM_TY: Ty = Ty::Object(UPSTREAM);

/// `site.bgp`.
pub const BGP: &[Field] = &[
    f(
        "cluster_id",
        Ty::Ipv4,
        "router id of the first route reflector",
        "Route-reflector cluster id.",
    ),
    f(
        "hold_time",
        Ty::Int(3, 65535),
        "9",
        "BGP hold time in seconds.",
    ),
    f(
        "keepalive_time",
        Ty::Int(1, 21845),
        "3",
        "BGP keepalive in seconds (at most a third of the hold time).",
    ),
    f(
        "connect_delay_time",
        Ty::Int(1, 65535),
        "1",
        "Seconds to wait before (re)connecting a session.",
    ),
    f(
        "upstreams",
        Ty::List(&UPSTREAM_TY),
        "[]",
        "Routers the route reflectors export VIP routes to.",
    ),
];

/// `site.versions`.
pub const VERSIONS: &[Field] = &[
    f(
        "haproxy",
        Ty::Version,
        "2.6",
        "HAProxy version of the balancers (2.6 or newer).",
    ),
    f(
        "bird",
        Ty::Version,
        "2.0",
        "BIRD version (2.0 or newer 2.x).",
    ),
    f(
        "nftables",
        Ty::Version,
        "1.0",
        "nftables version (1.0 or newer).",
    ),
    f(
        "icinga2",
        Ty::Version,
        "2.13",
        "Icinga2 version (2.13 or newer).",
    ),
    f("apache", Ty::Version, "2.4", "Apache httpd version (2.4)."),
];

/// `site.monitoring`.
pub const SITE_MONITORING: &[Field] = &[f(
    "notify",
    Ty::List(&IDENT),
    "[]",
    "Icinga2 users notified about every service unless it says otherwise.",
)];

/// `site.paths`.
pub const PATHS: &[Field] = &[
    f(
        "tls_certificates",
        Ty::Path,
        "/etc/haproxy/certs",
        "Directory of the PEM files (certificate and key) on balancers.",
    ),
    f(
        "plugins",
        Ty::Path,
        "/usr/lib/nagios/plugins",
        "Directory of the monitoring-plugins binaries on every host.",
    ),
];

/// `site.deploy`.
pub const DEPLOY: &[Field] = &[
    f(
        "min_announcers",
        Ty::Int(0, 1000),
        "1",
        "Default of every service's `deploy.min_announcers`.",
    ),
    f(
        "max_in_flight",
        Ty::Int(1, 1000),
        "1",
        "Default of every service's `deploy.max_in_flight`.",
    ),
    f(
        "withdraw_timeout",
        Ty::Duration,
        "30s",
        "How long `svcintent apply` waits for BIRD to stop exporting a VIP it withdraws.",
    ),
    f(
        "announce_timeout",
        Ty::Duration,
        "none",
        "Once `svcintent apply` has applied a host, how long it waits for BIRD to export every VIP the host announces (their health checks rise first); past it, apply exits 14 and the rollout stops. Not set (the default): no wait.",
    ),
    f(
        "withdraw_settle",
        Ty::Duration,
        "1s",
        "Once BIRD no longer exports what `svcintent apply` withdraws, how long it waits for the withdrawal to reach the routers before it changes anything else.",
    ),
    f(
        "bird_undo_timeout",
        Ty::Duration,
        "2m",
        "`birdc configure ... timeout`: BIRD goes back to its previous configuration unless `apply` confirms the new one in time (whole seconds).",
    ),
    f(
        "bird_socket",
        Ty::Path,
        "/run/bird/bird.ctl",
        "BIRD's control socket.",
    ),
    f(
        "haproxy_master_socket",
        Ty::Path,
        "/run/haproxy-master.sock",
        "HAProxy's master CLI socket (Debian's unit starts HAProxy with `-S` on it).",
    ),
    f(
        "haproxy_reload",
        Ty::List(&ARG),
        "[]",
        "Command that reloads HAProxy (never a restart).",
    ),
    f(
        "apache_reload",
        Ty::List(&ARG),
        "[apache2ctl, graceful]",
        "Command that reloads Apache gracefully.",
    ),
    f(
        "icinga2_reload",
        Ty::List(&ARG),
        "[systemctl, reload, icinga2.service]",
        "Command that reloads Icinga2.",
    ),
    f(
        "healthchecker_restart",
        Ty::List(&ARG),
        "[systemctl, restart, anycast-healthchecker.service]",
        "Command that restarts anycast-healthchecker (it has no reload).",
    ),
];

/// `deploy` of a service.
pub const SERVICE_DEPLOY: &[Field] = &[
    f(
        "min_announcers",
        Ty::Int(0, 1000),
        "site.deploy.min_announcers",
        "Announcing hosts each VIP keeps at every moment of a rollout; 0: no guard.",
    ),
    f(
        "max_in_flight",
        Ty::Int(1, 1000),
        "site.deploy.max_in_flight",
        "Announcers (and, separately, backends) of the service applied at the same time.",
    ),
];

/// `site`.
pub const SITE: &[Field] = &[
    req("name", Ty::Ident, "Short name of the site."),
    req(
        "asn",
        Ty::Int(1, 4_294_967_294),
        "AS number shared by every BGP speaker of the site (iBGP); use a private one.",
    ),
    req(
        "anycast_prefixes",
        Ty::List(&NET),
        "Prefixes every VIP must come from; route reflectors accept nothing else.",
    ),
    f("bgp", Ty::Object(BGP), "", "BGP settings."),
    f(
        "versions",
        Ty::Object(VERSIONS),
        "",
        "Target daemon versions.",
    ),
    f(
        "monitoring",
        Ty::Object(SITE_MONITORING),
        "",
        "Monitoring defaults.",
    ),
    f("paths", Ty::Object(PATHS), "", "Paths on the hosts."),
    f(
        "deploy",
        Ty::Object(DEPLOY),
        "",
        "How `svcintent apply` and `svcintent rollout` deploy the site.",
    ),
];

/// `hosts.<name>`.
pub const HOST: &[Field] = &[
    req("roles", Ty::List(&ROLE), "What the host does."),
    f("ipv4", Ty::Ipv4, "", "IPv4 address."),
    f("ipv6", Ty::Ipv6, "", "IPv6 address."),
    f(
        "group",
        Ty::Ident,
        "default",
        "Balancer group; a haproxy service is served by every balancer of its group.",
    ),
    f("router_id", Ty::Ipv4, "the host's ipv4", "BGP router id."),
    f(
        "drain",
        Ty::Bool,
        "false",
        "Maintenance: withdraw every VIP it announces; put it in maintenance wherever it is a backend.",
    ),
    f("description", Ty::Text, "", "Free text."),
];

/// `check.http`.
pub const CHECK_HTTP: &[Field] = &[
    f("path", Ty::UrlPath, "/", "Request path."),
    f("expect", Ty::Int(100, 599), "200", "Expected status."),
    f("host", Ty::Hostname, "", "Host header."),
    f(
        "method",
        Ty::Enum(&["GET", "HEAD", "OPTIONS"]),
        "GET",
        "Request method.",
    ),
    f("port", Ty::Port, "the backend port", "Port to check."),
];

/// `check.tcp`.
pub const CHECK_TCP: &[Field] = &[f(
    "port",
    Ty::Port,
    "the service port",
    "Port to connect to.",
)];

/// `check.tls`.
pub const CHECK_TLS: &[Field] = &[
    f(
        "sni",
        Ty::Hostname,
        "",
        "Server name sent in the handshake.",
    ),
    f("port", Ty::Port, "the service port", "Port to connect to."),
];

/// `check`.
pub const CHECK: &[Field] = &[
    f("interval", Ty::Duration, "2s", "Time between checks."),
    f("timeout", Ty::Duration, "1s", "Time a check may take."),
    f("rise", Ty::Int(1, 100), "2", "Successes before healthy."),
    f("fall", Ty::Int(1, 100), "3", "Failures before unhealthy."),
    f(
        "http",
        Ty::Object(CHECK_HTTP),
        "",
        "HTTP check (http mode only).",
    ),
    f(
        "tcp",
        Ty::Object(CHECK_TCP),
        "",
        "TCP connect check (the default).",
    ),
    f("tls", Ty::Object(CHECK_TLS), "", "TLS handshake check."),
    f(
        "command",
        Ty::List(&ARG),
        "",
        "External check: a monitoring-plugins name or absolute path, then its arguments.",
    ),
];

/// `monitoring`.
pub const MONITORING: &[Field] = &[
    f(
        "enabled",
        Ty::Bool,
        "true",
        "Whether Icinga2 monitors the service.",
    ),
    f(
        "notify",
        Ty::List(&IDENT),
        "site.monitoring.notify",
        "Icinga2 users to notify.",
    ),
];

/// `timeouts`.
pub const TIMEOUTS: &[Field] = &[
    f(
        "connect",
        Ty::Duration,
        "5s",
        "Connect timeout to a backend.",
    ),
    f("client", Ty::Duration, "30s", "Client inactivity timeout."),
    f("server", Ty::Duration, "30s", "Server inactivity timeout."),
];

/// `tls`.
pub const TLS: &[Field] = &[
    f(
        "mode",
        Ty::Enum(&["none", "terminate", "passthrough"]),
        "none",
        "Terminate TLS on the balancers, or pass it through.",
    ),
    f(
        "certificate",
        Ty::FileName,
        "",
        "PEM file (certificate and key) under site.paths.tls_certificates (terminate).",
    ),
    f(
        "ports",
        Ty::List(&PORT),
        "[443]",
        "Frontend ports with TLS (terminate).",
    ),
    f(
        "redirect_http",
        Ty::Bool,
        "false",
        "Redirect plain http to https (terminate, http mode).",
    ),
];

/// `backends[]` in long form.
pub const BACKEND: &[Field] = &[
    req("host", Ty::Ident, "Backend host."),
    f("port", Ty::Port, "backend_port", "Port on this backend."),
    f("weight", Ty::Int(0, 256), "1", "Relative weight."),
    f(
        "backup",
        Ty::Bool,
        "false",
        "Used only when every other server is down.",
    ),
    f("drain", Ty::Bool, "false", "Maintenance: no new traffic."),
];
const BACKEND_TY: Ty = Ty::Object(BACKEND);

/// `web`.
pub const WEB: &[Field] = &[
    req(
        "server_names",
        Ty::List(&HOSTNAME),
        "ServerName (first) and ServerAlias (rest).",
    ),
    f("document_root", Ty::Path, "", "DocumentRoot."),
    f(
        "proxy_to",
        Ty::Url,
        "",
        "Reverse-proxy target on the backend (e.g. an application server).",
    ),
    f(
        "listen_port",
        Ty::Port,
        "the backend port",
        "Port the vhost listens on.",
    ),
    f(
        "health_path",
        Ty::UrlPath,
        "the http check path",
        "Path answered for the balancers' health check.",
    ),
];

/// A service (also a template, and `defaults`).
pub const SERVICE: &[Field] = &[
    f(
        "extends",
        Ty::OneOrList(&IDENT),
        "",
        "Templates to inherit from, applied in order (later wins).",
    ),
    f("description", Ty::Text, "", "Free text."),
    f(
        "balancing",
        Ty::Enum(&["haproxy", "anycast"]),
        "haproxy",
        "Who announces the VIPs: the balancers of a group, or the service nodes.",
    ),
    req(
        "vips",
        Ty::List(&IP),
        "Virtual IPs (v4 and/or v6), each announced as /32 or /128.",
    ),
    req(
        "ports",
        Ty::List(&PORTSPEC),
        "Ports with protocol: `443/tcp`, `53/udp`, or a bare number (tcp).",
    ),
    f(
        "allow",
        Ty::List(&NET),
        "anywhere",
        "Sources allowed to reach the VIPs.",
    ),
    f(
        "announce",
        Ty::Enum(ANNOUNCE),
        "upstream",
        "How far the VIPs are announced: to every upstream, or only inside the site (upstreams with `internal: true`, tagged NO_EXPORT).",
    ),
    f(
        "check",
        Ty::Object(CHECK),
        "tcp",
        "Health check (balancer checks, announcement, monitoring).",
    ),
    f("monitoring", Ty::Object(MONITORING), "", "Monitoring."),
    f(
        "deploy",
        Ty::Object(SERVICE_DEPLOY),
        "",
        "Limits during a rollout.",
    ),
    f(
        "drain",
        Ty::List(&IDENT),
        "[]",
        "Backends or nodes drained for this service only.",
    ),
    hap(
        "mode",
        Ty::Enum(&["http", "tcp"]),
        "tcp",
        "HAProxy mode: L7 http or L4 tcp.",
    ),
    hap(
        "group",
        Ty::Ident,
        "default",
        "Balancer group serving the service.",
    ),
    hap(
        "balance",
        Ty::Enum(&["roundrobin", "leastconn", "source", "first"]),
        "roundrobin",
        "Balance algorithm.",
    ),
    hap(
        "maxconn",
        Ty::Int(1, 1_000_000),
        "",
        "Frontend connection limit.",
    ),
    hap("timeouts", Ty::Object(TIMEOUTS), "", "Timeouts."),
    hap("tls", Ty::Object(TLS), "", "TLS handling."),
    hap(
        "client_ip",
        Ty::Enum(CLIENT_IP),
        "none",
        "How backends learn the client address: the PROXY protocol (`proxy-protocol` is version 2, also written `proxy-protocol-v2`; `proxy-protocol-v1` the text version for backends that read only that), or an X-Forwarded-For header (http mode).",
    ),
    hap(
        "backend_port",
        Ty::Port,
        "the frontend port",
        "Port every frontend port maps to on the backends.",
    ),
    hap(
        "backends",
        Ty::List(&Ty::Either(&IDENT, &BACKEND_TY)),
        "",
        "Backend hosts: names, or mappings with host, port, weight, backup, drain.",
    ),
    hap("web", Ty::Object(WEB), "", "Apache vhost on the backends."),
    any(
        "nodes",
        Ty::List(&IDENT),
        "",
        "Hosts that announce the VIPs and serve the service.",
    ),
];

/// `defaults`: service fields, plus per-mode blocks.
pub const DEFAULTS_EXTRA: &[Field] = &[
    f(
        "haproxy",
        Ty::Object(SERVICE),
        "",
        "Defaults for `balancing: haproxy` services.",
    ),
    f(
        "anycast",
        Ty::Object(SERVICE),
        "",
        "Defaults for `balancing: anycast` services.",
    ),
];

const SERVICE_TY: Ty = Ty::Object(SERVICE);
const HOST_TY: Ty = Ty::Object(HOST);

/// The top level of every file.
pub const TOP: &[Field] = &[
    f(
        "site",
        Ty::Object(SITE),
        "",
        "Site settings (in exactly one file).",
    ),
    f(
        "defaults",
        Ty::Object(SERVICE),
        "",
        "Defaults for every service; `haproxy:` and `anycast:` blocks for one mode.",
    ),
    f("hosts", Ty::MapOf(&HOST_TY), "", "Hosts by name."),
    f(
        "templates",
        Ty::MapOf(&SERVICE_TY),
        "",
        "Service templates by name, used with `extends`.",
    ),
    f("services", Ty::MapOf(&SERVICE_TY), "", "Services by name."),
];

/// Field names of a table.
pub fn names(fields: &[Field]) -> impl Iterator<Item = &'static str> + '_ {
    fields.iter().map(|f| f.name)
}

fn ty_schema(ty: &Ty, defaults_block: bool) -> Value {
    match ty {
        Ty::Ident => {
            json!({"type": "string", "pattern": "^(?!.*--)([a-z][a-z0-9-]{0,46}[a-z0-9]|[a-z])$"})
        }
        Ty::Text | Ty::Arg => json!({"type": "string"}),
        Ty::Hostname => json!({"type": "string", "format": "hostname"}),
        Ty::Path => json!({"type": "string", "pattern": "^/[A-Za-z0-9._/-]*$"}),
        Ty::FileName => json!({"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]*$"}),
        Ty::UrlPath => json!({"type": "string", "pattern": "^/"}),
        Ty::Url => json!({"type": "string", "pattern": "^https?://"}),
        Ty::Version => json!({"type": "string", "pattern": "^[0-9]+\\.[0-9]+$"}),
        Ty::Int(min, max) => json!({"type": "integer", "minimum": min, "maximum": max}),
        Ty::Bool => json!({"type": "boolean"}),
        Ty::Duration => json!({"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"}),
        Ty::Ip => json!({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}),
        Ty::Ipv4 => json!({"type": "string", "format": "ipv4"}),
        Ty::Ipv6 => json!({"type": "string", "format": "ipv6"}),
        Ty::Net => json!({"type": "string"}),
        Ty::Port => json!({"type": "integer", "minimum": 1, "maximum": 65535}),
        Ty::PortSpec => json!({"anyOf": [
            {"type": "integer", "minimum": 1, "maximum": 65535},
            {"type": "string", "pattern": "^[0-9]{1,5}/(tcp|udp)$"}
        ]}),
        Ty::Enum(words) => json!({"type": "string", "enum": words}),
        Ty::List(item) => json!({"type": "array", "items": ty_schema(item, false)}),
        Ty::OneOrList(item) => {
            let one = ty_schema(item, false);
            json!({"anyOf": [one.clone(), {"type": "array", "items": one}]})
        }
        Ty::Either(a, b) => json!({"anyOf": [ty_schema(a, false), ty_schema(b, false)]}),
        Ty::Object(fields) => object_schema(fields, defaults_block),
        Ty::MapOf(item) => json!({
            "type": "object",
            "propertyNames": ty_schema(&Ty::Ident, false),
            "additionalProperties": ty_schema(item, false)
        }),
    }
}

fn object_schema(fields: &[Field], defaults_block: bool) -> Value {
    let mut props = Map::new();
    for field in fields {
        let mut doc = field.doc.to_owned();
        if !field.default.is_empty() {
            doc.push_str(&format!(" Default: {}.", field.default));
        }
        // `key: ~` removes an inherited value, so null is always allowed.
        let s =
            json!({"anyOf": [ty_schema(&field.ty, false), {"type": "null"}], "description": doc});
        props.insert(field.name.to_owned(), s);
        if matches!(field.ty, Ty::List(_)) {
            // `key+:` appends to the inherited list.
            props.insert(format!("{}+", field.name), ty_schema(&field.ty, false));
        }
    }
    if defaults_block {
        for field in DEFAULTS_EXTRA {
            props.insert(field.name.to_owned(), object_schema(SERVICE, false));
        }
    }
    json!({"type": "object", "additionalProperties": false, "properties": props})
}

/// The JSON Schema (draft 2020-12) of one site file, pretty-printed.
pub fn json_schema() -> String {
    let mut top = object_schema(TOP, false);
    if let Some(props) = top.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("defaults".into(), object_schema(SERVICE, true));
    }
    if let Value::Object(o) = &mut top {
        o.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        o.insert(
            "$id".into(),
            json!("https://svcintent.invalid/schema/v1.json"),
        );
        o.insert("title".into(), json!("svcintent site file"));
    }
    let mut s = serde_json::to_string_pretty(&top).unwrap_or_default();
    s.push('\n');
    s
}
