//! Plain data types of the resolved intent. They serialise to the shape documented in
//! `docs/format.md` (with every default filled in), which `svcintent explain --resolved` shows.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::source::Span;

/// The whole resolved site.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Intent {
    /// Site-wide settings.
    pub site: Site,
    /// Hosts by name.
    pub hosts: BTreeMap<String, Host>,
    /// Services by name.
    pub services: BTreeMap<String, Service>,
    /// The input files, site-relative, in the order they were read.
    #[serde(default)]
    pub source_files: Vec<String>,
}

/// Site-wide settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Site {
    /// Short identifier of the site (used in object names).
    pub name: String,
    /// The site's (private) AS number, shared by every iBGP speaker.
    pub asn: u32,
    /// Prefixes VIPs must come from; the route reflectors accept nothing else.
    pub anycast_prefixes: Vec<IpNet>,
    /// BGP settings shared by all speakers.
    pub bgp: Bgp,
    /// Daemon versions the output targets.
    pub versions: Versions,
    /// Site-wide monitoring settings.
    pub monitoring: SiteMonitoring,
    /// Paths used on the hosts.
    pub paths: Paths,
    /// How `svcintent apply` and `svcintent rollout` deploy the site.
    pub deploy: Deploy,
}

/// How the site is deployed (`site.deploy`): the rollout guard's defaults, and how
/// `svcintent apply` drives the daemons on each host (the Debian 12 packages' commands unless
/// the site says otherwise). Commands are argument vectors run without a shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deploy {
    /// Default of every service's [`ServiceDeploy::min_announcers`].
    pub min_announcers: u16,
    /// Default of every service's [`ServiceDeploy::max_in_flight`].
    pub max_in_flight: u16,
    /// How long `apply` waits for BIRD to stop exporting a VIP it withdraws (ms).
    pub withdraw_timeout_ms: u32,
    /// Once BIRD no longer exports what `apply` withdraws, how long it waits for the withdrawal
    /// to reach the routers before it changes anything else (ms).
    pub withdraw_settle_ms: u32,
    /// `birdc configure ... timeout`: BIRD goes back to the previous configuration by itself
    /// unless `apply` confirms the new one within this time (ms, whole seconds).
    pub bird_undo_timeout_ms: u32,
    /// Once a host is applied, how long `apply` waits for BIRD to export every VIP the host
    /// announces (its health checks rise first) before it says the rollout must not go on
    /// (ms; 0, the default when the site does not set it: does not wait). A record without it
    /// (an older journal) reads as 0.
    #[serde(default)]
    pub announce_timeout_ms: u32,
    /// BIRD's control socket.
    pub bird_socket: String,
    /// HAProxy's master CLI socket (master-worker mode, `-S`).
    pub haproxy_master_socket: String,
    /// Reloads HAProxy; empty: `reload` on the master socket.
    pub haproxy_reload: Vec<String>,
    /// Reloads Apache gracefully.
    pub apache_reload: Vec<String>,
    /// Reloads Icinga2.
    pub icinga2_reload: Vec<String>,
    /// Restarts anycast-healthchecker (it has no reload).
    pub healthchecker_restart: Vec<String>,
}

impl Default for Deploy {
    fn default() -> Self {
        let argv = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect();
        Deploy {
            min_announcers: 1,
            max_in_flight: 1,
            withdraw_timeout_ms: 30_000,
            withdraw_settle_ms: 1_000,
            bird_undo_timeout_ms: 120_000,
            announce_timeout_ms: 0,
            bird_socket: "/run/bird/bird.ctl".to_owned(),
            haproxy_master_socket: "/run/haproxy-master.sock".to_owned(),
            haproxy_reload: Vec::new(),
            apache_reload: argv(&["apache2ctl", "graceful"]),
            icinga2_reload: argv(&["systemctl", "reload", "icinga2.service"]),
            healthchecker_restart: argv(&["systemctl", "restart", "anycast-healthchecker.service"]),
        }
    }
}

