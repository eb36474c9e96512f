import { ConclaveTarget } from "./conclave-target.ts";
const t = new ConclaveTarget();
await t.start();
const leader = await (t as any).leaderName(30000);
console.log("leader", leader);
const val = "x".repeat(100);
for (const par of [1, 8, 64]) {
  let done = 0;
  const t0 = performance.now();
  const N = par === 1 ? 500 : 4000;
  let next = 0;
  await Promise.all(
    Array.from({ length: par }, async () => {
      while (next < N) {
        const k = next++;
        await t.put(`k${k % 1000}`, val);
        done++;
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  console.log(`par ${par}: ${done} puts in ${s.toFixed(2)} s = ${(done / s).toFixed(0)}/s`);
}
await t.stop();
