// One zone's seats on a canvas (docs/decisions/0031-zone-first-canvas-seat-map.md): zoomed with Ctrl + wheel,
// a pinch or the buttons, panned by dragging or the wheel, and redrawn only where something changed (a full frame only
// after a zoom or a pan, and then only the rows and columns in view).
//
// For assistive technology the canvas is hidden and the grid is a `role="grid"` element with one Tab stop:
// it keeps focus and points with `aria-activedescendant` at one `role="gridcell"` (the active seat, with
// `aria-rowindex`/`aria-colindex` out of `aria-rowcount`/`aria-colcount`), whose label says the zone, row,
// number, price and state. Arrow keys move, Home/End go to the row's ends, Enter or Space selects, + and -
// zoom. A tap on seats drawn smaller than a touch target (44 CSS px for a finger) zooms in instead of
// selecting, so every seat a finger selects is at least 44 px across.
import { h } from './dom.js';
import { t } from './i18n.js';

const kGutter = 30; // CSS px left of the seats, for the row labels
const kPad = 12;
const kMaxCell = 64;
export const kTouchTarget = 44;
const kMouseTarget = 16;
const kColors = { taken: '#c4c4cc', selected: '#1d1d29', focus: '#f5a623', background: '#ffffff', label: '#5c5c70' };
let gridCount = 0;

export class SeatGrid {
  /// zone: the Zone; seats: its LayoutSeats; state(seat) → 'free' | 'taken' | 'selected';
  /// describe(seat, state) → the spoken label; onToggle(seat) when the fan selects a seat that is not taken.
  constructor({ zone, seats, state, describe, onToggle }) {
    this.zone = zone;
    this.state = state;
    this.describe = describe;
    this.onToggle = onToggle;
    this.uid = ++gridCount;
    const byY = new Map();
    for (const seat of seats) {
      if (!byY.has(seat.y)) byY.set(seat.y, []);
      byY.get(seat.y).push(seat);
    }
    this.rows = [...byY.keys()].sort((a, b) => a - b).map((y) => byY.get(y).sort((a, b) => a.x - b.x));
    this.minX = Math.min(...seats.map((s) => s.x));
    this.cols = Math.max(...seats.map((s) => s.x)) - this.minX + 1;
    this.where = new Map(); // seat index → { r, k }
    this.byId = new Map(seats.map((seat) => [seat.id, seat]));
    this.rowByX = this.rows.map((row, r) => {
      const m = new Map();
      row.forEach((seat, k) => {
        m.set(seat.x, k);
        this.where.set(seat.index, { r, k });
      });
      return m;
    });
    this.active = { r: 0, k: 0 };
    const firstFree = seats.find((s) => state(s) === 'free');
    if (firstFree) this.active = { ...this.where.get(firstFree.index) };
    this.scale = 0;
    this.ox = 0;
    this.oy = 0;
    this.width = 0;
    this.height = 0;
    this.full = true;
    this.pending = new Set();
    this.frame = 0;
    this.pointers = new Map();
    this.gesture = null;

    this.canvas = h('canvas', { 'aria-hidden': 'true' });
    this.row = h('div', { role: 'row', class: 'sr-only' });
    const helpId = `seatgrid-help-${this.uid}`;
    this.viewport = h('div', {
      class: 'seatgrid-viewport',
      role: 'grid',
      tabindex: '0',
      'aria-label': t('zoneGridLabel', { zone: zone.name }),
      'aria-rowcount': String(this.rows.length),
      'aria-colcount': String(this.cols),
      'aria-describedby': helpId,
    }, this.canvas, this.row);
    const button = (text, label, run, cls) =>
      h('button', { type: 'button', class: `secondary ${cls}`, 'aria-label': label, onclick: run }, text);
    this.element = h('div', { class: 'seatgrid', 'data-zone-id': String(zone.id) },
      h('div', { class: 'seatgrid-tools' },
        button('−', t('zoomOut'), () => this.zoomAt(1 / 1.5), 'zoom-out'),
        button('+', t('zoomIn'), () => this.zoomAt(1.5), 'zoom-in'),
        button(t('zoomFit'), t('zoomFit'), () => this.fit(), 'zoom-fit')),
      this.viewport,
      h('p', { id: helpId, class: 'sr-only' }, t('gridHelp')));
    this.element.seatGrid = this; // for the browser tests and the benchmark
    this.ctx = this.canvas.getContext('2d');
    this.updateCell();
    this.listen();
    this.resizer = new ResizeObserver(() => this.layout());
    this.resizer.observe(this.viewport);
  }

