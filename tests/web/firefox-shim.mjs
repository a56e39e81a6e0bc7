#!/usr/bin/env node
// Stands in for firefox-esr when playwright-core drives it over WebDriver
// BiDi (tests/web/pw_driver.mjs): playwright-core 1.65 sends a few
// emulation commands (emulation.setMediaFeaturesOverride, ...) that
// Firefox ESR does not know yet and gives up on the whole launch. This
// starts the real firefox-esr with the same arguments, relays BiDi between
// the two, and answers "unknown command" errors with an empty success:
// the emulations it skips (colour scheme, screen orientation) do not
// matter to the softphone page's tests. Everything else passes unchanged.
import { spawn } from 'node:child_process';
import { WebSocketServer, WebSocket } from 'ws';

const ff = spawn(process.env.TANDEM_FIREFOX || '/usr/bin/firefox-esr', process.argv.slice(2), {
  stdio: ['ignore', 'inherit', 'pipe'] });
ff.on('exit', (code) => process.exit(code ?? 1));
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => ff.kill(s));

let buf = '';
ff.stderr.on('data', (chunk) => {
  buf += chunk.toString();
  const m = buf.match(/WebDriver BiDi listening on (ws:\/\/[^\s]+)/);
  if (!m) { process.stderr.write(chunk); return; }
  buf = '';
  const upstream = m[1];
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 }, () => {
    process.stderr.write(`WebDriver BiDi listening on ws://127.0.0.1:${wss.address().port}\n`);
  });
  wss.on('connection', (client, req) => {
    const up = new WebSocket(upstream.replace(/\/$/, '') + (req.url === '/' ? '' : req.url));
    const queue = [];
    const pending = new Map();
    up.on('open', () => { for (const q of queue.splice(0)) up.send(q); });
    client.on('message', (data) => {
      const text = data.toString();
      try { const m2 = JSON.parse(text); if (m2.id !== undefined) pending.set(m2.id, m2.method); } catch (e) { /* relay as is */ }
      if (up.readyState === WebSocket.OPEN) up.send(text); else queue.push(text);
    });
    up.on('message', (data) => {
      let text = data.toString();
      try {
        const m2 = JSON.parse(text);
        if (m2.type === 'error' && m2.error === 'unknown command' && pending.has(m2.id))
          text = JSON.stringify({ type: 'success', id: m2.id, result: {} });
        if (m2.id !== undefined) pending.delete(m2.id);
      } catch (e) { /* relay as is */ }
      client.send(text);
    });
    client.on('close', () => up.close());
    up.on('close', () => client.close());
  });
});
