/**
 * The stats page's stylesheet and browser script, inlined into the page: the page
 * must work on a closed network, so nothing is fetched from elsewhere. Colours are
 * HAProxy's (src/stats-html.c) so operators read states at a glance as they do there.
 */

export const STYLE = `
body { font-family: arial, helvetica, sans-serif; font-size: 12px; font-weight: normal; color: black; background: white; margin: 0.5em; }
th, td { font-size: 10px; }
h1 { font-size: x-large; margin-bottom: 0.5em; }
h1 a { color: #ffffff; text-decoration: none; }
h1 span.brand { background: #20408e; color: #ffffff; padding: 0 0.3em; }
table.tbl { border-collapse: collapse; border-style: none; margin-bottom: 1em; }
table.tbl td, table.tbl th { text-align: right; border-style: solid solid solid solid; border-width: 1px 1px 1px 1px; padding: 1px 3px; border-color: gray; white-space: nowrap; }
table.tbl th { text-align: center; }
table.tbl td.ac { text-align: center; }
table.tbl td.al { text-align: left; }
th.pxname { background: #b00040; color: #ffff40; font-weight: bold; border-style: solid solid none solid; padding: 2px 3px; white-space: nowrap; text-align: left !important; }
th.empty { border-style: none; empty-cells: hide; background: white; }
.titre { background: #20D0D0; color: #000000; font-weight: bold; text-align: center; }
.frontend { background: #e8e8d0; }
.backend { background: #e8e8d0; }
.backend.down td.status { background: #ff9090; }
.active_down { background: #ff9090; }
.active_going_up { background: #ffd020; }
.active_going_down { background: #ffffa0; }
.active_up { background: #c0ffc0; }
.active_nolb { background: #20a0ff; }
.active_draining { background: #20a0ff; }
.active_no_check { background: #e0e0e0; }
.backup_down { background: #ff9090; }
.backup_going_up { background: #ff80ff; }
.backup_going_down { background: #c060ff; }
.backup_up { background: #b0d0ff; }
.backup_nolb { background: #90b0e0; }
.backup_draining { background: #cc9900; }
.backup_no_check { background: #e0e0e0; }
.maintain { background: #c07820; }
table.lgd { border-collapse: collapse; border-width: 1px; border-style: none none none solid; border-color: black; }
table.lgd td { border-width: 1px; border-style: solid solid solid solid; border-color: gray; padding: 2px; }
table.lgd td.noborder { border-style: none; padding: 2px; white-space: nowrap; }
table.info td { padding: 0 0.8em 0 0; vertical-align: top; }
ul.opts { margin: 0; padding-left: 1.2em; }
svg.rate { vertical-align: middle; margin-left: 1em; background: #fff8f0; border: 1px solid #ffff40; }
svg.rate polyline { fill: none; stroke: #b00040; stroke-width: 1.5; }
span.ratev { margin-left: 0.4em; font-weight: normal; }
#live { padding: 1px 6px; border-radius: 3px; background: #e0e0e0; }
#live.on { background: #c0ffc0; }
#live.off { background: #ff9090; }
div.result { margin: 0.5em 0; padding: 4px; border: 1px solid gray; display: inline-block; }
div.result.ok { background: #c0ffc0; }
div.result.err { background: #ff9090; }
form.admin { margin: 0; }
`;

/**
 * Opens the page's WebSocket and applies each push: row cells and classes by
 * `data-key`, and the per-backend session-rate charts. A push whose row layout
 * differs from the page (a reload changed the config) reloads the page; a lost
 * socket reloads it after the refresh interval (5 s without one), which also
 * fetches a fresh connection token.
 */
export const SCRIPT = `
(function () {
  var cfg = JSON.parse(document.getElementById('tslb-cfg').textContent);
  var rows = new Map();
  document.querySelectorAll('tr[data-key]').forEach(function (tr) { rows.set(tr.getAttribute('data-key'), tr); });
  var charts = new Map();
  document.querySelectorAll('svg[data-backend]').forEach(function (svg) { charts.set(svg.getAttribute('data-backend'), svg); });
  var history = {};
  var live = document.getElementById('live');
  var W = 120, H = 24, POINTS = 60;

  function draw(name) {
    var svg = charts.get(name);
    var h = history[name];
    if (!svg || !h) return;
    var max = 1;
    for (var i = 0; i < h.length; i++) if (h[i] > max) max = h[i];
    var pts = [];
    var step = W / (POINTS - 1);
    var start = POINTS - h.length;
    for (var j = 0; j < h.length; j++) pts.push(((start + j) * step).toFixed(1) + ',' + (H - 1 - (h[j] / max) * (H - 3)).toFixed(1));
    svg.querySelector('polyline').setAttribute('points', pts.join(' '));
    var label = document.querySelector('span.ratev[data-backend="' + CSS.escape(name) + '"]');
    if (label) label.textContent = (h.length ? h[h.length - 1] : 0) + ' sess/s (max ' + max + ')';
  }

  function apply(msg) {
    if (msg.layout !== cfg.layout) { location.reload(); return; }
    for (var i = 0; i < msg.rows.length; i++) {
      var r = msg.rows[i];
      var tr = rows.get(r[0]);
      if (!tr) continue;
      if (tr.className !== r[1]) tr.className = r[1];
      var tds = tr.querySelectorAll('td[data-c]');
      for (var c = 0; c < tds.length && c < r[2].length; c++) if (tds[c].textContent !== r[2][c]) tds[c].textContent = r[2][c];
    }
    if (msg.history) history = msg.history;
    if (msg.rates) for (var name in msg.rates) {
      var h = history[name] || (history[name] = []);
      h.push(msg.rates[name]);
      if (h.length > POINTS) h.shift();
    }
    charts.forEach(function (_, name) { draw(name); });
    document.getElementById('updated').textContent = new Date(msg.time).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
  }

  function connect() {
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + cfg.ws;
    var ws = new WebSocket(url);
    ws.onopen = function () { live.textContent = 'live'; live.className = 'on'; };
    ws.onmessage = function (ev) { apply(JSON.parse(ev.data)); };
    ws.onclose = function () {
      live.textContent = 'disconnected'; live.className = 'off';
      setTimeout(function () { location.reload(); }, (cfg.refresh > 0 ? cfg.refresh : 5) * 1000);
    };
  }
  connect();
})();
`;
