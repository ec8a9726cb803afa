"""Reads the JSON lines of the svcintent_timeline callback (deploy/tests/callback_plugins) for
tests/lab/ansible.sh and prints, one per line:

  PLAN <batches as JSON>                  what svcintent rollout planned (absent if it failed)
  BATCH <n> <seconds> <host>...           each run of the apply play: the hosts that ran
                                          `svcintent apply` (or were skipped) in it, in order
  APPLY <host> <status> <changed> <outcome>
  ORDER ok|mismatch                       the batches ran in the plan's order (the hosts the plan
                                          leaves unchanged form one last batch)
  TOTAL <seconds>                         first event to last

Usage: timeline.py FILE
"""

import json
import sys


def main():
    events = [json.loads(line) for line in open(sys.argv[1])]
    plan = None
    unchanged = []
    batches = []  # [start time, end time, hosts]
    applied = {}
    for e in events:
        if e["event"] == "result" and e["task"].endswith("Plan and guard with svcintent rollout"):
            if e["status"] == "ok":
                plan = e.get("batches")
                unchanged = e.get("unchanged") or []
        if e["event"] == "play" and e["name"] == "Apply in the planned batches":
            batches.append([e["t"], e["t"], []])
        if e["event"] == "result" and e["task"].endswith("Apply | svcintent apply") and batches:
            batches[-1][1] = e["t"]
            batches[-1][2].append(e["host"])
            applied[e["host"]] = e
    if plan is not None:
        print("PLAN " + json.dumps(plan))
    for n, (start, end, hosts) in enumerate(batches, 1):
        print("BATCH %d %.2f %s" % (n, end - start, " ".join(hosts)))
    for host in sorted(applied):
        e = applied[host]
        print("APPLY %s %s %s %s" % (host, e["status"], e["changed"], e.get("outcome")))
    if plan is not None:
        want = [sorted(b) for b in plan] + ([sorted(unchanged)] if unchanged else [])
        got = [sorted(b[2]) for b in batches]
        # A play stopped by a failure runs a prefix of the batches.
        print("ORDER " + ("ok" if got == want[: len(got)] else "mismatch"))
    if events:
        print("TOTAL %.2f" % (events[-1]["t"] - events[0]["t"]))


if __name__ == "__main__":
    main()
