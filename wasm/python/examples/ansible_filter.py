"""Ansible filter plugin: one host's svcintent configuration files, rendered on the controller
by the sandboxed compiler (no ``svcintent`` binary, no shelling out).

Install ``svcintent`` into the controller's Python (``pip install ./wasm/python`` after
``scripts/build-wasm.sh``) and copy this file into a ``filter_plugins/`` directory next to the
playbook (or ``plugins/filter/`` of a collection). Then::

    - hosts: balancers:backends:monitoring
      vars:
        svcintent_site: "{{ playbook_dir }}/site"     # the directory with site.yaml
      tasks:
        - name: svcintent configuration files
          ansible.builtin.copy:
            dest: "{{ item.path }}"
            content: "{{ item.content }}"
            mode: "0644"
          loop: "{{ svcintent_site | svcintent_host_files(inventory_hostname) }}"
          loop_control:
            label: "{{ item.path }} ({{ item.target }})"

``svcintent_lint`` gives the site's diagnostics as ``file:line:col: severity[CODE]: message``
lines, e.g. for an ``ansible.builtin.assert`` that there are none.

The site is rendered once per controller process and site contents; each host then takes
its own files. Nothing here decides anything about the intent: rendering, validation and
which host gets which file are the compiler's.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import svcintent

try:
    from ansible.errors import AnsibleFilterError  # type: ignore[import-not-found,import-untyped,unused-ignore]
except ImportError:  # lets the plugin be imported (and tested) without Ansible

    class AnsibleFilterError(Exception):  # type: ignore[no-redef]
        """Stands in for ansible.errors.AnsibleFilterError."""


_rendered: Dict[Tuple[Tuple[str, str], ...], svcintent.Rendered] = {}


def _render(site_dir: str) -> svcintent.Rendered:
    try:
        site = svcintent.load_site(site_dir)
        key = tuple(site.items())
        if key not in _rendered:
            _rendered.clear()  # keep one site: a controller run renders one
            _rendered[key] = svcintent.render(site)
        return _rendered[key]
    except svcintent.SvcintentError as e:
        lines = [str(d) for d in e.diagnostics if d.is_error] or [str(e)]
        raise AnsibleFilterError(
            f"svcintent cannot render {site_dir}:\n" + "\n".join(lines)
        ) from e


def svcintent_host_files(
    site_dir: str, host: str, missing_ok: bool = False
) -> List[Dict[str, Any]]:
    """The files of ``host``: ``[{"path", "content", "target", "services"}]``, sorted by
    path. An unknown host is an error unless ``missing_ok`` (then: no files)."""
    rendered = _render(site_dir)
    if host not in rendered.hosts():
        if missing_ok:
            return []
        raise AnsibleFilterError(
            f"svcintent renders no file for host {host!r} (hosts: {', '.join(rendered.hosts())}); "
            "pass missing_ok=true to skip hosts the site does not describe"
        )
    return sorted(
        (
            {
                "path": f.host_path,
                "content": f.contents,
                "target": f.target,
                "services": list(f.services),
            }
            for f in rendered.files
            if f.host == host
        ),
        key=lambda item: str(item["path"]),
    )


def svcintent_lint(site_dir: str) -> List[str]:
    """The site's diagnostics, one line each (empty when it is clean)."""
    try:
        return [str(d) for d in svcintent.lint(svcintent.load_site(site_dir))]
    except svcintent.SvcintentError as e:
        raise AnsibleFilterError(f"svcintent cannot lint {site_dir}: {e}") from e


class FilterModule:
    """What Ansible loads from a filter_plugins file."""

    def filters(self) -> Dict[str, Callable[..., Any]]:
        return {
            "svcintent_host_files": svcintent_host_files,
            "svcintent_lint": svcintent_lint,
        }