  destroy() {
    this.resizer.disconnect();
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
  }

  /// 'free' | 'taken' | 'selected' of a seat of this zone by id (tests, benchmark).
  stateOf(seatId) {
    const seat = this.byId.get(seatId);
    return seat ? this.state(seat) : null;
  }

  get cellSize() {
    return this.scale;
  }

  seatAt(r, k) {
    return this.rows[r]?.[k];
  }

  get activeSeat() {
    return this.seatAt(this.active.r, this.active.k);
  }

  // ---- geometry ---------------------------------------------------------------------------------------------

  fitScale() {
    const across = (this.width - kGutter - 2 * kPad) / this.cols;
    const down = (this.height - 2 * kPad) / this.rows.length;
    return Math.max(2, Math.min(kMaxCell, across, down));
  }

  layout() {
    const width = Math.round(this.viewport.clientWidth);
    if (width <= 0) return;
    const across = Math.max(2, Math.min(kMaxCell, (width - kGutter - 2 * kPad) / this.cols));
    const want = this.rows.length * across + 2 * kPad;
    const height = Math.round(Math.max(160, Math.min(want, Math.max(260, window.innerHeight * 0.6))));
    if (width === this.width && height === this.height) return;
    const first = this.scale === 0;
    this.width = width;
    this.height = height;
    const dpr = window.devicePixelRatio || 1;
    this.dpr = dpr;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    if (first) this.fit();
    else {
      this.clampPan();
      this.invalidate();
    }
  }

  fit() {
    this.scale = this.fitScale();
    this.ox = kGutter + (this.width - kGutter - this.cols * this.scale) / 2;
    this.oy = kPad + Math.max(0, (this.height - 2 * kPad - this.rows.length * this.scale) / 2);
    this.clampPan();
    this.invalidate();
  }

  clampPan() {
    const w = this.cols * this.scale;
    const hgt = this.rows.length * this.scale;
    const room = this.width - kGutter - 2 * kPad;
    if (w <= room) this.ox = kGutter + (this.width - kGutter - w) / 2;
    else this.ox = Math.min(kGutter + kPad, Math.max(this.width - kPad - w, this.ox));
    if (hgt <= this.height - 2 * kPad) this.oy = (this.height - hgt) / 2;
    else this.oy = Math.min(kPad, Math.max(this.height - kPad - hgt, this.oy));
  }

  /// Zooms by `factor` around (cx, cy) in canvas CSS px (default: the middle).
  zoomAt(factor, cx = this.width / 2, cy = this.height / 2) {
    if (!(this.scale > 0)) return;  // not laid out yet: a zoom now would make the scale NaN for good
    const min = Math.min(this.fitScale(), 4);
    const next = Math.max(min, Math.min(kMaxCell * 1.5, this.scale * factor));
    if (next === this.scale) return;
    this.ox = cx - ((cx - this.ox) * next) / this.scale;
    this.oy = cy - ((cy - this.oy) * next) / this.scale;
    this.scale = next;
    this.clampPan();
    this.invalidate();
  }

  cellOf(seat, r) {
    return { x: this.ox + (seat.x - this.minX) * this.scale, y: this.oy + r * this.scale };
  }

  hit(x, y) {
    const r = Math.floor((y - this.oy) / this.scale);
    const col = Math.floor((x - this.ox) / this.scale);
    if (x < kGutter || r < 0 || r >= this.rows.length) return null;
    const k = this.rowByX[r].get(this.minX + col);
    return k === undefined ? null : { r, k };
  }

