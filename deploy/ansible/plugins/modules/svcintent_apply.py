#!/usr/bin/python
# Copyright: svcintent contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: svcintent_apply
short_description: Bring a host to a rendered svcintent generation with C(svcintent apply)
description:
  - Runs C(svcintent apply --host HOST TREE --format json) on the host, as root. svcintent checks
    the host's whole new file set with each daemon's own check, activates it in the anycast-safe
    order, verifies each step and rolls back on failure; this module only reports what it did.
  - C(changed) is true when apply changed the host (exit code 3), false when the host already
    ran the tree's files (exit code 0).
  - Every other exit code fails the task with apply's own message (the failing step, the daemon
    and its words, or the daemon checks' findings).
  - In check mode it runs C(svcintent apply --check), which touches nothing and says what would
    change. In diff mode (C(--diff)) it passes C(--diff) and returns every file's unified diff as
    Ansible's diff.
version_added: 0.1.0
author:
  - svcintent contributors (@svcintent)
options:
  host:
    description:
      - The host's name in the site (its folder in the rendered tree). Usually
        C(inventory_hostname).
    type: str
    required: true
  tree:
    description:
      - The rendered tree on the host, or a copy holding only C(manifest.json) and C(HOST/)
        (what the C(svcintent.anycast.deploy) role ships).
    type: path
    required: true
  force:
    description:
      - Pass C(--force) (replace files modified on the host by hand; without it apply refuses
        and shows their diff).
    type: bool
    default: false
  expect_unchanged:
    description:
      - The rollout planned no change for this host. Runs C(svcintent apply --check) and fails
        when it would change anything, instead of changing the host outside the plan's batches.
    type: bool
    default: false
  state_dir:
    description:
      - apply's C(--state-dir) (default C(/var/lib/svcintent)).
    type: path
  executable:
    description:
      - The svcintent command (a name searched on PATH, or an absolute path).
    type: str
    default: svcintent
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Runs C(svcintent apply --check); nothing on the host changes.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Returns the unified diff of every file apply changes (or would change).
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: debian
notes:
  - Exit codes and JSON are svcintent's (docs/deploy.md in the svcintent repository).
seealso:
  - module: svcintent.anycast.svcintent_rollout
  - module: svcintent.anycast.svcintent_state
"""

EXAMPLES = r"""
- name: Apply the staged generation
  svcintent.anycast.svcintent_apply:
    host: "{{ inventory_hostname }}"
    tree: /var/lib/svcintent-staging/{{ svcintent_generation }}
"""

RETURN = r"""
outcome:
  description: apply's outcome (C(unchanged), C(changed), C(would-change), C(check-failed),
    C(rolled-back), C(refused), C(rollback-failed)).
  returned: when apply printed its JSON
  type: str
  sample: changed
exit_code:
  description: apply's exit code (not C(rc), which Ansible would take for a failure whenever it is not 0).
  returned: always
  type: int
  sample: 3
files:
  description: The files apply changed or would change (C(path), C(status), C(diff) in diff mode).
  returned: when apply printed its JSON
  type: list
  elements: dict
reloads:
  description: The daemons apply reloaded (or would reload).
  returned: when apply printed its JSON
  type: list
  elements: str
  sample: [nftables, haproxy]
withdrawn:
  description: The prefixes this host stopped announcing.
  returned: when apply printed its JSON
  type: list
  elements: str
steps:
  description: The steps apply ran, each with its status and duration.
  returned: when apply printed its JSON
  type: list
  elements: dict
failure:
  description: The failing step, daemon and message (the daemon's own words), or null.
  returned: when apply printed its JSON
  type: dict
findings:
  description: The daemon checks' complaints about the new files.
  returned: when apply printed its JSON
  type: list
  elements: dict
apply:
  description: apply's whole JSON report.
  returned: when apply printed its JSON
  type: dict
stderr:
  description: apply's standard error.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.svcintent.anycast.plugins.module_utils.svcintent import (
    APPLY_CHANGED,
    APPLY_UNCHANGED,
    apply_failure_message,
    find_svcintent,
    run_json,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            host=dict(type="str", required=True),
            tree=dict(type="path", required=True),
            force=dict(type="bool", default=False),
            expect_unchanged=dict(type="bool", default=False),
            state_dir=dict(type="path"),
            executable=dict(type="str", default="svcintent"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    argv = [
        find_svcintent(module, params["executable"]),
        "apply",
        "--host",
        params["host"],
        params["tree"],
        "--format",
        "json",
    ]
    check = module.check_mode or params["expect_unchanged"]
    if check:
        argv.append("--check")
    if module._diff:
        argv.append("--diff")
    if params["force"]:
        argv.append("--force")
    if params["state_dir"]:
        argv.extend(["--state-dir", params["state_dir"]])

    rc, doc, out, err = run_json(module, argv)
    result = dict(exit_code=rc, stderr=err, cmd=argv)
    if doc is not None:
        result.update(
            apply=doc,
            outcome=doc.get("outcome"),
            files=doc.get("files") or [],
            reloads=doc.get("reloads") or [],
            withdrawn=doc.get("withdrawn") or [],
            steps=doc.get("steps") or [],
            failure=doc.get("failure"),
            findings=doc.get("findings") or [],
        )
    else:
        result["stdout"] = out

    if rc not in (APPLY_UNCHANGED, APPLY_CHANGED) or (rc == APPLY_CHANGED and doc is None):
        module.fail_json(msg=apply_failure_message(params["host"], rc, doc, err), **result)

    if params["expect_unchanged"] and rc == APPLY_CHANGED:
        paths = ", ".join(f.get("path", "?") for f in result.get("files", []) if isinstance(f, dict))
        module.fail_json(
            msg=(
                "svcintent apply on %s: the rollout planned no change for this host, but apply "
                "would change %s; nothing was touched (plan the rollout again)"
            )
            % (params["host"], paths or "it"),
            **result
        )

    result["changed"] = rc == APPLY_CHANGED
    if module._diff and rc == APPLY_CHANGED:
        result["diff"] = [
            dict(prepared=f["diff"])
            for f in result.get("files", [])
            if isinstance(f, dict) and f.get("diff")
        ]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