/// A service's limits during a rollout (`deploy:` of a service, else the site's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDeploy {
    /// Announcing hosts each of its VIPs keeps at every moment of a rollout (unless the
    /// rollout names the service in `--allow-withdraw`). 0 turns the guard off for it.
    pub min_announcers: u16,
    /// Its announcers applied at the same time, and its backends applied at the same time.
    pub max_in_flight: u16,
}

/// BGP settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bgp {
    /// Route-reflector cluster id (defaults to the router id of the first reflector).
    pub cluster_id: Option<Ipv4Addr>,
    /// Hold time in seconds.
    pub hold_time: u16,
    /// Keepalive in seconds.
    pub keepalive_time: u16,
    /// Delay before connecting, in seconds.
    pub connect_delay_time: u16,
    /// Routers the route reflectors export VIP routes to (eBGP or iBGP).
    pub upstreams: Vec<Upstream>,
}

/// An upstream router of the route reflectors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upstream {
    /// Identifier (used as the BIRD protocol name).
    pub name: String,
    /// Peer address.
    pub address: IpAddr,
    /// Peer AS (the site's own AS means iBGP).
    pub asn: u32,
    /// Inside the site: it also gets the VIPs of `announce: site` services (tagged NO_EXPORT).
    /// Default: its AS is the site's.
    pub internal: bool,
}

/// Target daemon versions (major.minor). Only the supported ones validate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Versions {
    /// HAProxy (2.6 or newer).
    pub haproxy: String,
    /// BIRD (2.0).
    pub bird: String,
    /// nftables (1.0).
    pub nftables: String,
    /// Icinga2 (2.13 or newer).
    pub icinga2: String,
    /// Apache httpd (2.4).
    pub apache: String,
}

/// Site-wide monitoring settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteMonitoring {
    /// Default notification targets (Icinga2 user names) for services.
    pub notify: Vec<String>,
}

/// Host paths used by the generated configs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Paths {
    /// Directory of TLS certificates (PEM with key) on balancers.
    pub tls_certificates: String,
    /// Directory of monitoring plugins.
    pub plugins: String,
}

/// What a host does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Runs HAProxy and announces the VIPs of the services it balances.
    Balancer,
    /// BGP route reflector.
    RouteReflector,
    /// Announces anycast service VIPs itself (KDC, resolver).
    AnycastNode,
    /// Apache web backend.
    Web,
    /// Any other backend behind the balancers.
    Backend,
    /// Runs Icinga2.
    Monitoring,
}

impl Role {
    /// All roles, in order.
    pub const ALL: &'static [Role] = &[
        Role::Balancer,
        Role::RouteReflector,
        Role::AnycastNode,
        Role::Web,
        Role::Backend,
        Role::Monitoring,
    ];

    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Balancer => "balancer",
            Role::RouteReflector => "route-reflector",
            Role::AnycastNode => "anycast-node",
            Role::Web => "web",
            Role::Backend => "backend",
            Role::Monitoring => "monitoring",
        }
    }
}

/// One host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Host {
    /// Host name (identifier).
    pub name: String,
    /// Roles.
    pub roles: BTreeSet<Role>,
    /// IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address.
    pub ipv6: Option<Ipv6Addr>,
    /// Balancer group (balancers only; services pick a group).
    pub group: String,
    /// BGP router id (defaults to `ipv4`).
    pub router_id: Option<Ipv4Addr>,
    /// Drained: withdraws every VIP it announces and is in maintenance wherever it is a backend.
    pub drain: bool,
    /// Free-text description.
    pub description: Option<String>,
    /// Where the host is defined.
    #[serde(skip)]
    pub span: Option<Span>,
}

impl Host {
    /// Whether the host has `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the host speaks BGP.
    pub fn speaks_bgp(&self) -> bool {
        self.has(Role::Balancer) || self.has(Role::AnycastNode) || self.has(Role::RouteReflector)
    }

