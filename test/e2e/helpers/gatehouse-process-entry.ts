import pino from 'pino';
import { startGatehouse } from '../../../cli/start-gatehouse.ts';

// Child-process entry for startGatehouseProcess: start, print the URL, close on SIGTERM.
const configFile = process.argv[2];
const running = await startGatehouse({ configFile, environment: {}, roles: ['gateway'], logger: pino({ level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' }) });
process.stdout.write(`GATEHOUSE_READY ${running.url}\n`);
process.once('SIGTERM', () => {
  void running.close().finally(() => process.exit(0));
});

// Test-only IPC: flush spans and run a query on this process's own ClickHouse with the process's
// client (the way waitForRows does in-process), so a test never depends on the admin SQL path.
process.on('message', (message: { id: number; query: string }) => {
  void (async () => {
    try {
      await running.context.tracing.forceFlush();
      await running.writer.flush();
      const result = await running.clickhouse.query({ query: message.query, format: 'JSONEachRow' });
      process.send?.({ id: message.id, rows: await result.json() });
    } catch (error) {
      process.send?.({ id: message.id, error: (error as Error).message });
    }
  })();
});
