//! What the intent does not know because part of the input failed.
//!
//! Rule (docs/format.md, "When a value is wrong"): a value that failed to parse is *unknown*,
//! not its default, and every check that depends on an unknown value stays silent; entities
//! from a file or a node that failed to parse are unknown, and references to them are not
//! errors; a service whose `extends` failed is unknown as a whole. The mistake itself is
//! reported once, where it is; nothing that follows from it is.
//!
//! Extraction fills an [`Unknowns`] beside the [`super::Intent`]; validation asks it before
//! every check that could be a consequence of an earlier error.

use std::collections::{BTreeMap, BTreeSet};

/// Marks a whole entity as unknown (every field of it).
pub const WHOLE: &str = "*";

/// The unknown parts of a site.
#[derive(Debug, Clone, Default)]
pub struct Unknowns {
    /// Top-level sections (`site`, `defaults`, `hosts`, `templates`, `services`) that a file
    /// which failed to parse may hold: entries of those sections may be missing.
    pub sections: BTreeSet<&'static str>,
    /// Hosts (by name as written) with unknown fields; [`WHOLE`] when the definition failed.
    pub hosts: BTreeMap<String, BTreeSet<String>>,
    /// Services (by name as written) with unknown fields (`check.interval`, `tls`...);
    /// [`WHOLE`] when the service is unknown as a whole.
    pub services: BTreeMap<String, BTreeSet<String>>,
    /// Unknown fields of `site:` (`anycast_prefixes`, `bgp.hold_time`...).
    pub site: BTreeSet<String>,
    /// Some `extends` failed (unknown template, cycle, too deep): which templates are used is
    /// unknown.
    pub extends_failed: bool,
}

impl Unknowns {
    /// Whether a failed file may hold entries of `section`.
    pub fn section_may_be_missing(&self, section: &str) -> bool {
        self.sections.contains(section)
    }

    /// Whether a host of this name may exist although the intent lacks it (its definition or
    /// its file failed to parse).
    pub fn host_may_exist(&self, name: &str) -> bool {
        self.section_may_be_missing("hosts") || self.host_field(name, WHOLE)
    }

    /// Whether `field` of host `name` is unknown.
    pub fn host_field(&self, name: &str, field: &str) -> bool {
        self.hosts
            .get(name)
            .is_some_and(|f| f.contains(WHOLE) || f.contains(field))
    }

    /// Whether some host's `field` is unknown, or hosts may be missing: checks about the site's
    /// hosts as a whole ("no route reflector", "no balancer in group") cannot conclude.
    pub fn any_host_field(&self, field: &str) -> bool {
        self.section_may_be_missing("hosts")
            || self
                .hosts
                .values()
                .any(|f| f.contains(WHOLE) || f.contains(field))
    }

    /// Whether `field` of service `name` is unknown: the field itself, a block containing it
    /// (`check` for `check.interval`), or a field inside it (`check.http.path` for
    /// `check.http`).
    pub fn service_field(&self, name: &str, field: &str) -> bool {
        self.services.get(name).is_some_and(|fields| {
            fields.contains(WHOLE)
                || fields.iter().any(|f| {
                    f == field
                        || field
                            .strip_prefix(f.as_str())
                            .is_some_and(|rest| rest.starts_with('.'))
                        || f.strip_prefix(field)
                            .is_some_and(|rest| rest.starts_with('.'))
                })
        })
    }

    /// Whether the kind of service `name`'s health check, or a setting of that kind (its path,
    /// port...), is unknown.
    pub fn check_kind(&self, name: &str) -> bool {
        self.service_fields(
            name,
            &[
                "check.kind",
                "check.http",
                "check.tcp",
                "check.tls",
                "check.command",
            ],
        )
    }

    /// Whether any of `fields` of service `name` is unknown.
    pub fn service_fields(&self, name: &str, fields: &[&str]) -> bool {
        fields.iter().any(|f| self.service_field(name, f))
    }

    /// Whether some service is unknown as a whole, or services may be missing: checks about
    /// what the services use as a whole ("serves nothing") cannot conclude.
    pub fn any_service_unknown(&self) -> bool {
        self.section_may_be_missing("services") || self.services.values().any(|f| f.contains(WHOLE))
    }

    /// Whether some service's `field` is unknown (or services may be missing).
    pub fn any_service_field(&self, field: &str) -> bool {
        self.any_service_unknown()
            || self
                .services
                .keys()
                .any(|name| self.service_field(name, field))
    }

    /// Whether `field` of `site:` is unknown.
    pub fn site_field(&self, field: &str) -> bool {
        self.site.contains(field)
    }
}
