// report.html's script: a case's events are embedded deflated and base64'd
// (data-z); they are unpacked and drawn only when the case is opened, so a
// page of 1000 cases opens at once. Also the outcome filters and the search.
(function () {
  'use strict';
  var D = document, NS = 'http://www.w3.org/2000/svg';
  var COLORS = ['#1f5fbf', '#2e7d32', '#8e24aa', '#00838f', '#ad1457', '#5d4037'];
  var MAXROWS = 5000;

  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c];
    });
  }
  // one event, one line: control bytes shown as \n, \xNN (as the text log does)
  function line(s) {
    return String(s).replace(/[\x00-\x1f\x7f]/g, function (c) {
      var k = c.charCodeAt(0);
      if (k === 10) return '\\n';
      if (k === 13) return '\\r';
      if (k === 9) return '\\t';
      return '\\x' + (k < 16 ? '0' : '') + k.toString(16).toUpperCase();
    });
  }
  function val(v) { return typeof v === 'string' ? v : JSON.stringify(v); }
  function num(v) { return typeof v === 'number' && isFinite(v) ? v : 0; }

  function unpack(b64) {
    var bin = atob(b64), u = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
    var s = new Blob([u]).stream().pipeThrough(new DecompressionStream('deflate'));
    return new Response(s).text().then(JSON.parse);
  }

  function detail(e) {
    var o = [];
    for (var k in e) {
      if (k === 't' || k === 'kind' || k === 'topic' || k === 'payload') continue;
      o.push(k + '=' + val(e[k]));
    }
    if ('payload' in e) o.push(val(e.payload));
    return o.join(' ');
  }

  function table(evs) {
    var h = ['<table class="events"><thead><tr><th>t (s)</th><th>kind</th><th>topic</th>' +
             '<th>detail</th></tr></thead><tbody>'];
    var n = Math.min(evs.length, MAXROWS);
    for (var i = 0; i < n; i++) {
      var e = evs[i];
      if (!e || typeof e !== 'object') e = { kind: '?', value: e };
      h.push('<tr><td>' + num(e.t).toFixed(3) + '</td><td>' + esc(line(val(e.kind || ''))) +
             '</td><td>' + esc(line(val(e.topic || ''))) + '</td><td>' + esc(line(detail(e))) +
             '</td></tr>');
    }
    h.push('</tbody></table>');
    if (evs.length > n) h.push('<p>' + (evs.length - n) + ' more events: see the log file</p>');
    return h.join('');
  }

  function isConsole(k) {
    return k === 'uart' || k === 'console' || k.indexOf('uart.') === 0 || k.indexOf('console.') === 0;
  }
  function consoleText(evs) {
    var o = [];
    evs.forEach(function (e) {
      if (!e || typeof e.kind !== 'string' || !isConsole(e.kind)) return;
      var t = num(e.t).toFixed(3);
      o.push('        '.slice(t.length) + t + '  ' + line(e.line || e.text || e.payload || ''));
    });
    return o.join('\n');
  }

  // ---- the download chart ------------------------------------------------
  function rangeStart(r) {
    var m = /bytes=(\d+)-/.exec(r || '');
    return m ? +m[1] : 0;
  }
  // A device report (mqtt.in): its percent and its state, whatever the dialect
  // calls them (qcloud progress.state/percent, aliyun params.step, quecthing
  // step/percent).
  function deviceReport(e) {
    var p;
    try { p = JSON.parse(e.payload); } catch (x) { return null; }
    var pct = null, state = null;
    (function walk(o) {
      if (!o || typeof o !== 'object') return;
      for (var k in o) {
        var v = o[k], isnum = v !== '' && v !== null && typeof v !== 'object' && isFinite(v);
        if ((k === 'percent' || k === 'progress') && isnum && pct === null) pct = +v;
        else if (k === 'step' && isnum) {
          if (+v >= 0 && +v <= 100) { if (pct === null) pct = +v; } else if (state === null) state = 'step ' + v;
        } else if ((k === 'state' || k === 'step' || k === 'status') && typeof v === 'string' && state === null) state = v;
        else if (typeof v === 'object') walk(v);
      }
    })(p);
    return pct === null && state === null ? null : { pct: pct, state: state, t: num(e.t) };
  }

  // One series per HTTP connection: file position (its Range start plus the
  // body bytes it delivered) against time. http.progress counts the body bytes
  // of the whole stream, so each connection starts from the stream's total
  // when it sent its request; a fault's body_offset is exact for its conn.
  function series(evs) {
    var conns = {}, list = [], streams = {};
    function st(s) { return streams[s] || (streams[s] = { total: 0, cur: null }); }
    evs.forEach(function (e) {
      if (!e || typeof e !== 'object') return;
      var t = num(e.t), k = e.kind, s = e.stream || '', c, S = st(s);
      if (k === 'http.request' && e.conn != null) {
        c = conns[s + '#' + e.conn];
        if (!c) {
          c = conns[s + '#' + e.conn] = { conn: e.conn, stream: s, pts: [] };
          list.push(c);
        }
        c.range = rangeStart(e.range);
        c.base = S.total;
        c.pts.push([t, c.range]);
        S.cur = c;
      } else if (k === 'http.progress' && typeof e.bytes === 'number') {
        S.total = Math.max(S.total, e.bytes);
        c = S.cur;
        if (c && !c.closed) c.pts.push([t, c.range + e.bytes - c.base]);
      } else if (k === 'fault' && e.conn != null && typeof e.body_offset === 'number') {
        c = conns[s + '#' + e.conn];
        if (c) {
          c.pts.push([t, c.range + e.body_offset]);
          S.total = Math.max(S.total, c.base + e.body_offset);
        }
      } else if (k === 'net.close' && e.conn != null) {
        c = conns[s + '#' + e.conn];
        if (c && !c.closed) {
          c.pts.push([t, c.pts[c.pts.length - 1][1]]);
          c.closed = true;
        }
      }
    });
    return list;
  }

  function marks(evs) {
    var m = [];
    evs.forEach(function (e) {
      if (!e || typeof e !== 'object') return;
      if (e.kind === 'fault' && e.action !== 'added' && e.action !== 'removed')
        m.push({ t: num(e.t), cls: 'fault', label: (e.fault || 'fault') + ' ' + (e.action || '') });
      else if (e.kind === 'power' && e.state)
        m.push({ t: num(e.t), cls: 'power', label: 'power ' + e.state });
    });
    return m;
  }

  function el(p, name, attrs, text) {
    var x = D.createElementNS(NS, name);
    for (var a in attrs) x.setAttribute(a, attrs[a]);
    if (text != null) x.textContent = text;
    p.appendChild(x);
    return x;
  }
  function bytes(v) {
    return v >= 1048576 ? (v / 1048576).toFixed(1) + ' MiB' : v >= 1024 ? (v / 1024).toFixed(1) + ' KiB' : v + ' B';
  }

  function chart(evs, dur) {
    var ss = series(evs), ms = marks(evs), reps = [];
    evs.forEach(function (e) {
      var r = e && e.kind === 'mqtt.in' && typeof e.payload === 'string' ? deviceReport(e) : null;
      if (r) reps.push(r);
    });
    if (!ss.length && !reps.length) return null;
    var tmax = dur || 0, bmax = 1;
    evs.forEach(function (e) { if (e && num(e.t) > tmax) tmax = num(e.t); });
    ss.forEach(function (c) { c.pts.forEach(function (p) { if (p[1] > bmax) bmax = p[1]; }); });
    var W = 900, H = 320, L = 80, R = 50, T = 60, B = 44, pw = W - L - R, ph = H - T - B;
    function X(t) { return (L + pw * Math.max(0, t) / (tmax || 1)).toFixed(1); }
    function Y(v) { return (T + ph - ph * Math.min(Math.max(v, 0), bmax) / bmax).toFixed(1); }
    function YP(p) { return (T + ph - ph * Math.min(Math.max(p, 0), 100) / 100).toFixed(1); }
    var svg = D.createElementNS(NS, 'svg');
    svg.setAttribute('class', 'chart');
    svg.setAttribute('width', W);
    svg.setAttribute('height', H);
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    el(svg, 'rect', { x: L, y: T, width: pw, height: ph, 'class': 'frame' });
    el(svg, 'text', { x: L - 4, y: T + 10, 'text-anchor': 'end', 'class': 'axis' }, bytes(bmax));
    el(svg, 'text', { x: L - 4, y: T + ph, 'text-anchor': 'end', 'class': 'axis' }, '0');
    el(svg, 'text', { x: L + pw + 4, y: T + 10, 'class': 'axis' }, '100 %');
    el(svg, 'text', { x: L + pw + 4, y: T + ph, 'class': 'axis' }, '0 %');
    for (var i = 0; i <= 5; i++)
      el(svg, 'text', { x: X(tmax * i / 5), y: T + ph + 14, 'text-anchor': 'middle', 'class': 'axis' },
         (tmax * i / 5).toFixed(2) + ' s');
    ms.forEach(function (m) {
      var g = el(svg, 'g', { 'class': 'mark ' + m.cls });
      el(g, 'line', { x1: X(m.t), x2: X(m.t), y1: T, y2: T + ph });
      el(g, 'text', { x: X(m.t), y: T + ph - 4, transform: 'rotate(-90 ' + X(m.t) + ' ' + (T + ph - 4) + ')', dx: 0, dy: -3 }, m.label);
      el(g, 'title', {}, m.label + ' at ' + m.t.toFixed(3) + ' s');
    });
    ss.forEach(function (c, i) {
      var col = COLORS[i % COLORS.length];
      var pl = el(svg, 'polyline', { 'class': 'conn-series', 'data-conn': c.conn, 'data-range': c.range, stroke: col,
        points: c.pts.map(function (p) { return X(p[0]) + ',' + Y(p[1]); }).join(' ') });
      el(pl, 'title', {}, c.stream + ' conn ' + c.conn + ' from byte ' + c.range);
      el(svg, 'text', { x: L + (i % 5) * 160, y: H - 20, fill: col },
         'conn ' + c.conn + (c.range ? ' (Range ' + c.range + '-)' : ''));
    });
    var last = null, row = 0;
    reps.forEach(function (r) {
      if (r.pct !== null) {
        var d = el(svg, 'circle', { 'class': 'progress-mark', cx: X(r.t), cy: YP(r.pct), r: 3 });
        el(d, 'title', {}, 'device reports ' + r.pct + ' % at ' + r.t.toFixed(3) + ' s');
      }
      if (r.state !== null && r.state !== last) {
        last = r.state;
        var g = el(svg, 'g', { 'class': 'state-mark' });
        var y = 14 + (row++ % 3) * 14;
        el(g, 'line', { x1: X(r.t), x2: X(r.t), y1: y + 2, y2: T });
        el(g, 'text', { x: X(r.t), y: y }, r.state);
      }
    });
    el(svg, 'text', { x: L, y: H - 4, 'class': 'axis' },
       'lines: file position per HTTP connection · dots: device progress % · top: device states');
    return svg;
  }

  // ---- a case, when opened -------------------------------------------------
  function render(d) {
    if (d.getAttribute('data-done')) return;
    d.setAttribute('data-done', '1');
    var box = d.querySelector('.ev'), z = box && box.getAttribute('data-z');
    if (!z) return;
    if (typeof DecompressionStream === 'undefined') {
      box.textContent = 'this browser cannot unpack the events (no DecompressionStream): see the log file';
      return;
    }
    box.textContent = 'unpacking...';
    unpack(z).then(function (evs) {
      if (!Array.isArray(evs)) evs = [];
      box.textContent = '';
      var c = chart(evs, parseFloat(d.getAttribute('data-dur')) || 0);
      if (c) box.appendChild(c);
      var t = D.createElement('div');
      t.innerHTML = table(evs);
      box.appendChild(t);
      var con = consoleText(evs);
      if (con) {
        var det = D.createElement('details'), sum = D.createElement('summary'), pre = D.createElement('pre');
        sum.textContent = 'console';
        pre.textContent = con;
        det.open = true;
        det.appendChild(sum);
        det.appendChild(pre);
        box.appendChild(det);
      }
      box.setAttribute('data-rendered', String(evs.length));
    }).catch(function (err) { box.textContent = 'cannot unpack the events: ' + err; });
  }
  D.addEventListener('toggle', function (e) {
    var d = e.target;
    if (d.classList && d.classList.contains('case-ev') && d.open) render(d);
  }, true);

  // #sN opens case N; #q=TEXT searches (a link to a filtered page)
  function openHash() {
    if (location.hash.indexOf('#q=') === 0) {
      q.value = decodeURIComponent(location.hash.slice(3));
      apply();
      return;
    }
    var s = location.hash.length > 1 && D.getElementById(location.hash.slice(1));
    var d = s && s.querySelector && s.querySelector('details.case-ev');
    if (d) { d.open = true; render(d); }
  }
  window.addEventListener('hashchange', openHash);

  // cases that did not pass open themselves when they scroll into view
  if ('IntersectionObserver' in window) {
    var io = new IntersectionObserver(function (es) {
      es.forEach(function (e) {
        if (e.isIntersecting) { io.unobserve(e.target); e.target.open = true; render(e.target); }
      });
    });
    D.querySelectorAll('details.case-ev.auto').forEach(function (d) { io.observe(d); });
  }

  // ---- filters and search --------------------------------------------------
  var q = D.getElementById('q'), boxes = D.querySelectorAll('#filters input.of');
  var items = D.querySelectorAll('[data-case]');
  function apply() {
    var on = {}, text = (q.value || '').toLowerCase(), n = 0;
    boxes.forEach(function (b) { on[b.value] = b.checked; });
    items.forEach(function (x) {
      var ok = on[x.getAttribute('data-outcome')] !== false &&
               (!text || x.getAttribute('data-text').indexOf(text) >= 0);
      x.style.display = ok ? '' : 'none';
      if (ok && x.tagName === 'SECTION') n++;
    });
    D.getElementById('shown').textContent = n + ' shown';
  }
  q.addEventListener('input', apply);
  boxes.forEach(function (b) { b.addEventListener('change', apply); });
  D.getElementById('shown').textContent = D.querySelectorAll('section[data-case]').length + ' shown';
  openHash();
  D.documentElement.setAttribute('data-ready-ms', String(Math.round(performance.now())));
  window.addEventListener('load', function () {
    D.documentElement.setAttribute('data-load-ms', String(Math.round(performance.now())));
  });
})();
