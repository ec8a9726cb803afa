# Copyright: svcintent contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Salt state module `svcintent.applied`: runs `svcintent apply --host HOST TREE --format json` on
the minion and maps its exit codes (docs/deploy.md) to a state result, the way the Ansible module
svcintent.anycast.svcintent_apply does:

- 0 unchanged: result True, no changes;
- 3 changed: result True, changes = the files, reloads and withdrawals apply reports;
- with test=True, `apply --check`: 0 -> True, 3 -> None (would change) with the changes;
- 1 check-failed, 7 rolled-back, 8 refused, 9 rollback-failed, 4, 6, 2: result False, the
  comment is apply's own message (the failing step, daemon and its words, or the findings).

svcintent decides the order of the steps on the host and what is safe; this module decides
nothing. The order of the hosts is `svcintent rollout`'s (see orch.sls).
"""

import json
import os
import shutil

EXIT_MEANING = {
    1: "a daemon's own check rejected the new files; nothing was touched",
    2: "bad command line",
    4: "the lock is held by another apply, or reading or writing failed",
    6: "a daemon or tool needed for the checks is missing",
    7: "a step failed; the previous files are back and reloaded",
    8: "refused; nothing was touched",
    9: "a step failed and so did putting the old state back: the host needs a person",
    14: "applied, but BIRD does not export every VIP of the host yet (deploy.announce_timeout): do not go on to the next batch",
}


def _failure_text(report, stderr):
    lines = []
    failure = (report or {}).get("failure") or {}
    if failure:
        where = " ".join("%s %s" % (k, failure[k]) for k in ("step", "daemon") if failure.get(k))
        message = failure.get("message") or ""
        lines.append("%s: %s" % (where, message) if where else message)
    for finding in (report or {}).get("findings") or []:
        if isinstance(finding, dict):
            location = ":".join(str(finding[k]) for k in ("file", "line") if finding.get(k) not in (None, ""))
            lines.append(
                ": ".join(p for p in (location, finding.get("daemon"), finding.get("message")) if p)
            )
    if not lines and stderr.strip():
        lines.append(stderr.strip())
    return lines


def applied(
    name,
    source="salt://svcintent/tree",
    host=None,
    force=False,
    executable="svcintent",
    stage_dir="/var/lib/svcintent-staging",
    state_dir=None,
):
    """Bring this minion to the rendered generation at SOURCE with `svcintent apply`.

    name
        The generation (the sha256 of its manifest.json, or any label naming it): the files are
        staged in STAGE_DIR/NAME.
    source
        The rendered tree on the file server (`svcintent render --out` DIR, or a link to it).
        Only manifest.json and the host's folder are fetched, also with test=True (staging is
        not a change to the host; apply --check needs the files).
    host
        The host's name in the site; default the minion id.
    force
        Pass --force (replace files modified by hand).
    executable
        The svcintent command.
    stage_dir
        Where the fetched files are staged (older generations there are removed).
    state_dir
        apply's --state-dir.
    """
    host = host or __grains__["id"]
    test = bool(__opts__.get("test"))
    ret = {"name": name, "changes": {}, "result": False, "comment": ""}
    tree = os.path.join(stage_dir, name)
    try:
        if os.path.isdir(stage_dir):
            for entry in os.listdir(stage_dir):
                if entry != name:
                    shutil.rmtree(os.path.join(stage_dir, entry), ignore_errors=True)
        shutil.rmtree(tree, ignore_errors=True)
        os.makedirs(tree, mode=0o700)
    except OSError as e:
        ret["comment"] = "cannot stage the files in %s: %s" % (tree, e)
        return ret
    if not __salt__["cp.get_file"](source + "/manifest.json", os.path.join(tree, "manifest.json")):
        ret["comment"] = "cannot fetch %s/manifest.json" % source
        return ret
    if not __salt__["cp.get_dir"](source + "/" + host, tree):
        ret["comment"] = "cannot fetch %s/%s (is the host in the tree?)" % (source, host)
        return ret
    argv = [executable, "apply", "--host", host, tree, "--format", "json", "--diff"]
    if test:
        argv.append("--check")
    if force:
        argv.append("--force")
    if state_dir:
        argv.extend(["--state-dir", state_dir])
    run = __salt__["cmd.run_all"](argv, python_shell=False, ignore_retcode=True, env={"LC_ALL": "C"})
    rc, stdout, stderr = run["retcode"], run["stdout"], run["stderr"]
    try:
        report = json.loads(stdout) if stdout.strip() else None
    except ValueError:
        report = None
    if rc in (0, 3) and report is not None:
        if rc == 3:
            ret["changes"] = {
                "files": {
                    f.get("path"): {"status": f.get("status"), "diff": f.get("diff", "")}
                    for f in report.get("files") or []
                    if isinstance(f, dict)
                },
                "reloads": report.get("reloads") or [],
                "withdrawn": report.get("withdrawn") or [],
            }
        if rc == 0:
            ret["result"] = True
            ret["comment"] = "%s already runs this generation" % host
        elif test:
            ret["result"] = None
            ret["comment"] = "svcintent apply would change %s" % host
        else:
            ret["result"] = True
            ret["comment"] = "svcintent apply changed %s" % host
        return ret
    if rc in (0, 3):
        meaning = "no JSON report on standard output"
    else:
        meaning = EXIT_MEANING.get(rc, "exit code %d" % rc)
    outcome = (report or {}).get("outcome")
    head = "svcintent apply on %s: %s (exit %d%s)" % (host, meaning, rc, ", " + outcome if outcome else "")
    ret["comment"] = "\n".join([head] + _failure_text(report, stderr))
    return ret