  /// Pans the least that shows seat (r, k) whole; true if it moved.
  ensureVisible(r, k) {
    const { x, y } = this.cellOf(this.seatAt(r, k), r);
    let moved = false;
    if (x < kGutter + 4) { this.ox += kGutter + 4 - x; moved = true; }
    if (x + this.scale > this.width - 4) { this.ox -= x + this.scale - (this.width - 4); moved = true; }
    if (y < 4) { this.oy += 4 - y; moved = true; }
    if (y + this.scale > this.height - 4) { this.oy -= y + this.scale - (this.height - 4); moved = true; }
    if (moved) {
      this.clampPan();
      this.invalidate();
    }
    return moved;
  }

  // ---- drawing ------------------------------------------------------------------------------------------------

  invalidate() {
    this.full = true;
    this.schedule();
  }

  /// Redraws the seats with these indexes (the ones in this zone; others are ignored) on the next frame.
  refresh(indexes) {
    for (const i of indexes) {
      if (this.where.has(i)) this.pending.add(i);
    }
    const active = this.activeSeat;
    if (active && this.pending.has(active.index)) this.updateCell();
    if (this.pending.size) this.schedule();
  }

  refreshAll() {
    this.updateCell();
    this.invalidate();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = 0;
    if (!this.width) return;
    const ctx = this.ctx;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    if (this.full) this.drawAll();
    else {
      ctx.save();
      ctx.beginPath();
      ctx.rect(kGutter, 0, this.width - kGutter, this.height);
      ctx.clip();
      for (const i of this.pending) {
        const { r, k } = this.where.get(i);
        this.drawSeat(this.seatAt(r, k), r, true);
      }
      ctx.restore();
    }
    this.full = false;
    this.pending.clear();
  }

  drawAll() {
    const ctx = this.ctx;
    const s = this.scale;
    ctx.fillStyle = kColors.background;
    ctx.fillRect(0, 0, this.width, this.height);
    const r0 = Math.max(0, Math.floor(-this.oy / s));
    const r1 = Math.min(this.rows.length - 1, Math.floor((this.height - this.oy) / s));
    const c0 = this.minX + Math.floor((kGutter - this.ox) / s);
    const c1 = this.minX + Math.floor((this.width - this.ox) / s);
    for (let r = r0; r <= r1; ++r) {
      for (const seat of this.rows[r]) {
        if (seat.x >= c0 && seat.x <= c1) this.drawSeat(seat, r, false);
      }
    }
    // Row labels over a white gutter (seats panned under it are hidden by it).
    ctx.fillStyle = kColors.background;
    ctx.fillRect(0, 0, kGutter, this.height);
    if (s >= 9) {
      ctx.fillStyle = kColors.label;
      ctx.font = `600 ${Math.min(13, Math.max(9, s * 0.5))}px system-ui, sans-serif`;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      for (let r = r0; r <= r1; ++r) ctx.fillText(this.rows[r][0].row, kGutter / 2, this.oy + r * s + s / 2);
    }
  }

  drawSeat(seat, r, clear) {
    const ctx = this.ctx;
    const s = this.scale;
    const { x, y } = this.cellOf(seat, r);
    if (x + s < kGutter || x > this.width || y + s < 0 || y > this.height) return;
    if (clear) {
      ctx.fillStyle = kColors.background;
      ctx.fillRect(x, y, s, s);
    }
    const state = this.state(seat);
    const pad = Math.max(0.5, s * 0.12);
    const size = s - 2 * pad;
    const radius = Math.min(6, size / 4);
    ctx.beginPath();
    if (state === 'taken') {
      // Taken: a smaller grey seat, so the state does not rest on colour alone.
      const inset = size * 0.2;
      ctx.roundRect(x + pad + inset, y + pad + inset, size - 2 * inset, size - 2 * inset, radius / 2);
      ctx.fillStyle = kColors.taken;
      ctx.fill();
    } else {
      ctx.roundRect(x + pad, y + pad, size, size, radius);
      ctx.fillStyle = state === 'selected' ? kColors.selected : this.zone.color;
      ctx.fill();
      if (state === 'selected' && s >= 12) {
        // A check mark.
        ctx.strokeStyle = '#ffffff';
        ctx.lineWidth = Math.max(1.5, s * 0.08);
        ctx.beginPath();
        ctx.moveTo(x + s * 0.3, y + s * 0.52);
        ctx.lineTo(x + s * 0.45, y + s * 0.66);
        ctx.lineTo(x + s * 0.7, y + s * 0.36);
        ctx.stroke();
      }
    }
    const active = this.activeSeat;
    if (active === seat && this.focused) {
      ctx.strokeStyle = kColors.focus;
      ctx.lineWidth = Math.max(2, Math.min(4, s * 0.14));
      const lw = ctx.lineWidth / 2;
      ctx.strokeRect(x + lw, y + lw, s - 2 * lw, s - 2 * lw);
    }
  }

