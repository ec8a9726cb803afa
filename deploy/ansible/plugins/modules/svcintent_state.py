#!/usr/bin/python
# Copyright: svcintent contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: svcintent_state
short_description: Read which svcintent generation a host runs
description:
  - Reads the host's C(state.json), which C(svcintent apply) writes after every successful run
    (site, C(manifest_sha256) of the generation, the host's facts, every installed file with its
    sha256). M(svcintent.anycast.svcintent_rollout) takes these as OLD.
  - A host that never ran apply has no state; the module then returns O(path) as absent and
    C(state) null, and does not fail.
version_added: 0.1.0
author:
  - svcintent contributors (@svcintent)
options:
  path:
    description:
      - The state file.
    type: path
    default: /var/lib/svcintent/state.json
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
seealso:
  - module: svcintent.anycast.svcintent_rollout
"""

EXAMPLES = r"""
- name: Read what the host runs
  svcintent.anycast.svcintent_state:
  register: svcintent_current
"""

RETURN = r"""
exists:
  description: Whether the host has a state file.
  returned: always
  type: bool
state:
  description: The parsed state file, or null when the host has none.
  returned: always
  type: dict
manifest_sha256:
  description: The generation the host runs (the sha256 of its manifest), or null.
  returned: always
  type: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(path=dict(type="path", default="/var/lib/svcintent/state.json")),
        supports_check_mode=True,
    )
    path = module.params["path"]
    if not os.path.exists(path):
        module.exit_json(changed=False, exists=False, state=None, manifest_sha256=None)
    try:
        with open(path, "rb") as f:
            state = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError) as e:
        module.fail_json(msg="cannot read the svcintent state %s: %s" % (path, e))
    if not isinstance(state, dict):
        module.fail_json(msg="the svcintent state %s is not a JSON object" % path)
    module.exit_json(
        changed=False,
        exists=True,
        state=state,
        manifest_sha256=state.get("manifest_sha256"),
    )


if __name__ == "__main__":
    main()
