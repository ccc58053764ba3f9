"""The web pages' Jinja2 templates, inline (no build step, nothing to install beside the code)."""

from __future__ import annotations

import jinja2

ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)

BASE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }} · quantdb</title>
<style>
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:0 2em 2em;color:#222}
nav a{margin-right:1em} table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right} th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left} form{margin:1em 0} .muted{color:#777}
</style>{% block head %}{% endblock %}</head><body>
<nav><a href="/">Dashboard</a><a href="/trades">Trade log</a><a href="/backtests">Backtests</a>
<a href="/download/quantdb-report.xlsx">Excel report</a><a href="/download/quantdb-report.pdf">PDF report</a></nav>
<h1>{{ title }}</h1>{% block body %}{% endblock %}</body></html>"""

DASHBOARD = """{% extends "base" %}
{% block head %}<script>
async function refreshLive(){
  try{
    const r = await fetch("/api/live.json", {cache: "no-store"});
    if(!r.ok) return;
    const d = await r.json();
    for (const [id, rows] of [["live-table", d.live], ["positions-table", d.open_positions]]) {
      const t = document.getElementById(id); if(!t) continue;
      const body = t.tBodies[0]; body.innerHTML = "";
      for (const row of rows) { const tr = body.insertRow();
        for (const v of row) { const td = tr.insertCell(); td.textContent = v; } }
    }
    document.getElementById("refreshed").textContent = d.as_of;
  } catch(e) {}
}
setInterval(refreshLive, {{ refresh_ms }});
</script>{% endblock %}
{% block body %}<p class="muted">Live: refreshes every {{ refresh_ms // 1000 }} s · prices up to
<span id="refreshed">{{ as_of }}</span></p>
<h2>Strategies</h2>{{ live|safe }}
<p id="live-strategies">Live: {% for s in strategies %}<a href="/strategy/{{ s }}">{{ s }} (live)</a> ·
<a href="/tearsheet/strategy/{{ s }}">tearsheet</a> &nbsp; {% else %}none recorded{% endfor %}</p>
<p id="backtested-strategies">Backtested: {% for s, bid in backtested %}<a href="/backtests">{{ s }} (backtest)</a> ·
<a href="/tearsheet/backtest/{{ bid }}">tearsheet of backtest {{ bid }}</a> &nbsp; {% else %}none stored{% endfor %}</p>
<h2>Open positions</h2>{{ positions|safe }}
<h2>Latest backtests (strategies backtested, not live)</h2>{{ backtests|safe }}
<h2>Latest sweeps</h2>{{ sweeps|safe }}
<h2>Volume leaders</h2>{% for tf, t in leaders %}<h3>{{ tf }}</h3>{{ t|safe }}{% endfor %}
{% endblock %}"""

STRATEGY = """{% extends "base" %}
{% block head %}<script src="/static/plotly.min.js"></script>{% endblock %}
{% block body %}<p><a href="/tearsheet/strategy/{{ name }}">QuantStats tearsheet</a> ·
<a href="/trades?strategy={{ name }}">trades</a></p>
{{ summary|safe }}{{ tradestats|safe }}{% for div in charts %}{{ div|safe }}{% endfor %}
<h2>Top drawdowns</h2>{{ drawdowns|safe }}<h2>Monthly returns</h2>{{ monthly|safe }}
<h2>Performance snapshots</h2>{{ history|safe }}{% endblock %}"""

TRADES = """{% extends "base" %}
{% block body %}<form method="get" action="/trades" id="filter">
<label>strategy <select name="strategy"><option value="">(any)</option>{% for s in strategies %}
<option value="{{ s }}"{% if s == f.strategy %} selected{% endif %}>{{ s }}</option>{% endfor %}</select></label>
<label>ticker <input name="ticker" value="{{ f.ticker or '' }}" size="8"></label>
<label>status <select name="status"><option value="">(any)</option>{% for s in statuses %}
<option value="{{ s }}"{% if s == f.status %} selected{% endif %}>{{ s }}</option>{% endfor %}</select></label>
<label>side <select name="side"><option value="">(any)</option>{% for s in sides %}
<option value="{{ s }}"{% if s == f.side %} selected{% endif %}>{{ s }}</option>{% endfor %}</select></label>
<input type="hidden" name="sort" value="{{ sort }}"><input type="hidden" name="dir" value="{{ dir }}">
<label>per page <select name="limit" id="page-size">{% for n in page_sizes %}
<option value="{{ n }}"{% if n == limit %} selected{% endif %}>{{ n }}</option>{% endfor %}</select></label>
<button type="submit" id="apply">Filter</button></form>
<p class="muted" id="count">{{ total }} trades · showing {{ offset + 1 if rows else 0 }}–{{ offset + rows|length }}
(page {{ page }} of {{ pages }})</p>
<p id="pager">{% if prev_link %}<a id="prev" href="{{ prev_link }}">← previous</a>{% else %}<span class="muted">← previous</span>{% endif %}
· {% if next_link %}<a id="next" href="{{ next_link }}">next →</a>{% else %}<span class="muted">next →</span>{% endif %}</p>
<table id="trade-log"><thead><tr>{% for c in columns %}<th><a class="sort" data-col="{{ c }}"
href="{{ sort_links[c] }}">{{ c }}{% if c == sort %} {{ '▲' if dir == 'asc' else '▼' }}{% endif %}</a></th>{% endfor %}
</tr></thead><tbody>{% for r in rows %}<tr>{% for v in r %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}</tbody></table>
{% endblock %}"""

BACKTESTS = """{% extends "base" %}
{% block body %}<table id="backtests"><thead><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}<th></th></tr></thead>
<tbody>{% for r in rows %}<tr>{% for v in r.cells %}<td>{{ v }}</td>{% endfor %}
<td><a href="/tearsheet/backtest/{{ r.id }}">tearsheet</a></td></tr>{% endfor %}</tbody></table>
<h2>Sweeps</h2>{{ sweeps|safe }}{% endblock %}"""

ERROR = """{% extends "base" %}{% block body %}<p>{{ message }}</p>{% endblock %}"""

ENV.loader = jinja2.DictLoader(
    {"base": BASE, "dashboard": DASHBOARD, "strategy": STRATEGY, "trades": TRADES, "backtests": BACKTESTS,
     "error": ERROR}
)


def render(template: str, /, **context: object) -> str:
    """Render one page template."""
    return ENV.get_template(template).render(**context)
