// The seat map: one SVG circle per seat at its layout coordinates (GET /seat-map), filled with its zone's
// colour, grey when HELD or SOLD (live from the availability stream), outlined when selected. Seats are
// checkboxes for assistive technology and reachable with Tab; Enter or Space toggles one.
import { t, formatWon } from './i18n.js';

const kSvg = 'http://www.w3.org/2000/svg';
const kUnit = 22;
const kStageHeight = 34;

function svg(name, attributes = {}) {
  const node = document.createElementNS(kSvg, name);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  return node;
}

export class SeatMap {
  /// `layout` is the SeatMap document; onToggle(seat) is called when the fan clicks an available seat.
  constructor(layout, onToggle) {
    this.layout = layout;
    this.zones = new Map(layout.zones.map((z) => [z.id, z]));
    this.nodes = new Map();
    this.taken = new Set();
    const xs = layout.seats.map((s) => s.x);
    const ys = layout.seats.map((s) => s.y);
    const minX = Math.min(...xs);
    const maxX = Math.max(...xs);
    const minY = Math.min(...ys);
    const maxY = Math.max(...ys);
    const width = (maxX - minX + 2) * kUnit;
    const height = (maxY - minY + 2) * kUnit + kStageHeight + 10;
    this.element = svg('svg', {
      class: 'seatmap',
      viewBox: `0 0 ${width} ${height}`,
      // Natural size: seats about 25 px across, shrunk to fit narrow screens by max-width in the CSS.
      width: Math.round(width * 1.6),
      height: Math.round(height * 1.6),
      role: 'group',
      'aria-label': t('seatMapTitle'),
    });
    this.element.append(
      svg('rect', { class: 'stage', x: width * 0.2, y: 4, width: width * 0.6, height: kStageHeight - 8, rx: 6 }),
    );
    const label = svg('text', { class: 'stage-label', x: width / 2, y: kStageHeight / 2 + 5 });
    label.textContent = t('stage');
    this.element.append(label);
    for (const seat of layout.seats) {
      const zone = this.zones.get(seat.zoneId);
      const node = svg('circle', {
        class: 'seat',
        cx: (seat.x - minX + 1) * kUnit,
        cy: (seat.y - minY + 1) * kUnit + kStageHeight,
        r: kUnit * 0.38,
        fill: zone?.color ?? '#888',
        tabindex: '0',
        role: 'checkbox',
        'aria-checked': 'false',
        'data-seat-id': seat.id,
        'aria-label': `${zone?.name ?? ''} ${t('seatLabel', { row: seat.row, number: seat.number })} ${formatWon(zone?.price ?? 0)}`,
      });
      const title = svg('title');
      title.textContent = node.getAttribute('aria-label');
      node.append(title);
      const toggle = () => {
        if (!this.taken.has(seat.index)) onToggle(seat);
      };
      node.addEventListener('click', toggle);
      node.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          toggle();
        }
      });
      this.nodes.set(seat.id, node);
      this.element.append(node);
    }
  }

  /// Greys the seats whose indexes are in `taken` and un-greys the others.
  setTaken(taken) {
    this.taken = taken;
    for (const seat of this.layout.seats) {
      const node = this.nodes.get(seat.id);
      const isTaken = taken.has(seat.index);
      node.classList.toggle('taken', isTaken);
      node.setAttribute('aria-disabled', String(isTaken));
    }
  }

  setSelected(ids) {
    for (const [id, node] of this.nodes) {
      const on = ids.has(id);
      node.classList.toggle('selected', on);
      node.setAttribute('aria-checked', String(on));
    }
  }
}