  // ---- the accessible grid model ----------------------------------------------------------------------------

  updateCell() {
    const seat = this.activeSeat;
    if (!seat) return;
    const state = this.state(seat);
    const cell = h('div', {
      role: 'gridcell',
      id: `seat-${this.uid}-${seat.id}`,
      'data-seat-id': String(seat.id),
      'aria-colindex': String(seat.x - this.minX + 1),
      'aria-selected': String(state === 'selected'),
      'aria-disabled': state === 'taken' ? 'true' : null,
    }, this.describe(seat, state));
    this.row.setAttribute('aria-rowindex', String(this.active.r + 1));
    this.row.replaceChildren(cell);
    this.viewport.setAttribute('aria-activedescendant', cell.id);
  }

  setActive(r, k) {
    const before = this.activeSeat;
    this.active = { r, k };
    const seat = this.activeSeat;
    this.updateCell();
    if (!this.ensureVisible(r, k)) this.refresh([before?.index, seat.index].filter((i) => i !== undefined));
  }

  /// Makes seatId the active seat, shows it and gives the grid focus.
  focusSeat(seatId) {
    for (const [index, { r, k }] of this.where) {
      if (this.seatAt(r, k).id === seatId) {
        this.viewport.focus();
        this.setActive(r, k);
        return index;
      }
    }
    return null;
  }

  /// The middle of a seat in page coordinates, after showing it at `minCell` px at least (tests, benchmark).
  pointOf(seatId, minCell = 0) {
    if (!(this.scale > 0)) return null;  // not laid out yet
    for (const { r, k } of this.where.values()) {
      const seat = this.seatAt(r, k);
      if (seat.id !== seatId) continue;
      if (this.scale < minCell) this.zoomAt(minCell / this.scale);
      this.ensureVisible(r, k);
      this.flush();
      const { x, y } = this.cellOf(seat, r);
      const box = this.canvas.getBoundingClientRect();
      return { x: box.left + x + this.scale / 2, y: box.top + y + this.scale / 2 };
    }
    return null;
  }

  // ---- input ------------------------------------------------------------------------------------------------

