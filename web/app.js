// The yilian dashboard. Reads only the broker's public HTTP API
// (docs/http-api.md): polls the case list and the statistics every 2 s,
// looks up an enterprise (USCC) or a case (event id), and sends the operator
// actions (retry, replay, resolve) to the POST endpoints.
//
// Every case row carries data-event-id and data-state (the CaseState name);
// every agency cell carries data-agency, data-state (the AgencyState name)
// and data-outcome (waiting | done | rejected | overdue). Tests rely on these.
//
// Personal data: the API returns no ID numbers; free text (reasons,
// references, messages) is still scrubbed here with the broker's rule before
// it is shown, so nothing that looks like an ID or phone number is displayed.
'use strict';

(function () {
  const POLL_MS = 2000;
  const PAGE_SIZE = 50;

  const CASE_STATES = {
    IN_PROGRESS: ['办理中', 'in progress'],
    COMPLETED: ['已办结', 'completed'],
    ATTENTION: ['需处理', 'attention'],
  };
  // [Chinese, English, outcome class]
  const AGENCY_STATES = {
    PENDING: ['待推送', 'pending', 'waiting'],
    DELIVERED: ['已送达', 'delivered', 'waiting'],
    ACCEPTED_BY_AGENCY: ['已受理', 'accepted', 'waiting'],
    PROCESSED: ['已办结', 'done', 'done'],
    REJECTED: ['已退回', 'rejected', 'rejected'],
    DEAD: ['投递失败', 'dead', 'rejected'],
  };
  const EVENT_TYPES = {
    ESTABLISHED: ['设立登记', 'established'],
    CHANGED: ['变更登记', 'changed'],
    FILED: ['备案', 'filed'],
    DEREGISTERED: ['注销登记', 'deregistered'],
  };
  const AGENCY_NAMES = {
    tax: ['税务', 'tax'],
    social_insurance: ['社保', 'social insurance'],
    housing_fund: ['公积金', 'housing fund'],
    medical_insurance: ['医保', 'medical insurance'],
  };
  const BANK_NAMES = {
    ICBC: '工商银行', CCB: '建设银行', ABC: '农业银行', BOC: '中国银行',
    BOCOM: '交通银行', PSBC: '邮储银行', CMB: '招商银行', CIB: '兴业银行',
  };
  const USCC_RE = /^[0-9A-HJ-NPQRTUWXY]{18}$/;
  const TOKEN_KEY = 'yilian.token';

  const view = {
    cursor: '',        // current page of the live list ('' = newest)
    older: [],         // cursors of the pages before, for "newer"
    nextCursor: '',
    selected: '',      // event id shown in the detail panel
    search: null,      // {query, kind: 'enterprise' | 'case'}
    agencies: new Set(),
    timer: 0,
    generation: 0,
  };

  // ---- small helpers ------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  const bi = (pair) => pair[0] + ' (' + pair[1] + ')';
  // Chinese over English, for narrow table cells.
  const stacked = (pair) => [el('span', { class: 'zh' }, pair[0]), el('span', { class: 'en-line' }, '(' + pair[1] + ')')];

  // Masks what looks like a resident ID number (18 characters, or 15 digits)
  // or a mobile number, as the broker's ScrubPersonalData does.
  function scrub(text) {
    const keep = (t, head, tail) => t.slice(0, head) + '*'.repeat(t.length - head - tail) + t.slice(t.length - tail);
    return String(text === undefined || text === null ? '' : text).replace(/\d{17}[Xx]|\d+/g, (t) => {
      if (t.length === 18 || t.length === 15) return keep(t, 4, 4);
      if (t.length === 11 && t[0] === '1') return keep(t, 3, 4);
      if (t.length === 13 && t.startsWith('861')) return keep(t, 3, 4);
      return t;
    });
  }

  function fmtTime(s) {
    if (!s) return '—';
    const d = new Date(s);
    if (isNaN(d.getTime())) return String(s);
    const p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' +
      p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }

  function fmtMs(v) {
    const ms = Number(v) || 0;
    if (ms <= 0) return '—';
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    if (ms < 3600000) return (ms / 60000).toFixed(1) + ' min';
    return (ms / 3600000).toFixed(1) + ' h';
  }

  function agencyNames(id) {
    if (AGENCY_NAMES[id]) return AGENCY_NAMES[id];
    if (id.startsWith('bank:')) {
      const code = id.slice(5);
      return [BANK_NAMES[code] || '银行 ' + code, 'bank ' + code];
    }
    return [id, id];
  }

  const agencyLabel = (id) => bi(agencyNames(id));

  function agencyRank(id) {
    const fixed = ['tax', 'social_insurance', 'housing_fund'].indexOf(id);
    if (fixed >= 0) return fixed;
    return id.startsWith('bank:') ? 4 : 3;
  }

  function sortAgencies(ids) {
    return [...ids].sort((a, b) => agencyRank(a) - agencyRank(b) || (a < b ? -1 : a > b ? 1 : 0));
  }

  function outcomeOf(o) {
    const base = (AGENCY_STATES[o.state] || [o.state, o.state, 'waiting'])[2];
    return base === 'waiting' && o.overdue ? 'overdue' : base;
  }

  // ---- API ----------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
    describe() {
      const where = this.status ? 'HTTP ' + this.status + ' ' : '';
      return where + this.code + ': ' + scrub(this.message);
    }
  }

  async function api(method, path, body) {
    const init = { method, cache: 'no-store', headers: { Accept: 'application/json' } };
    const token = $('token').value.trim();
    if (token) init.headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'UNREACHABLE', '无法连接 broker (cannot reach the broker)');
    }
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if (!res.ok) {
      throw new ApiError(res.status, (data && data.code) || 'HTTP_ERROR', (data && data.message) || text || res.statusText);
    }
    return data;
  }

  const seg = encodeURIComponent;

  function casesPath() {
    const q = new URLSearchParams();
    q.set('limit', String(PAGE_SIZE));
    if ($('filter-status').value) q.set('status', $('filter-status').value);
    if ($('filter-agency').value) q.set('agency', $('filter-agency').value);
    if ($('filter-overdue').checked) q.set('overdue', 'true');
    if (view.cursor) q.set('cursor', view.cursor);
    return '/api/v1/cases?' + q.toString();
  }

  // ---- rendering ----------------------------------------------------------

  function noteAgencies(ids) {
    let added = false;
    for (const id of ids) {
      if (id && !view.agencies.has(id)) {
        view.agencies.add(id);
        added = true;
      }
    }
    if (!added) return;
    const select = $('filter-agency');
    const chosen = select.value;
    select.replaceChildren(el('option', { value: '' }, '全部 (all)'));
    const list = $('agency-list');
    list.replaceChildren();
    for (const id of sortAgencies(view.agencies)) {
      select.append(el('option', { value: id }, agencyLabel(id)));
      list.append(el('option', { value: id }, agencyLabel(id)));
    }
    select.value = chosen;
  }

  function caseHead(agencies) {
    return el('tr', {},
      el('th', {}, stacked(['事件 / 类型', 'event / type'])),
      el('th', {}, stacked(['企业', 'enterprise'])),
      el('th', {}, stacked(['发布时间', 'published'])),
      el('th', {}, stacked(['案件状态', 'case'])),
      agencies.map((id) => el('th', { class: 'agency-col', 'data-agency': id }, stacked(agencyNames(id)))));
  }

  function caseStateBadge(c, narrow) {
    const names = CASE_STATES[c.state] || [c.state, c.state];
    return [
      el('span', { class: 'badge state-' + c.state }, narrow ? stacked(names) : bi(names)),
      c.resolution ? el('span', { class: 'tag resolved', title: scrub(c.resolution) }, '人工办结 (resolved)') : null,
      c.overdue ? el('span', { class: 'tag overdue' }, '超期 (overdue)') : null,
    ];
  }

  function agencyCell(o) {
    if (!o) return el('td', { class: 'agency na', title: '无需办理 (not required)' }, '—');
    const outcome = outcomeOf(o);
    const names = AGENCY_STATES[o.state] || [o.state, o.state];
    const tip = [agencyLabel(o.agency), bi(names), '次数 (attempts) ' + o.attempts];
    if (o.reference) tip.push('回执 (reference) ' + scrub(o.reference));
    if (o.reason) tip.push('原因 (reason) ' + scrub(o.reason));
    if (o.deadline_at) tip.push('期限 (deadline) ' + fmtTime(o.deadline_at));
    return el('td', {
      class: 'agency ' + outcome,
      'data-agency': o.agency,
      'data-state': o.state,
      'data-outcome': outcome,
      title: tip.join('\n'),
    },
    stacked(names),
    outcome === 'overdue' ? el('span', { class: 'cell-note' }, '超期 (overdue)') : null,
    outcome === 'rejected' && o.reason ? el('span', { class: 'cell-note' }, scrub(o.reason)) : null,
    o.replay && outcome !== 'done' && outcome !== 'rejected' ? el('span', { class: 'cell-note' }, '重推中 (replay)') : null);
  }

  function caseRow(c, agencies) {
    const by = new Map((c.agencies || []).map((o) => [o.agency, o]));
    const tr = el('tr', {
      class: 'case' + (c.event_id === view.selected ? ' selected' : ''),
      'data-event-id': c.event_id,
      'data-state': c.state,
      'data-overdue': String(Boolean(c.overdue)),
    },
    el('td', { class: 'event-id' },
      el('button', { type: 'button', class: 'link' }, c.event_id),
      el('span', { class: 'sub', title: EVENT_TYPES[c.type] ? bi(EVENT_TYPES[c.type]) : c.type },
        (EVENT_TYPES[c.type] ? EVENT_TYPES[c.type][0] : c.type) + ' · rev ' + c.revision)),
    el('td', { class: 'enterprise' },
      el('span', { class: 'name', title: c.enterprise_name || '' }, c.enterprise_name || '—'),
      el('span', { class: 'uscc' }, c.uscc)),
    el('td', { class: 'time', title: fmtTime(c.published_at) },
      c.published_at ? fmtTime(c.published_at).slice(5, 16) : '—'),
    el('td', { class: 'case-state' }, caseStateBadge(c, true)),
    agencies.map((id) => agencyCell(by.get(id))));
    tr.addEventListener('click', () => selectCase(c.event_id));
    return tr;
  }

  function renderCaseTable(head, body, cases) {
    const ids = new Set(view.agencies);
    for (const c of cases) for (const o of c.agencies || []) ids.add(o.agency);
    const agencies = sortAgencies(ids);
    head.replaceChildren(caseHead(agencies));
    body.replaceChildren(...cases.map((c) => caseRow(c, agencies)));
  }

  function renderCases(list) {
    const cases = list.cases || [];
    for (const c of cases) noteAgencies((c.agencies || []).map((o) => o.agency));
    renderCaseTable($('cases-head'), $('cases-body'), cases);
    $('cases-empty').hidden = cases.length > 0;
    view.nextCursor = list.next_cursor || '';
    $('page-older').disabled = !view.nextCursor;
    $('page-newer').disabled = view.older.length === 0;
  }

  function renderStats(st) {
    noteAgencies((st.agencies || []).map((a) => a.agency));
    $('stat-cases').textContent = Number(st.cases);
    $('stat-in-progress').textContent = Number(st.in_progress);
    $('stat-completed').textContent = Number(st.completed);
    $('stat-attention').textContent = Number(st.attention);
    $('stat-overdue').textContent = Number(st.overdue);
    $('stat-rate').textContent = (Number(st.completion_rate) * 100).toFixed(1) + '%';
    $('stat-case-time').textContent = fmtMs(st.case_median_ms) + ' / ' + fmtMs(st.case_p90_ms);
    const rows = sortAgencies((st.agencies || []).map((a) => a.agency)).map((id) => {
      const a = st.agencies.find((x) => x.agency === id);
      return el('tr', { 'data-agency': id },
        el('th', { scope: 'row' }, stacked(agencyNames(id))),
        el('td', { class: 'num' + (Number(a.processed) ? ' done-text' : '') }, Number(a.processed)),
        el('td', { class: 'num' + (Number(a.rejected) + Number(a.dead) ? ' rejected-text' : '') },
          Number(a.rejected) + ' / ' + Number(a.dead)),
        el('td', { class: 'num' }, Number(a.pending)),
        el('td', { class: 'num' + (Number(a.overdue) ? ' overdue-text' : '') }, Number(a.overdue)),
        el('td', { class: 'num' }, fmtMs(a.median_ms)),
        el('td', { class: 'num' }, fmtMs(a.p90_ms)));
    });
    $('agency-stats-body').replaceChildren(...rows);
    if (!rows.length) {
      $('agency-stats-body').append(el('tr', {}, el('td', { colspan: 7, class: 'empty' }, '暂无数据 (no data)')));
    }
  }

  function renderDetail(c) {
    const section = $('detail');
    section.hidden = false;
    section.dataset.eventId = c.event_id;
    section.dataset.state = c.state;
    const facts = [
      ['事件 (event)', c.event_id],
      ['企业 (enterprise)', c.enterprise_name || '—'],
      ['统一社会信用代码 (USCC)', c.uscc],
      ['类型 (type)', EVENT_TYPES[c.type] ? bi(EVENT_TYPES[c.type]) : c.type],
      ['修订 / 序号 (revision / sequence)', c.revision + ' / ' + c.sequence],
      ['发布 (published)', fmtTime(c.published_at)],
      ['期限 (deadline)', fmtTime(c.deadline_at)],
      ['办结 (completed)', fmtTime(c.completed_at)],
    ];
    if (c.resolution) facts.push(['人工办结 (resolution)', scrub(c.resolution)]);
    const dl = el('dl', { class: 'facts' },
      el('dt', {}, '状态 (state)'), el('dd', {}, caseStateBadge(c)),
      facts.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    const rows = sortAgencies((c.agencies || []).map((o) => o.agency)).map((id) => {
      const o = c.agencies.find((x) => x.agency === id);
      const outcome = outcomeOf(o);
      const canRetry = o.state === 'REJECTED' || o.state === 'DEAD';
      return el('tr', { 'data-agency': o.agency, 'data-state': o.state, 'data-outcome': outcome },
        el('th', { scope: 'row' }, agencyLabel(o.agency)),
        el('td', { class: 'agency ' + outcome }, bi(AGENCY_STATES[o.state] || [o.state, o.state]),
          o.overdue ? el('span', { class: 'cell-note' }, '超期 (overdue)') : null),
        el('td', { class: 'num' }, o.attempts),
        el('td', {}, scrub(o.reference) || '—'),
        el('td', { class: 'reason' }, scrub(o.reason) || '—'),
        el('td', { class: 'time' }, fmtTime(o.settled_at || o.last_delivered_at)),
        el('td', { class: 'time' }, fmtTime(o.deadline_at)),
        el('td', {}, canRetry
          ? el('button', { type: 'button', class: 'retry', 'data-agency': o.agency }, '重试 (retry)')
          : null));
    });
    const table = el('table', { class: 'detail-agencies' },
      el('thead', {}, el('tr', {},
        ['机构 (agency)', '状态 (state)', '次数 (attempts)', '回执 (reference)', '原因 (reason)',
          '最近 (last)', '期限 (deadline)', ''].map((h) => el('th', {}, h)))),
      el('tbody', {}, rows));
    table.addEventListener('click', (ev) => {
      const button = ev.target.closest('button.retry');
      if (button) retry(c.event_id, button.dataset.agency);
    });
    $('detail-body').replaceChildren(dl, table);
    $('resolve-button').disabled = c.state === 'COMPLETED';
  }

  function renderSearchCases(title, meta, cases) {
    $('search-results').hidden = false;
    $('search-title').textContent = title;
    $('search-meta').replaceChildren(...meta);
    for (const c of cases) noteAgencies((c.agencies || []).map((o) => o.agency));
    renderCaseTable($('search-head'), $('search-body'), cases);
  }

  function renderTimeline(t) {
    const refs = (t.references || []).map((r) =>
      el('li', {}, agencyLabel(r.agency) + ': ' + scrub(r.reference) + ' · ' + fmtTime(r.updated_at)));
    renderSearchCases('企业 (enterprise) ' + (t.name || t.uscc), [
      el('p', {}, '统一社会信用代码 (USCC) ', el('code', {}, t.uscc), ' · 最新修订 (last revision) ' + t.last_revision +
        ' · 共 ' + (t.events || []).length + ' 件 (events)'),
      refs.length ? el('div', {}, '机构回执 (agency references)', el('ul', { class: 'refs' }, refs)) : null,
    ], t.events || []);
  }

  function renderSearchError(query, err) {
    $('search-results').hidden = false;
    const notFound = err.status === 404;
    $('search-title').textContent = notFound ? '未找到 (not found)' : '查询失败 (search failed)';
    $('search-meta').replaceChildren(el('p', { class: 'error', 'data-error-code': err.code },
      (notFound ? '没有与“' + query + '”对应的企业或案件 (no enterprise or case matches). ' : '') + err.describe()));
    $('search-head').replaceChildren();
    $('search-body').replaceChildren();
  }

  function showResult(ok, text) {
    const box = $('action-result');
    box.hidden = false;
    box.dataset.ok = String(ok);
    box.textContent = (ok ? '✓ 操作成功 (done): ' : '✗ 操作失败 (failed): ') + text;
  }

  function setConnection(ok, err) {
    const conn = $('conn');
    conn.dataset.conn = ok ? 'live' : 'offline';
    if (ok) {
      conn.textContent = '● 实时 (live)';
    } else if (err.status === 401 || err.status === 403) {
      conn.textContent = '● 需要访问令牌 (token required): ' + err.describe();
    } else {
      conn.textContent = '● 连接中断 (offline): ' + err.describe();
    }
    if (ok) $('updated').textContent = '更新于 (updated) ' + fmtTime(new Date().toISOString());
  }

  // ---- loading ------------------------------------------------------------

  async function refresh() {
    clearTimeout(view.timer);
    const generation = ++view.generation;
    const [list, stats] = await Promise.allSettled([
      api('GET', casesPath()),
      api('GET', '/api/v1/stats?window=' + seg($('stats-window').value)),
    ]);
    if (generation !== view.generation) return;
    if (stats.status === 'fulfilled') renderStats(stats.value);
    if (list.status === 'fulfilled') renderCases(list.value);
    const failed = list.status === 'rejected' ? list.reason : stats.status === 'rejected' ? stats.reason : null;
    setConnection(!failed, failed);
    await Promise.allSettled([refreshDetail(), refreshSearch()]);
    if (generation === view.generation) view.timer = setTimeout(refresh, POLL_MS);
  }

  async function refreshDetail() {
    if (!view.selected) return;
    const id = view.selected;
    try {
      const c = await api('GET', '/api/v1/cases/' + seg(id));
      if (id === view.selected) renderDetail(c);
    } catch (e) {
      if (id !== view.selected) return;
      $('detail').hidden = false;
      $('detail-body').replaceChildren(el('p', { class: 'error', 'data-error-code': e.code }, e.describe()));
    }
  }

  async function refreshSearch() {
    const search = view.search;
    if (!search) return;
    try {
      if (search.kind === 'enterprise') {
        try {
          const t = await api('GET', '/api/v1/enterprises/' + seg(search.query.toUpperCase()));
          if (search === view.search) renderTimeline(t);
          return;
        } catch (e) {
          if (e.status !== 404) throw e;
        }
      }
      const c = await api('GET', '/api/v1/cases/' + seg(search.query));
      if (search === view.search) renderSearchCases('案件 (case) ' + c.event_id, [], [c]);
    } catch (e) {
      if (search === view.search) renderSearchError(search.query, e);
    }
  }

  // The search and the open case live in the URL fragment
  // (#q=...&case=...), so a view can be bookmarked or sent to a colleague.
  function saveLocation() {
    const f = new URLSearchParams();
    if (view.search) f.set('q', view.search.query);
    if (view.selected) f.set('case', view.selected);
    const hash = f.toString();
    if (location.hash.slice(1) !== hash) history.replaceState(null, '', hash ? '#' + hash : location.pathname);
  }

  function search(query) {
    const q = query.trim();
    view.search = q ? { query: q, kind: USCC_RE.test(q.toUpperCase()) ? 'enterprise' : 'case' } : null;
    $('search-input').value = q;
    $('search-results').hidden = !q;
    saveLocation();
    refreshSearch();
  }

  function selectCase(id) {
    view.selected = id;
    saveLocation();
    for (const tr of document.querySelectorAll('tr.case')) {
      tr.classList.toggle('selected', tr.dataset.eventId === id);
    }
    refreshDetail();
  }

  // ---- operator actions -----------------------------------------------------

  async function act(path, body, after) {
    try {
      const r = await api('POST', path, body);
      showResult(true, scrub(r.message) + ' · 影响 (affected) ' + r.affected + ' · 审计记录 (audit record) #' + r.audit_id);
      if (after) after();
    } catch (e) {
      showResult(false, e.describe());
    }
    refresh();
  }

  function retry(eventId, agency) {
    const reason = $('detail-reason').value.trim();
    act('/api/v1/cases/' + seg(eventId) + '/agencies/' + seg(agency) + '/retry', { reason });
  }

  function resolve(ev) {
    ev.preventDefault();
    const reason = $('detail-reason').value.trim();
    if (!view.selected) return;
    if (!reason) {
      showResult(false, '人工办结须填写原因 (a reason is required to resolve a case)');
      return;
    }
    if (!window.confirm('确认人工办结案件 ' + view.selected + '？(resolve this case by hand?)')) return;
    act('/api/v1/cases/' + seg(view.selected) + '/resolve', { reason }, () => { $('detail-reason').value = ''; });
  }

  function replay(ev) {
    ev.preventDefault();
    const agency = $('replay-agency').value.trim();
    const local = $('replay-since').value;
    const reason = $('replay-reason').value.trim();
    const since = new Date(local);
    if (!agency || !local || isNaN(since.getTime())) {
      showResult(false, '请填写机构和起始时间 (agency and since are required)');
      return;
    }
    if (!window.confirm('将向 ' + agencyLabel(agency) + ' 重新推送 ' + fmtTime(since.toISOString()) +
        ' 以来已结的投递，确定？(replay settled deliveries since then?)')) return;
    act('/api/v1/agencies/' + seg(agency) + '/replay', { since: since.toISOString(), reason });
  }

  // ---- wiring ---------------------------------------------------------------

  function resetPaging() {
    view.cursor = '';
    view.older = [];
    refresh();
  }

  function localInputValue(d) {
    const p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' +
      p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }

  function start() {
    $('search-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      search($('search-input').value);
    });
    $('search-clear').addEventListener('click', () => search(''));
    $('search-close').addEventListener('click', () => search(''));
    $('detail-close').addEventListener('click', () => {
      view.selected = '';
      saveLocation();
      $('detail').hidden = true;
      for (const tr of document.querySelectorAll('tr.case.selected')) tr.classList.remove('selected');
    });
    for (const id of ['filter-status', 'filter-agency', 'filter-overdue']) {
      $(id).addEventListener('change', resetPaging);
    }
    $('stats-window').addEventListener('change', refresh);
    $('page-older').addEventListener('click', () => {
      if (!view.nextCursor) return;
      view.older.push(view.cursor);
      view.cursor = view.nextCursor;
      refresh();
    });
    $('page-newer').addEventListener('click', () => {
      if (!view.older.length) return;
      view.cursor = view.older.pop();
      refresh();
    });
    $('detail-actions').addEventListener('submit', resolve);
    $('replay-form').addEventListener('submit', replay);
    $('replay-since').value = localInputValue(new Date(Date.now() - 3600 * 1000));
    // The token lives for this browser tab only.
    $('token').value = sessionStorage.getItem(TOKEN_KEY) || '';
    $('token').addEventListener('change', () => {
      sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
      refresh();
    });
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (fragment.get('case')) view.selected = fragment.get('case');
    if (fragment.get('q')) search(fragment.get('q'));
    refresh();
  }

  start();
})();
