// The seat selection of one schedule, zone first (docs/decisions/0031-zone-first-canvas-seat-map.md): the
// venue overview with live seats-left per zone, the chosen zone's canvas grid, the selection (at most
// `max` seats), the availability bitset applied as a diff, polite announcements of seats lost to other fans
// with the nearest free seats to offer instead, and the sold-out panel with what to do next.
import { bitSet, changedIndexes } from './availability.js';
import { h } from './dom.js';
import { t, formatWon } from './i18n.js';
import { soldOutPanel } from './moments.js';
import { SeatGrid } from './seatgrid.js';
import { ZoneOverview } from './zones.js';

export class SeatPicker {
  /// onChange(selectedSeats) after every change of the selection; onMax() when the fan tries to pick more
  /// than `max`; seatName(seat) the short name of a seat ("Row A, seat 3").
  constructor(layout, { max = 4, onChange = () => {}, onMax = () => {} } = {}) {
    this.layout = layout;
    this.max = max;
    this.onChange = onChange;
    this.onMax = onMax;
    this.zones = new Map(layout.zones.map((z) => [z.id, { ...z, seats: [] }]));
    this.byId = new Map();
    this.zoneOf = new Int32Array(layout.seatCount);
    for (const seat of layout.seats) {
      this.byId.set(seat.id, seat);
      this.zoneOf[seat.index] = seat.zoneId;
      this.zones.get(seat.zoneId)?.seats.push(seat);
    }
    for (const zone of this.zones.values()) {
      const ys = new Set(zone.seats.map((s) => s.y));
      zone.rows = ys.size;
      zone.perRow = Math.ceil(zone.seats.length / Math.max(1, ys.size));
    }
    this.taken = null; // the bitset's bytes
    this.left = new Map();
    this.selected = new Map(); // seat id → seat, in the order chosen
    this.grid = null;
    this.zone = null;

    this.overview = new ZoneOverview([...this.zones.values()], (zone) => this.openZone(zone.id, { focus: true }));
    // A seat lost to another fan: said in a polite status region (not the page's assertive alert: the fan did
    // nothing), and shown with the nearest free seats to take instead.
    this.status = h('p', { id: 'seat-status', class: 'sr-only', role: 'status', 'aria-live': 'polite' });
    this.lostText = h('p');
    this.lostActions = h('div', { class: 'row' });
    this.lostBox = h('div', { class: 'notice info seat-lost', id: 'seat-lost', hidden: true },
      this.lostText, this.lostActions);
    this.zoneTitle = h('h2', { id: 'zone-title', tabindex: '-1' });
    this.gridHost = h('div', { class: 'grid-host' });
    this.tools = h('div', { class: 'row zone-tools' });
    this.legend = h('div', { class: 'zones legend' },
      h('span', { class: 'zone' }, h('span', { class: 'swatch taken' }), t('legendTaken')),
      h('span', { class: 'zone' }, h('span', { class: 'swatch selected' }), t('legendSelected')));
    this.zonePanel = h('section', { class: 'card zone-panel', id: 'zone-panel', 'aria-labelledby': 'zone-title', hidden: true },
      this.zoneTitle, this.tools, this.legend, this.gridHost);
    this.soldOut = soldOutPanel();
    this.soldOut.hidden = true;
    this.element = h('div', { class: 'seatpicker' }, this.lostBox, this.soldOut, this.overview.element, this.zonePanel, this.status);
  }

  seatName(seat) {
    return t('seatLabel', { row: seat.row, number: seat.number });
  }

  stateOf(seat) {
    if (this.selected.has(seat.id)) return 'selected';
    return bitSet(this.taken, seat.index) ? 'taken' : 'free';
  }

  describe(seat, state = this.stateOf(seat)) {
    const zone = this.zones.get(seat.zoneId);
    return `${zone.name}, ${this.seatName(seat)}, ${formatWon(zone.price)}, ${t(`seatState_${state}`)}`;
  }

  /// Opens a zone's grid (closing the one before).
  openZone(zoneId, { focus = false } = {}) {
    const zone = this.zones.get(zoneId);
    if (!zone) return;
    if (this.zone?.id !== zoneId) {
      this.grid?.destroy();
      this.zone = zone;
      this.grid = new SeatGrid({
        zone,
        seats: zone.seats,
        state: (seat) => this.stateOf(seat),
        describe: (seat, state) => this.describe(seat, state),
        onToggle: (seat) => this.toggle(seat),
      });
      this.gridHost.replaceChildren(this.grid.element);
      this.zoneTitle.textContent = `${zone.name} · ${formatWon(zone.price)}`;
      this.overview.choose(zoneId);
    }
    this.zonePanel.hidden = false;
    if (focus) {
      this.zonePanel.scrollIntoView({ block: 'nearest' });
      this.grid.viewport.focus({ preventScroll: true });
    }
  }

