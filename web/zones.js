// The venue overview: the stage and one button per zone with its price and how many seats are left now
// (sold out when none), updated live from the availability stream. Choosing a zone opens its seat grid
// (docs/decisions/0031-zone-first-canvas-seat-map.md).
import { h } from './dom.js';
import { t, formatWon } from './i18n.js';

export class ZoneOverview {
  /// zones: the seat map's zones, each with `rows` and `perRow` (from its seats); onChoose(zone).
  constructor(zones, onChoose) {
    this.zones = zones;
    this.left = new Map();
    this.buttons = new Map();
    const widest = Math.max(...zones.map((z) => z.perRow || 1));
    this.element = h('section', { class: 'zone-overview', 'aria-labelledby': 'zones-title' },
      h('h2', { id: 'zones-title' }, t('zonesTitle')),
      h('div', { class: 'stage', 'aria-hidden': 'true' }, t('stage')),
      h('ul', { class: 'zone-list' }, zones.map((zone) => {
        const left = h('span', { class: 'zone-left' });
        const button = h('button', {
          type: 'button',
          class: 'zone-button',
          'data-zone-id': String(zone.id),
          'aria-pressed': 'false',
          onclick: () => {
            if (button.getAttribute('aria-disabled') !== 'true') onChoose(zone);
          },
        },
        h('span', { class: 'swatch', style: { background: zone.color } }),
        h('span', { class: 'zone-name' }, zone.name),
        h('span', { class: 'zone-price' }, formatWon(zone.price)),
        left);
        button.left = left;
        this.buttons.set(zone.id, button);
        // Wider zones draw wider, as on the venue's plan.
        const li = h('li', { style: { width: `${Math.round(62 + (38 * (zone.perRow || 1)) / widest)}%` } }, button);
        return li;
      })));
  }

  /// left: Map zoneId → seats left now. Touches only the zones whose count changed.
  update(left) {
    for (const zone of this.zones) {
      const n = left.get(zone.id) ?? 0;
      if (this.left.get(zone.id) === n) continue;
      this.left.set(zone.id, n);
      const button = this.buttons.get(zone.id);
      button.left.textContent = n > 0 ? t('seatsLeft', { count: n.toLocaleString() }) : t('soldOut');
      button.classList.toggle('sold-out', n === 0);
      if (n === 0) button.setAttribute('aria-disabled', 'true');
      else button.removeAttribute('aria-disabled');
    }
    this.element.setAttribute('data-ready', '');
  }

  choose(zoneId) {
    for (const [id, button] of this.buttons) button.setAttribute('aria-pressed', String(id === zoneId));
  }
}
