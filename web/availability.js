// The availability bitset as bytes, and what changed between two versions of it: the zone-first seat map
// redraws only the seats whose bit flipped (docs/decisions/0031-zone-first-canvas-seat-map.md).

/// The bytes of a base64 bitset (GET /availability `taken`): bit i, most significant bit of byte 0 first, is
/// seat index i, set when the seat is HELD or SOLD.
export function decodeBitset(base64) {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; ++i) bytes[i] = text.charCodeAt(i);
  return bytes;
}

export function bitSet(bytes, index) {
  return Boolean(bytes && bytes[index >> 3] & (0x80 >> (index & 7)));
}

/// The seat indexes (< seatCount) whose bit differs between `before` (null: all clear) and `after`.
/// Compares whole bytes first, so an event that flips 20 of 10,000 seats looks at 1,250 bytes and 20 bits.
export function changedIndexes(before, after, seatCount) {
  const changed = [];
  const n = Math.ceil(seatCount / 8);
  for (let b = 0; b < n; ++b) {
    const diff = (before ? before[b] ?? 0 : 0) ^ (after[b] ?? 0);
    if (!diff) continue;
    for (let k = 0; k < 8; ++k) {
      const i = b * 8 + k;
      if (i < seatCount && diff & (0x80 >> k)) changed.push(i);
    }
  }
  return changed;
}
