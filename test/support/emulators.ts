// Emulators a test starts and the suite closes after it, whatever the test's outcome.
import { afterEach } from 'vitest';

/** Returns `keep`: an emulator given to it is closed after the current test. Call once per test file, at the top. */
export function closeAfterEach(): <T extends { close(): Promise<void> }>(emulator: T) => T {
  const running: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((emulator) => emulator.close()));
  });
  return (emulator) => {
    running.push(emulator);
    return emulator;
  };
}
