#!/usr/bin/python
# Copyright: svcintent contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: svcintent_rollout
short_description: Plan and guard a rollout with C(svcintent rollout)
description:
  - Runs C(svcintent rollout OLD NEW --format json) where the module runs (the controller, with
    C(delegate_to) C(localhost) and C(run_once)). svcintent orders the hosts whose files
    change into batches, withdrawals first and additions last, and refuses a change that would
    leave a VIP with fewer announcing hosts than its minimum at any moment.
  - The module decides nothing itself. It returns the batches (what a play takes as its
    C(serial) groups) or fails with svcintent's statement when the guard refuses.
  - OLD is either O(old) or the hosts' current states (O(old_states), what
    M(svcintent.anycast.svcintent_state) read on each host), written to a temporary directory of
    C(HOST.json) files for svcintent. Hosts without a state run nothing yet; when no host has
    one, OLD is C(none) (first deployment).
version_added: 0.1.0
author:
  - svcintent contributors (@svcintent)
options:
  new:
    description:
      - The new generation, a rendered tree (what C(svcintent render --out) wrote), a site
        directory or C(REV:DIR).
    type: str
    required: true
  old:
    description:
      - What the hosts run, as svcintent rollout takes it (a directory of C(HOST.json) state
        files, a rendered tree, a site directory, C(REV:DIR), or C(none)).
      - Mutually exclusive with O(old_states).
    type: str
  old_states:
    description:
      - Each host's C(/var/lib/svcintent/state.json) (a dict), or null for a host that runs no
        svcintent generation yet, by host name.
      - Mutually exclusive with O(old).
    type: dict
  allow_withdraw:
    description:
      - Services whose withdrawal is intended (C(--allow-withdraw SERVICE) for each).
    type: list
    elements: str
    default: []
  executable:
    description:
      - The svcintent command (a name searched on PATH, or an absolute path).
    type: str
    default: svcintent
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads; it runs the same in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
seealso:
  - module: svcintent.anycast.svcintent_apply
  - module: svcintent.anycast.svcintent_state
"""

EXAMPLES = r"""
- name: Plan the rollout from what the hosts run to the new tree
  svcintent.anycast.svcintent_rollout:
    old_states: "{{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, ['svcintent_current', 'state']))) }}"
    new: /srv/svcintent/campus
  delegate_to: localhost
  run_once: true
  register: svcintent_plan
"""

RETURN = r"""
batches:
  description: The hosts whose files change, in the order to apply them, one list per batch.
  returned: success
  type: list
  elements: list
  sample: [[lb1, web1], [lb2]]
unchanged:
  description: The hosts whose files do not change.
  returned: success
  type: list
  elements: str
  sample: [rr1]
statements:
  description: What the change does, in words (svcintent diff's statements).
  returned: success, and when the guard refuses
  type: list
  elements: dict
refusals:
  description: Why the guard refuses the change.
  returned: when the guard refuses
  type: list
  elements: dict
serial:
  description: The batch sizes, for a play's C(serial).
  returned: success
  type: list
  elements: int
  sample: [2, 1]
rollout:
  description: svcintent rollout's whole JSON report.
  returned: when svcintent printed its JSON
  type: dict
exit_code:
  description: svcintent rollout's exit code.
  returned: always
  type: int
"""

import json
import os
import re
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.svcintent.anycast.plugins.module_utils.svcintent import (
    ROLLOUT_OK,
    ROLLOUT_REFUSED,
    find_svcintent,
    run_json,
)

# A host name as svcintent accepts it (it is also the state file's name).
HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def describe(items):
    """One line per statement or refusal: its summary or message, else its JSON."""
    lines = []
    for item in items or []:
        if isinstance(item, dict):
            text = item.get("statement") or item.get("summary") or item.get("message")
            lines.append(text if text else json.dumps(item, sort_keys=True))
        else:
            lines.append(str(item))
    return lines


def write_states(module, states, directory):
    """Writes HOST.json for every host with a state; returns how many."""
    written = 0
    for host, state in sorted(states.items()):
        if not HOST_NAME.match(host):
            module.fail_json(msg="old_states: %r is not a host name" % host)
        if state is None:
            continue
        if not isinstance(state, dict):
            module.fail_json(msg="old_states: the state of %s is not a dict" % host)
        with open(os.path.join(directory, host + ".json"), "w") as f:
            json.dump(state, f, sort_keys=True)
        written += 1
    return written


def main():
    module = AnsibleModule(
        argument_spec=dict(
            new=dict(type="str", required=True),
            old=dict(type="str"),
            old_states=dict(type="dict"),
            allow_withdraw=dict(type="list", elements="str", default=[]),
            executable=dict(type="str", default="svcintent"),
        ),
        mutually_exclusive=[("old", "old_states")],
        required_one_of=[("old", "old_states")],
        supports_check_mode=True,
    )
    params = module.params
    svcintent = find_svcintent(module, params["executable"])
    tmp = None
    try:
        if params["old_states"] is not None:
            tmp = tempfile.mkdtemp(prefix="svcintent-states-")
            old = tmp if write_states(module, params["old_states"], tmp) else "none"
        else:
            old = params["old"]
        argv = [svcintent, "rollout", old, params["new"], "--format", "json"]
        for service in params["allow_withdraw"]:
            argv.extend(["--allow-withdraw", service])
        rc, doc, out, err = run_json(module, argv)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    result = dict(changed=False, exit_code=rc, stderr=err, cmd=argv)
    if doc is not None:
        result["rollout"] = doc
        result["statements"] = doc.get("statements") or []
    if rc == ROLLOUT_REFUSED:
        refusals = (doc or {}).get("refusals") or []
        lines = describe(refusals) or [err.strip() or "(no statement)"]
        module.fail_json(
            msg="svcintent rollout refuses the change; no host was touched:\n" + "\n".join(lines),
            refusals=refusals,
            **result
        )
    if rc != ROLLOUT_OK or doc is None or not doc.get("ok", False):
        module.fail_json(
            msg="svcintent rollout failed (exit %d): %s" % (rc, err.strip() or out.strip()),
            stdout=out,
            **result
        )
    batches = doc.get("batches") or []
    if not all(isinstance(b, list) and b for b in batches):
        module.fail_json(msg="svcintent rollout returned a malformed batch list", **result)
    result.update(
        batches=batches,
        unchanged=doc.get("unchanged") or [],
        serial=[len(b) for b in batches],
    )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