  listen() {
    const v = this.viewport;
    v.addEventListener('focus', () => {
      this.focused = true;
      this.refresh([this.activeSeat?.index]);
    });
    v.addEventListener('blur', () => {
      this.focused = false;
      this.refresh([this.activeSeat?.index]);
    });
    v.addEventListener('keydown', (e) => this.onKey(e));
    const c = this.canvas;
    // Ctrl + wheel (and a trackpad's pinch, which Chromium sends as one) zooms around the pointer; a plain wheel
    // pans a zone larger than the view and otherwise scrolls the page, so the map never traps the page's scroll.
    c.addEventListener('wheel', (e) => {
      if (e.ctrlKey || e.metaKey) {
        e.preventDefault();
        this.zoomAt(Math.exp(-e.deltaY * 0.01), e.offsetX, e.offsetY);
        return;
      }
      const [ox, oy] = [this.ox, this.oy];
      this.ox -= e.deltaX;
      this.oy -= e.deltaY;
      this.clampPan();
      if (this.ox === ox && this.oy === oy) return; // nothing to pan: the page scrolls
      e.preventDefault();
      this.invalidate();
    }, { passive: false });
    c.addEventListener('pointerdown', (e) => {
      c.setPointerCapture(e.pointerId);
      this.pointers.set(e.pointerId, { x: e.offsetX, y: e.offsetY, x0: e.offsetX, y0: e.offsetY });
      if (this.pointers.size === 2) {
        const [a, b] = [...this.pointers.values()];
        this.gesture = { pinch: Math.hypot(a.x - b.x, a.y - b.y) || 1 };
      } else if (this.pointers.size === 1) this.gesture = null;
    });
    c.addEventListener('pointermove', (e) => {
      const p = this.pointers.get(e.pointerId);
      if (!p) return;
      const dx = e.offsetX - p.x;
      const dy = e.offsetY - p.y;
      p.x = e.offsetX;
      p.y = e.offsetY;
      if (this.pointers.size >= 2) {
        const [a, b] = [...this.pointers.values()];
        const distance = Math.hypot(a.x - b.x, a.y - b.y) || 1;
        this.zoomAt(distance / this.gesture.pinch, (a.x + b.x) / 2, (a.y + b.y) / 2);
        this.gesture.pinch = distance;
        this.gesture.moved = true;
      } else if (this.gesture?.moved || Math.hypot(e.offsetX - p.x0, e.offsetY - p.y0) > 6) {
        this.gesture = { ...this.gesture, moved: true };
        this.ox += dx;
        this.oy += dy;
        this.clampPan();
        this.invalidate();
      }
    });
    const end = (e) => {
      const p = this.pointers.get(e.pointerId);
      if (!p) return;
      this.pointers.delete(e.pointerId);
      if (e.type === 'pointerup' && !this.gesture?.moved && this.pointers.size === 0) {
        this.tap(p.x, p.y, e.pointerType);
      }
      if (this.pointers.size === 0) this.gesture = null;
    };
    c.addEventListener('pointerup', end);
    c.addEventListener('pointercancel', end);
  }

  tap(x, y, pointerType) {
    const at = this.hit(x, y);
    if (!at) return;
    const coarse = pointerType === 'touch' || window.matchMedia('(pointer: coarse)').matches;
    const target = coarse ? kTouchTarget : kMouseTarget;
    if (this.scale < target) {
      // Too small to hit surely: zoom in on it first.
      this.zoomAt((target + 4) / this.scale, x, y);
      this.setActive(at.r, at.k);
      return;
    }
    this.setActive(at.r, at.k);
    const seat = this.activeSeat;
    if (this.state(seat) !== 'taken') this.onToggle(seat);
  }

  onKey(e) {
    let { r, k } = this.active;
    const row = this.rows[r];
    const nearest = (to) => {
      const x = row[k].x;
      let best = 0;
      this.rows[to].forEach((seat, i) => {
        if (Math.abs(seat.x - x) < Math.abs(this.rows[to][best].x - x)) best = i;
      });
      return best;
    };
    switch (e.key) {
      case 'ArrowLeft': k = Math.max(0, k - 1); break;
      case 'ArrowRight': k = Math.min(row.length - 1, k + 1); break;
      case 'ArrowUp': if (r > 0) { k = nearest(r - 1); r -= 1; } break;
      case 'ArrowDown': if (r < this.rows.length - 1) { k = nearest(r + 1); r += 1; } break;
      case 'PageUp': { const to = Math.max(0, r - 5); k = nearest(to); r = to; break; }
      case 'PageDown': { const to = Math.min(this.rows.length - 1, r + 5); k = nearest(to); r = to; break; }
      case 'Home': k = 0; break;
      case 'End': k = row.length - 1; break;
      case '+': case '=': e.preventDefault(); this.zoomAt(1.5); this.ensureVisible(r, k); return;
      case '-': e.preventDefault(); this.zoomAt(1 / 1.5); this.ensureVisible(r, k); return;
      case 'Enter': case ' ': {
        e.preventDefault();
        const seat = this.activeSeat;
        if (seat && this.state(seat) !== 'taken') this.onToggle(seat);
        return;
      }
      default: return;
    }
    e.preventDefault();
    this.setActive(r, k);
  }
}
