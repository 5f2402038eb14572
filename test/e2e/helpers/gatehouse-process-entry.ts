import pino from 'pino';
import { startGatehouse } from '../../../cli/start-gatehouse.ts';

// Child-process entry for startGatehouseProcess: start, print the URL, close on SIGTERM.
const configFile = process.argv[2];
const running = await startGatehouse({ configFile, environment: {}, roles: ['gateway'], logger: pino({ level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' }) });
process.stdout.write(`GATEHOUSE_READY ${running.url}\n`);
process.once('SIGTERM', () => {
  void running.close().finally(() => process.exit(0));
});
