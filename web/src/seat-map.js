// cairn catalog: SeatMap, a live seat map for one event (up to a few thousand seats).
//
// Data flow (A2UI v0.9 data binding): `seats` is bound to a path of the surface's data model
// (an array of seat records, or an object keyed by seat id). The agent keeps every open map live
// by sending `updateDataModel` for single seats (e.g. path `/seats/17/status`): the data model
// notifies the `/seats` binding, and Lit re-renders only the parts whose values changed, so a
// hold made by another user repaints one seat, not 2,000. `selection` is a two-way binding
// (like TextField.value): clicking a seat writes the local data model and makes no network
// call; the server sees it through an action's context or, for `sendDataModel` surfaces, the
// client data model attached to the next message.
import { html, css, nothing } from 'lit';
import { z } from 'zod';
import { A2uiLitElement, CommonSchemas } from '@a2ui/web_core/v0_9';

export const SeatMapApi = {
  name: 'SeatMap',
  schema: z.object({
    accessibility: CommonSchemas.AccessibilityAttributes.optional(),
    weight: z.number().optional(),
    label: CommonSchemas.DynamicString.optional(),
    seats: CommonSchemas.DynamicValue,
    selection: CommonSchemas.DynamicStringList,
    maxSelection: CommonSchemas.DynamicNumber.optional(),
    currency: CommonSchemas.DynamicString.optional(),
    action: CommonSchemas.Action.optional(),
  }),
};

// Seat status as the cairn catalog defines it ('mine' = held by the viewer's session).
const SELECTABLE = new Set(['free', 'mine']);
const STATUSES = ['free', 'held', 'mine', 'sold'];
const DEFAULT_MAX_SELECTION = 10;

function statusOf(seat) {
  const s = seat.status === 'available' ? 'free' : seat.status;
  return STATUSES.includes(s) ? s : 'sold'; // unknown status: never offer the seat
}

const isRecord = s => s !== null && typeof s === 'object';

function seatList(seats) {
  // The usual case (an array of records) is returned as it is: no copy per update.
  if (Array.isArray(seats)) return seats.every(isRecord) ? seats : seats.filter(isRecord);
  if (seats && typeof seats === 'object') {
    return Object.entries(seats)
      .filter(([, s]) => s && typeof s === 'object')
      .map(([id, s]) => (s.id === undefined ? { ...s, id } : s));
  }
  return [];
}

const NATURAL = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/**
 * Group seats into sections (in the order the agent sent them) and rows; rows and the seats
 * in a row in natural order (row "C2" before "C10", seat 2 before seat 10).
 */
function layout(seats) {
  const sections = groupSeats(seats);
  for (const [name, rows] of sections) {
    const sorted = [...rows].sort((a, b) => NATURAL.compare(a[0], b[0]));
    for (const [, row] of sorted) {
      row.sort((a, b) => (Number(a.number) || 0) - (Number(b.number) || 0));
    }
    sections.set(name, new Map(sorted));
  }
  return sections;
}

function groupSeats(seats) {
  const sections = new Map();
  for (const seat of seats) {
    const sectionName = String(seat.section ?? '');
    let rows = sections.get(sectionName);
    if (!rows) sections.set(sectionName, (rows = new Map()));
    const rowName = String(seat.row ?? '');
    let row = rows.get(rowName);
    if (!row) rows.set(rowName, (row = []));
    row.push(seat);
  }
  return sections;
}

export class CairnSeatMap extends A2uiLitElement {
  constructor() {
    super();
    this.api = SeatMapApi;
    this._money = null;
    this._moneyCurrency = null;
  }

