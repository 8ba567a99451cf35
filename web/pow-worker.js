// Proof of work for joining a waiting room (ADR 0026), in a module Web Worker so the page stays responsive.
// Message in: { challenge, difficulty }. Message out: { nonce, hashes, ms } where SHA-256 of the UTF-8 bytes of
// `${challenge}:${nonce}` has at least `difficulty` leading zero bits (the server checks the same).

const kBatch = 512; // digests in flight at once: crypto.subtle is asynchronous, one at a time would idle

export function leadingZeroBits(bytes) {
  let bits = 0;
  for (const byte of bytes) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

export async function solve(challenge, difficulty) {
  const encoder = new TextEncoder();
  const started = performance.now();
  if (difficulty <= 0) return { nonce: '0', hashes: 0, ms: 0 };
  for (let base = 0; ; base += kBatch) {
    const digests = [];
    for (let i = 0; i < kBatch; i++) {
      digests.push(crypto.subtle.digest('SHA-256', encoder.encode(`${challenge}:${base + i}`)));
    }
    const done = await Promise.all(digests);
    for (let i = 0; i < kBatch; i++) {
      if (leadingZeroBits(new Uint8Array(done[i])) >= difficulty) {
        return { nonce: String(base + i), hashes: base + i + 1, ms: performance.now() - started };
      }
    }
  }
}

if (typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope) {
  self.onmessage = async ({ data }) => {
    try {
      self.postMessage(await solve(data.challenge, data.difficulty));
    } catch (error) {
      self.postMessage({ error: String(error) });
    }
  };
}
