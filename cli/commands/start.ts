import { parse, type CliIo } from '../cli-io.ts';
import { startGatehouse, type Role } from '../start-gatehouse.ts';
import { codexConfigBlock } from './codex-config.ts';

export async function runStartCommand(role: 'start' | Role, argv: string[], io: CliIo): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' } });
  const port = values.port === undefined ? undefined : Number.parseInt(values.port, 10);
  const running = await startGatehouse({
    configFile: values.config,
    port,
    host: values.host,
    dataDir: values['data-dir'],
    roles: role === 'start' ? ['gateway', 'collector', 'evaluator', 'optimizer'] : [role],
  });
  const policy = running.context.policy.current();
  // Stored policy versions keep only key hashes; the demo key in the bootstrap file is what to show.
  const firstKey = running.bootstrapPolicy.keys.find((key) => key.key)?.key;
  io.out(`\nGatehouse (${running.roles.join(' + ')}) listening on ${running.url}  ·  policy v${policy.version}  ·  data in ${running.config.data_dir}`);
  if (running.roles.includes('gateway')) {
    io.out(`\nPoint Codex CLI at it:\n`);
    io.out(codexConfigBlock(running.url, Object.keys(running.bootstrapPolicy.models)[0] ?? 'gpt-5.5'));
    io.out(`export GATEHOUSE_KEY=${firstKey ?? '<a virtual key: npx gatehouse keys create …>'}\ncodex "…"\n`);
    io.out(`Health ${running.url}/readyz · metrics ${running.url}/metrics · console ${running.url}/console`);
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      io.out(`\n${signal}: draining in-flight requests and flushing spans…`);
      void running.close().then(resolve, (error: unknown) => {
        io.error(`shutdown error: ${(error as Error).message}`);
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  io.out('stopped.');
  return 0;
}
