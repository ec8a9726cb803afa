#!/usr/bin/python3
"""Runs the service checks rendered for Icinga2 against the namespace lab, the way Icinga2
would run them, and prints one line per check: `HOST/SERVICE RC OUTPUT`.

It reads the rendered `services.conf` and `commands.conf` of the monitoring host and turns each
service into the plugin command line its check command makes:

- the ITL commands `http`, `tcp` (with the PROXY header a PROXY-protocol backend's check
  sends: `-E -s`, `-e`, `-M`), `ping4`, `ping6` (the ITL's argument mapping for the variables
  the files set, and the ITL defaults for the ping thresholds);
- the rendered `svcintent-check-*` commands: their `command` array with `$var$` macros
  replaced by the service's variables;
- the rendered `svcintent-bird-protocol` command: its `by_ssh_command` shell snippet (macros
  replaced, `$$` unescaped) runs in the speaker's namespaces instead of over SSH.

Plugin checks run in the monitoring host's network namespace. An unknown check command is
printed with RC `unknown`, which the lab counts as a failure.

Usage: icinga.py CONF_DIR MON_NETNS HOST_STATE_DIR (HOST_STATE_DIR/HOST/holder.pid: a process in the host's namespaces)
"""

import concurrent.futures
import os
import re
import subprocess
import sys

PLUGINS = "/usr/lib/nagios/plugins"


def unquote(value: str) -> str:
    value = value.strip()
    if value.startswith('"') and value.endswith('"'):
        value = value[1:-1]
        return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), value)
    return value


def objects(path: str, kind: str) -> dict[str, dict[str, object]]:
    """`object KIND "name" { key = value ... }` blocks: key -> string or list of strings."""
    out: dict[str, dict[str, object]] = {}
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r'^object %s "([^"]+)" \{\n(.*?)^\}' % kind, text, re.M | re.S):
        body: dict[str, object] = {}
        lines = m.group(2).split("\n")
        i = 0
        while i < len(lines):
            line = lines[i].strip()
            i += 1
            if "=" not in line or line.startswith("//"):
                continue
            key, value = (s.strip() for s in line.split("=", 1))
            if value == "[":
                items = []
                while lines[i].strip() != "]":
                    items.append(unquote(lines[i].strip().rstrip(",")))
                    i += 1
                i += 1
                body[key] = items
            elif value.startswith("[") and value.endswith("]"):
                body[key] = [unquote(v) for v in value[1:-1].split(",") if v.strip()]
            else:
                body[key] = unquote(value)
        name = m.group(1)
        # Service names repeat across hosts: key them by host.
        if kind == "Service":
            name = f'{body.get("host_name")}/{name}'
        out[name] = body
    return out


def macros(text: str, svc: dict[str, object]) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return str(svc.get("vars." + m.group(1), m.group(0)))

    return re.sub(r"\$\$|\$([a-z0-9_.]+)\$", one, text)


def command(svc: dict[str, object], commands: dict[str, dict[str, object]]):
    """(namespace kind, argv) for a service."""
    cmd = str(svc.get("check_command"))
    v = lambda k: str(svc["vars." + k])  # noqa: E731
    has = lambda k: ("vars." + k) in svc  # noqa: E731
    if cmd == "http":
        argv = [f"{PLUGINS}/check_http", "-I", v("http_address"), "-p", v("http_port")]
        for var, flag in (("http_uri", "-u"), ("http_expect", "-e"), ("http_vhost", "-H")):
            if has(var):
                argv += [flag, v(var)]
        return "mon", argv
    if cmd == "tcp":
        argv = [f"{PLUGINS}/check_tcp", "-H", v("tcp_address"), "-p", v("tcp_port")]
        expect = svc.get("vars.tcp_expect", [])
        for e in expect if isinstance(expect, list) else [expect]:
            argv += ["-e", str(e)]
        if has("tcp_mismatch"):
            argv += ["-M", v("tcp_mismatch")]
        if svc.get("vars.tcp_escape_send") == "true":
            argv += ["-E"]
        if has("tcp_send"):
            argv += ["-s", v("tcp_send")]
        return "mon", argv
    if cmd in ("ping4", "ping6"):
        fam = "-4" if cmd == "ping4" else "-6"
        return "mon", [f"{PLUGINS}/check_ping", "-H", v("ping_address"), "-w", "100,5%", "-c", "200,15%", fam]
    c = commands.get(cmd)
    if c is not None and "command" in c:
        return "mon", [macros(str(a), svc) for a in c["command"]]
    if c is not None and "vars.by_ssh_command" in c:
        return "speaker", ["sh", "-c", macros(str(c["vars.by_ssh_command"]), svc)]
    return None, [cmd]


def main() -> int:
    conf, mon, holders = sys.argv[1], sys.argv[2], sys.argv[3]
    commands = objects(os.path.join(conf, "commands.conf"), "CheckCommand")
    services = objects(os.path.join(conf, "services.conf"), "Service")
    if not services:
        print("no services parsed")
        return 1

    def run(item):
        key, svc = item
        where, argv = command(svc, commands)
        if where is None:
            return key, "unknown", f"unknown check_command {argv[0]}"
        if where == "mon":
            full = ["ip", "netns", "exec", mon] + argv
        else:
            host = str(svc["host_name"])
            pid = open(os.path.join(holders, host, "holder.pid")).read().strip()
            full = ["nsenter", "-t", pid, "-m", "-n", "--"] + argv
        try:
            p = subprocess.run(full, capture_output=True, text=True, timeout=20)
            out = (p.stdout + p.stderr).strip().split("\n")[0]
            return key, str(p.returncode), out
        except subprocess.TimeoutExpired:
            return key, "timeout", " ".join(argv)

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        for key, rc, out in sorted(pool.map(run, services.items())):
            print(f"{key} {rc} {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
