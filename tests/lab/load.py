#!/usr/bin/python3
"""HTTP load for the namespace lab: COUNT requests, one new connection each (so the client
router's L4 ECMP hash spreads them over the balancers), SPACING_MS apart, rotating over the
targets. A target is `HOST@ADDRESS` (Host header, VIP; IPv6 in brackets). Prints one summary
line `requests=N failed=M answers=...` and one line per failure.

Usage: load.py COUNT SPACING_MS TARGET...
"""

import http.client
import signal
import sys
import time


class Stop(Exception):
    """SIGTERM: stop early and print the summary of what ran."""


def stop(_signum, _frame):
    raise Stop()


def main() -> int:
    count, spacing = int(sys.argv[1]), int(sys.argv[2]) / 1000.0
    targets = [t.split("@", 1) for t in sys.argv[3:]]
    answers: dict[str, int] = {}
    failures = []
    signal.signal(signal.SIGTERM, stop)
    done = 0
    try:
        for i in range(count):
            one(i, targets[i % len(targets)], spacing, answers, failures)
            done += 1
    except Stop:
        pass
    failed = len(failures)
    summary = " ".join(f"{k.replace(' ', ':')}={v}" for k, v in sorted(answers.items()))
    print(f"requests={done} failed={failed} answers {summary}")
    for f in failures[:20]:
        print(f)
    return 0


def one(i, target, spacing, answers, failures):
    host, addr = target
    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection(addr.strip("[]"), 80, timeout=2)
        conn.request("GET", "/", headers={"Host": host})
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace").strip()
        conn.close()
        if resp.status != 200:
            raise RuntimeError(f"status {resp.status}: {body[:80]}")
        answers[body] = answers.get(body, 0) + 1
    except Stop:
        raise
    except Exception as e:  # every failure counts, whatever it is
        failures.append(f"  failure {i} {host}@{addr} at {time.time():.3f}: {e!r}")
    rest = spacing - (time.monotonic() - started)
    if rest > 0:
        time.sleep(rest)


if __name__ == "__main__":
    sys.exit(main())
