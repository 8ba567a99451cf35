// Proof of work at the waiting room's door (ADR 0026): solves a challenge from
// POST /api/v1/schedules/{scheduleId}/queue/challenge in a Web Worker (web/pow-worker.js).

/// Resolves to the nonce string that solves `challenge` at `difficulty` leading zero bits of SHA-256.
export async function solveChallenge({ challenge, difficulty }) {
  if (!difficulty || difficulty <= 0) return '0';
  const worker = new Worker(new URL('./pow-worker.js', import.meta.url), { type: 'module' });
  try {
    const answer = await new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => (data.error ? reject(new Error(data.error)) : resolve(data));
      worker.onerror = (event) => reject(new Error(event.message || 'proof-of-work worker failed'));
      worker.postMessage({ challenge, difficulty });
    });
    return answer.nonce;
  } finally {
    worker.terminate();
  }
}
