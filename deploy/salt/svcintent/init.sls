{#-
  svcintent: bring this minion to a rendered svcintent generation (docs/deploy.md, "Salt and
  others"). Pillar:

    svcintent:
      generation: <sha256 of the tree's manifest.json>   # names the staged copy
      source: salt://svcintent/tree                      # the render --out tree on the file server
      deb: salt://svcintent/svcintent_0.1.0-1_amd64.deb  # optional: the package to install
      force: false                                       # apply --force
      executable: svcintent                              # the command on the minion

  The order of the hosts, and whether the change is safe at all, are `svcintent rollout`'s:
  orch.sls runs this state on the plan's batches, one after the other.
-#}
{%- set cfg = salt['pillar.get']('svcintent', {}) %}

{%- if cfg.get('deb') %}
svcintent-package:
  pkg.installed:
    - sources:
      - svcintent: {{ cfg['deb'] }}
    - require_in:
      - svcintent: svcintent-applied
{%- endif %}

svcintent-applied:
  svcintent.applied:
    - name: {{ cfg['generation'] }}
    - source: {{ cfg.get('source', 'salt://svcintent/tree') }}
    - force: {{ cfg.get('force', False) }}
    - executable: {{ cfg.get('executable', 'svcintent') }}
