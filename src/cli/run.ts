/** Runs an operator command: bad arguments, bad settings and refusals print one clear line, never a stack. */
import { ZodError } from 'zod';
import { ConfigError } from '../config.js';
import { GatewayError } from '../errors.js';

export function runCli(usage: string, main: () => Promise<void> | void): void {
  Promise.resolve()
    .then(main)
    .catch((err: unknown) => {
      if (err instanceof ZodError) {
        for (const issue of err.issues)
          console.error(`--${issue.path.join('.')}: ${issue.message}`);
        console.error(usage);
        process.exit(2);
      }
      if (err instanceof ConfigError) {
        console.error(err.message);
        process.exit(2);
      }
      if (err instanceof GatewayError) {
        console.error(`error: ${err.message}`);
        process.exit(1);
      }
      if (
        err instanceof TypeError &&
        (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
      ) {
        console.error(`${err.message}\n${usage}`);
        process.exit(2);
      }
      throw err;
    });
}