    /// Addresses, v4 first.
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.ipv4
            .map(IpAddr::V4)
            .into_iter()
            .chain(self.ipv6.map(IpAddr::V6))
            .collect()
    }

    /// The address of the given family.
    pub fn address_for(&self, vip: IpAddr) -> Option<IpAddr> {
        match vip {
            IpAddr::V4(_) => self.ipv4.map(IpAddr::V4),
            IpAddr::V6(_) => self.ipv6.map(IpAddr::V6),
        }
    }
}

/// Transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// A service port (`443/tcp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Port {
    /// Port number.
    pub port: u16,
    /// Protocol.
    pub proto: Proto,
}

/// How a service is balanced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Balancing {
    /// HAProxy on the balancers of a group, VIPs announced by each healthy balancer (active-active).
    Haproxy,
    /// Each service node announces the VIP itself.
    Anycast,
}

/// HAProxy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Layer 7.
    Http,
    /// Layer 4.
    Tcp,
}

/// HAProxy balance algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// roundrobin.
    Roundrobin,
    /// leastconn.
    Leastconn,
    /// source (client address hash).
    Source,
    /// first.
    First,
}

impl Algorithm {
    /// HAProxy keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Roundrobin => "roundrobin",
            Algorithm::Leastconn => "leastconn",
            Algorithm::Source => "source",
            Algorithm::First => "first",
        }
    }
}

/// TLS handling on the balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Tls {
    /// No TLS at the balancer (plain, or TLS the balancer does not see on an L4 service).
    None,
    /// The balancer terminates TLS on `ports` with `certificate` (file name under the
    /// site's certificate directory).
    Terminate {
        /// Certificate file name (PEM with key) below `site.paths.tls_certificates`.
        certificate: String,
        /// Frontend ports on which TLS is terminated.
        ports: Vec<u16>,
        /// Redirect plain http to https.
        redirect_http: bool,
    },
    /// TLS passes through to the backends (L4).
    Passthrough,
}

/// How far a service's VIPs are announced (`announce:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnnounceScope {
    /// Only inside the site: the route reflectors export the VIPs to the upstreams with
    /// `internal: true` only, tagged NO_EXPORT (65535:65281) so that their AS keeps them.
    Site,
    /// To every upstream (the default).
    Upstream,
}

impl AnnounceScope {
    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AnnounceScope::Site => "site",
            AnnounceScope::Upstream => "upstream",
        }
    }
}

/// How backends learn the client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientIp {
    /// They do not.
    None,
    /// PROXY protocol version 2 to the backend (`proxy-protocol`, or `proxy-protocol-v2`).
    ProxyProtocol,
    /// PROXY protocol version 1 (the text header) to the backend, for backends that read
    /// only that version.
    ProxyProtocolV1,
    /// `X-Forwarded-For` header (http mode only).
    XForwardedFor,
}

impl ClientIp {
    /// The PROXY protocol version the balancers send (on traffic and health checks), if any.
    pub fn proxy_protocol(self) -> Option<u8> {
        match self {
            ClientIp::ProxyProtocol => Some(2),
            ClientIp::ProxyProtocolV1 => Some(1),
            ClientIp::None | ClientIp::XForwardedFor => None,
        }
    }
}

/// A health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Interval in milliseconds.
    pub interval_ms: u32,
    /// Timeout in milliseconds.
    pub timeout_ms: u32,
    /// Consecutive successes to become healthy.
    pub rise: u8,
    /// Consecutive failures to become unhealthy.
    pub fall: u8,
    /// What is checked.
    pub kind: CheckKind,
}

