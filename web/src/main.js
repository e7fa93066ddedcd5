// cairn's A2UI web client: a chat box, the surfaces the agent streams, errors in plain words.
//
// Transport (docs/a2ui.md): the agent's messages arrive on one Server-Sent Events stream
// (`GET /a2ui/stream`, `event: a2ui` with one A2UI v0.9 message per event, `event: cairn` for
// agent text and status); the browser sends typed text and A2UI client messages (`action`,
// `error`) with `POST /a2ui/send`, always with the client capabilities and, for surfaces created
// with `sendDataModel`, the client data model. EventSource reconnects by itself and sends
// `Last-Event-ID`, so the server can resume the stream where it broke off.
//
// Rendering is the official renderer: @a2ui/web_core's MessageProcessor keeps per-surface state
// (components by id, data model, catalog) and @a2ui/lit's <a2ui-surface> draws it. This module
// adds what the renderer leaves to the application: framing, per-message error isolation
// (one bad message never blocks the rest), reporting failures back as A2UI `error` messages,
// graceful fallbacks for unknown components, and a Markdown renderer without links or HTML.
import '@a2ui/lit/v0_9';
import { MessageProcessor } from '@a2ui/web_core/v0_9';
import { Context } from '@a2ui/web_core/v0_9';
import { ContextProvider } from '@lit/context';
import { basicCatalog, cairnCatalog } from './catalog.js';
import { isPlainText, renderMarkdownFull, renderSafeMarkdown } from './markdown.js';

const VERSION = 'v0.9';
const MESSAGE_KEYS = ['createSurface', 'updateComponents', 'updateDataModel', 'deleteSurface'];

function plainError(err) {
  const text = err && err.message ? err.message : String(err);
  return text.length > 400 ? text.slice(0, 400) + '…' : text;
}

export class CairnClient {
  constructor(root, { streamUrl = '/a2ui/stream', sendUrl = '/a2ui/send' } = {}) {
    this.root = root;
    this.streamUrl = streamUrl;
    this.sendUrl = sendUrl;
    this.log = root.querySelector('#log');
    this.status = root.querySelector('#status');
    this.form = root.querySelector('#chat');
    this.input = root.querySelector('#chat-input');
    this.surfaceEls = new Map();
    this.goneMarkers = new Map();
    this.stats = { received: 0, rendered: 0, errors: 0, firstMessageAt: null, lastEventId: null };
    this.processor = new MessageProcessor(
      [basicCatalog, cairnCatalog],
      action => this.sendAction(action),
    );
    this.processor.onSurfaceCreated(surface => this.addSurface(surface));
    this.processor.onSurfaceDeleted(id => this.removeSurface(id));
    // Text components ask for a Markdown renderer through Lit context; provide ours at the root.
    this.markdownProvider = new ContextProvider(root, {
      context: Context.markdown,
      initialValue: renderSafeMarkdown,
    });
    // Both Markdown paths, for the console and the browser tests (the plain-text shortcut must
    // give what the full path gives).
    this.markdown = { render: renderSafeMarkdown, full: renderMarkdownFull, isPlainText };
    root.addEventListener('cairn-notice', e => this.say('notice', e.detail?.text ?? ''));
    this.form.addEventListener('submit', e => {
      e.preventDefault();
      const text = this.input.value.trim();
      if (!text) return;
      this.input.value = '';
      this.sendText(text);
    });
  }

  // ---- the stream -------------------------------------------------------------------------