  toggle(seat) {
    this.lostBox.hidden = true;
    if (this.selected.has(seat.id)) this.selected.delete(seat.id);
    else if (bitSet(this.taken, seat.index)) return;
    else if (this.selected.size >= this.max) return this.onMax();
    else this.selected.set(seat.id, seat);
    this.grid?.refresh([seat.index]);
    this.onChange(this.selectedSeats());
  }

  /// Selects a seat by id (a suggestion after a loss): opens its zone and puts the grid's focus on it.
  pick(seatId) {
    const seat = this.byId.get(seatId);
    if (!seat || this.stateOf(seat) !== 'free') return false;
    this.openZone(seat.zoneId);
    this.grid.focusSeat(seatId);
    this.toggle(seat);
    return true;
  }

  selectedSeats() {
    return [...this.selected.values()];
  }

  clear() {
    const indexes = this.selectedSeats().map((s) => s.index);
    this.selected.clear();
    this.grid?.refresh(indexes);
    this.onChange([]);
  }

  /// Applies a new bitset: zone counts, only the changed seats redrawn, selected seats lost announced (unless
  /// `quiet`: the caller says it itself).
  applyAvailability(bytes, { quiet = false } = {}) {
    const first = this.taken === null;
    const changed = changedIndexes(this.taken, bytes, this.layout.seatCount);
    this.taken = bytes;
    if (first) {
      for (const zone of this.zones.values()) this.left.set(zone.id, zone.seats.length);
    }
    for (const i of changed) {
      const z = this.zoneOf[i];
      this.left.set(z, this.left.get(z) + (bitSet(bytes, i) ? -1 : 1));
    }
    if (changed.length || first) this.overview.update(this.left);
    const lost = [];
    for (const seat of this.selected.values()) {
      if (bitSet(bytes, seat.index)) lost.push(seat);
    }
    lost.forEach((seat) => this.selected.delete(seat.id));
    this.grid?.refresh(changed);
    const total = [...this.left.values()].reduce((a, b) => a + b, 0);
    this.soldOut.hidden = total > 0;
    if (lost.length && !quiet) this.lose(lost);
    else if (lost.length) this.onChange(this.selectedSeats());
  }

  /// Seats the server says are taken (a 409 seat-taken): marked taken here before the stream says so, and
  /// dropped from the selection without a word (the 409's own message says it).
  markTaken(seatIds) {
    const bytes = Uint8Array.from(this.taken ?? new Uint8Array(Math.ceil(this.layout.seatCount / 8)));
    for (const id of seatIds) {
      const seat = this.byId.get(id);
      if (seat) bytes[seat.index >> 3] |= 0x80 >> (seat.index & 7);
    }
    this.applyAvailability(bytes, { quiet: true });
  }

  lose(lost) {
    this.status.textContent = t('seatLostPolite', { seats: lost.map((s) => this.describe(s, 'taken')).join('; ') });
    this.lostText.textContent = t('seatJustTaken', { seats: lost.map((s) => this.seatName(s)).join(', ') });
    this.lostActions.replaceChildren(...this.insteadButtons(lost[0]));
    this.lostBox.hidden = false;
    this.onChange(this.selectedSeats());
  }

  /// Buttons that take one of the nearest free seats to `seat` instead.
  insteadButtons(seat) {
    return this.nearestFree(seat, 3).map((other) => h('button', {
      type: 'button',
      class: 'secondary',
      onclick: () => {
        if (this.pick(other.id)) this.lostBox.hidden = true;
      },
    }, t('takeInstead', { seat: this.seatName(other) })));
  }

  /// The `count` free, unselected seats of the same zone nearest to `seat` (rows count a little more than
  /// seats along a row: moving back a row changes the view more than moving along it).
  nearestFree(seat, count) {
    const zone = this.zones.get(seat.zoneId);
    const scored = [];
    for (const other of zone.seats) {
      if (other.id === seat.id || this.stateOf(other) !== 'free') continue;
      const dx = other.x - seat.x;
      const dy = (other.y - seat.y) * 1.5;
      scored.push([dx * dx + dy * dy, other]);
    }
    scored.sort((a, b) => a[0] - b[0]);
    return scored.slice(0, count).map(([, s]) => s);
  }
}
