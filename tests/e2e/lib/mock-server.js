// An in-memory stand-in for `retention serve`, following the API contract the UI is written
// against (DESIGN.md section 6 and the UI brief). Used only with E2E_SERVER=mock, to work on the
// UI before or without the real binary. It loads the same demo.json and serves web/ from disk.
// Its rules are simplified (no notice gate, no sweeps); the real server is the reference.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const DAY = 86400000;
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

export async function startMockServer({ port, demoFile, webDir }) {
  const demo = JSON.parse(fs.readFileSync(demoFile, 'utf8'));
  const users = new Map(demo.users.map((u) => [u.username, { ...u, is_admin: Boolean(u.is_admin) }]));
  const byToken = new Map(demo.users.filter((u) => u.token).map((u) => [u.token, u.username]));
  const teams = new Map(demo.host_teams.map((t) => [t.id, t]));
  const challenges = new Map();
  for (const c of demo.challenges) {
    challenges.set(c.id, {
      ...c,
      consent: Boolean(c.consent),
      consent_date: c.consent ? c.consent.at : null,
      consent_by: c.consent ? c.consent.by : null,
      notes: c.consent ? c.consent.notes : '',
      override: null, override_reason: '', hold: false, hold_reason: '',
    });
  }
  const ledger = [];
  let ledgerId = 0;
  const audit = (challengeId, actor, action, notes) => ledger.push({
    id: ++ledgerId, ledger: 'consent', challenge_id: challengeId, submission_id: null, actor, action,
    notes: notes || '', at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), hash: `h${ledgerId}`.padEnd(64, '0'),
  });
  for (const c of challenges.values()) if (c.consent) audit(c.id, c.consent_by, 'imported', c.notes);
  const jobs = [
    ['cleanup_expired_submission_artifacts', '0 2 1 * *'],
    ['weekly_retention_notifications_and_consent_log', '0 10 * * 1'],
    ['update_submission_retention_dates', '0 1 * * 0'],
    ['reconcile_log_retention', '30 3 * * *'],
  ].map(([name, cron]) => ({ name, cron, next_run: new Date(Date.now() + DAY).toISOString(), last_run: null }));

  const memberStatus = (c, username) => {
    const m = teams.get(c.host_team)?.members.find((x) => x.username === username);
    return m ? m.status : null;
  };
  const isHost = (c, username) => memberStatus(c, username) === 'accepted';
  const days = (c) => c.override ?? 30;
  const eligible = (c, p) => (c.consent && p.end_date && !p.is_public
    ? new Date(Date.parse(p.end_date) + days(c) * DAY) : null);

  const handlers = [
    ['GET', /^\/api\/me$/, (u) => ({ username: u.username, email: u.email, is_admin: u.is_admin })],
    ['GET', /^\/api\/challenges$/, (u) => ({
      challenges: [...challenges.values()].filter((c) => u.is_admin || memberStatus(c, u.username)
        || c.phases.some((p) => p.submissions.some((s) => s.participant === u.username)))
        .map((c) => ({
          id: c.id, title: c.title, has_consent: c.consent, is_host: isHost(c, u.username),
          role: u.is_admin ? 'admin' : isHost(c, u.username) ? 'host' : memberStatus(c, u.username) === 'pending' ? 'pending' : 'participant',
          legal_hold: c.hold, approved: c.approved,
        })),
    })],
    ['GET', /^\/api\/challenges\/(\d+)\/retention-consent-status\/$/, (u, c) => {
      const out = { challenge_id: c.id, challenge_title: c.title, has_consent: c.consent, is_host: isHost(c, u.username), can_provide_consent: isHost(c, u.username) && !c.consent };
      if (c.consent && (isHost(c, u.username) || u.is_admin)) {
        Object.assign(out, { consent_date: c.consent_date, consent_by: c.consent_by, retention_notes: c.notes, custom_policies: { log_retention_days_override: c.override } });
      }
      return out;
    }],
    ['POST', /^\/api\/challenges\/(\d+)\/update-retention-consent\/$/, (u, c, body) => {
      if (!isHost(c, u.username)) return [403, { error: 'Only challenge hosts can update retention consent' }];
      if (typeof body.consent !== 'boolean') return [400, { error: 'consent must be true or false' }];
      if (body.consent) {
        if (!c.consent) {
          c.consent = true;
          c.consent_date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
          c.consent_by = u.username;
        }
        if (typeof body.notes === 'string') c.notes = body.notes;
        audit(c.id, u.username, 'granted', body.notes);
        return { message: 'Retention consent given', consent_date: c.consent_date, consent_by: c.consent_by };
      }
      c.consent = false;
      c.consent_date = null;
      c.consent_by = null;
      audit(c.id, u.username, 'withdrawn', body.notes);
      return { message: 'Retention consent withdrawn', consent_date: null, consent_by: null };
    }],
    ['GET', /^\/api\/challenges\/(\d+)\/retention-info\/$/, (u, c) => {
      if (!isHost(c, u.username) && !u.is_admin) return [403, { error: 'forbidden' }];
      const ends = c.phases.filter((p) => p.end_date).map((p) => Date.parse(p.end_date));
      const subs = c.phases.flatMap((p) => p.submissions.map((s) => ({ s, e: eligible(c, p) })));
      const future = subs.filter((x) => x.e && x.e > Date.now()).map((x) => x.e.getTime());
      return {
        challenge_id: c.id, challenge_title: c.title,
        retention_policy: { has_consent: c.consent, consent_date: c.consent_date, consent_by: c.consent_by, notes: c.notes },
        user_permissions: { is_host: isHost(c, u.username), is_admin: u.is_admin, can_provide_consent: isHost(c, u.username) && !c.consent, can_withdraw_consent: isHost(c, u.username) && c.consent },
        current_policies: { retention_days: days(c), default_days: 30, log_retention_days_override: c.override, override_reason: c.override_reason, legal_hold: c.hold, legal_hold_reason: c.hold_reason, notice_days: 14 },
        calculated_retention: {
          retention_days: days(c), latest_phase_end: ends.length ? new Date(Math.max(...ends)).toISOString() : null,
          log_group: `challenge-pk-${c.id}-production-workers`, log_retention_desired_days: c.consent ? 30 : null, log_retention_applied_days: c.consent ? 30 : null,
        },
        phases: c.phases.map((p) => ({ id: p.id, name: p.name, end_date: p.end_date, is_public: p.is_public })),
        submissions: {
          total: subs.length, with_eligible_date: subs.filter((x) => x.e).length,
          eligible_now: subs.filter((x) => x.e && x.e <= Date.now()).length, deleted: 0, on_hold: c.hold ? subs.length : 0,
          bytes_stored: subs.reduce((a, x) => a + x.s.artifacts.reduce((b, art) => b + art.size, 0), 0),
        },
        next_deletion_date: future.length ? new Date(Math.min(...future)).toISOString() : null,
        next_deletion_eligible_date: future.length ? new Date(Math.min(...future)).toISOString() : null,
        // The seed's sweep, the 1st at 02:00: the first run at or after that date.
        next_deletion_sweep: future.length ? (() => {
          const t = Math.max(Math.min(...future), Date.now());
          const d = new Date(t);
          let run = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1, 2);
          if (run < t) run = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1, 2);
          return new Date(run).toISOString();
        })() : null,
      };
    }],
    ['GET', /^\/api\/challenges\/(\d+)\/forecast$/, (u, c, body, query) => {
      if (!isHost(c, u.username) && !u.is_admin) return [403, { error: 'forbidden' }];
      const n = Number(query.get('weeks') || 12);
      const today = new Date(new Date().toISOString().slice(0, 10));
      const monday = new Date(today.getTime() - ((today.getUTCDay() + 6) % 7) * DAY);
      const weeks = Array.from({ length: n }, (_, i) => ({ week_start: new Date(monday.getTime() + i * 7 * DAY).toISOString().slice(0, 10), submissions: 0, bytes: 0 }));
      for (const p of c.phases) {
        const e = eligible(c, p);
        if (!e || c.hold) continue;
        const i = Math.max(0, Math.floor((e.getTime() - monday.getTime()) / (7 * DAY)));
        if (i >= n) continue;
        for (const s of p.submissions) {
          weeks[i].submissions += 1;
          weeks[i].bytes += s.artifacts.reduce((b, a) => b + a.size, 0);
        }
      }
      // The seed's sweep (the 1st at 02:00): each submission goes with the first run at or after
      // its eligible date (the mock has no notice gate).
      const end = monday.getTime() + n * 7 * DAY;
      const runs = [];
      for (let d = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1, 2)); d.getTime() < end; d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1, 2))) {
        if (d.getTime() >= Date.now()) runs.push({ run_at: d.toISOString().replace('.000Z', 'Z'), at: d.getTime(), submissions: 0, bytes: 0 });
      }
      for (const p of c.phases) {
        const e = eligible(c, p);
        if (!e || c.hold) continue;
        const run = runs.find((r) => r.at >= Math.max(e.getTime(), Date.now()));
        if (!run) continue;
        for (const s of p.submissions) {
          run.submissions += 1;
          run.bytes += s.artifacts.reduce((b, a) => b + a.size, 0);
        }
      }
      const sweeps = runs.map(({ at, ...r }) => r);
      return { challenge_id: c.id, weeks, sweeps, total_submissions: weeks.reduce((a, w) => a + w.submissions, 0), total_bytes: weeks.reduce((a, w) => a + w.bytes, 0) };
    }],
    ['POST', /^\/api\/challenges\/(\d+)\/override$/, (u, c, body) => {
      if (!u.is_admin) return [403, { error: 'Only admins can set an override' }];
      if (!body.reason) return [400, { error: 'reason is required' }];
      c.override = body.days;
      c.override_reason = body.days === null ? '' : body.reason;
      audit(c.id, u.username, body.days === null ? 'override_cleared' : 'override_set', body.reason);
      return { challenge_id: c.id, log_retention_days_override: c.override, reason: body.reason };
    }],
    ['POST', /^\/api\/challenges\/(\d+)\/hold$/, (u, c, body) => {
      if (!u.is_admin) return [403, { error: 'Only admins can set a legal hold' }];
      c.hold = Boolean(body.hold);
      c.hold_reason = c.hold ? body.reason : '';
      audit(c.id, u.username, c.hold ? 'hold_set' : 'hold_released', body.reason);
      return { challenge_id: c.id, legal_hold: c.hold, reason: body.reason };
    }],
    ['GET', /^\/api\/audit\/verify$/, (u) => (u.is_admin ? { ok: true, count: ledger.length } : [403, { error: 'forbidden' }])],
    ['GET', /^\/api\/audit$/, (u, c, body, query) => {
      const id = query.get('challenge_id');
      const events = ledger.filter((e) => !id || String(e.challenge_id) === id).slice().reverse();
      if (query.get('format') === 'csv') return ['csv', `id,action,notes\n${events.map((e) => `${e.id},${e.action},"${e.notes}"`).join('\n')}\n`];
      return { events: events.slice(0, Number(query.get('limit') || 100)) };
    }],
    ['GET', /^\/api\/jobs$/, (u) => (u.is_admin ? { jobs } : [403, { error: 'forbidden' }])],
    ['POST', /^\/api\/jobs\/([a-z_]+)\/run$/, (u, c, body, query, name) => {
      const job = jobs.find((j) => j.name === name);
      if (!job) return [404, { error: 'no such job' }];
      const now = new Date().toISOString();
      job.last_run = { id: 1, status: 'succeeded', started_at: now, finished_at: now, result: { ok: true } };
      audit(null, u.username, 'job_run', name);
      return { run: job.last_run };
    }],
  ];

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const send = (status, body, type = 'application/json') => {
      // The strict policy recommended for the real server: the page needs nothing else.
      res.writeHead(status, {
        'Content-Type': type, 'Cache-Control': 'no-store',
        'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
      });
      res.end(type === 'application/json' ? JSON.stringify(body) : body);
    };
    if (url.pathname === '/healthz') return send(200, 'ok', 'text/plain');
    if (!url.pathname.startsWith('/api/')) {
      const file = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
      const type = TYPES[path.extname(file)];
      if (!type || file.includes('/')) return send(404, { error: 'not found' });
      return send(200, fs.readFileSync(path.join(webDir, file)), type);
    }
    const auth = /^(?:Token|Bearer) (.+)$/.exec(req.headers.authorization || '');
    const user = auth && users.get(byToken.get(auth[1]));
    if (!user) return send(401, { error: 'Authentication credentials were not provided or are invalid' });
    let raw = '';
    for await (const chunk of req) raw += chunk;
    let body = {};
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {
      return send(400, { error: 'Body is not valid JSON' });
    }
    for (const [method, re, fn] of handlers) {
      const m = re.exec(url.pathname);
      if (!m || method !== req.method) continue;
      let challenge = null;
      if (url.pathname.startsWith('/api/challenges/')) {
        challenge = challenges.get(Number(m[1]));
        if (!challenge) return send(404, { error: 'Challenge does not exist' });
      }
      const out = fn(user, challenge, body, url.searchParams, m[1]);
      if (Array.isArray(out) && out[0] === 'csv') return send(200, out[1], 'text/csv');
      if (Array.isArray(out)) return send(out[0], out[1]);
      return send(req.url.endsWith('/retention-consent/') ? 201 : 200, out);
    }
    return send(404, { error: 'not found' });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { close: () => new Promise((resolve) => server.close(resolve)) };
}
