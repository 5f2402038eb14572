// The bare proxy in WORKERS processes sharing one port (node:cluster), for `bench/compare.ts bare-cluster[WORKERS=2]`:
// shows whether a process per core adds throughput on this machine (on 2 shared cores it does not).
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';

if (cluster.isPrimary) {
  const ready = Array.from({ length: Number(process.env.WORKERS ?? 2) }, () => {
    const worker = cluster.fork();
    return new Promise<number>((resolve) => worker.once('listening', (address) => resolve(address.port)));
  });
  const ports = await Promise.all(ready);
  process.send?.({ port: ports[0] });
  process.on('message', (message) => {
    if (message === 'cpu') {
      // The workers' CPU time from /proc (the primary's own cpuUsage would not include them); clock ticks of 10 ms.
      let micros = 0;
      for (const worker of Object.values(cluster.workers ?? {})) {
        const fields = readFileSync(`/proc/${worker?.process.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
        micros += (Number(fields[11]) + Number(fields[12])) * 10_000;
      }
      process.send?.({ cpu: { user: micros, system: 0 } });
    }
    if (message === 'stop') process.exit(0);
  });
} else {
  await import('./bare-proxy-server.ts');
}
