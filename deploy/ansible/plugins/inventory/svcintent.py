# Copyright: svcintent contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: svcintent
short_description: The hosts of a svcintent site, from its rendered tree
description:
  - Reads C(manifest.json) of a tree that C(svcintent render --out) wrote (optionally rendering
    the site into it first) and makes every host of the site an inventory host.
  - "Groups: C(svcintent) (every host of the site), one group per role (C(balancer),
    C(route_reflector), ...; characters other than letters, digits and C(_) become C(_)), and
    C(balancer_group_NAME) per balancer group."
  - "Host variables: C(ansible_host) (see O(address)) and every field svcintent gives the host
    in the manifest as C(svcintent_FIELD): C(svcintent_roles), C(svcintent_group),
    C(svcintent_ipv4), C(svcintent_ipv6), C(svcintent_drain), C(svcintent_announces), ..."
  - "Variables of the C(svcintent) group: C(svcintent_tree) (the generation directory the tree
    pointed at when the inventory was read, so a whole run uses one generation even if a render
    swaps the link meanwhile), C(svcintent_generation) (the sha256 of its C(manifest.json)) and
    C(svcintent_site_name)."
  - The configuration file's name must end in C(svcintent.yml) or C(svcintent.yaml).
version_added: 0.1.0
author:
  - svcintent contributors (@svcintent)
extends_documentation_fragment:
  - constructed
options:
  plugin:
    description: This plugin's name.
    required: true
    choices: [svcintent.anycast.svcintent]
  tree:
    description:
      - The rendered tree (C(svcintent render --out DIR)), or one generation of it. A relative
        path is relative to the configuration file.
    type: str
    required: true
  site:
    description:
      - A site directory to render into O(tree) first (C(svcintent render SITE --out TREE)), so
        that the inventory and the rollout see the same generation. A relative path is relative
        to the configuration file. A site with errors fails the inventory with svcintent's
        diagnostics.
    type: str
  executable:
    description: The svcintent command, for O(site).
    type: str
    default: svcintent
  address:
    description:
      - Which of the host's addresses becomes C(ansible_host); with C(name), none is set and
        the host name is used.
    type: str
    choices: [ipv4, ipv6, name]
    default: ipv4
"""

EXAMPLES = r"""
# site.svcintent.yml
plugin: svcintent.anycast.svcintent
site: ../sites/campus
tree: /srv/svcintent/campus
address: ipv6
keyed_groups:
  - key: svcintent_drain
    prefix: drain
"""

import hashlib
import json
import os
import re
import subprocess

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

UNSAFE_GROUP_CHARS = re.compile(r"[^A-Za-z0-9_]")


def group_name(text):
    return UNSAFE_GROUP_CHARS.sub("_", text)


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "svcintent.anycast.svcintent"

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(
            ("svcintent.yml", "svcintent.yaml")
        )

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        base = os.path.dirname(os.path.abspath(path))
        # Relative to the configuration file (os.path.join keeps an absolute second part).
        tree = os.path.join(base, os.path.expanduser(self.get_option("tree")))
        site = self.get_option("site")
        if site:
            self._render(os.path.join(base, os.path.expanduser(site)), tree)

        generation = os.path.realpath(tree)
        manifest_path = os.path.join(generation, "manifest.json")
        try:
            with open(manifest_path, "rb") as f:
                raw = f.read()
            manifest = json.loads(to_text(raw, errors="surrogate_or_strict"))
        except (OSError, ValueError) as e:
            raise AnsibleParserError("svcintent inventory: cannot read %s: %s" % (manifest_path, to_native(e)))
        hosts = manifest.get("hosts") if isinstance(manifest, dict) else None
        if not isinstance(hosts, dict) or not hosts:
            raise AnsibleParserError(
                "svcintent inventory: %s has no 'hosts' (render it with a svcintent that writes "
                "the hosts into the manifest)" % manifest_path
            )

        strict = self.get_option("strict")
        address = self.get_option("address")
        self.inventory.add_group("svcintent")
        for key, value in (
            ("svcintent_tree", generation),
            ("svcintent_generation", hashlib.sha256(raw).hexdigest()),
            ("svcintent_site_name", manifest.get("site")),
        ):
            self.inventory.set_variable("svcintent", key, value)

        for name in sorted(hosts):
            facts = hosts[name]
            if not isinstance(facts, dict):
                raise AnsibleParserError("svcintent inventory: host %s in %s is not an object" % (name, manifest_path))
            self.inventory.add_host(name, group="svcintent")
            for key in sorted(facts):
                self.inventory.set_variable(name, "svcintent_" + group_name(key), facts[key])
            if address != "name" and facts.get(address):
                self.inventory.set_variable(name, "ansible_host", facts[address])
            for role in facts.get("roles") or []:
                self.inventory.add_child(self.inventory.add_group(group_name(str(role))), name)
            if facts.get("group"):
                lb_group = self.inventory.add_group("balancer_group_" + group_name(str(facts["group"])))
                self.inventory.add_child(lb_group, name)

            variables = self.inventory.get_host(name).get_vars()
            self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)

    def _render(self, site, tree):
        argv = [self.get_option("executable"), "render", site, "--out", tree]
        try:
            run = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        except OSError as e:
            raise AnsibleParserError("svcintent inventory: cannot run %s: %s" % (argv[0], to_native(e)))
        if run.returncode != 0:
            raise AnsibleParserError(
                "svcintent inventory: `%s` failed (exit %d):\n%s"
                % (" ".join(argv), run.returncode, to_text(run.stderr + run.stdout, errors="surrogate_or_replace"))
            )