/// What a health check does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum CheckKind {
    /// TCP connect (to `port`, or the service port).
    Tcp {
        /// Port override.
        port: Option<u16>,
    },
    /// HTTP request.
    Http {
        /// Request path (absolute, `/`...).
        path: String,
        /// Expected status.
        expect: u16,
        /// Host header.
        host: Option<String>,
        /// Method.
        method: String,
        /// Port override.
        port: Option<u16>,
    },
    /// TLS handshake.
    Tls {
        /// SNI / certificate name.
        sni: Option<String>,
        /// Port override.
        port: Option<u16>,
    },
    /// An external command (monitoring-plugins style: exit 0 = healthy). The first element is
    /// a plugin name (looked up in `site.paths.plugins`) or an absolute path.
    Command {
        /// Argument vector.
        argv: Vec<String>,
    },
}

/// Client-facing and backend timeouts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    /// Connect timeout (ms).
    pub connect_ms: u32,
    /// Client inactivity (ms).
    pub client_ms: u32,
    /// Server inactivity (ms).
    pub server_ms: u32,
}

/// One backend server of a haproxy service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backend {
    /// Host name.
    pub host: String,
    /// Port on the backend (`None`: the frontend port).
    pub port: Option<u16>,
    /// Weight 0..=256.
    pub weight: u16,
    /// Only used when all non-backup servers are down.
    pub backup: bool,
    /// Drained in this service (or the host is drained): maintenance mode.
    pub drain: bool,
}

/// Apache vhost settings for a web service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Web {
    /// ServerName and ServerAlias values (first is ServerName).
    pub server_names: Vec<String>,
    /// DocumentRoot (absolute path).
    pub document_root: Option<String>,
    /// Reverse-proxy target URL (`http://127.0.0.1:8080`).
    pub proxy_to: Option<String>,
    /// Port the vhost listens on (defaults to the backend port of the service).
    pub listen_port: u16,
    /// Path answered for the balancer's health check.
    pub health_path: Option<String>,
}

/// Monitoring of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Monitoring {
    /// Whether Icinga2 checks this service.
    pub enabled: bool,
    /// Notification targets (Icinga2 user names).
    pub notify: Vec<String>,
}

/// One resolved service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Service {
    /// Service name (identifier).
    pub name: String,
    /// Free-text description.
    pub description: Option<String>,
    /// Balancing mode.
    pub balancing: Balancing,
    /// Virtual IPs (each announced as /32 or /128).
    pub vips: Vec<IpAddr>,
    /// Ports (frontend).
    pub ports: Vec<Port>,
    /// Sources allowed to reach the VIPs (default: anywhere).
    pub allow: Vec<IpNet>,
    /// How far the VIPs are announced.
    pub announce: AnnounceScope,
    /// Health check.
    pub check: Check,
    /// Monitoring.
    pub monitoring: Monitoring,
    /// Limits during a rollout.
    pub deploy: ServiceDeploy,
    /// HAProxy settings (balancing: haproxy).
    pub haproxy: Option<HaproxyService>,
    /// Anycast node list (balancing: anycast).
    pub anycast: Option<AnycastService>,
    /// Templates this service extends, nearest first, transitively.
    pub extends: Vec<String>,
    /// Where the service is defined.
    #[serde(skip)]
    pub span: Option<Span>,
}

/// HAProxy-specific settings of a service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HaproxyService {
    /// http or tcp.
    pub mode: Mode,
    /// Balancer group serving it.
    pub group: String,
    /// Balance algorithm.
    pub balance: Algorithm,
    /// Frontend maxconn.
    pub maxconn: Option<u32>,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// TLS.
    pub tls: Tls,
    /// Client IP propagation.
    pub client_ip: ClientIp,
    /// Port on the backends (`None`: each frontend port maps to itself).
    pub backend_port: Option<u16>,
    /// Backend servers.
    pub backends: Vec<Backend>,
    /// Apache vhost for web backends.
    pub web: Option<Web>,
}

/// Anycast-specific settings of a service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnycastService {
    /// Hosts announcing the VIPs.
    pub nodes: Vec<String>,
    /// Nodes drained in this service (withdraw).
    pub drained: Vec<String>,
}