  _format(amount) {
    if (typeof amount !== 'number' || !Number.isFinite(amount)) return '';
    const currency = typeof this.controller?.props?.currency === 'string'
      ? this.controller.props.currency : 'EUR';
    if (this._moneyCurrency !== currency) {
      try {
        this._money = new Intl.NumberFormat(undefined, { style: 'currency', currency });
      } catch {
        this._money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2 });
      }
      this._moneyCurrency = currency;
      this._moneyCache = new Map();
    }
    // A venue has a handful of price tiers: format each once, not once per seat.
    let text = this._moneyCache.get(amount);
    if (text === undefined) {
      text = this._money.format(amount);
      this._moneyCache.set(amount, text);
    }
    return text;
  }

  _onClick(event) {
    const target = event.target;
    if (!(target instanceof HTMLElement) || !target.dataset.seat) return;
    const props = this.controller?.props;
    if (!props || target.disabled) return;
    const id = target.dataset.seat;
    const current = Array.isArray(props.selection) ? props.selection.map(String) : [];
    let next;
    if (current.includes(id)) {
      next = current.filter(s => s !== id);
    } else {
      const max = typeof props.maxSelection === 'number' ? props.maxSelection : DEFAULT_MAX_SELECTION;
      if (current.length >= max) {
        this.dispatchEvent(new CustomEvent('cairn-notice', {
          bubbles: true, composed: true,
          detail: { text: `You can choose at most ${max} seat${max === 1 ? '' : 's'}.` },
        }));
        return;
      }
      next = [...current, id];
    }
    props.setSelection?.(next);
    props.action?.();
  }

  render() {
    const props = this.controller?.props;
    if (!props) return nothing;
    const seats = seatList(props.seats);
    const selected = new Set(Array.isArray(props.selection) ? props.selection.map(String) : []);
    const anySelected = selected.size > 0;
    const counts = { free: 0, held: 0, mine: 0, sold: 0 };
    let total = 0;
    // One pass: counts for the legend, and which seats differ from what their buttons show
    // (`changed` = null when the layout itself changed and the buttons must be rebuilt). A live
    // change (`/seats/17/status`) then touches one button, without a second walk or allocation.
    const buttons = this._buttons;
    let changed = buttons && buttons.length === seats.length ? [] : null;
    for (let i = 0; i < seats.length; i++) {
      const seat = seats[i];
      const status = statusOf(seat);
      counts[status] += 1;
      const isSelected = anySelected && selected.has(String(seat.id));
      const price = typeof seat.price === 'number' ? seat.price : null;
      if (isSelected && price !== null) total += price;
      if (changed === null) continue;
      const b = buttons[i];
      if (b._id !== seat.id || b._section !== seat.section || b._row !== seat.row
          || b._number !== seat.number) {
        changed = null;
      } else if (b._status !== status || b._selected !== isSelected || b._price !== price) {
        changed.push(i);
      }
    }
    this._pending = { seats, selected, changed };
    const label = props.accessibility?.label || props.label || 'Seat map';
    // The seats themselves are not Lit template parts: 2,000 buttons with five bindings each
    // cost far more to diff than to patch by hand. updated() builds them once per layout and
    // afterwards touches only the seats whose status or selection changed.
    return html`
      ${props.label ? html`<div class="title">${props.label}</div>` : nothing}
      <div class="legend" aria-hidden="true">
        ${STATUSES.map(s => html`<span class="key"><i class="seat ${s}"></i>${s} ${counts[s]}</span>`)}
      </div>
      <div class="map" role="group" aria-label=${label} @click=${this._onClick}>
        <div class="stage">stage</div>
        <div class="seats"></div>
      </div>
      <div class="summary" aria-live="polite">
        <span class="selected-count">${selected.size}</span> selected${selected.size
          ? html` · <span class="selected-total">${this._format(total)}</span>` : nothing}
      </div>
    `;
  }

  updated(changed) {
    super.updated?.(changed);
    if (!this._pending) return;
    const { seats, selected, changed: differ } = this._pending;
    this._pending = null;
    const host = this.renderRoot.querySelector('.seats');
    if (!host) return;
    if (host !== this._host || differ === null) {
      this._build(host, seats);
      this._host = host;
      for (let i = 0; i < seats.length; i++) this._paint(i, seats[i], selected);
    } else {
      for (const i of differ) this._paint(i, seats[i], selected);
    }
  }

  /** Show seat `i`'s status, selection and price on its button. */
  _paint(i, seat, selected) {
    const b = this._buttons[i];
    const status = statusOf(seat);
    const isSelected = selected.size > 0 && selected.has(String(seat.id));
    const price = typeof seat.price === 'number' ? seat.price : null;
    b._status = status;
    b._selected = isSelected;
    b._price = price;
    b.className = isSelected ? `seat ${status} selected` : `seat ${status}`;
    b.dataset.status = status;
    b.setAttribute('aria-pressed', isSelected ? 'true' : 'false');
    b.disabled = !SELECTABLE.has(status) && !isSelected;
    b.title = `${b._label} ${this._format(price)} ${status}`;
  }

  /** Build the section/row/seat elements for a new layout (textContent only: agent data). */
  _build(host, seats) {
    const frag = document.createDocumentFragment();
    const buttons = new Array(seats.length);
    const order = new Map(seats.map((s, i) => [s, i]));
    for (const [sectionName, rows] of layout(seats)) {
      const section = document.createElement('div');
      section.className = 'section';
      section.dataset.section = sectionName;
      if (sectionName) {
        const name = document.createElement('div');
        name.className = 'section-name';
        name.textContent = sectionName;
        section.append(name);
      }
      for (const [rowName, row] of rows) {
        const rowEl = document.createElement('div');
        rowEl.className = 'row';
        const name = document.createElement('span');
        name.className = 'row-name';
        name.textContent = rowName;
        rowEl.append(name);
        for (const seat of row) {
          const b = document.createElement('button');
          b.type = 'button';
          b.dataset.seat = String(seat.id);
          b._label = `${rowName}${seat.number ?? ''}`;
          // What the layout was built from, checked by render() on every update.
          b._id = seat.id;
          b._section = seat.section;
          b._row = seat.row;
          b._number = seat.number;
          rowEl.append(b);
          buttons[order.get(seat)] = b;
        }
        section.append(rowEl);
      }
      frag.append(section);
    }
    host.replaceChildren(frag);
    this._buttons = buttons;
  }
}

