import { Session } from 'node:inspector/promises';

/**
 * Lets bench/profile-gateway.ts sample this benchmark server only while its load runs:
 * 'profile:start' starts the V8 sampling profiler, 'profile:stop' sends the profile back;
 * 'allocations:start' / 'allocations:stop' do the same with the sampling heap profiler.
 */
export function profileOnMessage(): void {
  let profiler: Session | undefined;
  process.on('message', (message) => {
    if (message === 'profile:start') {
      profiler = new Session();
      profiler.connect();
      void profiler
        .post('Profiler.enable')
        .then(() => profiler?.post('Profiler.setSamplingInterval', { interval: 100 }))
        .then(() => profiler?.post('Profiler.start'))
        .then(() => process.send?.({ profiling: true }));
    }
    if (message === 'profile:stop') void profiler?.post('Profiler.stop').then(({ profile }) => process.send?.({ profile }));
    if (message === 'allocations:start') {
      profiler = new Session();
      profiler.connect();
      // Every 4 KB allocated on average: enough samples to rank allocation sites per request.
      void profiler.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }).then(() => process.send?.({ profiling: true }));
    }
    if (message === 'allocations:stop') void profiler?.post('HeapProfiler.stopSampling').then(({ profile }) => process.send?.({ allocations: profile }));
  });
}
