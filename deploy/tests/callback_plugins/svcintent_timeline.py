# Copyright: svcintent contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""A test aid for tests/lab/ansible.sh, not part of the collection: writes one JSON line per
play start, task start and host result (with a monotonic time) to $SVCINTENT_TIMELINE, so the
lab can tell which hosts ran `svcintent apply` in which batch, in which order, and how long
each batch and the whole rollout took."""

from __future__ import annotations

DOCUMENTATION = r"""
name: svcintent_timeline
type: aggregate
short_description: JSON lines of plays, tasks and host results with times
description:
  - Writes to the file named by the environment variable E(SVCINTENT_TIMELINE).
options: {}
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "svcintent_timeline"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._path = os.environ.get("SVCINTENT_TIMELINE")

    def _write(self, **event):
        if not self._path:
            return
        event["t"] = time.monotonic()
        with open(self._path, "a") as f:
            f.write(json.dumps(event, sort_keys=True) + "\n")

    def v2_playbook_on_play_start(self, play):
        self._write(event="play", name=play.get_name())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._write(event="task", name=task.get_name())

    def _result(self, status, result):
        res = result._result
        self._write(
            event="result",
            status=status,
            host=result._host.get_name(),
            task=result._task.get_name(),
            changed=bool(res.get("changed")),
            outcome=res.get("outcome"),
            reloads=res.get("reloads"),
            batches=res.get("batches"),
            unchanged=res.get("unchanged"),
        )

    def v2_runner_on_ok(self, result):
        self._result("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result("failed", result)

    def v2_runner_on_skipped(self, result):
        self._result("skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._result("unreachable", result)
