# Copyright: svcintent contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Running the svcintent command for the modules, and its exit-code contract (docs/deploy.md)."""

from __future__ import annotations

import json

# svcintent apply's exit codes (docs/deploy.md, "Exit codes"). The modules map them; they never
# decide anything the command has not decided.
APPLY_UNCHANGED = 0
APPLY_CHECK_FAILED = 1
APPLY_USAGE = 2
APPLY_CHANGED = 3
APPLY_IO = 4
APPLY_HARNESS = 6
APPLY_ROLLED_BACK = 7
APPLY_REFUSED = 8
APPLY_ROLLBACK_FAILED = 9
APPLY_NOT_ANNOUNCED = 14

# svcintent rollout's: 0 a plan, 8 the guard refuses, 1 a site has errors, 2 bad command line.
ROLLOUT_OK = 0
ROLLOUT_REFUSED = 8

APPLY_FAILURES = {
    APPLY_CHECK_FAILED: "a daemon's own check rejected the new files; nothing was touched",
    APPLY_ROLLED_BACK: "a step failed; the previous files are back and reloaded",
    APPLY_REFUSED: "refused; nothing was touched",
    APPLY_ROLLBACK_FAILED: "a step failed and so did putting the old state back: the host needs a person",
    APPLY_IO: "the lock is held by another apply, or reading or writing failed",
    APPLY_HARNESS: "a daemon or tool needed for the checks is missing",
    APPLY_USAGE: "bad command line",
    APPLY_NOT_ANNOUNCED: "applied, but BIRD does not export every VIP of the host yet (deploy.announce_timeout): do not go on to the next batch",
}


def find_svcintent(module, executable):
    """The svcintent command: an absolute path as given, else searched on PATH and in /usr/bin."""
    if executable.startswith("/"):
        return executable
    return module.get_bin_path(executable, required=True, opt_dirs=["/usr/bin", "/usr/local/bin"])


def run_json(module, argv):
    """Runs argv; returns (rc, the parsed JSON object on stdout or None, stdout, stderr)."""
    rc, out, err = module.run_command(argv, check_rc=False, environ_update={"LC_ALL": "C"})
    try:
        doc = json.loads(out) if out.strip() else None
    except ValueError:
        doc = None
    if doc is not None and not isinstance(doc, dict):
        doc = None
    return rc, doc, out, err


def apply_failure_message(host, rc, doc, err):
    """The task's error for a failed apply: apply's own words first (the failing step, daemon and
    message, or the daemon checks' findings), then what the exit code means."""
    parts = []
    failure = (doc or {}).get("failure") or {}
    if failure:
        where = " ".join(
            "%s %s" % (k, failure[k]) for k in ("step", "daemon") if failure.get(k)
        )
        message = failure.get("message") or ""
        parts.append(("%s: %s" % (where, message)) if where else message)
    for finding in (doc or {}).get("findings") or []:
        if isinstance(finding, dict):
            text = finding.get("message") or json.dumps(finding, sort_keys=True)
            location = ":".join(
                str(finding[k]) for k in ("file", "line") if finding.get(k) not in (None, "")
            )
            daemon = finding.get("daemon")
            prefix = ": ".join(p for p in (location, daemon) if p)
            parts.append(("%s: %s" % (prefix, text)) if prefix else text)
        else:
            parts.append(str(finding))
    if not parts and err.strip():
        parts.append(err.strip())
    meaning = APPLY_FAILURES.get(rc, "exit code %d" % rc)
    outcome = (doc or {}).get("outcome")
    head = "svcintent apply on %s: %s (exit %d%s)" % (
        host, meaning, rc, (", " + outcome) if outcome else ""
    )
    return head + ("\n" + "\n".join(p for p in parts if p) if parts else "")
