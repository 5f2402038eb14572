// Runs `gatehouse policy …` / `audit …` through the CLI's entry (cli/main.ts), in a child process.
import { processIo } from '../../../cli/cli-io.ts';
import { main } from '../../../cli/main.ts';

process.exitCode = await main(process.argv.slice(2), processIo);