CairnSeatMap.styles = css`
  :host { display: block; font: inherit; }
  .title { font-weight: 600; margin-bottom: 6px; }
  .legend { display: flex; gap: 12px; font-size: 12px; margin-bottom: 6px; flex-wrap: wrap; }
  .key { display: inline-flex; align-items: center; gap: 4px; }
  .key .seat { display: inline-block; cursor: default; }
  .map { overflow-x: auto; padding: 6px; background: #f6f7f9; border-radius: 8px; }
  .stage { text-align: center; font-size: 11px; letter-spacing: 0.2em; text-transform: uppercase;
           background: #d8dce3; border-radius: 4px; margin: 0 auto 8px; width: 60%; }
  .section { margin-bottom: 8px; contain: layout style; }
  .section-name { font-size: 12px; font-weight: 600; margin: 4px 0; }
  .row { display: block; height: 14px; margin: 2px 0; white-space: nowrap; contain: layout style; }
  .row-name { display: inline-block; width: 2.2em; font-size: 10px; line-height: 12px; color: #666;
              text-align: right; padding-right: 4px; vertical-align: top; }
  .seats { display: block; }
  .seat { width: 12px; height: 12px; padding: 0; border: 0; border-radius: 3px 3px 1px 1px;
          cursor: pointer; display: inline-block; margin-right: 2px;
          vertical-align: top; }
  .seat.free { background: #3a9b5c; }
  .seat.held { background: #e0a526; cursor: not-allowed; }
  .seat.mine { background: #2f6fdf; }
  .seat.sold { background: #b9bec7; cursor: not-allowed; }
  .seat.selected { outline: 2px solid #111; outline-offset: 1px; }
  .seat:focus-visible { outline: 2px solid #2f6fdf; }
  .summary { margin-top: 6px; font-size: 13px; }
`;

customElements.define('cairn-seat-map', CairnSeatMap);

// The first currency formatter of a page loads ICU data (tens of ms): pay that while idle,
// not while the first seat map is on its way.
const warm = () => new Intl.NumberFormat(undefined, { style: 'currency', currency: 'EUR' }).format(1);
if (typeof requestIdleCallback === 'function') requestIdleCallback(warm);
else setTimeout(warm, 0);

export const SeatMap = { ...SeatMapApi, tagName: 'cairn-seat-map' };