  connect() {
    this.setStatus('connecting');
    const es = new EventSource(this.streamUrl, { withCredentials: true });
    this.eventSource = es;
    es.addEventListener('open', () => this.setStatus('connected'));
    es.addEventListener('a2ui', e => this.onA2uiEvent(e));
    es.addEventListener('cairn', e => this.onCairnEvent(e));
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. the server answered with an error): retry ourselves,
        // with Last-Event-ID in the query since a fresh EventSource cannot set the header.
        this.setStatus('disconnected: retrying');
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.reconnect(), 1000);
      } else {
        this.setStatus('reconnecting');
      }
    });
  }

  reconnect() {
    this.eventSource?.close();
    const last = this.stats.lastEventId;
    const base = this.streamUrl;
    this.streamUrl = last ? `${base.split('?')[0]}?lastEventId=${encodeURIComponent(last)}` : base;
    this.connect();
    this.streamUrl = base;
  }

  onA2uiEvent(e) {
    if (e.lastEventId) this.stats.lastEventId = e.lastEventId;
    let message;
    try {
      message = JSON.parse(e.data);
    } catch (err) {
      this.fail(null, '/', `The agent sent a message that is not JSON (${plainError(err)}).`);
      return;
    }
    this.process(message);
  }

  onCairnEvent(e) {
    let payload;
    try {
      payload = JSON.parse(e.data);
    } catch {
      payload = { type: 'text', text: e.data };
    }
    if (!payload || typeof payload !== 'object') payload = { type: 'text', text: String(payload) };
    const kind = payload.type || 'text';
    const text = String(payload.text ?? '');
    if (kind === 'done') {
      // End of a turn: nothing to show; remembered for the console and the tests.
      this.stats.lastTurnDone = payload.turn ?? null;
      this.root.dataset.lastTurnDone = String(payload.turn ?? '');
    } else if (kind === 'error') {
      this.say('error', text);
    } else if (kind === 'status') {
      if (text) this.say('notice', text);
    } else if (text) {
      this.say('agent', text);
    }
  }

  // ---- processing -------------------------------------------------------------------------

  /** Process one message or a list; each message on its own so one failure blocks nothing. */
  process(messages) {
    const list = Array.isArray(messages) ? messages : [messages];
    for (const message of list) this.processOne(message);
  }

  processOne(message) {
    this.stats.received += 1;
    if (this.stats.firstMessageAt === null) this.stats.firstMessageAt = performance.now();
    if (!message || typeof message !== 'object' || Array.isArray(message)) {
      this.fail(null, '/', 'A message from the agent was not a JSON object.');
      return;
    }
    const keys = MESSAGE_KEYS.filter(k => k in message);
    const surfaceId = keys.length === 1 ? message[keys[0]]?.surfaceId ?? null : null;
    if (message.version !== VERSION) {
      this.fail(surfaceId, '/version', `Unsupported protocol version ${JSON.stringify(message.version)}; this client speaks ${VERSION}.`);
      return;
    }
    if (keys.length !== 1) {
      this.fail(surfaceId, '/', keys.length ? `A message may carry one of ${MESSAGE_KEYS.join(', ')}, not ${keys.join(' and ')}.` : 'A message carried no A2UI operation.');
      return;
    }
    const body = message[keys[0]];
    if (!body || typeof body !== 'object' || typeof body.surfaceId !== 'string') {
      this.fail(surfaceId, `/${keys[0]}/surfaceId`, 'A message did not name its surface.');
      return;
    }
    if (keys[0] === 'updateComponents') {
      const problem = this.checkComponents(body);
      if (problem) {
        this.fail(body.surfaceId, problem.path, problem.message);
        return;
      }
    }
    try {
      this.processor.processMessage(message);
      this.stats.rendered += 1;
    } catch (err) {
      this.fail(body.surfaceId, this.errorPath(keys[0], body, err), plainError(err));
    }
  }

  /**
   * Pre-check one updateComponents message against the surface's catalog. Unknown component
   * types are replaced by a visible "unsupported" Text (graceful degradation, reported back);
   * anything the processor would refuse is reported with a JSON Pointer to the bad component.
   */
  checkComponents(body) {
    const surface = this.processor.model.getSurface(body.surfaceId);
    if (!surface) return { path: '/updateComponents/surfaceId', message: `There is no surface "${body.surfaceId}".` };
    if (!Array.isArray(body.components) || body.components.length === 0) {
      return { path: '/updateComponents/components', message: 'An update carried no components.' };
    }
    const catalog = surface.catalog;
    for (let i = 0; i < body.components.length; i++) {
      const comp = body.components[i];
      if (!comp || typeof comp !== 'object' || typeof comp.id !== 'string') {
        return { path: `/updateComponents/components/${i}/id`, message: 'A component has no id.' };
      }
      const type = comp.component;
      if (type !== undefined && !catalog.components.has(type)) {
        this.report(body.surfaceId, `/updateComponents/components/${i}/component`,
          `Component type "${String(type)}" is not in catalog ${catalog.id}; shown as unsupported.`);
        body.components[i] = catalog.components.has('Text')
          ? { id: comp.id, component: 'Text', variant: 'caption', text: `(unsupported component: ${String(type).slice(0, 60)})` }
          : comp;
      }
    }
    return null;
  }

  errorPath(kind, body, err) {
    if (kind === 'updateComponents' && Array.isArray(err?.details)) {
      const surface = this.processor.model.getSurface(body.surfaceId);
      for (let i = 0; i < body.components.length; i++) {
        const { id, component, ...props } = body.components[i];
        const type = component || surface?.componentsModel.get(id)?.type;
        const api = surface?.catalog.components.get(type);
        const result = api?.schema.safeParse(props);
        if (result && !result.success) {
          const sub = result.error.issues[0]?.path ?? [];
          return `/updateComponents/components/${i}${sub.length ? '/' + sub.join('/') : ''}`;
        }
      }
    }
    if (kind === 'updateDataModel') return '/updateDataModel/path';
    return `/${kind}`;
  }

  /** A message failed: say so in plain words and report it to the agent. */
  fail(surfaceId, path, message) {
    this.stats.errors += 1;
    this.say('error', `Could not show part of the answer: ${message}`);
    this.report(surfaceId, path, message);
  }

  report(surfaceId, path, message) {
    const error = { code: 'VALIDATION_FAILED', surfaceId: surfaceId ?? '', path, message };
    this.post({ a2ui: { version: VERSION, error } }).catch(() => {});
  }

  // ---- surfaces ---------------------------------------------------------------------------

  addSurface(surface) {
    const wrap = document.createElement('section');
    wrap.className = 'surface';
    wrap.dataset.surfaceId = surface.id;
    // v0.9 theme: `agentDisplayName` is "text to be displayed next to the surface to identify
    // the agent or tool that created it". Shown as text (never HTML), shortened if long.
    const name = surface.theme?.agentDisplayName;
    if (typeof name === 'string' && name.trim()) {
      const by = document.createElement('div');
      by.className = 'surface-agent';
      by.textContent = name.trim().slice(0, 80);
      wrap.append(by);
    }
    const el = document.createElement('a2ui-surface');
    el.surface = surface;
    wrap.append(el);
    this.surfaceEls.set(surface.id, wrap);
    // A surface re-created after a reconnect (deleteSurface + createSurface) keeps its place.
    const marker = this.goneMarkers.get(surface.id);
    if (marker?.isConnected) {
      marker.replaceWith(wrap);
    } else {
      this.log.append(wrap);
      this.scrollDown();
    }
    this.goneMarkers.delete(surface.id);
  }

  removeSurface(id) {
    const wrap = this.surfaceEls.get(id);
    this.surfaceEls.delete(id);
    if (!wrap) return;
    const marker = document.createComment(`surface ${id}`);
    wrap.replaceWith(marker);
    this.goneMarkers.set(id, marker);
  }

  // ---- sending ----------------------------------------------------------------------------

  metadata() {
    const meta = { a2uiClientCapabilities: this.processor.getClientCapabilities() };
    const dataModel = this.processor.getClientDataModel();
    if (dataModel) meta.a2uiClientDataModel = dataModel;
    return meta;
  }

  async post(body) {
    const res = await fetch(this.sendUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, ...this.metadata() }),
    });
    if (!res.ok) {
      let text = `${res.status} ${res.statusText}`;
      try {
        const payload = await res.json();
        text = payload.message || payload.error?.message || payload.error || text;
      } catch { /* not JSON: keep the status line */ }
      throw new Error(typeof text === 'string' ? text : JSON.stringify(text));
    }
    return res;
  }

  async sendText(text) {
    this.say('user', text);
    try {
      await this.post({ text });
    } catch (err) {
      this.say('error', `Your message was not delivered: ${plainError(err)}`);
    }
  }

  async sendAction(action) {
    try {
      await this.post({ a2ui: { version: VERSION, action } });
    } catch (err) {
      this.say('error', `That did not work: ${plainError(err)}`);
    }
  }

  // ---- chat log ---------------------------------------------------------------------------

  say(kind, text) {
    const p = document.createElement('div');
    p.className = `msg ${kind}`;
    p.textContent = text; // always text, never HTML
    this.log.append(p);
    this.scrollDown();
  }

  setStatus(text) {
    this.status.textContent = text;
    this.status.dataset.state = text.split(':')[0];
  }

  scrollDown() {
    this.log.scrollTop = this.log.scrollHeight;
  }
}

const root = document.getElementById('app');
if (root) {
  const client = new CairnClient(root);
  // A handle for the console and for the browser tests (read-only use: stats, processor).
  window.cairnA2ui = client;
  client.connect();
}
