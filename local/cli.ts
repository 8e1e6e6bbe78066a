import { ConfigError, loadSettings } from '../shared/config';
import { isAppError } from '../shared/errors';
import { createSqliteStore } from '../shared/store/sqlite';
import { ADMIN_COMMANDS, ADMIN_USAGE, CliFailure, runAdminCommand } from './admin-command';
import { DEVICE_USAGE, runDeviceCommand } from './device-command';
import { GENERATE_TYPES_USAGE, runGenerateTypesCommand } from './generate-types-command';
import { LOCAL_DEFAULTS } from './local-defaults';
import { createToken, TOKEN_USAGE } from './token-command';

const USAGE = `Usage: npm run cli -- <command> [options]
Commands:
  token      print a development token (see below)
  device     simulate a device: sync a user's rows into a local SQLite file
  generate-types  the device SDK's row types of an app's entities
  provision, stop, deprovision, retry, status, export, import, publish, preview   admin commands (below)

${TOKEN_USAGE}

${ADMIN_USAGE}

${DEVICE_USAGE}

${GENERATE_TYPES_USAGE}`;

/** The admin and local-use CLI. Reads the same settings (DATA_DIR …) as the local host, with its defaults. */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  const settings = loadSettings({ ...LOCAL_DEFAULTS, ...process.env });
  switch (command) {
    case 'token': {
      const store = createSqliteStore({ dataDir: settings.DATA_DIR });
      try {
        console.log(await createToken(rest, settings, store));
        return 0;
      } finally {
        await store.close();
      }
    }
    case 'device':
      return runDeviceCommand(rest, settings);
    case 'generate-types':
      return runGenerateTypesCommand(rest, settings);
    default:
      if (ADMIN_COMMANDS.has(command)) {
        return runAdminCommand(command, rest, settings, {
          out: (line) => console.log(line),
          err: process.stderr,
        });
      }
      console.error(`Unknown command '${command}'.\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (isAppError(error) || error instanceof ConfigError || error instanceof CliFailure)
      console.error(error.message);
    else if (error instanceof TypeError && 'code' in error) console.error(`${error.message}\n${USAGE}`);
    else console.error(error);
    process.exit(1);
  },
);
