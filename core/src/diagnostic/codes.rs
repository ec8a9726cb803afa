//! The stable diagnostic codes. Each code is documented in `docs/diagnostics.md` (what, why,
//! example, fix); [`Code::explanation`] serves that text. Codes are never renumbered or reused.

use serde::Serialize;

use super::Severity;

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $name:literal, $sev:ident; )*) => {
        /// A stable diagnostic code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in numeric order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable identifier, e.g. `SI010`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// A short kebab-case name, e.g. `unknown-key`.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The severity this code is reported with.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev,)* }
            }
        }
    };
}

codes! {
    /// The YAML text cannot be parsed.
    YamlSyntax = "SI001", "yaml-syntax", Error;
    /// A mapping repeats a key.
    DuplicateKey = "SI002", "duplicate-key", Error;
    /// Input exceeds a safety limit (size, nesting depth, alias expansion).
    InputLimit = "SI003", "input-limit", Error;
    /// A YAML feature svcintent does not accept (merge keys, tags, several documents).
    UnsupportedYaml = "SI004", "unsupported-yaml", Error;
    /// A key that the format does not know.
    UnknownKey = "SI010", "unknown-key", Error;
    /// A value of the wrong type.
    WrongType = "SI011", "wrong-type", Error;
    /// A plain scalar that YAML 1.1 tools read differently (`no`, `on`, `0755`...).
    Yaml11Trap = "SI012", "yaml11-trap", Warning;
    /// A required field is missing.
    MissingField = "SI013", "missing-field", Error;
    /// A value outside the allowed set of words.
    InvalidValue = "SI014", "invalid-value", Error;
    /// The same host, service or template is defined twice.
    DuplicateDefinition = "SI015", "duplicate-definition", Error;
    /// A name that cannot be used as an identifier in generated configs.
    InvalidName = "SI016", "invalid-name", Error;
    /// A string that cannot be written safely into a target config.
    UnsafeString = "SI017", "unsafe-string", Error;
    /// A list repeats an entry.
    DuplicateEntry = "SI018", "duplicate-entry", Warning;
    /// The site has no `site:` section.
    MissingSite = "SI019", "missing-site", Error;
    /// A reference to a host that is not defined.
    UnknownHost = "SI020", "unknown-host", Error;
    /// `extends` names a template that is not defined.
    UnknownTemplate = "SI021", "unknown-template", Error;
    /// Templates extend each other in a cycle.
    ExtendsCycle = "SI022", "extends-cycle", Error;
    /// A host is used in a place its roles do not allow.
    RoleMismatch = "SI023", "role-mismatch", Error;
    /// A template no service uses.
    UnusedTemplate = "SI024", "unused-template", Warning;
    /// A haproxy service whose balancer group has no balancers.
    NoBalancers = "SI025", "no-balancers", Error;
    /// An anycast service without nodes.
    NoAnycastNodes = "SI026", "no-anycast-nodes", Error;
    /// A haproxy service without backends.
    NoBackends = "SI027", "no-backends", Error;
    /// A field that does not apply to the service's balancing mode.
    FieldNotApplicable = "SI028", "field-not-applicable", Error;
    /// Not a valid IP address or prefix.
    InvalidAddress = "SI030", "invalid-address", Error;
    /// A VIP outside the site's anycast prefixes.
    VipOutsidePrefixes = "SI031", "vip-outside-prefixes", Error;
    /// A VIP that is also a host's own address.
    VipIsHostAddress = "SI032", "vip-is-host-address", Error;
    /// Two services use the same VIP (on the same or different ports).
    VipPortConflict = "SI033", "vip-port-conflict", Error;
    /// An address family some host cannot carry (a VIP, a backend, an upstream).
    FamilyMismatch = "SI034", "family-mismatch", Error;
    /// Two hosts share an address.
    DuplicateHostAddress = "SI035", "duplicate-host-address", Error;
    /// A prefix with host bits set.
    PrefixHostBits = "SI036", "prefix-host-bits", Warning;
    /// A host without any address, or a BGP speaker without IPv4 router id.
    MissingAddress = "SI037", "missing-address", Error;
    /// An `allow` list without a source of a family the service has VIPs of.
    AllowFamilyGap = "SI038", "allow-family-gap", Warning;
    /// A port number outside 1..=65535 or a malformed port spec.
    InvalidPort = "SI040", "invalid-port", Error;
    /// A malformed or out-of-range duration.
    InvalidDuration = "SI041", "invalid-duration", Error;
    /// An AS number outside the usable range.
    AsnOutOfRange = "SI042", "asn-out-of-range", Error;
    /// A health check that does not fit the service (http check on an L4 service...).
    CheckMismatch = "SI043", "check-mismatch", Error;
    /// A UDP port on a haproxy-balanced service.
    UdpOnHaproxy = "SI044", "udp-on-haproxy", Error;
    /// A number outside its allowed range (rise, fall, weight, maxconn...).
    OutOfRange = "SI045", "out-of-range", Error;
    /// Inconsistent TLS settings.
    TlsConflict = "SI047", "tls-conflict", Error;
    /// A client-IP method that the mode cannot carry.
    ClientIpConflict = "SI048", "client-ip-conflict", Error;
    /// A daemon version svcintent does not render for.
    UnsupportedVersion = "SI049", "unsupported-version", Error;
    /// Every backend (or node, or balancer) of a service is drained.
    AllDrained = "SI050", "all-drained", Error;
    /// A service nobody monitors.
    Unmonitored = "SI051", "unmonitored", Warning;
    /// BGP speakers without a route reflector.
    NoRouteReflector = "SI052", "no-route-reflector", Error;
    /// A `web:` vhost whose backends are not web hosts, or web hosts without a vhost.
    WebMismatch = "SI054", "web-mismatch", Error;
    /// A check timeout not shorter than its interval.
    CheckTiming = "SI055", "check-timing", Warning;
    /// A drained host that serves nothing (drain has no effect).
    IdleDrain = "SI056", "idle-drain", Info;
    /// A backend port that is the same as a VIP listener on a host that is both.
    PortClash = "SI057", "port-clash", Warning;
    /// A failure inside svcintent itself (a bug, never the input's fault).
    InternalError = "SI099", "internal-error", Error;
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|()| serde::de::Error::custom(format!("unknown diagnostic code {s:?}")))
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Code {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(s) || c.name() == s)
            .ok_or(())
    }
}

const DIAGNOSTICS_DOC: &str = include_str!("../../../docs/diagnostics.md");

impl Code {
    /// The documentation of this code: its section of `docs/diagnostics.md`.
    pub fn explanation(self) -> Option<&'static str> {
        let heading = format!("## {} ", self.as_str());
        let start = DIAGNOSTICS_DOC.find(&heading)?;
        let rest = DIAGNOSTICS_DOC.get(start..)?;
        let end = rest
            .get(3..)
            .and_then(|r| r.find("\n## "))
            .map_or(rest.len(), |i| i + 4);
        rest.get(..end).map(str::trim_end)
    }
}
