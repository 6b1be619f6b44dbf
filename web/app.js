/* kintsugi dashboard: a client of the /v1/ API of `kintsugi serve` and of
 * nothing else (docs/DASHBOARD.md). The token is kept in sessionStorage and
 * sent as a Bearer header; pages poll every 2 s; what the token's role may
 * not do is not offered as a button. No framework, no inline code (the
 * server's Content-Security-Policy forbids it). */
'use strict';
(function () {
  var POLL_MS = 2000;
  var RECONCILE_MS = 10000;
  var DL_PAGE = 50; /* dead letters per page: a line may be long */
  var RANK = { viewer: 1, responder: 2, admin: 3 };
  var SEV_WORD = { P1: 'P1 critical', P2: 'P2 major', P3: 'P3 minor' };
  var STATUSES = ['investigating', 'contained', 'resolving', 'resolved'];

  var S = {
    token: sessionStorage.getItem('ks_token') || '',
    who: null,                 /* {name, role} */
    sla: null, slaAt: 0,       /* GET /v1/sla and when it arrived (Date.now()) */
    guard: null,
    lastOk: 0,
    timer: 0, ticker: 0, busy: false,
    reconcile: null, reconcileAt: 0,
    dlAfter: 0,
    report: null, reportAt: 0, /* GET /v1/report and ?by=week, read every REPORT_MS */
    promise: null,             /* the recovery promise: read once */
  };

  /* ---- helpers ------------------------------------------------------------------ */

  function $(id) { return document.getElementById(id); }
  function esc(v) {
    return String(v === null || v === undefined ? '' : v).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function can(role) { return !!S.who && RANK[S.who.role] >= RANK[role]; }
  function num(n) { return n === null || n === undefined ? '-' : Number(n).toLocaleString('en-US'); }
  function money(n) { return Number(n || 0).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }); }

  /* The engine's present: on the wall clock the server's clock moved on by the
   * time since it was read; on event time (replays, demos) it stands still. */
  function now() {
    if (!S.sla || !S.sla.clock) { return Date.now(); }
    var c = Date.parse(S.sla.clock);
    return S.sla.clock_mode === 'event' ? c : c + (Date.now() - S.slaAt);
  }
  function dur(ms) {
    ms = Math.abs(ms);
    var s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
        m = Math.floor(s % 3600 / 60), sec = s % 60;
    if (d) { return d + 'd ' + h + 'h'; }
    if (h) { return h + 'h ' + (m < 10 ? '0' : '') + m + 'm'; }
    if (m) { return m + 'm ' + (sec < 10 ? '0' : '') + sec + 's'; }
    return sec + 's';
  }
  function exact(iso) {
    if (!iso) { return ''; }
    var d = new Date(iso);
    return iso + ' (' + d.toLocaleString() + ' local)';
  }
  /* A time relative to the engine's present, with the exact time on hover. Its
   * text is filled by tick() (right after each render, before the browser
   * paints), so that the HTML of a section changes only when its data does:
   * an unchanged section is not rebuilt, and an open menu stays open. */
  function when(iso, wall) {
    if (!iso) { return '<span class="muted">-</span>'; }
    return '<time datetime="' + esc(iso) + '" title="' + esc(exact(iso)) + '" data-rel="' + esc(iso) + '"' +
      (wall ? ' data-wall="1"' : '') + '></time>';
  }
  /* wall: a wall-clock stamp (a dead letter's arrival, a hook's next try), not
   * one of the engine's, which may run on event time. */
  function rel(iso, wall) {
    var d = (wall ? Date.now() : now()) - Date.parse(iso);
    return d >= 0 ? dur(d) + ' ago' : 'in ' + dur(d);
  }
  function sev(s) {
    return '<span class="sev ' + esc(s) + '" title="' + esc(SEV_WORD[s] || s) + '">' + esc(s) + '</span>';
  }
  function scopeText(sc) {
    if (!sc) { return ''; }
    var parts = [];
    if (sc.channels && sc.channels.length) { parts.push(sc.channels.join(', ')); }
    if (sc.locations && sc.locations.length) { parts.push('locations ' + sc.locations.join(', ')); }
    if (sc.systems && sc.systems.length) { parts.push('systems ' + sc.systems.join(', ')); }
    if (sc.purchase_orders && sc.purchase_orders.length) { parts.push('POs ' + sc.purchase_orders.join(', ')); }
    if (sc.skus) { parts.push(num(sc.skus) + ' SKUs'); }
    if (sc.sources && sc.sources.length) { parts.push('from ' + sc.sources.join(', ')); }
    return parts.join(' · ') || 'shop-wide';
  }
  function toast(msg, bad) {
    var t = $('toast');
    t.textContent = msg;
    t.className = 'toast' + (bad ? ' bad' : '');
    clearTimeout(toast.t);
    toast.t = setTimeout(function () { t.textContent = ''; }, bad ? 9000 : 4000);
  }

  /* ---- the API ---------------------------------------------------------------- */

  function api(method, path, body, tokenOverride) {
    var h = { Authorization: 'Bearer ' + (tokenOverride || S.token) };
    var opt = { method: method, headers: h, cache: 'no-store' };
    if (body !== undefined) {
      h['Content-Type'] = 'application/json';
      opt.body = JSON.stringify(body);
    }
    return fetch(path, opt).then(function (r) {
      return r.text().then(function (txt) {
        var j = null;
        try { j = txt ? JSON.parse(txt) : null; } catch (e) { j = null; }
        if (!r.ok) {
          var msg = j && j.error ? j.error.message : ('HTTP ' + r.status);
          var err = new Error(msg);
          err.status = r.status;
          throw err;
        }
        return { data: j, text: txt, headers: r.headers };
      });
    }, function () {
      var err = new Error('the server does not answer');
      err.status = 0;
      throw err;
    });
  }
  function get(path) { return api('GET', path).then(function (r) { return r.data; }); }

  function refused(e) {
    if (e.status === 401) { signOut('Your token was refused: ' + e.message); return true; }
    return false;
  }

  /* ---- sign-in ---------------------------------------------------------------- */

  function showSignin(msg) {
    $('signin').hidden = false;
    $('page').innerHTML = '';
    $('page').__key = null;
    $('nav').hidden = true;
    $('foot').hidden = true;
    $('signout').hidden = true;
    $('whoami').textContent = '';
    $('signin-error').textContent = msg || '';
    $('token').focus();
  }
  function signOut(msg) {
    sessionStorage.removeItem('ks_token');
    S.token = '';
    S.who = null;
    clearTimeout(S.timer);
    showSignin(msg);
  }
  function signedIn(who) {
    S.who = who;
    $('signin').hidden = true;
    $('nav').hidden = false;
    $('foot').hidden = false;
    $('signout').hidden = false;
    $('whoami').innerHTML = '<span class="name">' + esc(who.name) + ' · </span><span class="chip" id="role">' + esc(who.role) + '</span>';
    if (!location.hash || location.hash === '#') {
      location.hash = '#/now'; /* hashchange routes */
      return;
    }
    route();
  }
  $('signin-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var tok = $('token').value.trim();
    $('signin-error').textContent = '';
    api('GET', '/v1/whoami', undefined, tok).then(function (r) {
      S.token = tok;
      sessionStorage.setItem('ks_token', tok);
      $('token').value = '';
      signedIn(r.data);
    }, function (e) {
      $('signin-error').textContent = e.status === 401 ? 'Token refused: ' + e.message
        : 'Cannot sign in: ' + e.message;
    });
  });
  $('signout').addEventListener('click', function () { signOut('Signed out.'); });

  /* ---- theme ------------------------------------------------------------------ */

  function setTheme(t) {
    document.documentElement.setAttribute('data-theme', t);
    $('theme').textContent = t === 'dark' ? 'Light' : 'Dark';
    localStorage.setItem('ks_theme', t);
  }
  setTheme(localStorage.getItem('ks_theme') === 'light' ? 'light' : 'dark');
  $('theme').addEventListener('click', function () {
    setTheme(document.documentElement.getAttribute('data-theme') === 'dark' ? 'light' : 'dark');
  });

  /* ---- rendering without losing what is typed -------------------------------- */

  /* Replaces el's content with html unless it is the same, keeping the values of
   * its fields (by id), the focus and the caret: a half-typed note survives. */
  function patch(el, html) {
    if (el.__html === html) { return; }
    var keep = {}, active = document.activeElement, aid = null, sel = null;
    el.querySelectorAll('input[id], textarea[id], select[id]').forEach(function (f) {
      if (f.type !== 'hidden') { keep[f.id] = f.value; }
    });
    if (active && el.contains(active) && active.id) {
      aid = active.id;
      try { sel = [active.selectionStart, active.selectionEnd]; } catch (e) { sel = null; }
    }
    var y = window.scrollY;
    el.innerHTML = html;
    el.__html = html;
    Object.keys(keep).forEach(function (id) {
      var f = document.getElementById(id);
      if (!f || !el.contains(f) || keep[id] === '') { return; }
      if (f.tagName !== 'SELECT' || [].some.call(f.options, function (o) { return o.value === keep[id]; })) {
        f.value = keep[id];
      }
    });
    if (aid) {
      var f = document.getElementById(aid);
      if (f) {
        f.focus({ preventScroll: true });
        if (sel && sel[0] !== null && typeof f.setSelectionRange === 'function') {
          try { f.setSelectionRange(sel[0], sel[1]); } catch (e) { /* not a text field */ }
        }
      }
    }
    window.scrollTo(0, y);
  }
  /* Sections of a page, each patched on its own. */
  function section(id) {
    var el = document.getElementById(id);
    if (!el) {
      el = document.createElement('div');
      el.id = id;
      $('page').appendChild(el);
    }
    return el;
  }
  function layout(key, ids) {
    var page = $('page');
    if (page.__key === key) { return; }
    page.__key = key;
    page.innerHTML = '';
    ids.forEach(section);
  }

  /* Ticks relative times and SLA countdowns once a second, in place. */
  function tick() {
    document.querySelectorAll('[data-rel]').forEach(function (t) {
      var v = rel(t.getAttribute('data-rel'), t.hasAttribute('data-wall'));
      if (t.textContent !== v) { t.textContent = v; }
    });
    document.querySelectorAll('[data-due]').forEach(function (c) { c.textContent = clockText(c); });
    var live = $('live');
    if (S.who) {
      var age = Date.now() - S.lastOk;
      live.textContent = S.lastOk ? (age < 5000 ? '● live' : '● last update ' + dur(age) + ' ago') : '';
      live.className = 'live' + (S.lastOk && age >= 5000 ? ' stale' : '');
    } else {
      live.textContent = '';
    }
  }
  function clockText(c) {
    var due = Date.parse(c.getAttribute('data-due')), what = c.getAttribute('data-what');
    var left = due - now(), over = c.getAttribute('data-missed') === 'true' || left < 0;
    c.classList.toggle('over', over);
    return over ? what + ' overdue by ' + dur(now() - due) : what + ' due in ' + dur(left);
  }
  function clock(slaOf, inc) {
    if (inc.status === 'resolved') { return '<span class="chip good">resolved</span>'; }
    var parts = [];
    ['ack', 'resolve'].forEach(function (k) {
      var c = slaOf && slaOf[k];
      if (c && c.due) {
        parts.push('<span class="clock" data-due="' + esc(c.due) + '" data-missed="' + c.missed +
          '" data-what="' + (k === 'ack' ? 'Ack' : 'Resolution') + '" title="' + esc(exact(c.due)) + '"></span>');
      }
    });
    return parts.join('<br>');
  }
  function ackState(inc) {
    return inc.acknowledged_at
      ? '<span class="chip good" data-field="ack" title="' + esc(exact(inc.acknowledged_at)) + '">✓ acknowledged</span>'
      : '<span class="chip warn" data-field="ack">! not acknowledged</span>';
  }

  /* ---- polling ---------------------------------------------------------------- */

  function refresh() {
    clearTimeout(S.timer);
    if (!S.who) { return; }
    if (S.busy) { S.timer = setTimeout(refresh, 250); return; }
    S.busy = true;
    var page = current();
    var p = PAGES[page.name] ? PAGES[page.name](page.arg) : Promise.resolve();
    p.then(function () {
      S.lastOk = Date.now();
    }, function (e) {
      if (!refused(e)) { toast('Cannot refresh: ' + e.message, true); }
    }).then(function () {
      S.busy = false;
      tick();
      if (S.who) { S.timer = setTimeout(refresh, document.hidden ? POLL_MS * 5 : POLL_MS); }
    });
  }
  function loadSla() {
    return get('/v1/sla').then(function (s) { S.sla = s; S.slaAt = Date.now(); });
  }
  function slaMap() {
    var m = {};
    ((S.sla && S.sla.incidents) || []).forEach(function (x) { m[x.id] = x; });
    return m;
  }
  function current() {
    var h = location.hash.replace(/^#\/?/, '').split('/');
    return { name: h[0] || 'now', arg: h[1] };
  }
  function route() {
    if (!S.who) { return; }
    var p = current();
    document.querySelectorAll('#nav a').forEach(function (a) {
      if (a.getAttribute('data-page') === (p.name === 'review' ? 'reviews' : p.name)) { a.setAttribute('aria-current', 'page'); }
      else { a.removeAttribute('aria-current'); }
    });
    /* layout() rebuilds the sections only when the page changes */
    S.dlAfter = 0;
    refresh();
  }
  window.addEventListener('hashchange', function () { route(); $('view').focus({ preventScroll: true }); });
  document.addEventListener('visibilitychange', function () { if (!document.hidden) { refresh(); } });

  /* ---- the guard banner ------------------------------------------------------- */

  function bannerHtml(g) {
    var paused = [], held = 0, heldSkus = 0;
    ((g && g.channels) || []).forEach(function (c) {
      if (c.paused) { paused.push(c.channel); }
      held += c.held || 0;
      heldSkus += c.held_skus || 0;
    });
    if (!paused.length && !held && !heldSkus) { return ''; }
    var parts = [];
    if (paused.length) { parts.push('<strong>■ Paused:</strong> ' + esc(paused.join(', '))); }
    if (held) { parts.push('<strong>' + num(held) + '</strong> updates held'); }
    if (heldSkus) { parts.push('<strong>' + num(heldSkus) + '</strong> SKUs held one by one'); }
    return '<div class="banner" role="status" id="guard-banner">' + parts.join(' · ') +
      (current().name === 'guard' ? '' : ' — <a href="#/guard">see the guard</a>') + '</div>';
  }

  /* ---- the notification banner: a receiver whose messages do not go out ------ */

  var BEHIND_MS = 5 * 60000; /* messages waiting longer than this, by the engine clock */
  function notifyBannerHtml(rs) {
    var parts = [];
    (rs || []).forEach(function (r) {
      var bits = [];
      if (r.failed) {
        bits.push('<strong>' + num(r.failed) + ' failed</strong>' +
          (r.last_failure ? ' (last: ' + esc(r.last_failure) + ')' : '') +
          (can('responder') && r.configured ? ' <button type="button" data-act="retry-receiver" data-receiver="' + esc(r.receiver) +
            '">Retry ' + num(r.failed) + ' failed via ' + esc(r.receiver) + '</button>' : ''));
      }
      if (r.queued && (!r.configured || now() - Date.parse(r.oldest_queued_at) > BEHIND_MS)) {
        bits.push(num(r.queued) + ' waiting, the oldest since ' + when(r.oldest_queued_at) +
          (r.configured ? '' : ': the receiver is configured no more') +
          (r.configured && r.retrying ? ' (retrying: ' + esc(r.retrying) +
            (r.next_attempt_at ? '; next attempt ' + when(r.next_attempt_at, true) : '') + ')' +
            (can('responder') ? ' <button type="button" data-act="deliver-receiver" data-receiver="' + esc(r.receiver) +
              '">Try ' + esc(r.receiver) + ' now</button>' : '') : ''));
      }
      if (bits.length) { parts.push('<b>' + esc(r.receiver) + '</b>: ' + bits.join(', ')); }
    });
    if (!parts.length) { return ''; }
    return '<div class="banner bad-banner" role="status" id="notify-banner"><strong>✉ Notifications not going out:</strong> ' +
      parts.join(' · ') + ' <span class="muted">(once the receiver is fixed, retry its failed messages here, or one by one from ' +
      'their incident)</span></div>';
  }

  /* Hook calls of open incidents that gave up: what containment asked of
   * other systems and did not get, to be done by hand (the incident's page
   * has each call and its timeline). A resolved incident's are left out. */
  function hooksBannerHtml(hs, open) {
    var ids = {};
    open.forEach(function (i) { ids[i.id] = true; });
    hs = (hs || []).filter(function (h) { return ids[h.incident]; });
    if (!hs.length) { return ''; }
    var shown = hs.slice(0, 5).map(function (h) {
      return '<b>' + esc(h.action) + '</b> for <a href="#/incident/' + h.incident + '">#' + h.incident + '</a>' +
        (h.detail ? ' (' + esc(h.detail) + ')' : '') +
        (can('responder') ? ' <button type="button" data-act="retry-hook" data-id="' + esc(h.key) + '" aria-label="Retry ' +
          esc(h.action) + ' for #' + h.incident + '">Retry</button>' : '');
    });
    return '<div class="banner bad-banner" role="status" id="hooks-banner"><strong>⚠ Hook calls that gave up:</strong> ' +
      shown.join(' · ') + (hs.length > 5 ? ' · and ' + num(hs.length - 5) + ' more' : '') +
      '. Do it by hand, or retry it once the other system is back.</div>';
  }

  /* The incident's hook calls; one that gave up (failed, or unconfigured) can
   * be made again by a responder once the other system is back or its hook
   * is configured (POST /v1/hooks/{key}/retry). */
  function hooksHtml(hooks) {
    if (!hooks.length) { return ''; }
    var gaveUp = function (h) { return h.status === 'failed' || h.status === 'unconfigured'; };
    return '<h2>Hook calls</h2><div class="scroll"><table id="hooks-table"><thead><tr><th>action</th>' +
      '<th>status</th><th class="num">attempts</th><th>next</th><th>detail</th><th></th></tr></thead><tbody>' +
      hooks.map(function (h) {
        return '<tr data-key="' + esc(h.key) + '"' + (h.status === 'failed' ? ' class="failed"' : '') + '><td>' + esc(h.action) +
          '</td><td><span class="chip' + (h.status === 'failed' ? ' bad' : h.status === 'done' ? ' good' : '') +
          '" data-field="status">' + esc(h.status) + '</span></td><td class="num" data-field="attempts">' + num(h.attempts) + '</td><td>' +
          (h.status === 'pending' ? when(h.next_at, true) : '-') + '</td><td>' + esc(h.detail || '') + '</td><td>' +
          (gaveUp(h) && can('responder') ? '<button type="button" data-act="retry-hook" data-id="' + esc(h.key) + '">Retry ' +
            esc(h.action) + '</button>' : '') + '</td></tr>';
      }).join('') + '</tbody></table></div>';
  }

  /* ---- pages ------------------------------------------------------------------ */

  var PAGES = {};

  PAGES.now = function () {
    layout('now', ['now-banner', 'now-hooks', 'now-notify', 'now-head', 'now-list']);
    return Promise.all([get('/v1/incidents?status=open&view=brief'), loadSla(), get('/v1/guard'), get('/v1/receivers'),
      get('/v1/hooks?status=failed')]).then(function (r) {
      var list = r[0].filter(function (i) { return i.status !== 'resolved'; });
      S.guard = r[2];
      list.sort(function (a, b) {
        return a.severity < b.severity ? -1 : a.severity > b.severity ? 1
          : a.detected_at < b.detected_at ? -1 : a.detected_at > b.detected_at ? 1 : a.id - b.id;
      });
      var counts = { P1: 0, P2: 0, P3: 0 };
      list.forEach(function (i) { counts[i.severity]++; });
      patch(section('now-banner'), bannerHtml(S.guard));
      patch(section('now-hooks'), hooksBannerHtml(r[4], list));
      patch(section('now-notify'), notifyBannerHtml(r[3]));
      patch(section('now-head'), '<h1>Now: ' + list.length + ' open incident' + (list.length === 1 ? '' : 's') +
        '</h1><p class="muted">' + ['P1', 'P2', 'P3'].map(function (s) { return sev(s) + ' ' + counts[s]; }).join(' &nbsp; ') +
        ' &nbsp; · resolved incidents are not shown</p>');
      var sm = slaMap();
      var html = list.length ? '<div class="cards">' + list.map(function (i) {
        var gap = Date.parse(i.detected_at) - Date.parse(i.started_at);
        return '<article class="card ' + esc(i.severity) + '" data-id="' + i.id + '" aria-label="Incident ' + i.id + '">' +
          '<div>' + sev(i.severity) + '<div class="muted">#' + i.id + '</div></div>' +
          '<div><div class="title"><a href="#/incident/' + i.id + '">' + esc(i.title) + '</a></div>' +
          '<div class="meta"><span><b>' + esc(i.type) + '</b></span><span>' + esc(scopeText(i.scope)) + '</span></div>' +
          '<div class="meta"><span>detected ' + when(i.detected_at) + '</span>' +
          '<span title="from the problem\'s start to its detection">gap <b>' + dur(gap) + '</b></span>' +
          '<span>owner <b data-field="owner">' + esc(i.owner || 'nobody') + '</b></span></div></div>' +
          '<div class="side"><span class="chip" data-field="status">' + esc(i.status) + '</span>' + ackState(i) +
          clock(sm[i.id], i) +
          (can('responder') && !i.acknowledged_at
            ? '<button type="button" class="primary" data-act="ack" data-id="' + i.id + '">Acknowledge #' + i.id + '</button>' : '') +
          '</div></article>';
      }).join('') + '</div>' : '<p class="empty">No open incident. ✓</p>';
      patch(section('now-list'), html);
    });
  };

  PAGES.incident = function (arg) {
    var id = parseInt(arg, 10);
    var more = ['inc-actions', 'inc-guard', 'inc-checklist', 'inc-messages', 'inc-remedies', 'inc-signals', 'inc-hooks', 'inc-timeline'];
    layout('incident/' + id, ['inc-head'].concat(more));
    return Promise.all([get('/v1/incidents/' + id), loadSla(), get('/v1/actions'), get('/v1/guard'), get('/v1/hooks?incident=' + id),
      messagesOf(id), get('/v1/remedies?incident=' + id)])
      .catch(function (e) {
        if (e.status !== 404 && e.status !== 400) { throw e; }
        more.forEach(function (x) { patch(section(x), ''); });
        patch(section('inc-head'), '<p><a href="#/now">← Now</a></p><h1>No such incident</h1><p class="error">' + esc(e.message) + '</p>');
        return null;
      })
      .then(function (r) {
        if (!r) { return; }
        var inc = r[0], actions = r[2].filter(function (a) { return a.incident === id; });
        S.inc = inc;
        S.guard = r[3];
        var guard = r[3], hooks = r[4];
        var sm = slaMap();
        var gap = Date.parse(inc.detected_at) - Date.parse(inc.started_at);
        patch(section('inc-head'),
          '<p><a href="#/now">← Now</a></p><div class="head">' + sev(inc.severity) +
          '<h1>#' + inc.id + ' ' + esc(inc.title) + '</h1></div>' +
          '<div class="row"><span class="chip" data-field="status">' + esc(inc.status) + '</span>' + ackState(inc) +
          '<span class="chip">' + esc(inc.type) + '</span>' + clock(sm[inc.id], inc) + '</div>' +
          '<dl class="facts">' +
          fact('Scope', esc(scopeText(inc.scope))) +
          fact('Owner', '<span data-field="owner">' + esc(inc.owner || 'nobody') + '</span>') +
          fact('Started', when(inc.started_at)) + fact('Detected', when(inc.detected_at) + ' (gap ' + dur(gap) + ')') +
          fact('Acknowledged', when(inc.acknowledged_at)) + fact('Contained', when(inc.contained_at)) +
          fact('Resolved', when(inc.resolved_at)) +
          fact('Impact', num(inc.impact.orders) + ' orders · ' + num(inc.impact.customers) + ' customers · ' +
            money(inc.impact.revenue) + ' revenue · ' + num(inc.impact.units) + ' units') +
          '</dl><p class="row"><a class="big-link" id="review-link" href="#/review/' + inc.id + '">Post-incident review →</a>' +
          '<a class="big-link" href="#/promise">Our recovery promise →</a></p>');
        patch(section('inc-actions'), actionsHtml(inc));
        patch(section('inc-guard'), guardHtml(inc, guard));
        patch(section('inc-checklist'), checklistHtml(inc, actions));
        patch(section('inc-messages'), messagesHtml(r[5]));
        patch(section('inc-remedies'), remediesHtml(inc, r[6]));
        patch(section('inc-signals'), '<h2>Signals</h2><div class="scroll"><table><thead><tr><th>detector</th><th>at</th>' +
          '<th class="num">value</th><th class="num">threshold</th><th>what it saw</th></tr></thead><tbody>' +
          (inc.signals || []).map(function (s) {
            return '<tr><td>' + esc(s.detector) + '</td><td>' + when(s.at) + '</td><td class="num">' + esc(num(s.value)) +
              '</td><td class="num">' + esc(num(s.threshold)) + '</td><td>' + esc(s.text) + '</td></tr>';
          }).join('') + '</tbody></table></div>');
        patch(section('inc-hooks'), hooksHtml(hooks));
        var tl = (inc.timeline || []).slice().reverse();
        patch(section('inc-timeline'), '<h2>Timeline <span class="muted">(newest first)</span></h2><ol class="tl" id="timeline">' +
          tl.map(function (t) {
            return '<li><span>' + when(t.at) + '</span><span class="kind">' + esc(t.kind) + '<br><b>' + esc(t.actor) +
              '</b></span><span>' + esc(t.text) + '</span></li>';
          }).join('') + '</ol>');
      });
  };
  function fact(k, v) { return '<div><dt>' + k + '</dt><dd>' + v + '</dd></div>'; }

  /* ---- messages and remedies of an incident ------------------------------------ */

  function statusChip(st, field) {
    var cls = st === 'failed' ? ' bad' : st === 'sent' || st === 'granted' || st === 'done' ? ' good' : st === 'pending' || st === 'queued' ? ' warn' : '';
    return '<span class="chip' + cls + '"' + (field ? ' data-field="' + field + '"' : '') + '>' +
      (st === 'failed' ? '⚠ ' : '') + esc(st) + '</span>';
  }
  /* An incident may have a notice per affected order: the first MSG_PAGE
   * messages and the first MSG_PAGE failed ones, without their bodies, and
   * the count of each status (X-Total-Count). */
  var MSG_PAGE = 100;
  function messagesOf(id) {
    var q = function (st, n) {
      return api('GET', '/v1/messages?incident=' + id + '&view=brief&limit=' + n + (st ? '&status=' + st : ''));
    };
    var total = function (r) { return parseInt(r.headers.get('X-Total-Count') || r.data.length, 10); };
    return Promise.all([q('', MSG_PAGE), q('failed', MSG_PAGE)]).then(function (r) {
      var seen = {}, list = [];
      r[0].data.concat(r[1].data).forEach(function (m) { if (!seen[m.id]) { seen[m.id] = 1; list.push(m); } });
      list.sort(function (a, b) { return a.id - b.id; });
      var all = total(r[0]), counts = { failed: total(r[1]) };
      var done = function () { return { list: list, total: all, counts: counts }; };
      if (all <= r[0].data.length) {
        ['queued', 'sent'].forEach(function (st) { counts[st] = r[0].data.filter(function (m) { return m.status === st; }).length; });
        return done();
      }
      return Promise.all([q('queued', 1), q('sent', 1)]).then(function (c) {
        counts.queued = total(c[0]);
        counts.sent = total(c[1]);
        return done();
      });
    });
  }
  function messagesHtml(ms) {
    var list = ms.list, failed = ms.counts.failed;
    var head = '<h2>Messages <span class="muted">(' + num(ms.total) + ': ' +
      ['queued', 'sent', 'failed'].map(function (s) { return num(ms.counts[s]) + ' ' + s; }).join(', ') + ')</span></h2>' +
      (list.length < ms.total ? '<p class="muted">The first ' + MSG_PAGE + ' and the failed ones are shown (' + list.length + '); ' +
        '<code>kintsugi messages --incident ' + esc(String(list[0] && list[0].incident)) + '</code> lists them all.</p>' : '');
    if (!list.length) { return head + '<p class="muted">No message for this incident (without a <code>notify:</code> section nothing is sent).</p>'; }
    return head + (failed ? '<p class="banner bad-banner" role="status"><strong>⚠ ' + failed + ' failed</strong>: they gave up after their retries' +
      (can('responder') ? '; fix the receiver, then retry them.' : '.') + '</p>' : '') +
      '<div class="scroll"><table id="messages-table"><thead><tr><th>id</th><th>audience</th><th>kind</th><th>recipient</th><th>receiver</th>' +
      '<th>subject</th><th>status</th><th class="num">attempts</th><th>created</th><th>sent</th><th></th></tr></thead><tbody>' +
      list.map(function (m) {
        return '<tr data-id="' + m.id + '"' + (m.status === 'failed' ? ' class="failed"' : '') + '><td>' + m.id + '</td><td data-field="audience">' +
          esc(m.audience) + '</td><td data-field="kind">' + esc(m.kind) + '</td><td data-field="recipient">' + esc(m.recipient) +
          (m.order ? '<br><span class="muted">order ' + esc(m.order) + '</span>' : '') + '</td><td data-field="receiver">' + esc(m.receiver) +
          '</td><td data-field="subject">' + esc(m.subject) + '</td><td>' + statusChip(m.status, 'status') +
          (m.detail && m.status !== 'sent' ? '<br><span class="muted small">' + esc(m.detail) + '</span>' : '') +
          '</td><td class="num" data-field="attempts">' + num(m.attempts) + '</td><td>' + when(m.created_at) + '</td><td>' + when(m.sent_at, true) +
          '</td><td>' + (m.status === 'failed' && can('responder')
            ? '<button type="button" data-act="retry-message" data-id="' + m.id + '">Retry #' + m.id + '</button>' : '') + '</td></tr>';
      }).join('') + '</tbody></table></div>';
  }

  var REMEDIES = ['refund', 'store_credit', 'replacement', 'expedited_shipping', 'discount_code', 'cancel_with_refund'];
  function remediesHtml(inc, list) {
    var rows = list.map(function (r) {
      /* a remedy never given (superseded, declined) has no review to do */
      var given = r.status !== 'superseded' && r.status !== 'declined';
      var rv = given ? r.review : null;
      return '<tr data-id="' + r.id + '"><td>' + r.id + '</td><td data-field="order">' + esc(r.order) + '</td><td data-field="kind">' +
        esc(r.kind.replace(/_/g, ' ')) + '</td><td class="num" data-field="amount">' +
        (r.amount === null ? '<span class="muted">whole order</span>' : money(r.amount) + ' ' + esc(r.currency)) + '</td><td>' +
        statusChip(r.status, 'status') + '</td><td data-field="accountable">' +
        (r.accountable ? '<b>' + esc(r.accountable) + '</b>'
          : r.declined ? '<span class="muted">' + (r.declined.by === r.requested_by ? 'withdrawn' : 'declined') + ' by ' + esc(r.declined.by) +
            ': “' + esc(r.declined.why) + '”</span>'
          : r.status === 'superseded' ? '<span class="muted">nobody: the order was cancelled with a full refund</span>'
          : '<span class="muted">nobody yet: waiting for approval</span>') +
        '</td><td>' + esc(r.requested_by) + ' ' + when(r.requested_at) + (r.note ? '<br><span class="muted">“' + esc(r.note) + '”</span>' : '') +
        '</td><td>' + (r.complex ? '<span class="chip warn">complex</span> ' + esc(r.complex) + (rv ? '<br>review ' + esc(rv.status) +
          (rv.status === 'done' ? ' by ' + esc(rv.by) : ', due ' + when(rv.due)) + (rv.missed ? ' <span class="chip bad">⚠ missed</span>' : '') : '')
          : '<span class="muted">-</span>') + '</td><td>' +
        (can('responder') && r.status === 'pending' ? '<button type="button" data-act="remedy-approve" data-id="' + r.id + '">Approve #' + r.id + '</button>' +
          '<form class="row" data-form="remedy-decline" data-id="' + r.id + '"><input name="why" autocomplete="off" placeholder="why decline (required)" aria-label="Why decline remedy ' + r.id + '">' +
          '<button type="submit" class="ghost" data-act="remedy-decline">Decline #' + r.id + '</button></form>' : '') +
        (can('responder') && rv && rv.status !== 'done' ? '<button type="button" class="ghost" data-act="remedy-review" data-id="' + r.id + '">Review #' + r.id + '</button>' : '') +
        '</td></tr>';
    }).join('');
    var form = '';
    if (can('responder')) {
      form = '<form class="panel row" data-form="remedy" data-id="' + inc.id + '" id="remedy-form">' +
        '<label for="rem-order">Order</label><input id="rem-order" name="order" autocomplete="off" placeholder="order id" required>' +
        '<label for="rem-kind">Remedy</label><select id="rem-kind" name="kind">' +
        REMEDIES.map(function (k) { return '<option value="' + k + '">' + k.replace(/_/g, ' ') + '</option>'; }).join('') + '</select>' +
        '<label for="rem-amount">Amount</label><input id="rem-amount" name="amount" type="number" min="0.01" step="0.01" inputmode="decimal" placeholder="whole order">' +
        '<input id="rem-note" name="note" class="grow" autocomplete="off" placeholder="note (optional)" aria-label="Note">' +
        '<button type="submit" data-act="remedy-offer" class="primary">Grant as ' + esc(S.who.name) + '</button>' +
        '<p class="muted small">Within your limit it is granted at once and you are accountable; above it, it waits for someone whose limit covers it. ' +
        'The server checks the policy (<code>roles.*.remedies</code>).</p></form>';
    }
    return '<h2>Remedies <span class="muted">(the service-recovery policy)</span></h2>' +
      (rows ? '<div class="scroll"><table id="remedies-table"><thead><tr><th>id</th><th>order</th><th>remedy</th><th class="num">amount</th>' +
        '<th>status</th><th>accountable</th><th>asked by</th><th>complex case</th><th></th></tr></thead><tbody>' + rows + '</tbody></table></div>'
        : '<p class="muted">No remedy offered or granted for this incident yet.</p>') + form +
      '<p><a href="#/promise">What we promise customers when we make a mistake →</a></p>';
  }

  /* ---- the post-incident review ---------------------------------------------------- */

  function secs(s) { return s === null || s === undefined ? '<span class="muted">-</span>' : dur(s * 1000); }
  function list(items, cls) {
    return items && items.length ? '<ol class="' + (cls || 'plain') + '">' + items.map(function (x) { return '<li>' + esc(x) + '</li>'; }).join('') + '</ol>'
      : '<p class="muted">Nobody wrote this yet.</p>';
  }
  function itemsHtml(items, withIncident) {
    if (!items.length) { return '<p class="muted">No action item.</p>'; }
    return '<div class="scroll"><table class="items"><thead><tr><th>id</th>' + (withIncident ? '<th>incident</th>' : '') +
      '<th>action</th><th>owner</th><th>due</th><th>kind</th><th>status</th><th></th></tr></thead><tbody>' +
      items.map(function (it) {
        var open = it.status === 'open';
        return '<tr data-id="' + it.id + '"' + (it.overdue ? ' class="overdue"' : '') + '><td>' + it.id + '</td>' +
          (withIncident ? '<td><a href="#/review/' + it.incident + '">#' + it.incident + '</a></td>' : '') +
          '<td>' + esc(it.text) + (it.note ? '<br><span class="muted">“' + esc(it.note) + '”</span>' : '') + '</td><td data-field="owner">' +
          (it.owner ? '<b>' + esc(it.owner) + '</b>' : '<span class="chip bad">⚠ no owner</span>') + '</td><td data-field="due" data-due-at="' + esc(it.due || '') + '">' +
          (it.due ? esc(it.due.slice(0, 10)) : '<span class="chip bad">⚠ no due date</span>') +
          (it.overdue ? ' <span class="chip bad" data-field="overdue">⚠ overdue</span>' : '') + '</td><td>' + esc(it.kind) + '</td><td>' +
          statusChip(it.status, 'status') + (it.closed_by ? '<br><span class="muted">' + esc(it.closed_by) + ' ' + when(it.closed_at) + '</span>' : '') +
          '</td><td>' + (open && can('responder') ? '<button type="button" data-act="item-done" data-id="' + it.id + '">Done</button>' +
            '<button type="button" class="ghost" data-act="item-drop" data-id="' + it.id + '">Drop</button>' : '') + '</td></tr>';
      }).join('') + '</tbody></table></div>';
  }
  function flagsHtml(flags) {
    return flags.length ? '<ul class="flags" id="review-flags">' + flags.map(function (f) {
      return '<li data-flag="' + esc(f.flag) + '"><b>⚠ ' + esc(f.flag) + '</b> — ' + esc(f.reason) + '</li>';
    }).join('') + '</ul>' : '<p class="good-text" id="review-flags">✓ No flag: the review is not shallow.</p>';
  }

  PAGES.review = function (arg) {
    var id = parseInt(arg, 10);
    layout('review/' + id, ['rv-head', 'rv-flags', 'rv-facts', 'rv-cause', 'rv-items', 'rv-did']);
    return Promise.all([get('/v1/reviews/' + id), loadSla()]).then(function (r) {
      var v = r[0], t = v.timeline, rc = v.root_cause, rv = v.review;
      patch(section('rv-head'), '<p><a href="#/reviews">← Reviews</a> · <a href="#/incident/' + v.incident + '">incident #' + v.incident + '</a></p>' +
        '<div class="head">' + sev(v.severity) + '<h1>Review of #' + v.incident + ' ' + esc(v.title) + '</h1></div>' +
        '<div class="row"><span class="chip">' + esc(v.status) + '</span><span class="chip">' + esc(v.type) + '</span>' +
        (rv.written ? '<span class="chip good">written by ' + esc(rv.by) + '</span> <span class="muted">updated ' + when(rv.updated_at) + '</span>'
          : '<span class="chip warn">a draft: nobody wrote it yet</span>') +
        (rv.due && (rv.overdue || !rv.written) ? ' <span class="' + (rv.overdue ? 'chip bad">⚠ review overdue, was due ' : 'muted">due ') + when(rv.due) + '</span>' : '') + '</div>' +
        (v.correction_did_not_persist ? '<p class="banner bad-banner"><strong>⚠ The correction did not persist:</strong> this repeats incident #' +
          v.repeat_of + ' after every action item of its review was closed.</p>' : '') +
        (v.repeat_of ? '<p>A repeat of <a href="#/review/' + v.repeat_of + '">#' + v.repeat_of + '</a>.</p>' : '') +
        (v.repeats && v.repeats.length ? '<p>Repeated by ' + v.repeats.map(function (x) { return '<a href="#/review/' + x + '">#' + x + '</a>'; }).join(', ') + '.</p>' : '') +
        (can('responder') ? '<p class="muted">Write it with <code>kintsugi review edit ' + v.incident + ' --by ' + esc(S.who.name) + '</code> (or POST it to <code>/v1/reviews/' + v.incident + '</code>).</p>' : ''));
      patch(section('rv-flags'), '<h2>Flags <span class="muted">(' + v.flags.length + ')</span></h2>' + flagsHtml(v.flags));
      patch(section('rv-facts'), '<h2>Timeline</h2><dl class="facts" id="review-timeline">' +
        fact('Started', when(t.started_at)) + fact('Detected', when(t.detected_at)) + fact('Acknowledged', when(t.acknowledged_at)) +
        fact('Contained', when(t.contained_at)) + fact('Resolved', when(t.resolved_at)) +
        fact('Detection gap', secs(t.detection_gap)) + fact('Time to contain', secs(t.time_to_contain)) + fact('Time to resolve', secs(t.time_to_resolve)) +
        fact('Impact', num(v.impact.orders) + ' orders · ' + num(v.impact.customers) + ' customers · ' + money(v.impact.revenue) + ' revenue · ' +
          num(v.impact.units) + ' units') + '</dl>');
      patch(section('rv-cause'), '<h2>Root cause</h2>' + (rc ? '<p id="root-cause"><span class="chip">' + esc(rc.category) + '</span> ' + esc(rc.text) +
          (rc.known_risk ? ' <span class="chip warn">a known risk</span>' : '') + '</p>' : '<p class="muted" id="root-cause">No root cause yet.</p>') +
        '<h2>Five whys <span class="muted">(' + (v.whys || []).length + ')</span></h2>' + list(v.whys, 'whys') +
        '<div class="two"><div><h2>What went well</h2>' + list(v.went_well) + '</div><div><h2>What could improve</h2>' + list(v.improve) + '</div></div>');
      patch(section('rv-items'), '<h2>Action items</h2><div id="review-items">' + itemsHtml(v.action_items || [], false) + '</div>');
      var did = function (xs) {
        return xs && xs.length ? '<ul class="plain">' + xs.map(function (x) { return '<li>' + when(x.at) + ' <b>' + esc(x.actor) + '</b> ' + esc(x.text) + '</li>'; }).join('') + '</ul>'
          : '<p class="muted">Nothing.</p>';
      };
      patch(section('rv-did'), '<div class="two"><div><h2>What kintsugi did</h2>' + did(v.automated) + '</div><div><h2>What people did</h2>' + did(v.people) + '</div></div>');
    }, function (e) {
      if (e.status !== 404 && e.status !== 400) { throw e; }
      ['rv-flags', 'rv-facts', 'rv-cause', 'rv-items', 'rv-did'].forEach(function (x) { patch(section(x), ''); });
      patch(section('rv-head'), '<p><a href="#/reviews">← Reviews</a></p><h1>No such review</h1><p class="error">' + esc(e.message) + '</p>');
    });
  };

  PAGES.reviews = function () {
    layout('reviews', ['rvs-head', 'rvs-list', 'rvs-items']);
    return Promise.all([get('/v1/incidents?view=brief'), get('/v1/reviews'), get('/v1/review-items?open=true'), loadSla()]).then(function (r) {
      var flags = {}, items = r[2], open = {}, late = {};
      r[1].forEach(function (x) { flags[x.incident] = x.flags; });
      items.forEach(function (it) { open[it.incident] = (open[it.incident] || 0) + 1; if (it.overdue) { late[it.incident] = (late[it.incident] || 0) + 1; } });
      var incs = r[0].filter(function (i) { return i.status === 'resolved' || flags[i.id] || open[i.id]; })
        .sort(function (a, b) { return b.id - a.id; });
      var overdue = items.filter(function (it) { return it.overdue; }).length;
      patch(section('rvs-head'), '<h1>Reviews</h1><p>' + incs.length + ' incident' + (incs.length === 1 ? '' : 's') + ' to review · <b>' + items.length +
        '</b> open action items' + (overdue ? ' · <span class="chip bad">⚠ ' + overdue + ' overdue</span>' : '') + '</p>');
      patch(section('rvs-list'), incs.length ? '<div class="scroll"><table id="reviews-table"><thead><tr><th>incident</th><th>severity</th><th>title</th><th>status</th>' +
        '<th>flags</th><th class="num">open items</th></tr></thead><tbody>' + incs.map(function (i) {
          var f = flags[i.id] || [];
          return '<tr data-id="' + i.id + '"><td class="nowrap"><a href="#/review/' + i.id + '">Review #' + i.id + '</a></td><td>' + sev(i.severity) + '</td><td>' + esc(i.title) +
            '</td><td>' + esc(i.status) + '</td><td>' + (f.length ? f.map(function (x) { return '<span class="chip warn">⚠ ' + esc(x.flag) + '</span>'; }).join(' ')
              : '<span class="muted">none</span>') + '</td><td class="num">' + (open[i.id] || 0) + (late[i.id] ? ' <span class="chip bad">⚠ ' + late[i.id] + ' overdue</span>' : '') + '</td></tr>';
        }).join('') + '</tbody></table></div>' : '<p class="empty">No incident to review yet.</p>');
      patch(section('rvs-items'), '<h2>Open action items</h2><div id="open-items">' + itemsHtml(items, true) + '</div>');
    });
  };

  /* ---- recovery metrics ------------------------------------------------------------- */

  /* name, plain words, how the value must compare with the target (as the
   * report judges it: src/review/review.c) */
  var METRICS = [
    ['initial_response', 'Time to initial response', '<'], ['customer_communication', 'Time to customer communication', '<'],
    ['root_cause', 'Time to root cause', '<'], ['process_fix', 'Time to process fix', '<'],
    ['detection_gap', 'Detection gap', ''], ['contain', 'Time to contain', ''], ['resolve', 'Time to resolve', ''],
    ['sla_attainment', 'SLA attainment', '≥'], ['repeat_rate', 'Repeat incidents (30 days)', '<'],
    ['action_item_completion', 'Action items completed', '≥'], ['satisfaction', 'Satisfied with the resolution', '>'],
    ['retention', 'Affected customers who came back', '>'], ['cost_multiplier', 'Cost multiplier (total ÷ direct)', '<']];
  var CHARTS = [['contain', 'Time to contain'], ['detection_gap', 'Detection gap'], ['repeat_rate', 'Repeat rate'], ['cost_multiplier', 'Cost multiplier']];
  var REPORT_MS = 30000; /* the report reads every incident: every 30 s is enough */

  function metricText(v, unit) {
    if (v === null || v === undefined) { return 'no data'; }
    if (unit === 'seconds') { return dur(v * 1000); }
    if (unit === 'ratio') { return (Math.round(v * 1000) / 10).toFixed(1) + ' %'; }
    if (unit === 'times') { return (Math.round(v * 100) / 100).toFixed(2) + ' ×'; }
    return String(v);
  }
  function targetText(m, how) {
    if (m.target === null || m.target === undefined) { return '<span class="muted">no target</span>'; }
    return (how ? how + ' ' : '') + metricText(m.target, m.unit);
  }
  function metReport(m) {
    return m.met === true ? '<span class="chip good" data-field="met">✓ met</span>'
      : m.met === false ? '<span class="chip bad" data-field="met">✗ not met</span>'
        : m.target === null ? '<span class="muted" data-field="met">no target</span>' : '<span class="chip" data-field="met">no data</span>';
  }

  /* ISO weeks: "2026-W47" to the Monday it starts, and back. */
  function weekMonday(key) {
    var y = parseInt(key.slice(0, 4), 10), w = parseInt(key.slice(6), 10);
    var jan4 = Date.UTC(y, 0, 4), dow = (new Date(jan4).getUTCDay() + 6) % 7;
    return jan4 - dow * 864e5 + (w - 1) * 7 * 864e5;
  }
  function weekKey(ms) {
    var d = new Date(ms), day = (d.getUTCDay() + 6) % 7;
    var thu = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - day * 864e5 + 3 * 864e5;
    var y = new Date(thu).getUTCFullYear(), w = 1 + Math.floor((thu - Date.UTC(y, 0, 1)) / (7 * 864e5));
    return y + '-W' + (w < 10 ? '0' : '') + w;
  }
  /* Every week from the first group's to the last one's: a week without
   * incidents is in the axis, as a gap. */
  function weeksOf(groups) {
    var keys = groups.map(function (g) { return g.key; }).filter(function (k) { return /^\d{4}-W\d\d$/.test(k); }).sort();
    if (!keys.length) { return []; }
    var out = [], at = weekMonday(keys[0]), end = weekMonday(keys[keys.length - 1]);
    for (; at <= end && out.length < 260; at += 7 * 864e5) { out.push(weekKey(at)); }
    return out;
  }
  function chartHtml(name, title, weeks, byKey) {
    var W = 420, H = 230, L = 74, R = 10, T = 20, B = 34;
    var pts = weeks.map(function (k, i) {
      var g = byKey[k], m = g && g.metrics[name];
      return { k: k, i: i, v: m && m.value !== null && m.value !== undefined ? m.value : null, m: m };
    });
    var unit = (pts.filter(function (p) { return p.m; })[0] || { m: { unit: '' } }).m.unit;
    var target = (pts.filter(function (p) { return p.m && p.m.target !== null; })[0] || { m: { target: null } }).m.target;
    var max = Math.max.apply(null, pts.map(function (p) { return p.v || 0; }).concat([target || 0]));
    if (!(max > 0)) { max = unit === 'ratio' ? 0.1 : 1; }
    max *= 1.15;
    var x = function (i) { return L + (weeks.length === 1 ? (W - L - R) / 2 : i * (W - L - R) / (weeks.length - 1)); };
    var y = function (v) { return T + (H - T - B) * (1 - v / max); };
    var path = '', pen = false, dots = '', labels = '';
    pts.forEach(function (p) {
      if (p.v === null) {
        pen = false;
        dots += '<g class="gap" data-week="' + p.k + '"><line x1="' + x(p.i) + '" y1="' + T + '" x2="' + x(p.i) + '" y2="' + (H - B) + '"></line>' +
          '<text x="' + x(p.i) + '" y="' + (T - 6) + '" text-anchor="middle">no data</text></g>';
      } else {
        path += (pen ? 'L' : 'M') + x(p.i).toFixed(1) + ' ' + y(p.v).toFixed(1);
        pen = true;
        dots += '<circle cx="' + x(p.i).toFixed(1) + '" cy="' + y(p.v).toFixed(1) + '" r="5" data-week="' + p.k + '" data-value="' + p.v + '"><title>' +
          p.k + ': ' + esc(metricText(p.v, unit)) + ' (' + p.m.count + ' incidents)</title></circle>';
      }
      if (weeks.length <= 8 || p.i % Math.ceil(weeks.length / 8) === 0) {
        labels += '<text class="axis" x="' + x(p.i) + '" y="' + (H - 10) + '" text-anchor="' +
          (p.i === 0 && weeks.length > 1 ? 'start' : p.i === weeks.length - 1 && weeks.length > 1 ? 'end' : 'middle') + '">' + p.k.slice(5) + '</text>';
      }
    });
    var tl = target !== null ? '<line class="target" x1="' + L + '" x2="' + (W - R) + '" y1="' + y(target).toFixed(1) + '" y2="' + y(target).toFixed(1) + '"></line>' +
      '<text class="axis" x="' + (W - R) + '" y="' + (y(target) - 4).toFixed(1) + '" text-anchor="end">target ' + esc(metricText(target, unit)) + '</text>' : '';
    var axis = '<line class="frame" x1="' + L + '" y1="' + (H - B) + '" x2="' + (W - R) + '" y2="' + (H - B) + '"></line>' +
      '<text class="axis" x="' + (L - 6) + '" y="' + (T + 4) + '" text-anchor="end">' + esc(metricText(max, unit)) + '</text>' +
      '<text class="axis" x="' + (L - 6) + '" y="' + (H - B) + '" text-anchor="end">0</text>';
    return '<figure class="chart" data-metric="' + name + '"><figcaption>' + esc(title) + ' <span class="muted">per week</span></figcaption>' +
      '<svg viewBox="0 0 ' + W + ' ' + H + '" role="img" aria-label="' + esc(title) + ' per week" data-weeks="' + weeks.length + '">' +
      axis + tl + '<path d="' + path + '"></path>' + dots + labels + '</svg></figure>';
  }

  PAGES.recovery = function () {
    layout('recovery', ['rec-head', 'rec-metrics', 'rec-charts']);
    var fresh = S.report && Date.now() - S.reportAt < REPORT_MS;
    /* the engine's clock too: "judged ... ago" is measured from it (event
     * time in a replay or demo), also when this page is the first opened */
    return Promise.all([fresh ? Promise.resolve(S.report) : Promise.all([get('/v1/report'), get('/v1/report?by=week')]).then(function (r) {
      S.report = r;
      S.reportAt = Date.now();
      return r;
    }), S.sla ? Promise.resolve() : loadSla()]).then(function (both) {
      var r = both[0];
      var rep = r[0], weeks = weeksOf(r[1].groups), byKey = {};
      r[1].groups.forEach(function (g) { byKey[g.key] = g; });
      var met = 0, judged = 0;
      METRICS.forEach(function (d) { var m = rep.metrics[d[0]]; if (m && m.met !== null) { judged++; if (m.met) { met++; } } });
      patch(section('rec-head'), '<h1>Recovery: ' + met + ' of ' + judged + ' targets met</h1><p class="muted">' + num(rep.incidents) +
        ' incidents, judged at ' + when(rep.now) + '. Durations are medians; each metric says how many incidents it covers and which lack the data ' +
        '(docs/REVIEWS.md defines which timestamps each subtracts).</p>');
      patch(section('rec-metrics'), '<div class="scroll"><table id="metrics-table"><thead><tr><th>metric</th><th class="num">value</th><th>target</th>' +
        '<th>met</th><th class="num">incidents</th><th>missing data</th></tr></thead><tbody>' + METRICS.map(function (d) {
          var m = rep.metrics[d[0]];
          if (!m) { return ''; }
          return '<tr data-metric="' + d[0] + '" class="' + (m.met === false ? 'notmet' : '') + '"><td>' + esc(d[1]) + '</td><td class="num big" data-field="value" data-value="' +
            (m.value === null ? '' : m.value) + '">' + esc(metricText(m.value, m.unit)) + '</td><td data-field="target" data-value="' +
            (m.target === null ? '' : m.target) + '">' + targetText(m, d[2]) + '</td><td>' + metReport(m) + '</td><td class="num" data-field="count">' +
            num(m.count) + '</td><td data-field="missing">' + (m.missing.length ? m.missing.map(function (i) { return '<a href="#/incident/' + i + '">#' + i + '</a>'; }).join(' ')
              : '<span class="muted">none</span>') + '</td></tr>';
        }).join('') + '</tbody></table></div>');
      patch(section('rec-charts'), '<h2>Per week <span class="muted">(' + weeks.length + ' week' + (weeks.length === 1 ? '' : 's') +
        '; a week without data is a gap, not a zero)</span></h2>' + (weeks.length ? '<div class="charts">' + CHARTS.map(function (c) {
          return chartHtml(c[0], c[1], weeks, byKey);
        }).join('') + '</div>' : '<p class="empty">No incident yet.</p>'));
    });
  };

  /* ---- the recovery promise ---------------------------------------------------------- */

  PAGES.promise = function () {
    layout('promise', ['promise-text']);
    return (S.promise !== null ? Promise.resolve(S.promise) : api('GET', '/v1/promise?format=text').then(function (r) {
      S.promise = r.text;
      return r.text;
    })).then(function (text) {
      patch(section('promise-text'), '<h1>Our recovery promise</h1><p class="muted">Written from the service-recovery policy of the configuration ' +
        '(<code>kintsugi promise</code>).</p><pre class="promise" id="promise">' + esc(text) + '</pre>');
    });
  };

  function actionsHtml(inc) {
    if (!can('responder') || inc.status === 'resolved') { return ''; }
    var next = STATUSES.slice(STATUSES.indexOf(inc.status) + 1);
    return '<h2>Respond</h2><div class="actions">' +
      '<div class="panel"><div class="row">' +
      (inc.acknowledged_at ? '<span class="muted">Acknowledged ' + when(inc.acknowledged_at) + '</span>'
        : '<button type="button" class="primary" data-act="ack" data-id="' + inc.id + '">Acknowledge</button>') +
      '</div>' +
      (next.length ? '<form class="row" data-form="status" data-id="' + inc.id + '">' +
        '<label for="status-' + inc.id + '">Status</label><select id="status-' + inc.id + '" name="status">' +
        next.map(function (s) { return '<option>' + s + '</option>'; }).join('') + '</select>' +
        '<button type="submit" data-act="status">Set status</button></form>' : '') +
      '</div>' +
      '<form class="panel row" data-form="assign" data-id="' + inc.id + '"><label for="owner-' + inc.id + '">Owner</label>' +
      '<input id="owner-' + inc.id + '" name="owner" class="grow" placeholder="' + esc(inc.owner || 'name') + '" autocomplete="off">' +
      '<button type="submit" data-act="assign">Assign</button></form>' +
      '<form class="panel" data-form="note" data-id="' + inc.id + '"><label for="note-' + inc.id + '">Note</label>' +
      '<textarea id="note-' + inc.id + '" name="text" placeholder="What you saw, what you did"></textarea>' +
      '<div class="row"><button type="submit" data-act="note">Add note</button></div></form>' +
      '</div>';
  }

  function checklistHtml(inc, actions) {
    var byStep = {};
    actions.forEach(function (a) { byStep[a.step] = a; });
    var phase = '';
    return '<h2>Playbook checklist</h2><ol class="steps" id="checklist">' + (inc.checklist || []).map(function (s) {
      // left_to_person: an automated step kintsugi could not do (its hook is
      // not configured or gave up), waiting for a person to do it and tick it
      var left = s.status === 'left_to_person';
      var mark = s.status === 'done' ? '✓' : s.status === 'skipped' ? '↷' : s.status === 'pending' ? '○' : left ? '✋' : '◐';
      var ph = s.phase !== phase ? '<div class="phase">' + esc(s.phase) + '</div>' : '';
      phase = s.phase;
      var act = byStep[s.step], doing = '';
      if (s.status !== 'done' && s.status !== 'skipped' && inc.status !== 'resolved') {
        if (left) {
          doing = '<div class="row do"><span class="chip warn" data-field="step-left">waiting for a person: kintsugi could not do it ' +
            '(see the timeline); do it by hand, then tick it</span></div>';
        }
        if ((s.kind === 'manual' || left) && can('responder')) {
          var nid = 'stepnote-' + inc.id + '-' + s.step;
          doing += '<form class="row do" data-form="step" data-id="' + inc.id + '" data-step="' + esc(s.step) + '">' +
            '<label class="muted" for="' + esc(nid) + '">note</label><input id="' + esc(nid) + '" name="note" autocomplete="off" placeholder="optional for done, why for skip">' +
            '<button type="submit" data-act="step-done" value="done">Done</button>' +
            '<button type="submit" data-act="step-skip" value="skip" class="ghost">Skip</button></form>';
        } else if (s.kind === 'approval' && act && act.status === 'proposed') {
          doing = '<div class="row do"><span class="chip warn">awaiting approval: ' + esc(act.what || act.action) + '</span>' +
            (can('admin') ? '<button type="button" class="primary" data-act="approve" data-id="' + inc.id + '" data-action="' +
              esc(act.action) + '">Approve ' + esc(act.action) + '</button>' : '') + '</div>' +
            /* declining is skipping the step with why; the server checks the person's role */
            (can('admin') ? '<form class="row do" data-form="step" data-id="' + inc.id + '" data-step="' + esc(s.step) + '">' +
              '<input name="note" autocomplete="off" placeholder="why decline (required)" aria-label="Why decline ' + esc(act.action) + '">' +
              '<button type="submit" data-act="decline" value="skip" class="ghost">Decline ' + esc(act.action) + '</button></form>' : '');
        }
      }
      return '<li class="step ' + esc(s.status) + '" data-step="' + esc(s.step) + '">' + ph +
        '<span class="mark" aria-hidden="true">' + mark + '</span><b>' + esc(s.text) + '</b> ' +
        '<span class="chip" data-field="step-status">' + esc(s.status) + '</span> <span class="muted">' + esc(s.kind) +
        (s.by ? ' · ' + esc(s.by) + ' ' + when(s.at) : left ? ' · since ' + when(s.at) : '') + (s.note ? ' · “' + esc(s.note) + '”' : '') + '</span>' +
        doing + '</li>';
    }).join('') + '</ol>';
  }

  function guardHtml(inc, guard) {
    var chans = ((guard && guard.channels) || []).filter(function (c) {
      return c.incident === inc.id || (inc.scope.channels || []).indexOf(c.channel) >= 0 && (c.held_skus || c.paused);
    });
    if (!chans.length && inc.type !== 'data_corruption') { return ''; }
    var rows = chans.map(function (c) {
      return '<tr><td>' + esc(c.channel) + '</td><td>' + (c.paused ? '<span class="chip bad">■ paused</span>' : '<span class="chip good">▶ flowing</span>') +
        '</td><td class="num">' + num(c.held) + '</td><td class="num">' + num(c.held_skus) + '</td><td>' + esc(c.why || '') + '</td>' +
        '<td>' + (can('admin') && c.paused ? '<button type="button" data-act="release" data-channel="' + esc(c.channel) + '">Release ' + esc(c.channel) + '</button>' : '') +
        '</td></tr>';
    }).join('');
    var btns = '';
    if (inc.type === 'data_corruption' && inc.status !== 'resolved') {
      btns = can('admin')
        ? '<div class="row"><button type="button" class="danger" data-act="rollback" data-id="' + inc.id + '">Roll back…</button>' +
          '<button type="button" data-act="accept" data-id="' + inc.id + '">Accept the values…</button></div>'
        : (can('responder') ? '<p class="muted">Roll back, accept and release need an admin token.</p>' : '');
    }
    return '<h2>Held updates</h2>' + (rows ? '<div class="scroll"><table id="inc-guard-table"><thead><tr><th>channel</th><th>state</th><th class="num">updates held</th>' +
      '<th class="num">SKUs held</th><th>why</th><th></th></tr></thead><tbody>' + rows + '</tbody></table></div>' : '<p class="muted">Nothing held for this incident.</p>') + btns;
  }

  PAGES.guard = function () {
    layout('guard', ['guard-head', 'guard-channels', 'guard-reconcile']);
    var wantRec = !S.reconcile || Date.now() - S.reconcileAt > RECONCILE_MS;
    return Promise.all([get('/v1/guard'), loadSla()]).then(function (r) {
      var g = r[0];
      S.guard = g;
      return Promise.all((g.channels || []).map(function (c) {
        return c.feed_cursor > 0 ? get('/v1/feed/' + encodeURIComponent(c.channel) + '?since=' + (c.feed_cursor - 1) + '&limit=1')
          .then(function (f) { return f.changes && f.changes[0]; }, function () { return null; }) : Promise.resolve(null);
      })).then(function (last) {
        var anyPaused = (g.channels || []).some(function (c) { return c.paused; });
        patch(section('guard-head'), '<h1>Guard</h1>' + bannerHtml(g) +
          (can('admin') && anyPaused ? '<div class="row"><button type="button" data-act="release" data-channel="">Release every channel…</button></div>' : ''));
        patch(section('guard-channels'), '<div class="scroll"><table id="guard-table"><thead><tr><th>channel</th><th>state</th><th class="num">updates held</th>' +
          '<th class="num">SKUs held one by one</th><th>since</th><th>why</th><th>last let through</th><th></th></tr></thead><tbody>' +
          (g.channels || []).map(function (c, i) {
            var l = last[i];
            return '<tr data-channel="' + esc(c.channel) + '"><td><b>' + esc(c.channel) + '</b></td><td>' +
              (c.paused ? '<span class="chip bad" data-field="paused">■ paused</span>' : '<span class="chip good" data-field="paused">▶ flowing</span>') +
              '</td><td class="num" data-field="held">' + num(c.held) + '</td><td class="num">' + num(c.held_skus) + '</td><td>' + when(c.since) + '</td><td>' +
              (c.incident ? '<a href="#/incident/' + c.incident + '">' + esc(c.why || ('incident ' + c.incident)) + '</a>' : esc(c.why || '')) + '</td><td>' +
              (l ? esc(l.sku) + ' → ' + num(l.qty) + ' <span class="muted">(' + esc(l.why) + ', ' + when(l.at) + ')</span>' : '<span class="muted">none yet</span>') +
              '</td><td>' + (can('admin') ? (c.paused
                ? '<button type="button" data-act="release" data-channel="' + esc(c.channel) + '">Release…</button>'
                : '<button type="button" data-act="pause" data-channel="' + esc(c.channel) + '">Pause…</button>') : '') + '</td></tr>';
          }).join('') + '</tbody></table></div>');
        if (!wantRec) { return; }
        return get('/v1/reconcile?limit=50').then(function (rec) {
          S.reconcile = rec;
          S.reconcileAt = Date.now();
          patch(section('guard-reconcile'), '<h2>Reconciliation <span class="muted">(guarded quantity against stock; refreshed every ' +
            RECONCILE_MS / 1000 + ' s)</span></h2><p>' + num(rec.compared) + ' compared · <b>' + num(rec.differences) + '</b> differ · ' +
            '<span class="chip' + (rec.oversell_risks ? ' bad' : '') + '">' + num(rec.oversell_risks) + ' oversell risks</span> · ' +
            num(rec.without_stock) + ' without stock' + (rec.differences > rec.items.length ? ' · the first ' + rec.items.length + ' shown' : '') + '</p>' +
            '<div class="scroll"><table><thead><tr><th>channel</th><th>SKU</th><th class="num">guarded</th><th class="num">stock</th><th class="num">diff</th><th>risk</th></tr></thead><tbody>' +
            rec.items.map(function (it) {
              return '<tr><td>' + esc(it.channel) + '</td><td class="mono">' + esc(it.sku) + '</td><td class="num">' + num(it.guarded) +
                '</td><td class="num">' + num(it.stock) + '</td><td class="num">' + (it.diff > 0 ? '+' : '') + num(it.diff) + '</td><td>' +
                (it.oversell_risk ? '<span class="chip bad">▲ oversell risk</span>' : '<span class="muted">under</span>') + '</td></tr>';
            }).join('') + '</tbody></table></div>');
        });
      });
    });
  };

  PAGES.deadletters = function () {
    layout('deadletters', ['dl-head', 'dl-list']);
    return Promise.all([api('GET', '/v1/deadletters?limit=' + DL_PAGE + (S.dlAfter ? '&after=' + S.dlAfter : '')), loadSla()]).then(function (r) {
      var list = r[0].data, total = parseInt(r[0].headers.get('X-Total-Count') || list.length, 10);
      patch(section('dl-head'), '<h1>Dead letters: ' + num(total) + ' pending</h1><p class="muted">Lines rejected by validation, ' +
        'with where they came from and why. Fix the source (or <code>kintsugi deadletters fix</code>), then replay them.</p>' +
        (can('responder') && total ? '<div class="row"><button type="button" data-act="replay" data-id="">Replay all pending…</button></div>' : '') +
        (list.length ? '<p class="muted">' + list.length + ' shown, ids ' + list[0].id + '–' + list[list.length - 1].id + '. ' +
          (S.dlAfter ? '<button type="button" class="ghost" data-nav="dl-first">First page</button> ' : '') +
          (list.length === DL_PAGE ? '<button type="button" class="ghost" data-nav="dl-next" data-after="' + list[list.length - 1].id + '">Next ' + DL_PAGE + '</button>' : '') + '</p>' : ''));
      patch(section('dl-list'), list.length ? '<div class="scroll"><table id="dl-table"><thead><tr><th>id</th><th>source : line</th><th>reason</th>' +
        '<th>line as received</th><th>received</th><th></th></tr></thead><tbody>' + list.map(function (d) {
          return '<tr data-id="' + d.id + '"><td>' + d.id + '</td><td class="mono">' + esc(d.source) + ':' + d.line + '</td><td>' + esc(d.reason) +
            '</td><td class="raw mono">' + esc(d.raw.length > 240 ? d.raw.slice(0, 240) + '…' : d.raw) + '</td><td>' + when(d.received_at, true) + '</td><td>' +
            (can('responder') ? '<button type="button" data-act="replay" data-id="' + d.id + '">Replay</button>' : '') + '</td></tr>';
        }).join('') + '</tbody></table></div>' : '<p class="empty">No dead letter pending. ✓</p>');
    });
  };

  /* ---- actions ---------------------------------------------------------------- */

  function confirmThen(title, text, okLabel) {
    return new Promise(function (resolve) {
      var d = $('confirm');
      $('confirm-title').textContent = title;
      $('confirm-text').textContent = text;
      $('confirm-ok').textContent = okLabel || 'Confirm';
      d.returnValue = '';
      d.onclose = function () { resolve(d.returnValue === 'ok'); };
      d.showModal();
      $('confirm-cancel').focus();
    });
  }
  function act(btn, method, path, body, done) {
    btn.disabled = true;
    return api(method, path, body).then(function (r) {
      toast(done(r.data || {}));
      S.reconcileAt = 0; /* an action may change it: read it again now */
      refresh();
    }, function (e) {
      if (!refused(e)) { toast(e.message, true); }
    }).then(function () { btn.disabled = false; });
  }
  /* The channels an incident is about (its scope), else those it holds. */
  function channelsOf(id) {
    if (S.inc && S.inc.id === id && S.inc.scope.channels && S.inc.scope.channels.length) {
      return S.inc.scope.channels;
    }
    return ((S.guard && S.guard.channels) || []).filter(function (c) { return c.incident === id; })
      .map(function (c) { return c.channel; });
  }

  document.addEventListener('click', function (ev) {
    var nav = ev.target.closest('[data-nav]');
    if (nav) {
      S.dlAfter = nav.getAttribute('data-nav') === 'dl-next' ? parseInt(nav.getAttribute('data-after'), 10) : 0;
      refresh();
      return;
    }
    var b = ev.target.closest('button[data-act]');
    if (!b || b.type === 'submit') { return; }
    var id = parseInt(b.getAttribute('data-id'), 10), what = b.getAttribute('data-act');
    var ch = b.getAttribute('data-channel');
    if (what === 'ack') {
      act(b, 'POST', '/v1/incidents/' + id + '/ack', {}, function () { return 'Incident ' + id + ' acknowledged'; });
    } else if (what === 'approve') {
      var a = b.getAttribute('data-action');
      act(b, 'POST', '/v1/actions/' + id + '/approve', { action: a }, function () { return a + ' approved'; });
    } else if (what === 'rollback') {
      /* a dry run first: the confirmation says exactly what will happen */
      b.disabled = true;
      api('POST', '/v1/guard/rollback', { incident: id, dry_run: true }).then(function (r) {
        b.disabled = false;
        var chans = channelsOf(id);
        var text = (r.data.report || '').replace(/^incident \d+: \(dry run\) /, '');
        return confirmThen('Roll back incident ' + id + '?',
          'On ' + (chans.length ? chans.join(', ') : 'its channels') + ': ' + text +
          '. The corrupt update\'s held values are thrown away; this cannot be undone.', 'Roll back').then(function (ok) {
          if (ok) {
            act(b, 'POST', '/v1/guard/rollback', { incident: id, dry_run: false }, function (d) {
              return 'Rolled back: ' + (d.report || '').replace(/^incident \d+: /, '');
            });
          }
        });
      }, function (e) { b.disabled = false; if (!refused(e)) { toast(e.message, true); } });
    } else if (what === 'accept') {
      confirmThen('Accept the values of incident ' + id + '?',
        'The flagged values are declared correct: they become the last known good quantities and are let through ' +
        (channelsOf(id).length ? 'to ' + channelsOf(id).join(', ') + ' ' : '') + '(in order, when each channel is released).', 'Accept')
        .then(function (ok) {
          if (ok) { act(b, 'POST', '/v1/guard/accept', { incident: id }, function () { return 'Values of incident ' + id + ' accepted'; }); }
        });
    } else if (what === 'release' || what === 'pause') {
      var c = ((S.guard && S.guard.channels) || []).filter(function (x) { return !ch || x.channel === ch; });
      var held = c.reduce(function (n, x) { return n + (x.held || 0); }, 0);
      var names = ch || 'every channel';
      var text = what === 'release'
        ? num(held) + ' held updates go out to ' + names + ', in the order they arrived, and sync resumes.'
        : 'Outbound sync to ' + names + ' stops; its updates are held (never dropped) until released.';
      confirmThen((what === 'release' ? 'Release ' : 'Pause ') + names + '?', text, what === 'release' ? 'Release' : 'Pause')
        .then(function (ok) {
          if (ok) {
            act(b, 'POST', '/v1/guard/' + what, ch ? { channel: ch } : {}, function () {
              return (what === 'release' ? 'Released ' : 'Paused ') + names;
            });
          }
        });
    } else if (what === 'retry-receiver') {
      var rcv = b.getAttribute('data-receiver');
      confirmThen('Retry the failed messages via ' + rcv + '?', 'Every failed message of ' + rcv +
        ' is queued again, its attempts starting over; each incident gets a note. Fix the receiver first.', 'Retry')
        .then(function (ok) {
          if (ok) {
            act(b, 'POST', '/v1/messages/retry', { receiver: rcv }, function (d) {
              return num(d.count || 0) + ' failed messages via ' + rcv + ' queued again';
            });
          }
        });
    } else if (what === 'deliver-receiver') {
      /* the receiver is fixed: what waits for its retry goes now, not at the retry */
      var rname = b.getAttribute('data-receiver');
      act(b, 'POST', '/v1/receivers/' + encodeURIComponent(rname) + '/deliver', {}, function (d) {
        return num(d.count || 0) + ' waiting messages via ' + rname + ' tried now';
      });
    } else if (what === 'retry-hook') {
      var key = b.getAttribute('data-id');
      act(b, 'POST', '/v1/hooks/' + encodeURIComponent(key) + '/retry', {}, function () { return 'Hook call ' + key + ' made again'; });
    } else if (what === 'retry-message') {
      act(b, 'POST', '/v1/messages/' + id + '/retry', {}, function () { return 'Message ' + id + ' queued again'; });
    } else if (what === 'remedy-approve') {
      act(b, 'POST', '/v1/remedies/' + id + '/approve', {}, function (d) {
        return 'Remedy ' + id + ' approved; accountable: ' + ((d.remedy && d.remedy.accountable) || S.who.name);
      });
    } else if (what === 'remedy-review') {
      act(b, 'POST', '/v1/remedies/' + id + '/review', {}, function () { return 'Specialist review of remedy ' + id + ' done'; });
    } else if (what === 'item-done' || what === 'item-drop') {
      var verb = what === 'item-done' ? 'done' : 'drop';
      act(b, 'POST', '/v1/review-items/' + id + '/' + verb, {}, function () {
        S.reportAt = 0;
        return 'Action item ' + id + (verb === 'done' ? ' done' : ' dropped');
      });
    } else if (what === 'replay') {
      var one = !isNaN(id);
      var go = function () {
        act(b, 'POST', '/v1/deadletters/replay', one ? { id: id } : {}, function (d) {
          var still = (d.still_rejected || []).length;
          return 'Replayed ' + num(d.replayed) + (still ? '; ' + still + ' still rejected: ' + d.still_rejected[0].reason : '');
        });
      };
      if (one) { go(); } else {
        confirmThen('Replay every pending dead letter?', 'Each line goes through validation and the detectors again, in order; ' +
          'those still invalid stay pending with their new reason.', 'Replay').then(function (ok) { if (ok) { go(); } });
      }
    }
  });

  document.addEventListener('submit', function (ev) {
    var f = ev.target.closest('form[data-form]');
    if (!f) { return; }
    ev.preventDefault();
    var kind = f.getAttribute('data-form'), id = parseInt(f.getAttribute('data-id'), 10);
    var btn = ev.submitter || f.querySelector('button[type=submit]');
    var clear = function (name) { var x = f.querySelector('[name=' + name + ']'); if (x) { x.value = ''; } };
    if (kind === 'status') {
      var st = f.querySelector('[name=status]').value;
      act(btn, 'POST', '/v1/incidents/' + id + '/status', { status: st }, function () { return 'Incident ' + id + ' is ' + st; });
    } else if (kind === 'assign') {
      var o = f.querySelector('[name=owner]').value.trim();
      if (!o) { toast('Type the owner\'s name first', true); return; }
      act(btn, 'POST', '/v1/incidents/' + id + '/assign', { owner: o }, function () { clear('owner'); return 'Assigned to ' + o; });
    } else if (kind === 'note') {
      var t = f.querySelector('[name=text]').value.trim();
      if (!t) { toast('Write the note first', true); return; }
      act(btn, 'POST', '/v1/incidents/' + id + '/note', { text: t }, function () { clear('text'); return 'Note added'; });
    } else if (kind === 'remedy') {
      var rb = { order: f.querySelector('[name=order]').value.trim(), kind: f.querySelector('[name=kind]').value };
      var amt = f.querySelector('[name=amount]').value.trim(), rn = f.querySelector('[name=note]').value.trim();
      if (!rb.order) { toast('Type the order id first', true); return; }
      if (amt !== '') { rb.amount = Number(amt); }
      if (rn) { rb.note = rn; }
      act(btn, 'POST', '/v1/incidents/' + id + '/remedies', rb, function (d) {
        var r = d.remedy || {};
        clear('order'); clear('amount'); clear('note');
        return 'Remedy ' + r.id + ' ' + (r.status === 'granted' ? 'granted; accountable: ' + r.accountable
          : 'waits for approval by someone whose limit covers it');
      });
    } else if (kind === 'remedy-decline') {
      var why = f.querySelector('[name=why]').value.trim();
      if (!why) { toast('Say why it is declined (the customer team tells the customer)', true); return; }
      act(btn, 'POST', '/v1/remedies/' + id + '/decline', { note: why }, function (d) {
        var r = d.remedy || {};
        return 'Remedy ' + id + ' ' + (r.requested_by === S.who.name ? 'withdrawn' : 'declined') + ': not given';
      });
    } else if (kind === 'step') {
      var step = f.getAttribute('data-step'), how = btn && btn.value === 'skip' ? 'skip' : 'done';
      var note = f.querySelector('[name=note]').value.trim();
      var declining = btn && btn.getAttribute('data-act') === 'decline';
      if (how === 'skip' && !note) { toast(declining ? 'Say why it is declined (a note)' : 'Say why the step is skipped (a note)', true); return; }
      var body = { status: how };
      if (note) { body.note = note; }
      act(btn, 'POST', '/v1/incidents/' + id + '/steps/' + encodeURIComponent(step), body, function () {
        clear('note');
        return declining ? step + ' declined: not done' : 'Step ' + step + ' ' + (how === 'done' ? 'done' : 'skipped');
      });
    }
  });

  /* ---- start ------------------------------------------------------------------ */

  S.ticker = setInterval(tick, 1000);
  if (S.token) {
    api('GET', '/v1/whoami').then(function (r) { signedIn(r.data); }, function (e) {
      if (e.status === 401) { signOut('Your token was refused: ' + e.message); } else { showSignin('Cannot reach the server: ' + e.message); }
    });
  } else {
    showSignin('');
  }
})();
