{#-
  Orchestration (salt-run state.orchestrate svcintent.orch): runs the svcintent state on the
  batches of a plan that `svcintent rollout` computed, one batch after the other; a failed
  minion stops it (failhard), the later batches keep the old generation. Pillar:

    svcintent:
      generation: <sha256 of manifest.json>
      plan: <the JSON `svcintent rollout OLD NEW --format json` printed (exit 0 only)>

  OLD is a directory of each minion's /var/lib/svcintent/state.json as <minion>.json, or `none`
  (docs/deploy.md, "Salt and others"). Not exercised by the tests: they run the state itself
  with salt-call.
-#}
{%- set cfg = salt['pillar.get']('svcintent', {}) %}
{%- for batch in cfg['plan']['batches'] %}
svcintent-batch-{{ loop.index }}:
  salt.state:
    - tgt: {{ batch | join(',') }}
    - tgt_type: list
    - sls: svcintent
    - failhard: True
    - pillar:
        svcintent: {{ cfg | tojson }}
{%- if not loop.first %}
    - require:
      - salt: svcintent-batch-{{ loop.index - 1 }}
{%- endif %}
{%- endfor %}
