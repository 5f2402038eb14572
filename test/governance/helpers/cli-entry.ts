// Runs `policy …` / `audit …` the way cli/main.ts dispatches them, without loading every other command.
import { processIo } from '../../../cli/cli-io.ts';
import { runPolicyCommand } from '../../../cli/commands/policy.ts';
import { runAuditCommand } from '../../../cli/commands/audit.ts';

const [command, ...rest] = process.argv.slice(2);
const run = command === 'policy' ? runPolicyCommand : command === 'audit' ? runAuditCommand : undefined;
if (!run) {
  processIo.error(`unknown command ${command}`);
  process.exitCode = 2;
} else {
  process.exitCode = await run(rest, processIo);
}
